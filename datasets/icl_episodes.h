// In-context-learning episodes for CCM's ICL task (METHODS.md §2.2, MetaICL layout):
// k demonstrations "Input: x_i Output: y_i", then the query "Input: x Output:" and its
// label, stored as a dialogue (one turn per demonstration, then the query and the
// target), so a dialogue method trains and scores them unchanged; each record also
// carries its task's label names as options for multiple-choice scoring.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/icl.h"
#include "datasets/token_dataset.h"

namespace condense::data {

class Tokenizer;

struct IclEpisodeTask {
  IclExamples queries;
  IclExamples demos;
  // Demonstrations are drawn per episode from `demos` without the query itself (a
  // training split used for both); otherwise every episode of the task shares one
  // seeded draw of k demonstrations (the evaluation protocol of MetaICL and
  // AutoCompressors).
  bool same_pool = false;
};

struct IclEpisodeOptions {
  int64_t demos = 16;                // k
  int64_t max_tokens = 1024;         // text tokens of an episode, BOS and label included
  int64_t max_example_tokens = 256;  // longer examples are never demonstrations
  int64_t episodes = 0;              // per task; 0: one per query example
  uint64_t seed = 100;
};

// "Input: <fields joined by a space> Output:"
std::string icl_query_text(const IclExamples& ex, size_t i);

// Records in task order: /spans/turn (k' ≤ k demonstrations — fewer when the budget
// needs it —, the query, the gold label), /turn_offsets, /spans/option (the task's
// label names, in label order), /option_offsets, /labels (the gold option), /tasks (the
// task index of each record), root attributes tasks (a JSON array of the task names),
// separator (JSON "": the turns are joined without one). Throws (one line) when k < 1, a
// budget is not positive, or a task has no demonstration within the budget.
TokenDatasetContents icl_episodes(const std::vector<IclEpisodeTask>& tasks,
                                  const Tokenizer& tokenizer, const IclEpisodeOptions& o,
                                  const std::string& label);

}  // namespace condense::data
