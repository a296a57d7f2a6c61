// Data-parallel gradient synchronisation, bucketed: gradients are copied into
// flat buffers of up to `bucket_bytes` and each buffer is reduced in one
// collective, so a model of many small tensors costs a few large messages rather
// than one message per tensor. The step's backward runs to the end first: on
// the CPU the reduction would compete with the backward for the same cores, so
// overlapping them does not pay here (see docs/PERFORMANCE.md).
//
// With ZeRO-1 each parameter has one owner in the data-parallel group, the only
// rank that keeps its AdamW moments: gradients are summed onto the owner
// (reduce, half the traffic of an all-reduce) and after the update the owner
// broadcasts the new values. Parameters are whole units of ownership, balanced
// by size, so checkpoints and clipping see whole tensors.
//
// Frozen parameters (Param::trainable false) take no part: no gradient to sum, no
// owner, nothing to broadcast (their values never change). The trainable set is
// the one at construction: build the sync after the model is final, and changing
// a flag later is an error at the next reduce rather than a silent divergence.
#pragma once
#include <functional>
#include <vector>

#include "core/model.h"
#include "parallel/communicator.h"

namespace condense::parallel {

class GradientSync {
 public:
  GradientSync(std::vector<Param>& params, Communicator& dp, size_t bucket_bytes, bool zero1);

  // Sums every trainable parameter's gradient over the group: onto every rank, or
  // with ZeRO-1 onto the parameter's owner (other ranks' copies are then stale).
  // A gradient missing on some ranks counts as zeros there. Throws naming a
  // parameter added, frozen or unfrozen since construction.
  void reduce_gradients();
  // ZeRO-1: every rank gets the values its owners computed.
  void broadcast_values();

  bool zero1() const { return zero1_; }
  // The data-parallel rank that owns params[i] (ZeRO-1); 0 without ZeRO-1, whose
  // ranks all hold everything, and for a frozen parameter (equal on every rank).
  int owner(size_t i) const { return owner_.at(i); }
  // Whether this rank updates params[i]: never for a frozen one.
  bool owns(size_t i) const { return trainable_.at(i) && (!zero1_ || owner_.at(i) == dp_.rank()); }

 private:
  // Runs `collective` on `tensors` concatenated into buckets of up to bucket_bytes
  // (a tensor alone goes as it is): `fill` copies them in first, `read_back` copies
  // the result out after.
  void in_buckets(const std::vector<Tensor>& tensors, bool fill, bool read_back,
                  const std::function<void(const Tensor&)>& collective) const;
  void check_unchanged() const;

  std::vector<Param>& params_;
  Communicator& dp_;
  size_t bucket_bytes_;
  bool zero1_;
  std::vector<int> owner_;
  std::vector<bool> trainable_;  // the flags at construction
};

}  // namespace condense::parallel
