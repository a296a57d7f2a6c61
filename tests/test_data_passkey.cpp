// FoT passkey prompts: NumPy's legacy generator, the exact upstream text, and lengths.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "core/sha256.h"
#include "datasets/numpy_random.h"
#include "datasets/passkey.h"
#include "test_data_util.h"

namespace condense {
namespace {

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1))
    ++n;
  return n;
}

// Reference values from Debian's python3-numpy 1.24:
//   np.random.seed(2024); [np.random.randint(0, n) for n in (2, 3, 1000, ...)]
TEST(NumpyLegacyRandom, MatchesNumpyRandint) {
  data::NumpyLegacyRandom rng(2024);
  const std::vector<int64_t> highs = {2, 3, 1000, 65536, 65537, 100000, 1ll << 31, (1ll << 32) - 1};
  const std::vector<int64_t> want = {0, 2, 608, 35456, 47643, 95780, 188156350, 3835609271};
  for (size_t i = 0; i < highs.size(); ++i) EXPECT_EQ(rng.randint(0, highs[i]), want[i]) << i;
  data::NumpyLegacyRandom keys(2024);
  for (int64_t k : {7817, 35457, 47644, 30245, 2495}) EXPECT_EQ(keys.randint(1, 50000), k);
}

// sha256 of the prompt text of landmark_prompt.py generate_prompt_landmark(n, seed),
// run with Debian's python3-numpy (upstream code, unchanged).
TEST(Passkey, PromptTextEqualsUpstream) {
  struct Case {
    int64_t n;
    uint32_t seed;
    int32_t key;
    size_t chars;
    const char* sha;
  };
  for (const Case& c : {
           Case{30000, 555, 15338, 30247,
                "09dd22ab998f48e9a8f719bcca1c6ab37e1003da26b9038eb567fcf2013d86eb"},
           Case{1000, 0, 43568, 1247,
                "54525bbfc469a34ccb8b6a8e9b6172a6b2befd731c8df830b7a17dd2203e13d2"},
           Case{7, 123456789, 11933, 254,
                "68b3284a02dff5d8796d9a14d6905babcff7641a99d0e9aa40fc1156d1388451"},
           Case{449999, 4294967295u, 16675, 450246,
                "9b55756e6559d74bd9492d022302a47632bb361d7410acae43f40a013c3d9e4d"},
       }) {
    const data::PasskeyPrompt p = data::passkey_prompt(c.n, c.seed);
    EXPECT_EQ(p.pass_key, c.key);
    EXPECT_EQ(p.answer, std::to_string(c.key));
    EXPECT_EQ(p.prompt.size(), c.chars);
    EXPECT_EQ(sha256_hex(p.prompt), c.sha) << "n_garbage " << c.n << " seed " << c.seed;
  }
}

TEST(Passkey, SampleHasRequestedLengthAndKeyOnce) {
  const data::Tokenizer& tok = testing::tok512();
  for (int64_t target : {300, 1000, 4096}) {
    for (uint32_t seed : {555u, 556u, 7u}) {
      const data::PasskeySample s = data::passkey_sample(tok, target, seed);
      const auto n = static_cast<int64_t>(s.prompt_ids.size());
      EXPECT_LE(std::llabs(n - target) * 100, target) << target << " got " << n;
      EXPECT_EQ(s.prompt_ids.front(), tok.bos_id());
      const std::string key_line = "The pass key is " + s.prompt.answer + ". Remember it. " +
                                   s.prompt.answer + " is the pass key.";
      EXPECT_EQ(count(s.prompt.prompt, key_line), 1u);
      // The key appears in the key line only (twice there): the garbage has no digits.
      EXPECT_EQ(count(s.prompt.prompt, s.prompt.answer), 2u);
      EXPECT_EQ(tok.decode(s.prompt_ids), s.prompt.prompt);
      EXPECT_EQ(tok.decode(s.answer_ids), s.prompt.answer);
      // Same seed, same prompt.
      EXPECT_EQ(data::passkey_sample(tok, target, seed).prompt_ids, s.prompt_ids);
    }
  }
}

TEST(Passkey, TooShortTargetIsAnError) {
  EXPECT_THROW(data::passkey_sample(testing::tok512(), 10, 555), Error);
}

TEST(Passkey, DatasetLayout) {
  const data::Tokenizer& tok = testing::tok512();
  data::PasskeyOptions opt;
  opt.lengths = {256, 512};
  opt.per_length = 3;
  opt.seed = 100;
  const data::TokenDatasetContents a = data::passkey_dataset(tok, opt);
  ASSERT_EQ(a.offsets.size(), 7u);
  EXPECT_EQ(a.tokens, data::passkey_dataset(tok, opt).tokens);
  for (size_t i = 0; i < 6; ++i) {
    const int64_t b = a.offsets[i];
    const int64_t p0 = a.spans.at("prompt")[2 * i], p1 = a.spans.at("prompt")[2 * i + 1];
    const int64_t a0 = a.spans.at("answer")[2 * i], a1 = a.spans.at("answer")[2 * i + 1];
    EXPECT_EQ(a.tokens[b], tok.bos_id());
    EXPECT_EQ(p0, b + 1);
    EXPECT_EQ(p1, a0);
    EXPECT_EQ(a1, a.offsets[i + 1]);
    const int64_t target = a.int64s.at("/target_length")[i];
    EXPECT_EQ(target, i < 3 ? 256 : 512);
    EXPECT_LE(std::llabs(p1 - b - target) * 100, target);
    const data::PasskeyPrompt p = data::passkey_prompt(
        a.int64s.at("/n_garbage")[i], static_cast<uint32_t>(a.int64s.at("/seed")[i]));
    EXPECT_EQ(a.int64s.at("/seed")[i], 100 + static_cast<int64_t>(i % 3));
    std::vector<int32_t> prompt(a.tokens.begin() + p0, a.tokens.begin() + p1);
    EXPECT_EQ(tok.decode(prompt), p.prompt);
    EXPECT_EQ(a.texts.at("answer")[i], p.answer);
    EXPECT_EQ(a.int32s.at("/pass_key")[i], p.pass_key);
  }
}

}  // namespace
}  // namespace condense
