// Batched autoregressive decoding over a key/value prefix with per-row masks and
// positions: what every method that keeps a compressed context as cached keys/values
// (or keeps nothing and runs the whole prompt) decodes with; eval/generate.h's
// single-sequence loop is the plain special case.
//
// A prompt batch (left-padded rows, explicit positions and a [B,T,M+T] mask) runs
// once against an optional per-layer prefix of M cached keys/values. Every new
// token then runs alone; it sees exactly the cache columns the prompt's last token
// saw (its mask row, carried forward) plus every token generated so far, at the
// position after its row's last one. So columns a method hid from the prompt (a
// context its mask hides, padding) stay hidden for the whole generation, and each
// row keeps its own position offset (no single offset for the whole batch).
//
// Rows that finish (a stop id, or max_new_tokens) leave the batch: their cache rows
// are dropped, so a batch costs what its still-running rows cost.
#pragma once
#include <cstdint>
#include <vector>

#include "core/model.h"
#include "eval/generate.h"

namespace condense::eval {

struct PromptBatch {
  Tensor ids;   // [B,T] i32, left-padded
  Tensor pos;   // [B,T] i32
  Tensor mask;  // [B,T,M+T] u8, M = the prefix length (0 without a prefix)
};

// Plain causal rows, left-padded with `pad_id`, that continue a left-padded prefix of
// M = prefix_lengths.size() > 0 ? max(prefix_lengths) : 0 columns (keys/values cached
// from such rows, eval/kv_prefix.h): row r sees its own prefix_lengths[r] real columns
// and its tokens up to itself, at positions that go on after its prefix. Pad queries
// see nothing. Without prefix lengths the rows stand alone from position 0.
PromptBatch causal_batch(const std::vector<std::vector<int32_t>>& rows,
                         const std::vector<int64_t>& prefix_lengths, int32_t pad_id, Device device);

struct BatchGenerateConfig {
  int64_t max_new_tokens = 64;
  std::vector<int32_t> stop_ids;  // a row ends after producing one of these
  // Only ids below this are ever produced (0: the whole vocabulary). Keeps tokens the
  // tokenizer cannot decode, such as a method's added tokens, out of the output.
  int64_t vocab_limit = 0;
  // LoRA adapters off at every token (CCM's conditional LoRA applies at its <COMP>
  // tokens only, never to a query or an answer).
  bool base_only = false;
};

struct BatchGenerateResult {
  std::vector<std::vector<int32_t>> tokens;  // per row, the new tokens (stop id included)
  // When requested: per row, the logits [V] of every step that produced a token.
  std::vector<std::vector<std::vector<float>>> logits;
};

// Greedy decoding for every row of `prompt`. `prefix` (per layer [B,M,Hkv,Dh]) may be
// null when M = 0.
BatchGenerateResult generate_batch(const Llama& model, const std::vector<LayerKV>* prefix,
                                   const PromptBatch& prompt, const BatchGenerateConfig& cfg,
                                   bool keep_logits = false);

}  // namespace condense::eval
