#include "datasets/passkey.h"

#include <cmath>
#include <cstdlib>
#include <exception>

#include "core/error.h"
#include "datasets/numpy_random.h"
#include "datasets/tokenizer.h"

namespace condense::data {
namespace {

constexpr const char* kTask =
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize "
    "them. I will quiz you about the important information there.";
constexpr const char* kGarbage =
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
constexpr const char* kQuestion = "What is the pass key? The pass key is";

// The first n characters of " ".join([garbage] * many).
std::string garbage(int64_t n) {
  const std::string unit = std::string(kGarbage) + " ";
  std::string out;
  out.reserve(static_cast<size_t>(n) + unit.size());
  while (static_cast<int64_t>(out.size()) < n) out += unit;
  out.resize(static_cast<size_t>(n));
  return out;
}

int64_t prompt_tokens(const Tokenizer& tok, int64_t n_garbage, uint32_t seed) {
  return static_cast<int64_t>(
      tok.encode(passkey_prompt(n_garbage, seed).prompt, true, false).size());
}

}  // namespace

PasskeyPrompt passkey_prompt(int64_t n_garbage, uint32_t seed) {
  if (n_garbage < 1) fail("passkey: n_garbage must be at least 1, got ", n_garbage);
  NumpyLegacyRandom rng(seed);
  const int64_t prefix = rng.randint(0, n_garbage);
  const auto key = static_cast<int32_t>(rng.randint(1, 50000));
  const std::string k = std::to_string(key);
  PasskeyPrompt p;
  p.prompt = std::string(kTask) + "\n" + garbage(prefix) + "\nThe pass key is " + k +
             ". Remember it. " + k + " is the pass key.\n" + garbage(n_garbage - prefix) + "\n" +
             kQuestion;
  p.answer = k;
  p.pass_key = key;
  p.n_garbage = n_garbage;
  p.seed = seed;
  return p;
}

PasskeySample passkey_sample(const Tokenizer& tok, int64_t target, uint32_t seed) {
  const int64_t shortest = prompt_tokens(tok, 1, seed);
  if (target < shortest)
    fail("passkey: ", target, " tokens is below the shortest prompt (", shortest, " tokens)");
  // Tokens per garbage character, measured on a long stretch of garbage.
  const double rate =
      static_cast<double>(tok.encode(garbage(20000), false, false).size()) / 20000.0;
  int64_t n = 1 + std::llround(static_cast<double>(target - shortest) / rate);
  int64_t best_n = 1, best_err = target - shortest;
  for (int iter = 0; iter < 16 && best_err != 0; ++iter) {
    const int64_t got = prompt_tokens(tok, n, seed);
    if (std::llabs(got - target) < std::llabs(best_err)) {
      best_n = n;
      best_err = got - target;
    }
    const int64_t step = std::llround(static_cast<double>(target - got) / rate);
    n = std::max<int64_t>(1, n + (step != 0 ? step : (got < target ? 1 : -1)));
  }
  // A word cut short tokenizes into more pieces than the whole word, so the count can
  // jump by a few tokens from one character to the next: look around the best for an
  // exact hit before settling for it.
  const int64_t center = best_n;
  for (int64_t d = 1; d <= 64 && best_err != 0; ++d)
    for (const int64_t m : {center - d, center + d}) {
      if (m < 1 || best_err == 0) continue;
      const int64_t got = prompt_tokens(tok, m, seed);
      if (std::llabs(got - target) < std::llabs(best_err)) {
        best_n = m;
        best_err = got - target;
      }
    }
  if (std::llabs(best_err) * 100 > target)
    fail("passkey: could not reach ", target, " tokens within 1% (closest ", target + best_err,
         ")");
  PasskeySample s;
  s.prompt = passkey_prompt(best_n, seed);
  s.prompt_ids = tok.encode(s.prompt.prompt, true, false);
  s.answer_ids = tok.encode(s.prompt.answer, false, false);
  return s;
}

TokenDatasetContents passkey_dataset(const Tokenizer& tok, const PasskeyOptions& opt) {
  if (opt.lengths.empty() || opt.per_length < 1)
    fail("data passkey: need at least one length and one prompt per length");
  const size_t n = opt.lengths.size() * static_cast<size_t>(opt.per_length);
  std::vector<PasskeySample> samples(n);
  std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t i = 0; i < n; ++i) {
    try {
      samples[i] = passkey_sample(tok, opt.lengths[i / opt.per_length],
                                  opt.seed + static_cast<uint32_t>(i % opt.per_length));
    } catch (...) {
#pragma omp critical(condense_passkey_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);

  TokenDatasetContents out;
  out.info.kind = "passkey";
  out.info.tokenizer_sha256 = tok.sha256();
  out.info.vocab_size = tok.vocab_size();
  for (size_t i = 0; i < n; ++i) {
    const PasskeySample& s = samples[i];
    const auto start = static_cast<int64_t>(out.tokens.size());
    out.tokens.insert(out.tokens.end(), s.prompt_ids.begin(), s.prompt_ids.end());
    const auto prompt_end = static_cast<int64_t>(out.tokens.size());
    out.tokens.insert(out.tokens.end(), s.answer_ids.begin(), s.answer_ids.end());
    out.offsets.push_back(static_cast<int64_t>(out.tokens.size()));
    out.spans["prompt"].insert(out.spans["prompt"].end(), {start + 1, prompt_end});
    out.spans["answer"].insert(out.spans["answer"].end(),
                               {prompt_end, static_cast<int64_t>(out.tokens.size())});
    out.texts["answer"].push_back(s.prompt.answer);
    out.int32s["/pass_key"].push_back(s.prompt.pass_key);
    out.int64s["/n_garbage"].push_back(s.prompt.n_garbage);
    out.int64s["/seed"].push_back(s.prompt.seed);
    out.int64s["/target_length"].push_back(opt.lengths[i / opt.per_length]);
  }
  out.attrs["generator"] =
      "long_llama examples/utils/landmark_prompt.py generate_prompt_landmark(n_garbage, seed), "
      "NumPy legacy MT19937; prompt ids = BOS + prompt, answer ids = tokenizer(str(key))[1:]";
  return out;
}

}  // namespace condense::data
