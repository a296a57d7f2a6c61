// Cost of one forward pass counted from shapes (the way a profiler counts matmul
// FLOPs): every linear layer as 2·rows·in·out, attention as the dense [T x S]
// score and value products of every head (2·2·B·H·T·S·Dh per layer, S = cached +
// new keys), and the lm_head on every position. Padding rows count: they run.
#pragma once
#include <cstdint>

#include "core/model.h"

namespace condense::eval {

double forward_flops(const LlamaConfig& c, int64_t batch, int64_t tokens, int64_t keys);

}  // namespace condense::eval
