#include "datasets/recall.h"

#include <algorithm>
#include <array>
#include <random>
#include <utility>

#include "core/error.h"

namespace condense::data {
namespace {

const std::vector<std::string> kSubjects = {
    "my cat",     "my dog",         "my sister",    "my brother",  "my uncle",
    "my aunt",    "my neighbour",   "my boss",      "my friend",   "my teacher",
    "my cousin",  "my son",         "my daughter",  "my horse",    "my parrot",
    "my grandma", "my grandfather", "my colleague", "my landlord", "my doctor"};

// A relation: how a fact states it, how the query asks it, and its values (disjoint
// from the other relations' values and from every template word).
struct Relation {
  std::string before, after;          // fact: "<subject> <before> <value> <after>"
  std::string ask_before, ask_after;  // query: "<ask_before> <subject> <ask_after>"
  std::vector<std::string> values;
};

std::vector<std::string> numbers() {
  std::vector<std::string> v;
  for (int i = 2; i < 100; ++i) v.push_back(std::to_string(i));
  return v;
}

const std::array<Relation, 4>& relations() {
  static const std::array<Relation, 4> r = {
      Relation{
          "is called", ".", "what is", "called ?", {"tom",  "anna",  "max",    "lily",  "oscar",
                                                    "emma", "felix", "sophie", "bruno", "clara",
                                                    "hugo", "nora",  "leo",    "ruby",  "otto",
                                                    "mila", "jack",  "rosa",   "ivan",  "greta",
                                                    "paul", "zoe",   "sam",    "ella"}},
      Relation{"lives in", ".", "where does", "live ?", {"paris",   "rome",   "berlin", "madrid",
                                                         "london",  "vienna", "prague", "oslo",
                                                         "lisbon",  "dublin", "athens", "warsaw",
                                                         "zurich",  "milan",  "munich", "lyon",
                                                         "porto",   "bergen", "krakow", "naples",
                                                         "seville", "geneva", "bruges", "turin"}},
      Relation{"is", "years old .", "how old is", "?", numbers()},
      Relation{
          "likes the colour",
          ".",
          "what colour does",
          "like ?",
          {"red", "blue", "green", "yellow", "black", "white", "orange", "purple", "pink", "brown",
           "grey", "silver", "gold", "violet", "crimson", "beige", "turquoise", "navy"}}};
  return r;
}

// Uniform in [0, n) from the generator alone, so that every platform draws the same.
// Plain modulo, not data::uniform_below's rejection: the recall sets results were made
// with were drawn with it (for n this small the bias is below 1e-16).
uint64_t below(std::mt19937_64& g, uint64_t n) {
  return g() % n;
}

struct Generated {
  std::vector<Dialogue> dialogues;
  std::vector<int64_t> fact_turns;
};

Generated generate(const RecallOptions& o) {
  check_recall_options(o);
  std::mt19937_64 g(o.seed);
  Generated out;
  const auto& rel = relations();
  const uint64_t pairs = kSubjects.size() * rel.size();
  for (int64_t d = 0; d < o.dialogues; ++d) {
    const int64_t t = o.min_facts + static_cast<int64_t>(below(
                                        g, static_cast<uint64_t>(o.max_facts - o.min_facts + 1)));
    // t distinct (subject, relation) pairs: a partial Fisher-Yates shuffle of all of them.
    std::vector<uint64_t> pair(pairs);
    for (uint64_t i = 0; i < pairs; ++i) pair[i] = i;
    std::array<std::vector<std::string>, 4> pool;
    for (size_t r = 0; r < rel.size(); ++r) pool[r] = rel[r].values;
    Dialogue dialogue;
    std::vector<std::pair<uint64_t, std::string>> facts;  // (pair, value)
    for (int64_t i = 0; i < t; ++i) {
      std::swap(pair[i], pair[i + below(g, pairs - i)]);
      const uint64_t s = pair[i] / rel.size(), r = pair[i] % rel.size();
      // A value not used yet in this dialogue: drawn from what is left of its pool.
      std::vector<std::string>& p = pool[r];
      std::swap(p[below(g, p.size())], p.back());
      const std::string value = p.back();
      p.pop_back();
      dialogue.turns.push_back(kSubjects[s] + " " + rel[r].before + " " + value + " " +
                               rel[r].after);
      facts.emplace_back(pair[i], value);
    }
    const int64_t asked = static_cast<int64_t>(below(g, static_cast<uint64_t>(t)));
    const uint64_t s = facts[asked].first / rel.size(), r = facts[asked].first % rel.size();
    dialogue.turns.push_back(rel[r].ask_before + " " + kSubjects[s] + " " + rel[r].ask_after);
    dialogue.turns.push_back(facts[asked].second);
    out.dialogues.push_back(std::move(dialogue));
    out.fact_turns.push_back(asked);
  }
  return out;
}

}  // namespace

int64_t recall_max_facts() {
  // Every relation could be drawn for all facts, so no pool may run dry.
  size_t smallest = relations()[0].values.size();
  for (const Relation& r : relations()) smallest = std::min(smallest, r.values.size());
  return static_cast<int64_t>(smallest);
}

void check_recall_options(const RecallOptions& o) {
  if (o.dialogues < 1) fail("recall: --dialogues must be at least 1, got ", o.dialogues);
  if (o.min_facts < 1) fail("recall: --min_facts must be at least 1, got ", o.min_facts);
  if (o.max_facts < o.min_facts)
    fail("recall: --max_facts (", o.max_facts, ") is below --min_facts (", o.min_facts, ")");
  if (o.max_facts > recall_max_facts())
    fail("recall: --max_facts must be at most ", recall_max_facts(), ", got ", o.max_facts);
}

std::vector<Dialogue> recall_dialogues(const RecallOptions& o) {
  return generate(o).dialogues;
}

std::vector<int64_t> recall_fact_turns(const RecallOptions& o) {
  return generate(o).fact_turns;
}

TokenDatasetContents recall_dataset(const RecallOptions& o, const Tokenizer& tokenizer,
                                    const std::string& label) {
  Generated g = generate(o);
  TokenDatasetContents out = dialogue_dataset(g.dialogues, tokenizer, label);
  out.int64s["/recall/fact_turn"] = std::move(g.fact_turns);
  out.attrs["recall_seed"] = std::to_string(o.seed);
  return out;
}

}  // namespace condense::data
