// Attention over a long key sequence in blocks of `chunk` keys with a running
// (online) softmax, so that the scores held at once are [T, chunk] per head instead of
// [T, S]: FoT's dense memory attention over memories far longer than the local
// context (METHODS.md §4.3), with peak memory bounded by the chunk. Inference only (no
// gradient); same semantics as ops::attention.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace condense::eval {

// q [B,T,H,Dh], k/v [B,S,Hkv,Dh] (grouped-query heads), mask [B,T,S] u8 or undefined
// (causal, keys' last T aligned with the queries) -> [B,T,H,Dh]. A query with no open
// key gets zeros, as ops::attention.
Tensor chunked_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                         int64_t chunk, float scale);

}  // namespace condense::eval
