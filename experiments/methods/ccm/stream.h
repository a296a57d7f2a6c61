// CCM streaming (METHODS.md §2.6, test_stream.py): a long text token by token with a
// bounded key/value cache [sink | CCM memory | sliding window] of at most `cache`
// entries. Keys are cached before RoPE and rotated by their index in the cache at
// every step (StreamingLLM style), so positions never exceed the cache size. When the
// cache is full, the oldest `chunk` window tokens are evicted; with CCM they are first
// compressed, together with the memory and the sink, into n_tok <COMP> entries (the
// conditional LoRA on, the table's <COMP> rows) appended to the memory, whose oldest
// entries go beyond `memory`. Without CCM (memory = 0) this is the window-only cache.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "core/model.h"
#include "datasets/tokenizer.h"
#include "experiments/cli.h"

namespace condense::ccm {

struct StreamOptions {
  int64_t cache = 160;  // most entries held
  int64_t sink = 1;     // leading tokens always kept
  int64_t chunk = 64;   // window tokens evicted (compressed) at once
  int64_t memory = 8;   // most <COMP> entries kept; 0: window only
  int64_t n_tok = 2;    // <COMP> entries a compression adds
};

struct StreamResult {
  double nll = 0;         // summed over the predicted tokens
  int64_t tokens = 0;     // predictions: every token after the first
  int64_t max_cache = 0;  // the most entries a step attended to
  int64_t compressions = 0;
  double ppl() const;
};

// Fails (one line) on options that cannot work together.
void check_stream(const StreamOptions& o);

// Streams `tokens`; `table` ([rows >= n_tok, D]) is needed when o.memory > 0.
StreamResult stream_nll(const Llama& model, const Tensor* table, std::span<const int32_t> tokens,
                        const StreamOptions& o);

// The stream task of `condense eval --method ccm --task stream`: the first record of
// --ccm.stream_data (a `condense data books` dataset) of at least --ccm.stream_tokens
// tokens, streamed with CCM (n_tok of the run) and window-only at the same cache size.
struct StreamTask {
  std::string data;
  int64_t tokens = 8192;
  StreamOptions options;
};

void add_stream_options(cli::po::options_description& desc, StreamTask& t);

// Writes run_dir/eval/stream-<step>.json and returns the one-line summary.
std::string evaluate_stream(const StreamTask& t, const Llama& model, const Tensor& table,
                            int64_t n_tok, const data::Tokenizer& tok, int64_t step,
                            const std::string& run_dir);

}  // namespace condense::ccm
