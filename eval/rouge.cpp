#include "eval/rouge.h"

#include <algorithm>
#include <array>
#include <map>
#include <unordered_map>

#include "eval/porter_stemmer.h"

namespace condense::eval {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}
bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Token ids for one scored pair: LCS tables compare ints, not strings.
class Vocab {
 public:
  int id(const std::string& token) {
    return ids_.try_emplace(token, static_cast<int>(ids_.size())).first->second;
  }
  size_t size() const { return ids_.size(); }

 private:
  std::unordered_map<std::string, int> ids_;
};

using Sentence = std::vector<int>;

// rouge_score splits rougeLsum text on "\n" and drops empty lines (a line of spaces stays, as a
// sentence without tokens). Since "\n" separates tokens anyway, the concatenated sentences are
// also the token list of the whole text.
std::vector<Sentence> tokenize_lines(std::string_view text, Vocab& vocab) {
  std::vector<Sentence> sentences;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) {
      Sentence ids;
      for (const std::string& token : rouge_tokenize(text.substr(start, end - start)))
        ids.push_back(vocab.id(token));
      sentences.push_back(std::move(ids));
    }
    start = end + 1;
  }
  return sentences;
}

Sentence flatten(const std::vector<Sentence>& sentences) {
  Sentence all;
  for (const Sentence& s : sentences) all.insert(all.end(), s.begin(), s.end());
  return all;
}

// rouge_score's scoring.fmeasure, same operation order.
double fmeasure(double precision, double recall) {
  return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
}

std::map<std::vector<int>, int> ngram_counts(const Sentence& tokens, size_t n) {
  std::map<std::vector<int>, int> counts;
  for (size_t i = 0; i + n <= tokens.size(); ++i)
    ++counts[std::vector<int>(tokens.begin() + i, tokens.begin() + i + n)];
  return counts;
}

double rouge_n(const Sentence& target, const Sentence& prediction, size_t n) {
  const auto target_counts = ngram_counts(target, n);
  const auto prediction_counts = ngram_counts(prediction, n);
  int overlap = 0;
  for (const auto& [gram, count] : target_counts) {
    const auto it = prediction_counts.find(gram);
    if (it != prediction_counts.end()) overlap += std::min(count, it->second);
  }
  const auto count_of = [n](const Sentence& t) { return t.size() >= n ? t.size() - n + 1 : 0; };
  const double precision = double(overlap) / double(std::max<size_t>(count_of(prediction), 1));
  const double recall = double(overlap) / double(std::max<size_t>(count_of(target), 1));
  return fmeasure(precision, recall);
}

size_t lcs_length(const Sentence& a, const Sentence& b) {
  std::vector<size_t> prev(b.size() + 1, 0), cur(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

double rouge_l(const Sentence& target, const Sentence& prediction) {
  if (target.empty() || prediction.empty()) return 0;
  const double lcs = double(lcs_length(target, prediction));
  return fmeasure(lcs / double(prediction.size()), lcs / double(target.size()));
}

// Positions in `ref` of one longest common subsequence with `can`, read back from the full
// table exactly as rouge_score's _backtrack_norec does (on a tie it steps back along `ref`):
// which of several LCSs is chosen changes the union in rougeLsum.
std::vector<size_t> lcs_positions(const Sentence& ref, const Sentence& can) {
  const size_t cols = can.size() + 1;
  std::vector<int> table((ref.size() + 1) * cols, 0);
  for (size_t i = 1; i <= ref.size(); ++i)
    for (size_t j = 1; j <= can.size(); ++j)
      table[i * cols + j] = ref[i - 1] == can[j - 1]
                                ? table[(i - 1) * cols + j - 1] + 1
                                : std::max(table[(i - 1) * cols + j], table[i * cols + j - 1]);
  std::vector<size_t> positions;
  size_t i = ref.size(), j = can.size();
  while (i > 0 && j > 0) {
    if (ref[i - 1] == can[j - 1]) {
      positions.push_back(i - 1);
      --i;
      --j;
    } else if (table[i * cols + j - 1] > table[(i - 1) * cols + j]) {
      --j;
    } else {
      --i;
    }
  }
  return positions;
}

// Summary-level LCS (ROUGE paper §3.2): for each reference sentence, the union of its LCS
// positions with every candidate sentence; a token scores only while both sides still have an
// unused occurrence of it (ROUGE-1.5.5's guard against double counting).
double rouge_lsum(const std::vector<Sentence>& ref, const std::vector<Sentence>& can,
                  size_t vocab_size) {
  if (ref.empty() || can.empty()) return 0;
  std::vector<int> ref_left(vocab_size, 0), can_left(vocab_size, 0);
  size_t ref_tokens = 0, can_tokens = 0;
  for (const Sentence& s : ref) {
    ref_tokens += s.size();
    for (int t : s) ++ref_left[t];
  }
  for (const Sentence& s : can) {
    can_tokens += s.size();
    for (int t : s) ++can_left[t];
  }
  if (ref_tokens == 0 || can_tokens == 0) return 0;
  size_t hits = 0;
  for (const Sentence& r : ref) {
    std::vector<bool> in_union(r.size(), false);
    for (const Sentence& c : can)
      for (size_t pos : lcs_positions(r, c)) in_union[pos] = true;
    for (size_t pos = 0; pos < r.size(); ++pos) {
      const int t = r[pos];
      if (in_union[pos] && can_left[t] > 0 && ref_left[t] > 0) {
        ++hits;
        --can_left[t];
        --ref_left[t];
      }
    }
  }
  return fmeasure(double(hits) / double(can_tokens), double(hits) / double(ref_tokens));
}

// --- sentence splitting (approximate Punkt) ---

bool is_terminal(char c) {
  return c == '.' || c == '!' || c == '?';
}
bool is_closing(char c) {
  return c == '"' || c == '\'' || c == ')' || c == ']' || c == '}';
}
bool is_opening(char c) {
  return c == '"' || c == '\'' || c == '(' || c == '[' || c == '{';
}

// Common English abbreviations. Titles precede a name, so they never end a sentence; the
// others do when the next word is capitalised.
constexpr std::array<std::string_view, 13> kTitles = {
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "mt", "gen", "gov", "rev", "capt"};
constexpr std::array<std::string_view, 10> kAbbreviations = {"etc",  "approx", "inc", "ltd", "co",
                                                             "corp", "fig",    "no",  "vol", "vs"};

// Whether the run of terminal punctuation text[run_begin, run_end) ends a sentence, given
// that whitespace and a token starting at text[next] follow it.
bool ends_sentence(std::string_view text, size_t word_begin, size_t run_begin, size_t run_end,
                   size_t next) {
  const std::string_view run = text.substr(run_begin, run_end - run_begin);
  if (run.find_first_of("!?") != std::string_view::npos) return true;
  const bool next_upper = is_upper(text[next]);
  if (run.size() > 1) return next_upper;  // an ellipsis
  while (word_begin < run_begin && is_opening(text[word_begin])) ++word_begin;
  std::string word(text.substr(word_begin, run_begin - word_begin));
  word.erase(0, word.rfind('-') + 1);  // as Punkt, judge "Canada-U.S." by "U.S."
  if (word.empty()) return true;
  std::transform(word.begin(), word.end(), word.begin(),
                 [](char c) { return is_upper(c) ? char(c - 'A' + 'a') : c; });
  const auto in = [&word](const auto& list) {
    return std::find(list.begin(), list.end(), word) != list.end();
  };
  // Initials ("John F. Kennedy") and dotted abbreviations ("e.g.", "U.S.") run on.
  const bool dotted =
      std::all_of(word.begin(), word.end(), [](char c) { return is_lower(c) || c == '.'; }) &&
      word.find('.') != std::string::npos;
  if (in(kTitles) || dotted || (word.size() == 1 && is_lower(word[0]))) return false;
  if (in(kAbbreviations)) return next_upper;
  // An ordinal or a number ("1. first step") goes on into a lowercase word.
  if (is_digit(word[0]) && std::all_of(word.begin(), word.end(),
                                       [](char c) { return is_digit(c) || c == ',' || c == '.'; }))
    return !is_lower(text[next]);
  return true;
}

std::string_view strip(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

}  // namespace

std::vector<std::string> rouge_tokenize(std::string_view text) {
  std::vector<std::string> tokens;
  std::string word;
  // Short tokens are kept as they are (rouge_score stems only those longer than 3 characters);
  // a stem is never empty, so rouge_score's final filter of empty tokens has nothing to drop.
  const auto flush = [&] {
    if (word.empty()) return;
    tokens.push_back(word.size() > 3 ? porter_stem(word) : word);
    word.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (is_lower(c) || is_digit(c)) {
      word += c;
    } else if (is_upper(c)) {
      word += char(c - 'A' + 'a');
    } else if (text.substr(i, 3) == "\xE2\x84\xAA") {
      // Python lowercases the Kelvin sign to 'k'; the only other non-ASCII character whose
      // lowercase holds [a-z0-9] is U+0130, 'i' plus a combining dot that separates tokens.
      word += 'k';
      i += 2;
    } else if (text.substr(i, 2) == "\xC4\xB0") {
      word += 'i';
      flush();
      i += 1;
    } else {
      flush();  // every other byte, UTF-8 sequences included, separates tokens
    }
  }
  flush();
  return tokens;
}

RougeScores rouge(std::string_view prediction, std::string_view target) {
  Vocab vocab;
  const std::vector<Sentence> target_lines = tokenize_lines(target, vocab);
  const std::vector<Sentence> prediction_lines = tokenize_lines(prediction, vocab);
  const Sentence target_tokens = flatten(target_lines);
  const Sentence prediction_tokens = flatten(prediction_lines);
  RougeScores s;
  s.rouge1 = rouge_n(target_tokens, prediction_tokens, 1);
  s.rouge2 = rouge_n(target_tokens, prediction_tokens, 2);
  s.rougeL = rouge_l(target_tokens, prediction_tokens);
  s.rougeLsum = rouge_lsum(target_lines, prediction_lines, vocab.size());
  return s;
}

RougeScores mean_rouge(const std::vector<std::string>& predictions,
                       const std::vector<std::string>& targets) {
  RougeScores sum;
  const size_t n = std::min(predictions.size(), targets.size());
  if (n == 0) return sum;
  for (size_t i = 0; i < n; ++i) {
    const RougeScores s = rouge(predictions[i], targets[i]);
    sum.rouge1 += s.rouge1;
    sum.rouge2 += s.rouge2;
    sum.rougeL += s.rougeL;
    sum.rougeLsum += s.rougeLsum;
  }
  return {sum.rouge1 / n, sum.rouge2 / n, sum.rougeL / n, sum.rougeLsum / n};
}

double exact_match(const std::vector<std::string>& predictions,
                   const std::vector<std::string>& targets) {
  const size_t n = std::min(predictions.size(), targets.size());
  if (n == 0) return 0;
  auto trimmed = [](std::string_view t) {
    while (!t.empty() && is_space(t.front())) t.remove_prefix(1);
    while (!t.empty() && is_space(t.back())) t.remove_suffix(1);
    return t;
  };
  size_t same = 0;
  for (size_t i = 0; i < n; ++i) same += trimmed(predictions[i]) == trimmed(targets[i]);
  return static_cast<double>(same) / static_cast<double>(n);
}

std::vector<std::string> split_sentences(std::string_view text) {
  std::vector<std::string> sentences;
  size_t start = 0;
  while (start < text.size() && is_space(text[start])) ++start;
  size_t i = start;
  while (i < text.size()) {
    if (!is_terminal(text[i])) {
      ++i;
      continue;
    }
    size_t run_end = i;
    while (run_end < text.size() && is_terminal(text[run_end])) ++run_end;
    // Punkt moves closing quotes and brackets after the punctuation into the sentence it ends.
    size_t end = run_end;
    while (end < text.size() && is_closing(text[end])) ++end;
    size_t next = end;
    while (next < text.size() && is_space(text[next])) ++next;
    size_t word_begin = i;
    while (word_begin > start && !is_space(text[word_begin - 1])) --word_begin;
    if (next > end && next < text.size() && ends_sentence(text, word_begin, i, run_end, next)) {
      sentences.emplace_back(text.substr(start, end - start));
      start = next;
      i = next;
    } else {
      i = end;
    }
  }
  const std::string_view last = strip(text.substr(start));
  if (!last.empty()) sentences.emplace_back(last);
  return sentences;
}

std::string postprocess_output(std::string_view text) {
  std::string cleaned;
  // "⁇" is what LLaMA's tokenizer decodes padding to.
  constexpr std::string_view kUnknown = "\xE2\x81\x87";
  for (size_t pos = 0; pos < text.size();) {
    const size_t hit = text.find(kUnknown, pos);
    cleaned.append(text.substr(pos, hit == std::string_view::npos ? hit : hit - pos));
    if (hit == std::string_view::npos) break;
    pos = hit + kUnknown.size();
  }
  std::string out;
  for (const std::string& sentence : split_sentences(strip(cleaned))) {
    if (!out.empty()) out += '\n';
    out += sentence;
  }
  return out;
}

}  // namespace condense::eval
