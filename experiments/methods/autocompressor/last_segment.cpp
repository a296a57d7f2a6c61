#include "experiments/methods/autocompressor/last_segment.h"

#include <algorithm>
#include <cstddef>

#include "core/error.h"
#include "core/ops.h"
#include "core/progress.h"
#include "experiments/methods/autocompressor/segmenting.h"
#include "experiments/methods/autocompressor/summary_passes.h"

namespace condense::autocompressor {
namespace {

constexpr int32_t kIgnoreIndex = -100;

// Summed NLL of `targets` [B,T] (host) under logits [B,T,V].
double summed_nll(const Tensor& logits, const std::vector<int32_t>& targets, int64_t B, int64_t T) {
  const std::vector<float> losses =
      ops::cross_entropy_rows(logits, Tensor::from_i32(targets, {B, T}, logits.device()),
                              kIgnoreIndex)
          .to_vector();
  double sum = 0;
  for (size_t i = 0; i < losses.size(); ++i)
    if (targets[i] != kIgnoreIndex) sum += losses[i];
  return sum;
}

// Targets of a row ending in the target segment [T - target, T): each target token
// after the first, predicted by the one before it.
std::vector<int32_t> target_predictions(const std::vector<int32_t>& ids, int64_t B, int64_t T,
                                        int64_t target) {
  std::vector<int32_t> out(ids.size(), kIgnoreIndex);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = T - target; t + 1 < T; ++t) out[b * T + t] = ids[b * T + t + 1];
  return out;
}

}  // namespace

Tensor rotate_rows(const Tensor& x) {
  const std::vector<float> v = x.to(Device::cpu).to_vector();
  const auto row = static_cast<std::ptrdiff_t>(v.size()) / x.dim(0);
  std::vector<float> out(v.begin() + row, v.end());
  out.insert(out.end(), v.begin(), v.begin() + row);
  return Tensor::from_f32(out, x.shape()).to(x.device());
}

std::vector<int64_t> equal_segments(int64_t length, int64_t segment) {
  if (length < 1 || segment < 1)
    fail("autocompressor: cannot cut ", length, " tokens into segments of ", segment);
  const std::vector<int64_t> b = slice_bounds(length, (length + segment - 1) / segment);
  std::vector<int64_t> out;
  for (size_t i = 0; i + 1 < b.size(); ++i) out.push_back(b[i + 1] - b[i]);
  return out;
}

LastSegmentScore score_last_segment(const Llama& model, const Tensor& table,
                                    const data::DocumentWindows& windows,
                                    const LastSegmentOptions& o) {
  if (o.contexts.empty() || o.target < 2 || o.batch < 1 || o.windows < 1)
    fail(
        "autocompressor: the last-segment task needs context budgets, a target of at least 2 "
        "tokens, a positive batch and window count");
  const int64_t largest = *std::max_element(o.contexts.begin(), o.contexts.end());
  CONDENSE_ASSERT(windows.length() == largest + o.target, "windows of ", windows.length(),
                  " tokens for contexts up to ", largest, " and a target of ", o.target);
  const int64_t n = std::min(o.windows, windows.size()), T = o.target;
  const Device device = model.device();
  LastSegmentScore score;
  score.windows = n;
  score.predictions = n * (T - 1);
  for (int64_t c : o.contexts) score.contexts.push_back({c, 0, 0, 0});
  Tape no_grad(false);
  Progress progress("last-segment perplexity", n, "windows");
  for (int64_t first = 0; first < n; first += o.batch) {
    const int64_t B = std::min(o.batch, n - first);
    // Row b's last `len` tokens before the target (0) or of the target (1).
    auto part = [&](int64_t len, bool with_target) {
      std::vector<int32_t> ids;
      for (int64_t b = 0; b < B; ++b) {
        const std::span<const int32_t> w = windows.window(first + b);
        const int64_t end = with_target ? w.size() : w.size() - T;
        ids.insert(ids.end(), w.begin() + (end - len), w.begin() + end);
      }
      return ids;
    };
    const std::vector<int32_t> target = part(T, true);
    const Tensor target_ids = Tensor::from_i32(target, {B, T});
    const std::vector<int32_t> predicted = target_predictions(target, B, T, T);
    score.nll_none +=
        summed_nll(model.forward(no_grad, ForwardArgs::tokens(target_ids.to(device))).value(),
                   predicted, B, T);
    for (ContextScore& cs : score.contexts) {
      const int64_t c = cs.context;
      const std::vector<int32_t> full = part(c + T, true);
      cs.nll_full += summed_nll(
          model.forward(no_grad, ForwardArgs::tokens(Tensor::from_i32(full, {B, c + T}, device)))
              .value(),
          target_predictions(full, B, c + T, T), B, c + T);
      if (!table.defined()) continue;
      const Tensor sigma = compress(model, table, Tensor::from_i32(part(c, false), {B, c}),
                                    equal_segments(c, o.segment), Tensor(), o.accumulate);
      cs.softprompt = sigma.dim(1);
      const SegmentOutput seg = segment_pass(no_grad, model, target_ids, Var(sigma), Var());
      cs.nll_compressed += summed_nll(model.logits(no_grad, seg.hidden).value(), predicted, B, T);
      if (B < 2) continue;
      const SegmentOutput other =
          segment_pass(no_grad, model, target_ids, Var(rotate_rows(sigma)), Var());
      cs.nll_other += summed_nll(model.logits(no_grad, other.hidden).value(), predicted, B, T);
    }
    if (table.defined() && B >= 2) score.other_predictions += B * (T - 1);
    progress.advance(B);
  }
  const auto count = static_cast<double>(score.predictions);
  score.nll_none /= count;
  for (ContextScore& cs : score.contexts) {
    cs.nll_full /= count;
    cs.nll_compressed /= count;
    if (score.other_predictions > 0) cs.nll_other /= static_cast<double>(score.other_predictions);
  }
  return score;
}

}  // namespace condense::autocompressor
