#include "parallel/vocab_parallel.h"

#include <cmath>

#include "core/backend.h"
#include "core/ops.h"
#include "parallel/tp_region.h"

namespace condense::parallel {
namespace {

Backend& be(const Tensor& t) {
  return backend_for(t.device());
}

}  // namespace

Var vocab_parallel_embedding(Tape& tape, const Var& table, const Tensor& ids, int64_t vocab_begin,
                             Communicator& comm) {
  const int64_t rows = table.dim(0), D = table.dim(1), V = rows * comm.size();
  const Device device = table.value().device();
  const std::vector<int32_t> id = ids.to_i32_vector();
  std::vector<int32_t> local(id.size()), elsewhere;
  for (size_t i = 0; i < id.size(); ++i) {
    if (id[i] < 0 || id[i] >= V) fail("embedding: token id ", id[i], " out of range [0,", V, ")");
    const int64_t l = id[i] - vocab_begin;
    const bool mine = l >= 0 && l < rows;
    local[i] = mine ? static_cast<int32_t>(l) : 0;
    if (!mine) elsewhere.push_back(static_cast<int32_t>(i));
  }
  Var e = ops::embedding(tape, table, Tensor::from_i32(local, ids.shape(), device));
  if (!elsewhere.empty()) {
    // Ids another rank holds contribute zeros here (and give this table no gradient).
    const auto P = static_cast<int64_t>(elsewhere.size());
    const Shape shape = e.shape();
    Var flat = ops::reshape(tape, e, {ids.numel(), D});
    Var zeros(Tensor::zeros({P, D}, e.value().dtype(), device), false);
    e = ops::reshape(tape,
                     ops::replace_rows(tape, flat, Tensor::from_i32(elsewhere, {P}, device), zeros),
                     shape);
  }
  return reduce_from_tp_region(tape, e, comm);
}

Var vocab_parallel_cross_entropy(Tape& tape, const Var& logits, const Tensor& targets,
                                 int64_t vocab_begin, double denominator, Communicator& comm,
                                 int ignore_index) {
  const int64_t Vl = logits.dim(-1), N = logits.value().numel() / Vl, V = Vl * comm.size();
  if (targets.numel() != N)
    fail("cross_entropy: logits ", shape_str(logits.shape()), " do not match targets ",
         shape_str(targets.shape()));
  if (!(denominator > 0)) fail("cross_entropy: the token count must be positive");
  const Device device = logits.value().device();
  const std::vector<int32_t> t = targets.to_i32_vector();
  // Per row: the target as a local column (or ignore_index when another rank holds
  // it), and the flat index of the target logit (any index when not held here).
  std::vector<int32_t> local_target(N), target_at(N);
  std::vector<bool> mine(N, false);
  for (int64_t i = 0; i < N; ++i) {
    local_target[i] = ignore_index;
    target_at[i] = static_cast<int32_t>(i * Vl);
    if (t[i] == ignore_index) continue;
    if (t[i] < 0 || t[i] >= V) fail("target id ", t[i], " out of range [0,", V, ")");
    const int64_t l = t[i] - vocab_begin;
    if (l < 0 || l >= Vl) continue;
    mine[i] = true;
    local_target[i] = static_cast<int32_t>(l);
    target_at[i] = static_cast<int32_t>(i * Vl + l);
  }
  const Tensor L = logits.value().reshape({N, Vl});
  Tensor losses = Tensor::empty({N}, DType::f32, device);
  Tensor lse = Tensor::empty({N}, DType::f32, device);
  be(L).cross_entropy_forward(losses, lse, L, Tensor::from_i32(local_target, {N}, device),
                              ignore_index);
  Tensor picked = Tensor::empty({N, 1}, DType::f32, device);
  be(L).gather_rows(picked, L.reshape({N * Vl, 1}), Tensor::from_i32(target_at, {N}, device));

  // The log-sum-exp over the whole vocabulary from the slices' log-sum-exps.
  Tensor max_lse = lse.clone();
  comm.all_reduce(max_lse, ReduceOp::max);
  const std::vector<float> m = max_lse.to_vector(), lse_local = lse.to_vector();
  const std::vector<float> target_logit_local = picked.to_vector();
  std::vector<float> sums(static_cast<size_t>(2 * N));
  for (int64_t i = 0; i < N; ++i) {
    sums[i] = std::exp(lse_local[i] - m[i]);
    sums[N + i] = mine[i] ? target_logit_local[i] : 0.0f;
  }
  Tensor summed = Tensor::from_f32(sums, {2, N}, device);
  comm.all_reduce(summed, ReduceOp::sum);
  sums = summed.to_vector();
  std::vector<float> lse_global(N);
  double total = 0;
  for (int64_t i = 0; i < N; ++i) {
    lse_global[i] = m[i] + std::log(sums[i]);
    if (t[i] != ignore_index) total += static_cast<double>(lse_global[i] - sums[N + i]);
  }
  Var y(Tensor::from_f32({static_cast<float>(total / denominator)}, {1}, device),
        tape.enabled() && logits.requires_grad());
  if (!y.requires_grad()) return y;

  // Backward: softmax(logits) - onehot(target) over the local columns, with the
  // global log-sum-exp. The backend subtracts the one-hot at the given column; rows
  // whose target another rank holds point it at column 0, and it is added back.
  std::vector<int32_t> back_target(N);
  std::vector<int32_t> undo;
  for (int64_t i = 0; i < N; ++i) {
    back_target[i] = mine[i] ? local_target[i] : t[i] == ignore_index ? ignore_index : 0;
    if (!mine[i] && t[i] != ignore_index) undo.push_back(static_cast<int32_t>(i * Vl));
  }
  const Tensor lse_all = Tensor::from_f32(lse_global, {N}, device);
  const Tensor back_t = Tensor::from_i32(back_target, {N}, device);
  const Tensor undo_at = Tensor::from_i32(undo, {static_cast<int64_t>(undo.size())}, device);
  tape.record([logits, y, lse_all, back_t, undo_at, denominator, ignore_index, N, Vl] {
    if (!y.grad().defined()) return;
    const float scale = static_cast<float>(y.grad().to_vector()[0] / denominator);
    const Tensor dl = logits.grad_buffer();
    be(dl).cross_entropy_backward(dl.reshape({N, Vl}), logits.value().reshape({N, Vl}), lse_all,
                                  back_t, ignore_index, scale);
    const int64_t K = undo_at.numel();
    if (K > 0)
      be(dl).scatter_add_rows(dl.reshape({N * Vl, 1}),
                              Tensor::from_f32(std::vector<float>(K, scale), {K, 1}, dl.device()),
                              undo_at);
  });
  return y;
}

}  // namespace condense::parallel
