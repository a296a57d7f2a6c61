// Gisting, part 3 of the method as data: batches. Every batch the method runs
// (training, uncached prompts, the instruction run that fills a gist cache, the
// suffix run against a cache) is packed by one function from rows described in
// the coordinates of the row's whole, uncached sequence ("global" indices).
//
// Padding and positions: rows are left-padded (pad id = EOS, as gisting does for
// LLaMA) and every token's RoPE position is its global index, i.e. the pad-aware
// cumsum(attention_mask) - 1 of the uncached row. Gisting itself has no position
// ids, so its pads shift real tokens by the pad count and its cache offset is one
// number for the whole batch. Global positions
// make a row's result independent of how much padding its batch needed, and make
// a cached suffix continue exactly where the uncached prompt would: after the
// gists at f..f+k-1 comes position f+k, for every row of a batch on its own.
//
// Masks are [B,T,M+T]: M prefix columns (cached keys/values) then the T tokens.
// Pad queries attend to nothing (their rows are zero in attention and ignored).
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "datasets/batch.h"
#include "experiments/methods/gist/layout.h"
#include "experiments/methods/gist/mask.h"

namespace condense::gist {

// One batch row, in global coordinates.
struct RowPlan {
  std::vector<int32_t> ids;          // the row's tokens: global indices [start, start+size)
  int64_t start = 0;                 // global index (and position) of ids[0]
  GistSpan gists;                    // the gist span of the whole sequence
  std::vector<int64_t> prefix_keys;  // global index held by each prefix column, -1 = none
  std::vector<int32_t> targets;      // next-token targets per token (-100: none); may be empty
};

struct Batch {
  Tensor ids;      // [B,T] i32
  Tensor pos;      // [B,T] i32
  Tensor mask;     // [B,T,M+T] u8
  Tensor targets;  // [B,T] i32, undefined unless the rows had targets
  int64_t rows = 0, T = 0, M = 0;
};

// Packs rows (all with the same number of prefix columns) left-padded to the longest.
Batch pack(const std::vector<RowPlan>& rows, Condition c, int32_t pad_id, Device device);

// What a suffix run finds in its key/value prefix.
enum class CacheMode {
  none,    // no cache: the whole prompt runs (the uncached reference)
  gist,    // the k gist tokens' keys/values of every layer (the method)
  prompt,  // everything before the suffix: instruction + gists (full prompt caching)
};
CacheMode parse_cache_mode(const std::string& name);
const char* cache_mode_name(CacheMode m);

struct Method {
  Layout layout;
  Condition condition = Condition::gist;
  int32_t pad_id = 2;
};

// A training batch on the host, as the training engines (experiments/train_engine.h)
// take it: positions and mask included, so that it may be split into data-parallel
// shares and pipeline micro-batches row by row. `tokens` counts the real (non-pad)
// tokens.
struct TrainingBatch {
  data::TokenBatch rows;
  int64_t tokens = 0;
};

// Training / scoring: prompt ⊕ completion cut to max_length, fed without its last
// token; targets are the next token on completion positions only.
TrainingBatch training_batch(const Method& m, const std::vector<const Example*>& examples,
                             int64_t max_length);
// The whole prompt (mode none).
Batch prompt_batch(const Method& m, const std::vector<const Example*>& examples, Device device);
// instruction ⊕ gists: the run whose keys/values a cache keeps.
Batch instruction_batch(const Method& m, const std::vector<const Example*>& examples,
                        Device device);
// The suffix against a cache of `mode` (gist or prompt). The prefix columns are laid
// out as cache_columns() says, which is how the instruction batch's keys come out.
Batch suffix_batch(const Method& m, const std::vector<const Example*>& examples, CacheMode mode,
                   Device device);
// Which global index each cache column of `mode` holds for one example of a batch
// whose longest instruction ⊕ gists row has `longest` tokens (-1 = padding).
std::vector<int64_t> cache_columns(const Method& m, const Example& e, CacheMode mode,
                                   int64_t longest);

}  // namespace condense::gist
