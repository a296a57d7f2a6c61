// CCM's ICL task (METHODS.md §2.8, MetaICL): multiple choice over a task's label names.
// Each option takes the target's place after the demonstrations (compressed, in full, or
// absent as the layout says) and the query; the prediction is the option of the highest
// summed log-likelihood of its tokens (EOS excluded), and, as acc_norm, of the highest
// mean log-likelihood per token.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/model.h"
#include "datasets/token_dataset.h"
#include "experiments/methods/ccm/layout.h"
#include "experiments/methods/ccm/score.h"

namespace condense::ccm {

// The multiple-choice side of an ICL-episode dataset (datasets/icl_episodes.h), one
// entry per record.
struct IclChoices {
  std::vector<std::string> task_names;
  std::vector<std::vector<std::span<const int32_t>>> options;  // [episode][option]
  std::vector<int32_t> gold, task;
};

// Whether the dataset's file has root attribute `key`.
bool has_root_attr(const data::TokenDataset& set, const std::string& key);
bool is_icl_episodes(const data::TokenDataset& set);
// The same of the dataset file at `path` (false when it cannot be read).
bool is_icl_episodes_file(const std::string& path);
// Throws (one line) naming the file when a dataset or attribute is missing or
// inconsistent.
IclChoices read_icl_choices(const data::TokenDataset& set);

struct IclAccuracy {
  int64_t episodes = 0, correct = 0, correct_norm = 0;
  // Episodes of the most frequent gold option (per task; "all": summed over the tasks):
  // what always answering it would get right.
  int64_t majority = 0;
  int64_t memory_entries = 0;  // summed over the episodes, as DialogueScore counts them
  double accuracy() const;
  double accuracy_norm() const;
  double majority_accuracy() const;
  double mean_memory() const;
};

// Accuracy per task name of the `episodes` (turns of records `records` of `choices`),
// scored `batch` rows at a time.
std::map<std::string, IclAccuracy> score_icl(const Llama& model, const Tensor& table,
                                             const Layout& l,
                                             const std::vector<DialogueTurns>& episodes,
                                             const std::vector<size_t>& records,
                                             const IclChoices& choices, int64_t batch,
                                             int32_t pad_id);

}  // namespace condense::ccm
