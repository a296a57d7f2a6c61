#include "datasets/icl_episodes.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <unordered_map>

#include "core/error.h"
#include "datasets/records.h"
#include "datasets/tokenizer.h"

namespace condense::data {
namespace {

std::string demo_text(const IclExamples& ex, size_t i) {
  return icl_query_text(ex, i) + " " + ex.label_names[static_cast<size_t>(ex.labels[i])];
}

// Token counts of texts, computed once each.
class Lengths {
 public:
  explicit Lengths(const Tokenizer& tok) : tok_(tok) {}
  int64_t operator()(const std::string& text) {
    const auto it = cache_.find(text);
    if (it != cache_.end()) return it->second;
    const auto n = static_cast<int64_t>(tok_.encode(text, false, false).size());
    cache_.emplace(text, n);
    return n;
  }

 private:
  const Tokenizer& tok_;
  std::unordered_map<std::string, int64_t> cache_;
};

std::vector<size_t> shuffled(size_t n, std::mt19937_64& g) {
  std::vector<size_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = i;
  for (size_t i = n; i > 1; --i) std::swap(p[i - 1], p[g() % i]);
  return p;
}

}  // namespace

std::string icl_query_text(const IclExamples& ex, size_t i) {
  std::string s = "Input:";
  for (const std::string& v : ex.values[i]) s += " " + v;
  return s + " Output:";
}

TokenDatasetContents icl_episodes(const std::vector<IclEpisodeTask>& tasks,
                                  const Tokenizer& tokenizer, const IclEpisodeOptions& o,
                                  const std::string& label) {
  if (o.demos < 1) fail("data icl-episodes: --demos must be at least 1, got ", o.demos);
  if (o.max_tokens < 1 || o.max_example_tokens < 1)
    fail("data icl-episodes: --max-tokens and --max-example-tokens must be positive, got ",
         o.max_tokens, " and ", o.max_example_tokens);
  if (o.episodes < 0) fail("data icl-episodes: --episodes must be 0 or more, got ", o.episodes);
  RecordBuilder builder({{"turn"}, {"option"}}, /*bos_per_record=*/false);
  TokenDatasetContents out;
  std::vector<int64_t>& turn_offsets = out.int64s["/turn_offsets"];
  std::vector<int64_t>& option_offsets = out.int64s["/option_offsets"];
  turn_offsets.push_back(0);
  option_offsets.push_back(0);
  std::vector<std::string> names;
  Lengths len(tokenizer);
  for (size_t t = 0; t < tasks.size(); ++t) {
    const IclEpisodeTask& task = tasks[t];
    const IclExamples& q = task.queries;
    const IclExamples& d = task.demos;
    names.push_back(q.task);
    if (q.task != d.task || q.label_names != d.label_names)
      fail("data icl-episodes: the demonstrations of ", q.task, " come from task ", d.task);
    std::mt19937_64 g(o.seed ^ (0x9E3779B97F4A7C15ull * (t + 1)));
    const auto fits = [&](size_t j) { return len(demo_text(d, j)) <= o.max_example_tokens; };
    // The shared draw: the first k eligible demonstrations of a seeded permutation.
    std::vector<size_t> fixed;
    if (!task.same_pool)
      for (size_t j : shuffled(d.values.size(), g))
        if (static_cast<int64_t>(fixed.size()) < o.demos && fits(j)) fixed.push_back(j);
    std::vector<size_t> order = shuffled(q.values.size(), g);
    if (o.episodes == 0 || o.episodes >= static_cast<int64_t>(order.size()))
      std::sort(order.begin(), order.end());
    else
      order.resize(static_cast<size_t>(o.episodes));
    int64_t made = 0;
    for (size_t i : order) {
      const std::string query = icl_query_text(q, i);
      const std::string& gold = q.label_names[static_cast<size_t>(q.labels[i])];
      int64_t used = 1 + len(query) + len(gold);  // BOS, query, label
      std::vector<size_t> demos = fixed;
      if (task.same_pool) {
        // Rejection draws without the query; an exhausted pool ends the list early.
        for (int64_t tries = 0;
             static_cast<int64_t>(demos.size()) < o.demos && tries < 20 * o.demos; ++tries) {
          const size_t j = g() % d.values.size();
          if (j != i && fits(j) && std::find(demos.begin(), demos.end(), j) == demos.end())
            demos.push_back(j);
        }
      }
      std::vector<size_t> kept;
      for (size_t j : demos) {
        const int64_t n = len(demo_text(d, j));
        if (used + n > o.max_tokens) break;
        used += n;
        kept.push_back(j);
      }
      if (kept.empty()) continue;  // the query alone fills the budget
      for (size_t j : kept) builder.add(0, demo_text(d, j));
      builder.add(0, query);
      builder.add(0, gold);
      for (const std::string& option : q.label_names) builder.add(1, option);
      builder.end_record();
      turn_offsets.push_back(turn_offsets.back() + static_cast<int64_t>(kept.size()) + 2);
      option_offsets.push_back(option_offsets.back() + static_cast<int64_t>(q.label_names.size()));
      out.int32s["/labels"].push_back(q.labels[i]);
      out.int32s["/tasks"].push_back(static_cast<int32_t>(t));
      ++made;
    }
    if (made == 0)
      fail("data icl-episodes: no episode of ", q.task, " fits --max-tokens ", o.max_tokens,
           " with a demonstration");
  }
  builder.build(tokenizer, label, out);
  out.info.kind = "dialogue";
  out.attrs["format"] = "icl_episodes";
  out.attrs["tasks"] = nlohmann::json(names).dump();
  out.attrs["separator"] = nlohmann::json("").dump();  // JSON: the turns are joined by ""
  return out;
}

}  // namespace condense::data
