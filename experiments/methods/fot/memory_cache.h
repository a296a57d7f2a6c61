// FoT inference with a memory cache (METHODS.md §4.3; long_llama modeling_longllama.py
// _handle_long_input, mem_update): one sequence. A long input's first L − last_context
// tokens run in windows of `window` tokens (the local context C); in a memory layer
// each window attends in one softmax to [memory ∪ the window (causal)], and only after
// its own attention are the window's keys (before RoPE: "as if first", position 0) and
// values appended to that layer's memory. Other layers see only the window. The last
// `last_context` tokens and every generated token go into a local cache (keys rotated
// at their positions from 0); when it would outgrow `window`, ALL of it moves to
// memory (memory layers) or is dropped (others), and positions start at 0 again.
#pragma once
#include <cstdint>
#include <vector>

#include <memory>

#include "core/model.h"
#include "eval/key_index.h"

namespace condense::fot {

struct MemoryOptions {
  std::vector<int64_t> layers;  // memory layers (may be empty: the local window only)
  int64_t window = 256;         // local context C: the window and the local cache's size
  int64_t last_context = 0;     // trailing prompt tokens kept local (≤ window)
  int64_t knn = 0;              // 0: dense memory attention; k > 0: each query's top-k memory keys
  eval::KeyIndexOptions index;  // how knn finds the top k: the exact scan or a FAISS index
  // Dense memory attention in blocks of this many keys (online softmax: the scores held
  // at once are [T, chunk] per head); 0: one block, the engine's attention.
  int64_t memory_chunk = 0;
  DType memory_dtype = DType::f32;  // how the memory is stored: f32 or bf16 (half the bytes)
};

// Throws (one line) on a memory layer outside the model, a window ≤ 0, last_context
// outside [0, window], a negative k or chunk, or a memory dtype other than f32/bf16.
void check_memory_options(const MemoryOptions& o, const LlamaConfig& model);
// The same without the model: every check but the layers'.
void check_memory_settings(const MemoryOptions& o);

class MemoryCache {
 public:
  MemoryCache(const Llama& model, MemoryOptions options);

  // Runs `ids` (at most `window` tokens) as one window against the memory, then adds
  // its keys/values to the memory layers' memory. Returns its logits [1,T,V].
  Tensor push_window(const std::vector<int32_t>& ids);
  // Runs `ids` through the local cache (flushing it first when it would overflow) and
  // returns the logits [1,T,V].
  Tensor extend_local(const std::vector<int32_t>& ids);
  // The whole prompt (§4.3 split into windows and the local part): the logits of its
  // last token [V].
  std::vector<float> prefill(const std::vector<int32_t>& ids);
  // Greedy decoding of `n` tokens after prefill.
  std::vector<int32_t> greedy(const std::vector<float>& first_logits, int64_t n);
  // Appends keys (before RoPE) and values [1,n,Hkv,Dh] to memory layer `layer`'s memory
  // and its index, as a pushed window would: a memory of a given size without running
  // the prompt that would make it (`condense bench --method fot`).
  void load_memory(int64_t layer, const Tensor& k, const Tensor& v);

  // Tokens held: in layer l's memory (0 for a non-memory layer), in the local cache.
  int64_t memory_tokens(int64_t layer) const;
  int64_t local_tokens() const { return local_len_; }
  // Layer l's memory: keys before RoPE and values [1,M,Hkv,Dh] (undefined when empty),
  // in memory_dtype.
  const LayerKV& memory(int64_t layer) const { return memory_[static_cast<size_t>(layer)]; }
  const LayerKV& local(int64_t layer) const { return local_[static_cast<size_t>(layer)]; }

 private:
  bool is_memory_layer(int64_t l) const;
  // One forward pass of `ids` at positions from `first_pos`, with per-layer prefixes.
  Tensor run(const std::vector<int32_t>& ids, int32_t first_pos, bool with_local,
             std::vector<LayerKV>& fresh);
  void flush_local();
  // Appends keys (before RoPE) and values [1,n,Hkv,Dh] to memory layer l and its indexes.
  void append_memory(int64_t l, const Var& k, const Var& v);

  const Llama& model_;
  MemoryOptions o_;
  std::vector<LayerKV> memory_;  // k unrotated, v
  std::vector<LayerKV> local_;   // k unrotated (rotated at 0..n-1 when used), v
  // With a FAISS index: per layer, one index per kv head over the memory's keys.
  std::vector<std::vector<std::unique_ptr<eval::KeyIndex>>> index_;
  int64_t local_len_ = 0;
};

}  // namespace condense::fot
