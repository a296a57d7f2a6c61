// Key/value caches of a prompt prefix: run a left-padded prompt once and keep, for
// every layer, the keys (after RoPE) and values of its last columns. Left padding
// lines up the rows' ends, so when every row ends with the tokens to keep (a
// method's compression tokens after contexts of different lengths), the last
// columns are exactly those tokens of every row and a batch needs no gather.
#pragma once
#include <cstdint>
#include <vector>

#include "core/model.h"
#include "eval/batch_generate.h"

namespace condense::eval {

// Runs `prompt` (no prefix) and returns each layer's keys/values of its last `keep`
// columns, [B,keep,Hkv,Dh], detached.
std::vector<LayerKV> cache_last_columns(const Llama& model, const PromptBatch& prompt,
                                        int64_t keep);

// Bytes one cached token takes: keys and values of every layer,
// 2 · L · Hkv · Dh · bytes_per_element (with the key/value heads a grouped-query
// model actually stores).
int64_t kv_bytes_per_token(const LlamaConfig& c, int64_t bytes_per_element = 4);

}  // namespace condense::eval
