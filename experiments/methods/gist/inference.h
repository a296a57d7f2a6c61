// Gisting, part 4 of the method as data: inference with and without caches, for a
// batch of different instructions at once.
//   none:   the whole prompt runs under the condition's mask (the reference);
//   gist:   instruction ⊕ gists runs once, only the k gist tokens' keys/values of
//           every layer are kept, and the suffix runs against them;
//   prompt: the same run, keeping every column (full prompt caching, the baseline).
// For the gist condition all three give the same logits; for neg_control the suffix
// sees none of the cache; pos_control with a gist cache is lossy by design (its
// suffix was trained to read the instruction).
#pragma once
#include <string>
#include <vector>

#include "eval/batch_generate.h"
#include "experiments/methods/gist/batch.h"

namespace condense::gist {

struct Prepared {
  std::vector<LayerKV> prefix;  // per layer [B,M,Hkv,Dh]; empty for CacheMode::none
  eval::PromptBatch prompt;     // what runs against the prefix
  Batch batch;                  // the packed prompt (sizes, token counts)

  // The prompt's forward pass against the prefix (which must outlive the result).
  ForwardArgs forward_args() const;
};

eval::PromptBatch as_prompt(const Batch& b);

// The cache mode `gist.cache` names for a condition ("auto": gist caching for the
// gist condition, where it is exact; no cache for the controls).
CacheMode eval_cache_mode(const std::string& name, Condition c);

// What a suffix run of `mode` finds in its prefix: per layer the keys/values of the
// instruction ⊕ gists run (the gists' alone for gist, all for prompt); empty for none.
std::vector<LayerKV> compress(const Llama& model, const Method& m,
                              const std::vector<const Example*>& examples, CacheMode mode);
// The prompt batch of `mode`: the whole prompt (none) or the suffix (gist, prompt).
Batch query_batch(const Method& m, const std::vector<const Example*>& examples, CacheMode mode,
                  Device device);

// The cache (computed here, not timed by callers that only time the prompt) and the
// prompt batch of `mode`.
Prepared prepare(const Llama& model, const Method& m, const std::vector<const Example*>& examples,
                 CacheMode mode);

eval::BatchGenerateResult generate(const Llama& model, const Method& m,
                                   const std::vector<const Example*>& examples, CacheMode mode,
                                   const eval::BatchGenerateConfig& cfg, bool keep_logits = false);

}  // namespace condense::gist
