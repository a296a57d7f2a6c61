#include "eval/porter_stemmer.h"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <utility>

namespace condense::eval {
namespace {

bool is_vowel_letter(char c) {
  return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

// Porter's consonant: any letter but a, e, i, o, u, and 'y' only where it starts the word or
// follows a vowel. NLTK recurses over runs of 'y'; counting the run instead gives the same
// answer without a stack as deep as the run.
bool is_consonant(std::string_view w, size_t i) {
  if (is_vowel_letter(w[i])) return false;
  if (w[i] != 'y') return true;
  size_t first = i;
  while (first > 0 && w[first - 1] == 'y') --first;
  const bool first_is_consonant = first == 0 || is_vowel_letter(w[first - 1]);
  return ((i - first) % 2 == 0) == first_is_consonant;
}

// m in Porter's [C](VC){m}[V]: the number of vowel-to-consonant transitions.
int measure(std::string_view stem) {
  int m = 0;
  bool prev_vowel = false;
  for (size_t i = 0; i < stem.size(); ++i) {
    const bool consonant = is_consonant(stem, i);
    if (consonant && prev_vowel) ++m;
    prev_vowel = !consonant;
  }
  return m;
}

bool measure_gt0(std::string_view stem) {
  return measure(stem) > 0;
}
bool measure_gt1(std::string_view stem) {
  return measure(stem) > 1;
}

bool contains_vowel(std::string_view stem) {
  for (size_t i = 0; i < stem.size(); ++i)
    if (!is_consonant(stem, i)) return true;
  return false;
}

// Porter's *d.
bool ends_double_consonant(std::string_view w) {
  const size_t n = w.size();
  return n >= 2 && w[n - 1] == w[n - 2] && is_consonant(w, n - 1);
}

// Porter's *o (cvc, the last c not w, x or y), plus NLTK's two-letter case (vowel, consonant),
// which keeps the final e of short words such as 'ice' or 'use'.
bool ends_cvc(std::string_view w) {
  const size_t n = w.size();
  if (n >= 3)
    return is_consonant(w, n - 3) && !is_consonant(w, n - 2) && is_consonant(w, n - 1) &&
           w[n - 1] != 'w' && w[n - 1] != 'x' && w[n - 1] != 'y';
  return n == 2 && !is_consonant(w, 0) && is_consonant(w, 1);
}

std::string_view drop(std::string_view w, size_t n) {
  return w.substr(0, w.size() - n);
}

struct Rule {
  std::string_view suffix;
  std::string_view replacement;
  bool (*condition)(std::string_view stem);  // nullptr: unconditional
};

// NLTK's _apply_rule_list: the first rule whose suffix matches decides. When its condition
// fails the word stays as it is; later rules are not tried (so 'rational' is not 'tional').
std::string apply_rules(std::string_view word, std::initializer_list<Rule> rules) {
  for (const Rule& rule : rules) {
    if (!word.ends_with(rule.suffix)) continue;
    const std::string_view stem = drop(word, rule.suffix.size());
    if (rule.condition && !rule.condition(stem)) return std::string(word);
    return std::string(stem) + std::string(rule.replacement);
  }
  return std::string(word);
}

std::string step1a(std::string_view w) {
  // NLTK: 'dies' -> 'die' (but 'flies' -> 'fli').
  if (w.size() == 4 && w.ends_with("ies")) return std::string(drop(w, 3)) + "ie";
  return apply_rules(
      w,
      {{"sses", "ss", nullptr}, {"ies", "i", nullptr}, {"ss", "ss", nullptr}, {"s", "", nullptr}});
}

std::string step1b(std::string_view w) {
  // NLTK: 'died' -> 'die', 'spied' -> 'spi', whatever the measure.
  if (w.ends_with("ied")) return std::string(drop(w, 3)) + (w.size() == 4 ? "ie" : "i");
  if (w.ends_with("eed")) {
    const std::string_view stem = drop(w, 3);
    return measure(stem) > 0 ? std::string(stem) + "ee" : std::string(w);
  }
  std::string_view stem;
  bool removed = false;
  for (std::string_view suffix : {"ed", "ing"}) {
    if (w.ends_with(suffix) && contains_vowel(drop(w, suffix.size()))) {
      stem = drop(w, suffix.size());
      removed = true;
      break;
    }
  }
  if (!removed) return std::string(w);
  // Tidy the stem so later steps see -ate/-ble/-ize, single final consonants, and -e restored.
  if (stem.ends_with("at") || stem.ends_with("bl") || stem.ends_with("iz"))
    return std::string(stem) + "e";
  if (ends_double_consonant(stem)) {
    const char last = stem.back();
    return std::string(last == 'l' || last == 's' || last == 'z' ? stem : drop(stem, 1));
  }
  if (measure(stem) == 1 && ends_cvc(stem)) return std::string(stem) + "e";
  return std::string(stem);
}

// NLTK: y -> i only after a consonant that is not the whole stem ('happy' -> 'happi', 'enjoy'
// and 'by' unchanged).
std::string step1c(std::string_view w) {
  return apply_rules(w, {{"y", "i", [](std::string_view stem) {
                            return stem.size() > 1 && is_consonant(stem, stem.size() - 1);
                          }}});
}

std::string step2(std::string_view w) {
  // NLTK applies 'alli' -> 'al' first and runs the result through step 2 again.
  if (w.ends_with("alli") && measure_gt0(drop(w, 4))) return step2(std::string(drop(w, 4)) + "al");
  return apply_rules(
      w, {{"ational", "ate", measure_gt0},
          {"tional", "tion", measure_gt0},
          {"enci", "ence", measure_gt0},
          {"anci", "ance", measure_gt0},
          {"izer", "ize", measure_gt0},
          {"bli", "ble", measure_gt0},  // Porter's later 'bli' in place of the paper's 'abli'
          {"alli", "al", measure_gt0},
          {"entli", "ent", measure_gt0},
          {"eli", "e", measure_gt0},
          {"ousli", "ous", measure_gt0},
          {"ization", "ize", measure_gt0},
          {"ation", "ate", measure_gt0},
          {"ator", "ate", measure_gt0},
          {"alism", "al", measure_gt0},
          {"iveness", "ive", measure_gt0},
          {"fulness", "ful", measure_gt0},
          {"ousness", "ous", measure_gt0},
          {"aliti", "al", measure_gt0},
          {"iviti", "ive", measure_gt0},
          {"biliti", "ble", measure_gt0},
          {"fulli", "ful", measure_gt0},
          // The 'l' counts with the stem, so short stems like 'geo', 'theo' qualify.
          {"logi", "log",
           [](std::string_view stem) { return measure_gt0(std::string(stem) + "l"); }}});
}

std::string step3(std::string_view w) {
  return apply_rules(w, {{"icate", "ic", measure_gt0},
                         {"ative", "", measure_gt0},
                         {"alize", "al", measure_gt0},
                         {"iciti", "ic", measure_gt0},
                         {"ical", "ic", measure_gt0},
                         {"ful", "", measure_gt0},
                         {"ness", "", measure_gt0}});
}

std::string step4(std::string_view w) {
  return apply_rules(w, {{"al", "", measure_gt1},
                         {"ance", "", measure_gt1},
                         {"ence", "", measure_gt1},
                         {"er", "", measure_gt1},
                         {"ic", "", measure_gt1},
                         {"able", "", measure_gt1},
                         {"ible", "", measure_gt1},
                         {"ant", "", measure_gt1},
                         {"ement", "", measure_gt1},
                         {"ment", "", measure_gt1},
                         {"ent", "", measure_gt1},
                         {"ion", "",
                          [](std::string_view stem) {
                            return measure_gt1(stem) && (stem.back() == 's' || stem.back() == 't');
                          }},
                         {"ou", "", measure_gt1},
                         {"ism", "", measure_gt1},
                         {"ate", "", measure_gt1},
                         {"iti", "", measure_gt1},
                         {"ous", "", measure_gt1},
                         {"ive", "", measure_gt1},
                         {"ize", "", measure_gt1}});
}

// Unlike the rule lists above, both conditions on -e are tried.
std::string step5a(std::string_view w) {
  if (!w.ends_with('e')) return std::string(w);
  const std::string_view stem = drop(w, 1);
  const int m = measure(stem);
  return std::string(m > 1 || (m == 1 && !ends_cvc(stem)) ? stem : w);
}

std::string step5b(std::string_view w) {
  return std::string(w.ends_with("ll") && measure_gt1(drop(w, 1)) ? drop(w, 1) : w);
}

// NLTK's irregular forms, mapped straight to their stems.
constexpr std::array<std::pair<std::string_view, std::string_view>, 16> kIrregular = {{
    {"sky", "sky"},
    {"skies", "sky"},
    {"dying", "die"},
    {"lying", "lie"},
    {"tying", "tie"},
    {"news", "news"},
    {"innings", "inning"},
    {"inning", "inning"},
    {"outings", "outing"},
    {"outing", "outing"},
    {"cannings", "canning"},
    {"canning", "canning"},
    {"howe", "howe"},
    {"proceed", "proceed"},
    {"exceed", "exceed"},
    {"succeed", "succeed"},
}};

}  // namespace

std::string porter_stem(std::string_view word) {
  // NLTK looks the word up before lowercasing it.
  for (const auto& [form, stem] : kIrregular)
    if (word == form) return std::string(stem);
  std::string w(word);
  std::transform(w.begin(), w.end(), w.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; });
  // NLTK leaves words of one or two letters alone.
  if (w.size() <= 2) return w;
  w = step1a(w);
  w = step1b(w);
  w = step1c(w);
  w = step2(w);
  w = step3(w);
  w = step4(w);
  w = step5a(w);
  return step5b(w);
}

}  // namespace condense::eval
