#include "eval/generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/ops.h"
#include "core/progress.h"

namespace condense::eval {

int32_t sample_token(const float* logits, int64_t V, const SamplingConfig& cfg,
                     std::mt19937_64& rng) {
  if (cfg.temperature <= 0.0f)
    return static_cast<int32_t>(std::max_element(logits, logits + V) - logits);
  const float mx = *std::max_element(logits, logits + V);
  std::vector<double> p(static_cast<size_t>(V));
  double sum = 0;
  for (int64_t i = 0; i < V; ++i) sum += p[i] = std::exp((logits[i] - mx) / cfg.temperature);
  for (double& x : p) x /= sum;
  std::vector<int32_t> order(static_cast<size_t>(V));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b]; });
  // Smallest prefix of the sorted distribution whose mass reaches top_p.
  double mass = 0;
  size_t keep = 0;
  while (keep < order.size() && (keep == 0 || mass < cfg.top_p)) mass += p[order[keep++]];
  std::uniform_real_distribution<double> u(0.0, mass);
  double r = u(rng);
  for (size_t i = 0; i < keep; ++i) {
    r -= p[order[i]];
    if (r <= 0) return order[i];
  }
  return order[keep - 1];
}

std::vector<int32_t> generate(const Llama& model, const std::vector<int32_t>& prompt,
                              const SamplingConfig& cfg) {
  if (prompt.empty()) fail("generate: empty prompt (start from BOS)");
  // The last new token is returned, never run: prompt + new − 1 positions are used.
  const int64_t positions = static_cast<int64_t>(prompt.size()) + cfg.max_new_tokens - 1;
  if (positions > model.config().max_seq_len)
    fail("generate: a ", prompt.size(), "-token prompt and --max-new-tokens ", cfg.max_new_tokens,
         " need ", positions, " positions, more than the model's max_seq_len ",
         model.config().max_seq_len);
  const int64_t V = model.config().vocab_size;
  std::mt19937_64 rng(cfg.seed);
  Tape no_grad(false);
  InPlaceKV cache;
  cache.capacity = positions;
  std::vector<int32_t> out;
  std::vector<int32_t> step_ids = prompt;
  int32_t next_pos = 0;
  Progress progress("generate", cfg.max_new_tokens, "tokens");
  for (int64_t i = 0; i < cfg.max_new_tokens; ++i) {
    progress.advance();
    const int64_t T = static_cast<int64_t>(step_ids.size());
    std::vector<int32_t> pos(static_cast<size_t>(T));
    std::iota(pos.begin(), pos.end(), next_pos);
    ForwardArgs args;
    args.ids = Tensor::from_i32(step_ids, {1, T}, model.device());
    args.pos = Tensor::from_i32(pos, {1, T}, model.device());
    args.in_place = &cache;
    Var h = model.hidden(no_grad, args);
    Var last = ops::slice(no_grad, h, 1, T - 1, T);
    std::vector<float> logits = model.logits(no_grad, last).value().to_vector();
    cache.length += T;
    next_pos += static_cast<int32_t>(T);
    const int32_t tok = sample_token(logits.data(), V, cfg, rng);
    out.push_back(tok);
    if (std::find(cfg.stop_ids.begin(), cfg.stop_ids.end(), tok) != cfg.stop_ids.end()) break;
    step_ids = {tok};
  }
  return out;
}

}  // namespace condense::eval
