// condense bench --method autocompressor|rmt [--model.* shape] [options]
// What an AutoCompressor saves at inference, per context length N (--bench.contexts):
//   compress: read the N context tokens in segments of at most --bench.segment tokens
//             (equal splits, σ accumulated or replaced as in training) into σ;
//   prefill:  the full-context alternative, the N tokens' keys/values into a cache;
//   answer with σ: σ's keys/values (one pass over the m vectors), then a prompt of
//             --bench.prompt_tokens and --bench.answer_tokens greedy tokens over them;
//   answer with the full context: the same prompt and answer over the N cached tokens.
// Memory is counted from shapes (4-byte floats): the keys/values each answer reads,
// σ itself (m × D), and the most keys/values one pass holds while compressing
// (σ + segment + κ <Sum> rows) against the N of the prefill. The weights are random
// (time does not depend on their values); wall time is the median of --bench.repeats
// runs, the four measurements interleaved in a rotating order. Prints a Markdown table.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <random>

#include "core/error.h"
#include "eval/batch_generate.h"
#include "eval/kv_prefix.h"
#include "eval/median.h"
#include "experiments/device.h"
#include "experiments/methods/autocompressor/bench.h"
#include "experiments/methods/autocompressor/generate.h"
#include "experiments/methods/autocompressor/last_segment.h"
#include "experiments/methods/autocompressor/summary_passes.h"
#include "experiments/train_options.h"

namespace condense::autocompressor {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_of(const std::function<void()>& f) {
  const auto t0 = Clock::now();
  f();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

using eval::median;

struct Row {
  int64_t context = 0, softprompt = 0, compress_peak = 0;
  double compress = 0, prefill = 0, answer_sigma = 0, answer_full = 0;  // seconds
};

}  // namespace

int bench(const cli::Args& args, const std::string& method, bool accumulate) {
  // A LLaMA-like shape by default (d512, 8 layers, a 32000-token vocabulary), so that
  // the lm_head weighs what it does; any --model.* option changes it.
  LlamaConfig cfg;
  cfg.dim = 512, cfg.n_layers = 8, cfg.n_heads = 8, cfg.n_kv_heads = 8;
  cfg.ffn_dim = 1376, cfg.max_seq_len = 8192;
  std::string contexts_text = "512,1024,2048,4096", device_name = "cpu";
  int64_t kappa = 50, segment = 1024, prompt_tokens = 32, answer_tokens = 16, repeats = 3;
  uint64_t seed = 1;
  namespace po = cli::po;
  const std::string who = "bench --method " + method;
  po::options_description desc(who);
  exp::add_model_options(desc, cfg);
  desc.add_options()("bench.contexts", po::value(&contexts_text)->default_value(contexts_text),
                     "context lengths N, comma list")(
      "bench.segment", po::value(&segment)->default_value(segment),
      "the longest segment a context is compressed in")((method + ".kappa").c_str(),
                                                        po::value(&kappa)->default_value(kappa),
                                                        "summary vectors per segment")(
      (method + ".accumulate").c_str(), po::value(&accumulate)->default_value(accumulate),
      "σ keeps every segment's vectors (else the last segment's: RMT)")(
      "bench.prompt_tokens", po::value(&prompt_tokens)->default_value(prompt_tokens),
      "tokens of the prompt after the context")(
      "bench.answer_tokens", po::value(&answer_tokens)->default_value(answer_tokens),
      "greedy tokens of the answer")("bench.repeats", po::value(&repeats)->default_value(repeats),
                                     "timed runs per measurement")(
      "bench.seed", po::value(&seed)->default_value(seed), "weights and tokens")(
      "device", po::value(&device_name)->default_value(device_name), "cpu or cuda")(
      "method", po::value<std::string>(), method.c_str());
  po::variables_map vm;
  if (!cli::parse(who, desc, args, vm)) return 0;
  if (cfg.vocab_size == 0) cfg.vocab_size = 32000;  // --model.vocab_size's "from the tokenizer"
  const std::vector<int64_t> contexts = cli::parse_int_list("bench.contexts", contexts_text, 1);
  const std::string kappa_option = method + ".kappa";
  for (const auto& [name, v] : {std::pair<const char*, int64_t>{"bench.segment", segment},
                                {kappa_option.c_str(), kappa},
                                {"bench.prompt_tokens", prompt_tokens},
                                {"bench.answer_tokens", answer_tokens},
                                {"bench.repeats", repeats}})
    if (v <= 0) fail(who, ": --", name, " must be positive, got ", v);
  const int64_t largest = *std::max_element(contexts.begin(), contexts.end());
  const int64_t full_need = largest + prompt_tokens + answer_tokens;
  const int64_t segments = (largest + segment - 1) / segment;
  const int64_t sigma_most = (accumulate ? segments : 1) * kappa;
  const int64_t pass_most = (accumulate ? segments - 1 : 1) * kappa + segment + kappa;
  const int64_t need = std::max({full_need, pass_most, sigma_most + prompt_tokens + answer_tokens});
  if (need > cfg.max_seq_len)
    fail(who, ": a context of ", largest, " tokens needs ", need,
         " positions, more than --model.max_seq_len ", cfg.max_seq_len);
  const Device device = exp::parse_device(device_name);

  Llama model(cfg, seed);
  if (device != Device::cpu) model.to(device);
  // Timing does not depend on the table's values.
  const Tensor table = Tensor::zeros({kappa, cfg.dim}, DType::f32, device);
  std::mt19937_64 rng(seed);
  auto random_tokens = [&](int64_t n) {
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (int32_t& id : ids) id = 3 + static_cast<int32_t>(rng() % uint64_t(cfg.vocab_size - 3));
    return ids;
  };
  const std::vector<int32_t> prompt = random_tokens(prompt_tokens);
  eval::BatchGenerateConfig answer;
  answer.max_new_tokens = answer_tokens;  // no stop id: every answer has the same length
  constexpr int32_t kPad = 0;

  std::vector<Row> rows;
  for (const int64_t N : contexts) {
    const std::vector<int32_t> context = random_tokens(N);
    const Tensor ids = Tensor::from_i32(context, {1, N});
    const std::vector<int64_t> lengths = equal_segments(N, segment);
    Row row;
    row.context = N;
    int64_t m = 0;
    for (const int64_t L : lengths) {
      row.compress_peak = std::max(row.compress_peak, m + L + kappa);
      m = accumulate ? m + kappa : kappa;
    }
    Tensor sigma;
    std::vector<LayerKV> cache;
    const std::function<void()> steps[4] = {
        [&] { sigma = compress(model, table, ids, lengths, Tensor(), accumulate); },
        [&] {
          cache =
              eval::cache_last_columns(model, eval::causal_batch({context}, {}, kPad, device), N);
        },
        [&] { generate_after_softprompt(model, sigma, {prompt}, kPad, answer); },
        [&] {
          eval::generate_batch(model, &cache, eval::causal_batch({prompt}, {N}, kPad, device),
                               answer);
        }};
    for (const auto& step : steps) step();  // warm-up (and σ, the cache for the answers)
    std::vector<std::vector<double>> s(4);
    for (int64_t r = 0; r < repeats; ++r)
      for (int k = 0; k < 4; ++k) {
        // Compression and prefill before the answers that read them.
        const int i = k < 2 ? static_cast<int>((k + r) % 2) : 2 + static_cast<int>((k + r) % 2);
        s[i].push_back(seconds_of(steps[i]));
      }
    row.softprompt = sigma.dim(1);
    row.compress = median(s[0]), row.prefill = median(s[1]);
    row.answer_sigma = median(s[2]), row.answer_full = median(s[3]);
    rows.push_back(row);
  }

  const double kv_kib = double(eval::kv_bytes_per_token(cfg)) / 1024.0;
  const int64_t answer_own = prompt_tokens + answer_tokens;
  char line[512];
  std::cout << "## " << who << ": d" << cfg.dim << " L" << cfg.n_layers << " H" << cfg.n_heads
            << " (KV " << cfg.n_kv_heads << ") ffn " << cfg.ffn_dim << " vocab " << cfg.vocab_size
            << ", random weights; κ " << kappa << (accumulate ? " accumulated" : " replaced")
            << ", segments of at most " << segment << " tokens; a prompt of " << prompt_tokens
            << " tokens and " << answer_tokens << " greedy answer tokens; median of " << repeats
            << " runs, " << device_name << "\n\n"
            << "| context N | σ vectors m | compress ms | prefill ms (full) | answer ms with σ | "
               "answer ms with full context | answer speed-up | KV the answer reads: σ / full "
               "(KiB) | σ as vectors (KiB) | most KV while compressing / prefill (KiB) |\n"
            << "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const Row& r : rows) {
    std::snprintf(line, sizeof line,
                  "| %lld | %lld | %.1f | %.1f | %.1f | %.1f | %.2fx | %.0f / %.0f | %.0f | %.0f / "
                  "%.0f |\n",
                  static_cast<long long>(r.context), static_cast<long long>(r.softprompt),
                  1e3 * r.compress, 1e3 * r.prefill, 1e3 * r.answer_sigma, 1e3 * r.answer_full,
                  r.answer_full / r.answer_sigma, double(r.softprompt + answer_own) * kv_kib,
                  double(r.context + answer_own) * kv_kib,
                  double(r.softprompt * cfg.dim * 4) / 1024.0, double(r.compress_peak) * kv_kib,
                  double(r.context) * kv_kib);
    std::cout << line;
  }
  return 0;
}

}  // namespace condense::autocompressor
