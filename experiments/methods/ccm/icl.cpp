#include "experiments/methods/ccm/icl.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/h5.h"

namespace condense::ccm {

bool has_root_attr(const data::TokenDataset& set, const std::string& key) {
  return h5::File(set.path(), h5::File::Mode::read).has_attr("/", key);
}

bool is_icl_episodes(const data::TokenDataset& set) {
  return has_root_attr(set, "format") && set.attr("format") == "icl_episodes";
}

bool is_icl_episodes_file(const std::string& path) {
  try {
    const h5::File f(path, h5::File::Mode::read);
    return f.has_attr("/", "format") && f.attr_string("/", "format") == "icl_episodes";
  } catch (const Error&) {
    return false;  // opening the dataset for the task says what is wrong with it
  }
}

IclChoices read_icl_choices(const data::TokenDataset& set) {
  const std::string& path = set.path();
  if (!set.has_spans("option"))
    fail("ccm: ", path, " has no /spans/option (make it with condense data icl-episodes)");
  IclChoices c;
  try {
    c.task_names = nlohmann::json::parse(set.attr("tasks")).get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception&) {
    fail("ccm: ", path, ": attribute tasks is not a JSON array of task names");
  }
  const std::vector<int64_t> off = set.int64s("/option_offsets");
  c.gold = set.int32s("/labels");
  c.task = set.int32s("/tasks");
  const auto n = static_cast<size_t>(set.size());
  if (off.size() != n + 1 || c.gold.size() != n || c.task.size() != n ||
      off.back() != set.span_rows("option"))
    fail("ccm: ", path, ": /option_offsets, /labels and /tasks do not match its ", n, " records");
  for (size_t i = 0; i < n; ++i) {
    std::vector<std::span<const int32_t>> options;
    for (int64_t r = off[i]; r < off[i + 1]; ++r) options.push_back(set.span_tokens("option", r));
    if (c.gold[i] < 0 || static_cast<size_t>(c.gold[i]) >= options.size() || c.task[i] < 0 ||
        static_cast<size_t>(c.task[i]) >= c.task_names.size())
      fail("ccm: ", path, ": record ", i, " names an option or task it does not have");
    c.options.push_back(std::move(options));
  }
  return c;
}

double IclAccuracy::accuracy() const {
  return episodes ? static_cast<double>(correct) / static_cast<double>(episodes) : std::nan("");
}
double IclAccuracy::accuracy_norm() const {
  return episodes ? static_cast<double>(correct_norm) / static_cast<double>(episodes)
                  : std::nan("");
}
double IclAccuracy::majority_accuracy() const {
  return episodes ? static_cast<double>(majority) / static_cast<double>(episodes) : std::nan("");
}
double IclAccuracy::mean_memory() const {
  return episodes ? static_cast<double>(memory_entries) / static_cast<double>(episodes)
                  : std::nan("");
}

std::map<std::string, IclAccuracy> score_icl(const Llama& model, const Tensor& table,
                                             const Layout& l,
                                             const std::vector<DialogueTurns>& episodes,
                                             const std::vector<size_t>& records,
                                             const IclChoices& choices, int64_t batch,
                                             int32_t pad_id) {
  if (episodes.size() != records.size()) fail("ccm: score_icl needs a record per episode");
  // Every (episode, option) pair as a dialogue whose target is the option.
  std::vector<DialogueTurns> asked;
  for (size_t e = 0; e < episodes.size(); ++e)
    for (const std::span<const int32_t> option : choices.options[records[e]]) {
      DialogueTurns d = episodes[e];
      d.back() = option;
      asked.push_back(std::move(d));
    }
  const std::vector<DialogueScore> s =
      score_each(model, table, l, asked, batch, pad_id, /*generate=*/false);
  std::map<std::string, IclAccuracy> by_task;
  std::map<std::string, std::map<int32_t, int64_t>> golds;  // task -> gold option -> episodes
  size_t at = 0;
  for (size_t e = 0; e < episodes.size(); ++e) {
    const size_t rec = records[e], n = choices.options[rec].size();
    size_t best = 0, best_norm = 0;
    for (size_t o = 1; o < n; ++o) {
      const DialogueScore &a = s[at + o], &b = s[at + best], &c = s[at + best_norm];
      if (a.nll < b.nll) best = o;
      if (a.nll / static_cast<double>(a.tokens) < c.nll / static_cast<double>(c.tokens))
        best_norm = o;
    }
    for (const std::string& name : {choices.task_names[choices.task[rec]], std::string("all")}) {
      IclAccuracy& acc = by_task[name];
      ++acc.episodes;
      acc.correct += best == static_cast<size_t>(choices.gold[rec]);
      acc.correct_norm += best_norm == static_cast<size_t>(choices.gold[rec]);
      acc.memory_entries += s[at].memory_entries;
    }
    ++golds[choices.task_names[choices.task[rec]]][choices.gold[rec]];
    at += n;
  }
  for (const auto& [name, counts] : golds) {
    int64_t most = 0;
    for (const auto& [gold, count] : counts) most = std::max(most, count);
    by_task[name].majority = most;
    by_task["all"].majority += most;
  }
  return by_task;
}

}  // namespace condense::ccm
