// Attention in which the first `memory` keys are a retrieval memory: each query, in
// each head, keeps only its `top_k` highest-scoring memory keys (exact k-nearest
// neighbours by inner product, as the Memorizing Transformer and FoT's small models
// retrieve), then attends in one softmax to those and to the other keys its mask
// allows. With top_k >= memory it is ordinary attention. Inference only (no gradient);
// a plain loop on the host. The exact scan is the reference; with `index` the memory
// candidates come from a key index instead (eval/key_index.h), and only they and the
// other keys are scored.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "eval/key_index.h"

namespace condense::eval {

// Indices of the k largest of scores[0..n) (all of them when k >= n), largest first;
// ties go to the lower index.
std::vector<int64_t> top_k_indices(const float* scores, int64_t n, int64_t k);

// q [B,T,H,Dh], k/v [B,S,Hkv,Dh] (grouped-query heads), mask [B,T,S] u8 or undefined
// (causal, keys' last T aligned with the queries) -> [B,T,H,Dh]. Keys [0, memory) are
// the memory; the mask still applies to them (a masked memory key is never chosen).
// index, when given, holds B·Hkv indexes (row b, kv head h at b·Hkv + h), each over
// that row's and head's `memory` memory keys in order.
Tensor topk_memory_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                             int64_t memory, int64_t top_k, float scale,
                             const std::vector<const KeyIndex*>* index = nullptr);

}  // namespace condense::eval
