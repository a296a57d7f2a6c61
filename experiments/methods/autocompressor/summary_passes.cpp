#include "experiments/methods/autocompressor/summary_passes.h"

#include <numeric>

#include "core/error.h"
#include "core/ops.h"

namespace condense::autocompressor {
namespace {

Tensor indices(const std::vector<int32_t>& v, Device device) {
  return Tensor::from_i32(v, {static_cast<int64_t>(v.size())}, device);
}

}  // namespace

Tensor columns(const Tensor& ids, int64_t begin, int64_t end) {
  const int64_t B = ids.dim(0), N = ids.dim(1);
  CONDENSE_ASSERT(0 <= begin && begin <= end && end <= N, "columns [", begin, ", ", end, ") of ",
                  N);
  const std::vector<int32_t> all = ids.to_i32_vector();
  std::vector<int32_t> out;
  for (int64_t b = 0; b < B; ++b)
    out.insert(out.end(), all.begin() + b * N + begin, all.begin() + b * N + end);
  return Tensor::from_i32(out, {B, end - begin});
}

SegmentOutput segment_pass(Tape& tape, const Llama& model, const Tensor& ids, const Var& softprompt,
                           const Var& table, bool training) {
  const int64_t B = ids.dim(0), L = ids.dim(1), D = model.config().dim;
  const int64_t m = softprompt.defined() ? softprompt.dim(1) : 0;
  const int64_t k = table.defined() ? table.dim(0) : 0;
  if (softprompt.defined() && softprompt.shape() != Shape{B, m, D})
    fail("autocompressor: soft prompt ", shape_str(softprompt.shape()), ", expected [", B, ",m,", D,
         "]");
  if (table.defined() && table.shape() != Shape{k, D})
    fail("autocompressor: summary table ", shape_str(table.shape()), ", expected [kappa,", D, "]");
  const int64_t T = m + L + k;
  const Device device = model.device();
  const std::vector<int32_t> tokens = ids.to_i32_vector();
  // σ and <Sum> rows take input embeddings; their ids are placeholders.
  std::vector<int32_t> all(static_cast<size_t>(B * T), 0), replaced, table_rows, at_tokens, at_sum;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < L; ++t) {
      all[b * T + m + t] = tokens[b * L + t];
      at_tokens.push_back(static_cast<int32_t>(b * T + m + t));
    }
    for (int64_t j = 0; j < m; ++j) replaced.push_back(static_cast<int32_t>(b * T + j));
  }
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < k; ++j) {
      replaced.push_back(static_cast<int32_t>(b * T + m + L + j));
      table_rows.push_back(static_cast<int32_t>(j));
      at_sum.push_back(static_cast<int32_t>(b * T + m + L + j));
    }
  ForwardArgs args = ForwardArgs::tokens(Tensor::from_i32(all, {B, T}, device));
  args.training = training;
  if (!replaced.empty()) {
    std::vector<Var> values;
    if (m > 0) values.push_back(ops::reshape(tape, softprompt, {B * m, D}));
    if (k > 0) values.push_back(ops::gather_rows(tape, table, indices(table_rows, device)));
    args.embed_rows = indices(replaced, device);
    args.embed_values = values.size() == 1 ? values[0] : ops::concat(tape, values, 0);
  }
  const Var hidden = model.hidden(tape, args);
  SegmentOutput out;
  out.hidden =
      ops::reshape(tape, ops::gather_rows(tape, hidden, indices(at_tokens, device)), {B, L, D});
  if (k > 0)
    out.summary =
        ops::reshape(tape, ops::gather_rows(tape, hidden, indices(at_sum, device)), {B, k, D});
  return out;
}

Var next_softprompt(Tape& tape, const Var& softprompt, const Var& summary, bool accumulate) {
  if (!summary.defined()) return softprompt;
  if (!accumulate || !softprompt.defined()) return summary;
  return ops::concat(tape, {softprompt, summary}, 1);
}

ChainOutput run_segments(Tape& tape, const Llama& model, const Var& table, const Tensor& ids,
                         const std::vector<int64_t>& lengths, const Var& softprompt,
                         bool accumulate, bool summarize_last, bool training) {
  const int64_t N = ids.dim(1);
  if (lengths.empty() || std::accumulate(lengths.begin(), lengths.end(), int64_t{0}) != N)
    fail("autocompressor: segment lengths must sum to the ", N, " tokens read");
  ChainOutput out;
  out.softprompt = softprompt;
  int64_t at = 0;
  for (size_t s = 0; s < lengths.size(); ++s) {
    if (lengths[s] < 1) fail("autocompressor: a segment must have at least 1 token");
    const bool summarize = s + 1 < lengths.size() || summarize_last;
    const SegmentOutput seg = segment_pass(tape, model, columns(ids, at, at + lengths[s]),
                                           out.softprompt, summarize ? table : Var(), training);
    out.hidden.push_back(seg.hidden);
    out.softprompt = next_softprompt(tape, out.softprompt, seg.summary, accumulate);
    at += lengths[s];
  }
  return out;
}

Tensor compress(const Llama& model, const Tensor& table, const Tensor& ids,
                const std::vector<int64_t>& lengths, const Tensor& softprompt, bool accumulate) {
  Tape no_grad(false);
  const ChainOutput c =
      run_segments(no_grad, model, table.defined() ? Var(table) : Var(), ids, lengths,
                   softprompt.defined() ? Var(softprompt) : Var(), accumulate, true);
  return c.softprompt.value();
}

Tensor segment_logits(const Llama& model, const Tensor& table, const Tensor& ids,
                      const std::vector<int64_t>& lengths, const Tensor& softprompt,
                      bool accumulate) {
  Tape no_grad(false);
  const ChainOutput c =
      run_segments(no_grad, model, table.defined() ? Var(table) : Var(), ids, lengths,
                   softprompt.defined() ? Var(softprompt) : Var(), accumulate, false);
  const Var h = c.hidden.size() == 1 ? c.hidden[0] : ops::concat(no_grad, c.hidden, 1);
  return model.logits(no_grad, h).value();
}

}  // namespace condense::autocompressor
