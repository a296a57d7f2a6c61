#include "experiments/methods/autocompressor/training.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "core/error.h"
#include "experiments/methods/autocompressor/summary_passes.h"

namespace condense::autocompressor {
namespace {

constexpr int32_t kIgnoreIndex = -100;

}  // namespace

void apply_plan(data::TokenBatch& batch, const WindowPlan& plan) {
  const std::vector<int32_t> pos = segment_positions(plan);
  const auto used = static_cast<int64_t>(pos.size());
  CONDENSE_ASSERT(plan.begin + used == batch.T, "a plan of ", plan.begin, " + ", used,
                  " tokens for windows of ", batch.T);
  std::vector<int64_t> substep_ends;
  int64_t at = 0;
  for (const std::vector<int64_t>& s : plan.substeps)
    substep_ends.push_back(at += std::accumulate(s.begin(), s.end(), int64_t{0}));
  data::TokenBatch out;
  out.rows = batch.rows;
  out.T = used;
  for (int64_t r = 0; r < batch.rows; ++r) {
    const int64_t from = r * batch.T + plan.begin;
    out.inputs.insert(out.inputs.end(), batch.inputs.begin() + from,
                      batch.inputs.begin() + from + used);
    out.targets.insert(out.targets.end(), batch.targets.begin() + from,
                       batch.targets.begin() + from + used);
    for (int64_t end : substep_ends) out.targets[r * used + end - 1] = kIgnoreIndex;
    out.positions.insert(out.positions.end(), pos.begin(), pos.end());
  }
  batch = std::move(out);
}

namespace {

// One segment of a chain: its columns of the chain's rows, its substep, whether it
// ends in <Sum> rows, and the graph pass it became.
struct Segment {
  int64_t begin, length, substep;
  bool summarize;
  int pass = -1;
};

std::vector<Segment> segments_of_window(const data::TokenBatch& b, const TrainingRule& rule) {
  const std::vector<int32_t> row0(b.positions.begin(), b.positions.begin() + b.T);
  const std::vector<std::vector<int64_t>> substeps =
      group_substeps(segments_of(row0), rule.substeps);
  std::vector<Segment> out;
  int64_t at = 0;
  for (size_t i = 0; i < substeps.size(); ++i)
    for (int64_t len : substeps[i]) {
      out.push_back({at, len, static_cast<int64_t>(i), rule.summarize});
      at += len;
    }
  // The window's last segment needs no σ after it.
  out.back().summarize = false;
  return out;
}

// Pass `s` of `chain`: [σ (m rows)] ⊕ [the segment's tokens] ⊕ [κ <Sum> rows], σ read
// from the summary rows of the chain's earlier segments.
parallel::GraphPass segment_graph_pass(const data::TokenBatch& chain,
                                       const std::vector<Segment>& segs, size_t s,
                                       const TrainingRule& rule, int64_t kappa, Device device) {
  const Segment& seg = segs[s];
  std::vector<size_t> sources;  // earlier segments whose summaries form σ, in order
  for (size_t j = 0; j < s; ++j)
    if (segs[j].summarize && (rule.accumulate || j + 1 == s)) sources.push_back(j);
  const int64_t B = chain.rows, L = seg.length, k = seg.summarize ? kappa : 0;
  const int64_t m = static_cast<int64_t>(sources.size()) * kappa, T = m + L + k;
  std::vector<int32_t> ids(static_cast<size_t>(B * T), 0), targets(ids.size(), kIgnoreIndex);
  parallel::GraphPass pass;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < L; ++t) {
      ids[b * T + m + t] = chain.inputs[b * chain.T + seg.begin + t];
      targets[b * T + m + t] = chain.targets[b * chain.T + seg.begin + t];
    }
  pass.args = ForwardArgs::tokens(Tensor::from_i32(ids, {B, T}, device));
  pass.targets = Tensor::from_i32(targets, {B, T});
  if (k > 0) {
    std::vector<int32_t> rows, table_ids;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < k; ++j) {
        rows.push_back(static_cast<int32_t>(b * T + m + L + j));
        table_ids.push_back(static_cast<int32_t>(j));
      }
    pass.args.table_inputs = {kTableName, Tensor::from_i32(rows, {B * k}, device),
                              Tensor::from_i32(table_ids, {B * k}, device)};
    pass.exports = rows;  // export e = b * κ + j
  }
  for (size_t i = 0; i < sources.size(); ++i) {
    const Segment& from = segs[sources[i]];
    parallel::PassInput in;
    in.from = from.pass;
    in.detach = from.substep != seg.substep;  // the gradient stops between substeps
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < kappa; ++j) {
        in.exported.push_back(static_cast<int32_t>(b * kappa + j));
        in.rows.push_back(static_cast<int32_t>(b * T + static_cast<int64_t>(i) * kappa + j));
      }
    pass.inputs.push_back(std::move(in));
  }
  return pass;
}

}  // namespace

parallel::PassGraph training_graph(const std::vector<data::TokenBatch>& batches,
                                   const TrainingRule& rule, int chains, int64_t kappa,
                                   Device device) {
  std::vector<data::TokenBatch> rows;
  std::vector<std::vector<Segment>> segs;
  for (const data::TokenBatch& b : batches) {
    const int64_t n = std::min<int64_t>(std::max(chains, 1), b.rows);
    for (int64_t c = 0; c < n; ++c) {
      rows.push_back(data::rows_of(b, b.rows * c / n, b.rows * (c + 1) / n));
      segs.push_back(segments_of_window(rows.back(), rule));
    }
  }
  parallel::PassGraph graph;
  for (size_t s = 0;; ++s) {
    bool any = false;
    for (size_t c = 0; c < rows.size(); ++c) {
      if (s >= segs[c].size()) continue;
      any = true;
      segs[c][s].pass = static_cast<int>(graph.size());
      graph.push_back(segment_graph_pass(rows[c], segs[c], s, rule, kappa, device));
    }
    if (!any) return graph;
  }
}

WindowBatches::WindowBatches(const data::DocumentWindows& windows, const Segmenting& segmenting,
                             int64_t batch_size, uint64_t seed, int dp_rank, int dp_size,
                             std::string method)
    : sampler_(windows, batch_size, seed, dp_rank, dp_size),
      segmenting_(segmenting),
      batch_size_(batch_size),
      seed_(seed),
      method_(std::move(method)) {}

data::TokenBatch WindowBatches::next(int64_t& tokens) {
  const int64_t index = position();
  data::TokenBatch b = sampler_.next();
  apply_plan(b, plan_window(b.T, segmenting_, batch_seed(seed_, index), method_));
  tokens += batch_size_ * b.T;
  return b;
}

}  // namespace condense::autocompressor
