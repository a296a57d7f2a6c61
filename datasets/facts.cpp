#include "datasets/facts.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "core/error.h"
#include "datasets/tokenizer.h"
#include "datasets/uniform.h"

namespace condense::data {
namespace {

// Training names, then the held-out ones: common names, so that a tokenizer trained on
// books has seen them.
const std::vector<std::string> kTrainNames = {
    "Anna",  "Tom",    "Mary",  "John",   "Emma",  "James", "Lucy",   "Henry",
    "Alice", "George", "Jane",  "Peter",  "Kate",  "David", "Rose",   "Paul",
    "Clara", "Oliver", "Helen", "Robert", "Laura", "Frank", "Sarah",  "Edward",
    "Ruth",  "Arthur", "Agnes", "Thomas", "Ellen", "Simon", "Martha", "Walter"};
const std::vector<std::string> kHeldoutNames = {
    "Julia", "Charles", "Grace",  "Philip", "Susan", "Albert", "Edith", "Victor",
    "Irene", "Hugh",    "Esther", "Ralph",  "Nancy", "Louis",  "Fanny", "Harold"};

// Words of the synthetic filler's sentences: none is a name or a word of the facts.
const std::vector<std::string> kSubjects = {"the old man", "the child", "a dog",    "the farmer",
                                            "the ship",    "a bird",    "the wind", "her mother"};
const std::vector<std::string> kVerbs = {"walked to",   "looked at", "came back from", "sat by",
                                         "waited near", "ran past",  "thought of",     "left"};
const std::vector<std::string> kPlaces = {"the river", "the house",  "the town",   "the hill",
                                          "the road",  "the garden", "the church", "the sea"};

int64_t count(const std::vector<int32_t>& v) {
  return static_cast<int64_t>(v.size());
}

// Ids of "The code of NAME is", of NUMBER, and of the closing ".": encoded as pieces so
// that the answer's tokens are known exactly (the same ids in fact and question).
struct Sentence {
  std::vector<int32_t> prompt, answer, end;
  int64_t size() const { return count(prompt) + count(answer) + count(end); }
};

Sentence sentence(const Tokenizer& tok, const std::string& name, int64_t number) {
  return {tok.encode("The code of " + name + " is", false, false),
          tok.encode(std::to_string(number), false, false), tok.encode_continuation(".")};
}

}  // namespace

const std::vector<std::string>& facts_names(bool heldout) {
  return heldout ? kHeldoutNames : kTrainNames;
}

void check_facts_options(const FactsOptions& o) {
  if (o.documents < 1) fail("facts: the number of documents must be at least 1, got ", o.documents);
  if (o.facts < 1) fail("facts: --facts must be at least 1, got ", o.facts);
  if (o.segment < 2) fail("facts: --segment must be at least 2 tokens, got ", o.segment);
  if (o.segments < 2)
    fail("facts: a document needs at least 2 segments (facts, questions), got ", o.segments);
  const auto names = static_cast<int64_t>(facts_names(o.heldout_names).size());
  if (o.facts > names)
    fail("facts: --facts ", o.facts, " is more than the ", names, " names a document may use");
  if (o.min_number < 0 || o.max_number - o.min_number + 1 < o.facts)
    fail("facts: the numbers [", o.min_number, ", ", o.max_number, "] cannot give ", o.facts,
         " distinct answers");
}

std::vector<int32_t> synthetic_filler(const Tokenizer& tok, int64_t tokens) {
  std::mt19937_64 g(20251207);
  auto pick = [&](const std::vector<std::string>& v) { return v[uniform_below(g, v.size())]; };
  std::vector<int32_t> out;
  while (count(out) < tokens) {
    std::string text;
    for (int i = 0; i < 64; ++i)
      text += pick(kSubjects) + " " + pick(kVerbs) + " " + pick(kPlaces) + ". ";
    const std::vector<int32_t> ids = tok.encode(text, false, false);
    out.insert(out.end(), ids.begin(), ids.end());
  }
  return out;
}

TokenDatasetContents facts_dataset(const FactsOptions& o, const Tokenizer& tok,
                                   std::span<const int32_t> filler) {
  check_facts_options(o);
  if (filler.empty()) fail("facts: the filler stream is empty");
  std::mt19937_64 g(o.seed);
  const std::vector<std::string>& pool = facts_names(o.heldout_names);
  TokenDatasetContents out;
  out.info.kind = "facts";
  out.info.tokenizer_sha256 = tok.sha256();
  out.info.vocab_size = tok.vocab_size();
  // `n` filler tokens from a random place of the stream (wrapping around its end).
  auto add_filler = [&](int64_t n) {
    const uint64_t start = uniform_below(g, filler.size());
    for (int64_t i = 0; i < n; ++i) out.tokens.push_back(filler[(start + i) % filler.size()]);
  };
  auto add = [&](const std::vector<int32_t>& ids, const char* span) {
    const auto begin = count(out.tokens);
    out.tokens.insert(out.tokens.end(), ids.begin(), ids.end());
    if (span) out.spans[span].insert(out.spans[span].end(), {begin, count(out.tokens)});
  };
  for (int64_t d = 0; d < o.documents; ++d) {
    const auto start = count(out.tokens);
    // Distinct names (a partial Fisher-Yates shuffle) and distinct numbers.
    std::vector<size_t> name(pool.size());
    std::iota(name.begin(), name.end(), 0);
    std::vector<int64_t> number;
    std::vector<Sentence> facts;
    int64_t fact_tokens = 1;  // BOS
    for (int64_t f = 0; f < o.facts; ++f) {
      std::swap(name[f], name[f + uniform_below(g, name.size() - f)]);
      int64_t n;
      do {
        n = o.min_number + static_cast<int64_t>(uniform_below(
                               g, static_cast<uint64_t>(o.max_number - o.min_number + 1)));
      } while (std::find(number.begin(), number.end(), n) != number.end());
      number.push_back(n);
      facts.push_back(sentence(tok, pool[name[f]], n));
      fact_tokens += facts.back().size();
    }
    std::vector<size_t> asked(facts.size());
    std::iota(asked.begin(), asked.end(), 0);
    for (size_t i = asked.size(); i > 1; --i) std::swap(asked[i - 1], asked[uniform_below(g, i)]);
    int64_t question_tokens = 0;
    for (const Sentence& s : facts) question_tokens += s.size();
    // The questions follow at least one filler token, so the first answer is predicted
    // inside the last segment.
    if (fact_tokens > o.segment || question_tokens >= o.segment)
      fail("facts: ", o.facts, " facts take ", fact_tokens, " tokens with the BOS and their ",
           "questions ", question_tokens, ", more than a segment of ", o.segment,
           " holds (the questions need a filler token before them)");
    out.tokens.push_back(tok.bos_id());
    for (size_t f = 0; f < facts.size(); ++f) {
      const auto begin = count(out.tokens);
      add(facts[f].prompt, nullptr);
      add(facts[f].answer, nullptr);
      add(facts[f].end, nullptr);
      out.spans["fact"].insert(out.spans["fact"].end(), {begin, count(out.tokens)});
    }
    add_filler(o.segment - fact_tokens);
    add_filler((o.segments - 1) * o.segment - question_tokens);
    for (size_t q : asked) {
      add(facts[q].prompt, "question");
      add(facts[q].answer, "answer");
      add(facts[q].end, nullptr);
      out.texts["name"].push_back(pool[name[q]]);
      out.texts["answer"].push_back(std::to_string(number[q]));
    }
    // The fact rows in the questions' order: fact row r is what question row r asks.
    std::vector<int64_t>& rows = out.spans["fact"];
    const size_t first = rows.size() - 2 * facts.size();
    std::vector<int64_t> ordered;
    for (size_t q : asked)
      ordered.insert(ordered.end(), {rows[first + 2 * q], rows[first + 2 * q + 1]});
    std::copy(ordered.begin(), ordered.end(), rows.begin() + static_cast<std::ptrdiff_t>(first));
    out.tokens.push_back(tok.eos_id());
    out.offsets.push_back(count(out.tokens));
    CONDENSE_ASSERT(count(out.tokens) - start == o.segments * o.segment + 1, "facts document of ",
                    count(out.tokens) - start, " tokens");
  }
  out.attrs["facts_segment"] = std::to_string(o.segment);
  out.attrs["facts_segments"] = std::to_string(o.segments);
  out.attrs["facts_per_document"] = std::to_string(o.facts);
  out.attrs["facts_seed"] = std::to_string(o.seed);
  out.attrs["facts_numbers"] = std::to_string(o.min_number) + "-" + std::to_string(o.max_number);
  return out;
}

}  // namespace condense::data
