// ROUGE as Google's rouge_score 0.1.2 computes it with use_stemmer=True, which is what the gisting
// paper reports (through HF `evaluate.load("rouge")`):
//   tokens: lowercase, every run of characters other than [a-z0-9] is a separator, tokens longer
//           than 3 characters are Porter-stemmed (NLTK's default mode, eval/porter_stemmer.h);
//   rouge1, rouge2: n-gram overlap F-measure (clipped counts);
//   rougeL: F-measure of the longest common subsequence of the two token lists;
//   rougeLsum: summary-level LCS, sentences being the non-empty lines (split on "\n"), with
//              rouge_score's union-LCS and its guard against counting a token twice.
// Every score is an F-measure in [0, 1]; an empty side scores 0, as in rouge_score.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace condense::eval {

struct RougeScores {
  double rouge1 = 0;
  double rouge2 = 0;
  double rougeL = 0;
  double rougeLsum = 0;
};

// The tokens rouge_score's DefaultTokenizer(use_stemmer=True) gives.
std::vector<std::string> rouge_tokenize(std::string_view text);

// Scores one prediction against one reference (rouge_score's score(target, prediction)).
// rougeLsum is the only score that is not symmetric in the two.
RougeScores rouge(std::string_view prediction, std::string_view target);

// Mean of each score over pairs (all zero for no pairs). The paper reports the "mid" of
// rouge_score's unseeded bootstrap, which sits within about 0.05 (x100) of this mean.
RougeScores mean_rouge(const std::vector<std::string>& predictions,
                       const std::vector<std::string>& targets);

// The fraction of pairs whose prediction equals its target once white space at both ends
// is trimmed (0 for no pairs): the score of tasks with one right answer, where ROUGE
// gives partial credit for a wrong one.
double exact_match(const std::vector<std::string>& predictions,
                   const std::vector<std::string>& targets);

// Sentences of `text`, an approximation of nltk.sent_tokenize (Punkt's English model, which
// learned abbreviations and capitalisation statistics we do not have): a sentence ends after a
// run of . ! ? (with any closing quotes or brackets) followed by whitespace and a further token,
// except after titles ("Dr."), initials and dotted abbreviations ("F.", "e.g.", "U.S."), after
// other abbreviations ("etc.") and ellipses unless a capital follows, and after numbers ("1.")
// when a lowercase word follows. Sentences keep their inner whitespace, newlines included. It
// gives Punkt's split for 2216 of the 2227 Alpaca+ reference outputs whose split gisting stored.
std::vector<std::string> split_sentences(std::string_view text);

// The output clean-up of the gisting paper's ROUGE evaluation for LLaMA: drop "⁇", strip
// whitespace, then one sentence per line. Only rougeLsum sees the difference. Its outputs CSVs
// already hold text in this form, so they are scored as they are.
std::string postprocess_output(std::string_view text);

}  // namespace condense::eval
