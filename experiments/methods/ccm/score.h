// Scoring dialogues the way CCM is evaluated (METHODS.md §2.8): the last turn y is the
// target, the one before it the query x, every earlier turn a context. Perplexity is
// exp(sum NLL / tokens) over y's tokens, EOS excluded; exact match asks the greedy
// answer to be y then EOS. concat_recur and merge_recur answer online (compress each
// context into the memory, then answer from it: online.h); the other types run their
// one-pass masked layout (full context, no context, gist, non-recurrent variants).
// The memory of a dialogue is the key/value entries the query reads besides its own
// tokens: the online memory, or the earlier columns its mask row opens.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "core/model.h"
#include "experiments/methods/ccm/layout.h"

namespace condense::ccm {

struct DialogueScore {
  double nll = 0;      // summed over the targets' tokens, EOS excluded
  int64_t tokens = 0;  // those tokens
  int64_t exact = 0;   // dialogues answered exactly
  int64_t dialogues = 0;
  int64_t memory_entries = 0;  // summed over the dialogues

  double ppl() const;
  double exact_match() const;
  double mean_memory() const;
  DialogueScore& operator+=(const DialogueScore& o);
};

using DialogueTurns = std::vector<std::span<const int32_t>>;  // at least 2 turns

// The scores of a set of dialogues, in all and by the number of context turns each had
// (the paper's "time step" t: the facts of a recall dialogue, the turns before the query).
struct DialogueScores {
  DialogueScore all;
  std::map<int64_t, DialogueScore> by_context_turns;
};

// Scores `dialogues` in batches of `batch` rows with `table` the <COMP>/<SUM> table;
// without `generate`, perplexity and memory only (exact match stays 0).
// The score of each dialogue, in order (scored `batch` at a time).
std::vector<DialogueScore> score_each(const Llama& model, const Tensor& table, const Layout& l,
                                      const std::vector<DialogueTurns>& dialogues, int64_t batch,
                                      int32_t pad_id, bool generate = true);

DialogueScores score_dialogues(const Llama& model, const Tensor& table, const Layout& l,
                               const std::vector<DialogueTurns>& dialogues, int64_t batch,
                               int32_t pad_id, bool generate = true);

}  // namespace condense::ccm
