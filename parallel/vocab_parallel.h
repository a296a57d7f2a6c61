// Vocabulary-parallel embedding and cross-entropy: tensor-parallel rank r holds
// vocabulary rows [vocab_begin, vocab_begin + V/tp) of the embedding and of
// lm_head, so neither the tables nor the logits [N,V] are ever whole on a rank.
#pragma once
#include "core/autograd.h"
#include "parallel/communicator.h"

namespace condense::parallel {

// ids [...] i32 (full-vocabulary ids), table [V/tp, D] -> [..., D], the full
// embeddings on every rank: each rank looks up the ids it holds (zeros for the
// rest) and an all-reduce sums the pieces. Gradients reach only local rows.
Var vocab_parallel_embedding(Tape& tape, const Var& table, const Tensor& ids, int64_t vocab_begin,
                             Communicator& comm);

// Softmax cross-entropy from this rank's logit columns [..., V/tp] and
// full-vocabulary targets [...] i32. Two all-reduces of values per row: the max
// of the slices' log-sum-exps, then the sum of their exponentials together with
// the target's logit (which exactly one rank holds). Returns [1]: the sum of the
// rows' losses / `denominator` (the token count of the whole global batch, so that
// micro-batches and data-parallel shards add up to the global mean), equal on
// every rank of the group. Rows with target ignore_index carry no loss.
Var vocab_parallel_cross_entropy(Tape& tape, const Var& logits, const Tensor& targets,
                                 int64_t vocab_begin, double denominator, Communicator& comm,
                                 int ignore_index = -100);

}  // namespace condense::parallel
