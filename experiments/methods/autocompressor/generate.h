// Generation after a compressed context: σ goes into the key/value cache once (its
// positions 0..m-1, first of the segment as in training) and every prompt and new
// token attends to it there; σ is never prepended again.
#pragma once
#include <cstdint>
#include <vector>

#include "core/model.h"
#include "eval/batch_generate.h"

namespace condense::autocompressor {

// Per layer, the keys (after RoPE) and values of σ [B,m,D] read as input embeddings at
// positions 0..m-1: [B,m,Hkv,Dh], no gradients.
std::vector<LayerKV> softprompt_cache(const Llama& model, const Tensor& softprompt);

// Greedy continuation of `prompts` (one per row of σ; left-padded with `pad_id`)
// after σ in the cache: the prompts' tokens at positions m, m+1, ...
eval::BatchGenerateResult generate_after_softprompt(
    const Llama& model, const Tensor& softprompt, const std::vector<std::vector<int32_t>>& prompts,
    int32_t pad_id, const eval::BatchGenerateConfig& cfg);

}  // namespace condense::autocompressor
