#include "parallel/multi_pass.h"

#include <algorithm>

#include "core/ops.h"
#include "parallel/vocab_parallel.h"

namespace condense::parallel {
namespace {

constexpr int kIgnoreIndex = -100;

}  // namespace

PassContext::PassContext(Llama& model, Tape& tape, Communicator* tp)
    : model_(model), tape_(tape), tp_(tp) {}

LossSum PassContext::loss_sum(const Var& hidden, const Tensor& targets) {
  LossSum part;
  for (int32_t t : targets.to_i32_vector()) part.targets += t != kIgnoreIndex;
  const Var logits = model_.logits(tape_, hidden);
  if (tp_) {
    part.sum = vocab_parallel_cross_entropy(tape_, logits, targets, model_.vocab_begin(), 1.0, *tp_,
                                            kIgnoreIndex);
  } else {
    // The mean times the count: the single-rank loss op, so one rank's step equals
    // its plain training step.
    part.sum = ops::scale(tape_, ops::cross_entropy(tape_, logits, targets, kIgnoreIndex),
                          static_cast<float>(part.targets));
  }
  total_.sum = total_.sum.defined() ? ops::add(tape_, total_.sum, part.sum) : part.sum;
  total_.targets += part.targets;
  return part;
}

double backward_mean(PassContext& ctx, double global_targets, const std::string& method) {
  const LossSum& total = ctx.total();
  if (!total.sum.defined())
    fail("method ", method, ": its training step computed no loss (no loss_sum call)");
  const double n = std::max(global_targets, 1.0);
  const double local = total.sum.value().to_vector()[0] / n;
  if (total.sum.requires_grad()) ctx.tape().backward(total.sum, static_cast<float>(1.0 / n));
  return local;
}

}  // namespace condense::parallel
