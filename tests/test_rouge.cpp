// ROUGE as rouge_score 0.1.2 computes it, its Porter stemmer, the CSV reader/writer, and
// `condense eval rouge` against the gisting paper's published ROUGE-L.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>
#include <utility>

#include "core/error.h"
#include "eval/csv.h"
#include "eval/porter_stemmer.h"
#include "eval/rouge.h"
#include "experiments/cli.h"

namespace condense::cmd {
int eval_rouge(const cli::Args&);
}

namespace {

using condense::eval::CsvTable;
using condense::eval::exact_match;
using condense::eval::mean_rouge;
using condense::eval::parse_csv;
using condense::eval::porter_stem;
using condense::eval::postprocess_output;
using condense::eval::rouge;
using condense::eval::rouge_tokenize;
using condense::eval::RougeScores;
using condense::eval::split_sentences;
using Strings = std::vector<std::string>;

// gisting's LLaMA gist-1 outputs on the 252 human-written instructions, and the paper's ROUGE
// table; from jayelm/gisting data/results (CC BY-NC 4.0, DATA_LICENSE beside them).
const std::string kData = std::string(CONDENSE_SOURCE_DIR) + "/tests/data/gisting/";
const std::string kOutputs = kData + "LLaMA-gist-1__outputs-3000-validation_human.csv";

// Expected stems are NLTK 3.8's PorterStemmer() output; the comments trace the rules that give
// the less obvious ones.
TEST(PorterStemmer, MatchesNltkDefaultMode) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"caresses", "caress"},  // 1a sses -> ss
      {"ponies", "poni"},      // 1a ies -> i
      {"ties", "tie"},         // NLTK: 4-letter -ies keeps -ie
      {"cats", "cat"},
      {"caress", "caress"},  // 1a ss stays
      {"feed", "feed"},      // 1b eed fails (m=0 on "f") and -ed is then not tried
      {"agreed", "agre"},    // eed -> ee, then 5a drops e (m=1, "agre" not cvc)
      {"plastered", "plaster"},
      {"bled", "bled"},  // no vowel before -ed
      {"motoring", "motor"},
      {"sing", "sing"},
      {"conflated", "conflat"},  // at -> ate, later 5a drops e (m=2)
      {"troubled", "troubl"},
      {"sized", "size"},    // iz -> ize; 5a keeps e ("siz" is cvc, m=1)
      {"hopping", "hop"},   // double consonant undone
      {"falling", "fall"},  // ...but not ll
      {"hissing", "hiss"},
      {"filing", "file"},  // m=1 and cvc -> +e
      {"running", "run"},
      {"happy", "happi"},  // 1c after a consonant
      {"enjoy", "enjoy"},  // NLTK: not after a vowel
      {"syzygy", "syzygi"},
      {"skies", "sky"},  // irregular forms
      {"dying", "die"},
      {"news", "news"},
      {"innings", "inning"},
      {"flies", "fli"},
      {"spied", "spi"},  // NLTK: -ied -> -i
      {"died", "die"},
      {"relational", "relat"},  // 2 ational -> ate, 5a drops e (m=2)
      {"conditional", "condit"},
      {"rational", "ration"},  // 2 ational fails on "r"; 4 al
      {"radically", "radic"},  // NLTK: alli -> al, step 2 again
      {"differently", "differ"},
      {"digitizer", "digit"},
      {"vietnamization", "vietnam"},
      {"predication", "predic"},
      {"operator", "oper"},
      {"decisiveness", "decis"},
      {"hopefulness", "hope"},
      {"sensibility", "sensibl"},  // 1c y -> i, biliti -> ble, 4 ible fails (m=1), 5a e
      {"geology", "geolog"},       // NLTK logi -> log, the 'l' counted in the stem
      {"electricity", "electr"},
      {"generalization", "gener"},  // ization -> ize, alize -> al, 4 al
      {"generalizations", "gener"},
      {"goodness", "good"},
      {"replacement", "replac"},
      {"adjustment", "adjust"},
      {"adoption", "adopt"},  // ion after t with m>1
      {"homologous", "homolog"},
      {"bowdlerize", "bowdler"},
      {"probate", "probat"},
      {"rate", "rate"},
      {"cease", "ceas"},
      {"controlling", "control"},  // 5b ll -> l with m>1
      {"roll", "roll"},
      {"ice", "ice"},  // NLTK two-letter cvc keeps the e
      {"is", "is"},    // 1-2 letters untouched
      {"was", "wa"},
      {"1990s", "1990"},
      {"RUNNING", "run"},
      {"yyyyyy", "yyyyyi"},  // a run of y: no deep recursion, same answer as NLTK
  };
  for (const auto& [word, stem] : cases) EXPECT_EQ(porter_stem(word), stem) << word;
}

TEST(RougeTokenize, LowercasesSplitsAndStemsLongTokens) {
  EXPECT_EQ(rouge_tokenize("Hello, World! It's 2023."),
            (Strings{"hello", "world", "it", "s", "2023"}));
  EXPECT_EQ(rouge_tokenize("The quick brown fox jumps over the lazy dog"),
            (Strings{"the", "quick", "brown", "fox", "jump", "over", "the", "lazi", "dog"}));
  // Only tokens longer than 3 characters are stemmed ("was" would stem to "wa").
  EXPECT_EQ(rouge_tokenize("was does is RUNNING"), (Strings{"was", "doe", "is", "run"}));
  EXPECT_EQ(rouge_tokenize("e-mail: a_b@x.org"), (Strings{"e", "mail", "a", "b", "x", "org"}));
  // Non-ASCII characters separate tokens, except where Python's lower() makes ASCII of them.
  EXPECT_EQ(rouge_tokenize("caf\xC3\xA9 na\xC3\xAFve"), (Strings{"caf", "na", "ve"}));
  EXPECT_EQ(rouge_tokenize("\xE2\x84\xAA"
                           "elvin \xC4\xB0stanbul"),
            (Strings{"kelvin", "i", "stanbul"}));
  EXPECT_TRUE(rouge_tokenize("").empty());
  EXPECT_TRUE(rouge_tokenize(" ... !!! ").empty());
}

void expect_scores(const RougeScores& s, double r1, double r2, double rl, double rlsum) {
  EXPECT_NEAR(s.rouge1, r1, 1e-12);
  EXPECT_NEAR(s.rouge2, r2, 1e-12);
  EXPECT_NEAR(s.rougeL, rl, 1e-12);
  EXPECT_NEAR(s.rougeLsum, rlsum, 1e-12);
}

TEST(Rouge, HandComputedPairs) {
  // 5 of 6 unigrams, 3 of 5 bigrams, LCS "the cat on the mat".
  expect_scores(rouge("the cat sat on the mat", "the cat is on the mat"), 5.0 / 6, 0.6, 5.0 / 6,
                5.0 / 6);
  // rouge_score's README example: P=6/8, R=6/9 for rouge1; bigrams 2/7 and 2/8; LCS 5.
  expect_scores(
      rouge("The quick brown dog jumps on the log.", "The quick brown fox jumps over the lazy dog"),
      12.0 / 17, 4.0 / 15, 10.0 / 17, 10.0 / 17);
  // Stemming matches cats/cat and running/runs: rouge1 P=3/4 R=1.
  expect_scores(rouge("The cats are running", "the cat runs"), 6.0 / 7, 0.4, 6.0 / 7, 6.0 / 7);
}

TEST(Rouge, SummaryLevelLcs) {
  // The ROUGE paper's example: union LCS w1 w2 w3 w5 of the reference with the two candidate
  // sentences, so recall 4/5, precision 4/10.
  const RougeScores s = rouge("w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5", "w1 w2 w3 w4 w5");
  EXPECT_NEAR(s.rougeLsum, 2 * 0.4 * 0.8 / 1.2, 1e-12);
  // A token is counted once however many reference sentences find it: hits 2 of 4 and 2 of 2.
  expect_scores(rouge("cat dog", "cat dog\ncat dog"), 2.0 / 3, 0.5, 2.0 / 3, 2.0 / 3);
  // "dog cat" has two LCSs with "cat dog"; rouge_score's backtrack takes "cat", which with
  // "dog" from the first sentence makes a union of both tokens (taking "dog" would score 1/3).
  expect_scores(rouge("dog sun\ndog cat", "cat dog"), 2.0 / 3, 0, 1.0 / 3, 2.0 / 3);
  // Blank lines are not sentences; newlines do not change the other scores.
  expect_scores(rouge("\n\nthe cat\n\nsat\n", "the cat sat"), 1, 1, 1, 1);
}

TEST(Rouge, EmptyTextScoresZero) {
  for (const auto& [pred, target] : std::vector<std::pair<std::string, std::string>>{
           {"", ""}, {"some words", ""}, {"", "some words"}, {"?!", "..."}, {"\n \n", "a b"}}) {
    const RougeScores s = rouge(pred, target);
    expect_scores(s, 0, 0, 0, 0);
  }
  expect_scores(mean_rouge({}, {}), 0, 0, 0, 0);
  expect_scores(mean_rouge({"a b", ""}, {"a b", "c"}), 0.5, 0.5, 0.5, 0.5);
}

TEST(ExactMatch, CountsAnswersEqualToTheirTargetUpToOuterSpace) {
  EXPECT_DOUBLE_EQ(exact_match({"d c b a", " 4\n", "a b", "x"}, {"d c b a", "4", "a  b", "X"}),
                   0.5);
  EXPECT_DOUBLE_EQ(exact_match({}, {}), 0.0);
}

TEST(SentenceSplit, ApproximatesPunkt) {
  EXPECT_EQ(split_sentences("Hello world. This is a test!  Is it?\nYes."),
            (Strings{"Hello world.", "This is a test!", "Is it?", "Yes."}));
  EXPECT_EQ(split_sentences("Dr. Smith met John F. Kennedy in the U.S. Army. Done"),
            (Strings{"Dr. Smith met John F. Kennedy in the U.S. Army.", "Done"}));
  EXPECT_EQ(split_sentences("He said \"hi.\" Then left (quickly.) End"),
            (Strings{"He said \"hi.\"", "Then left (quickly.)", "End"}));
  EXPECT_EQ(split_sentences("It costs 3.5 dollars, see example.com today. 1. mix 2. Bake"),
            (Strings{"It costs 3.5 dollars, see example.com today.", "1. mix 2.", "Bake"}));
  EXPECT_EQ(split_sentences("Apples, pears etc. are fruit etc. Wait... what? Fine"),
            (Strings{"Apples, pears etc. are fruit etc.", "Wait... what?", "Fine"}));
  // Newlines inside a sentence stay; only sentence ends split.
  EXPECT_EQ(split_sentences("Line one\nline two. Next."),
            (Strings{"Line one\nline two.", "Next."}));
  EXPECT_TRUE(split_sentences(" \n ").empty());
}

TEST(SentenceSplit, GistPostprocess) {
  EXPECT_EQ(
      postprocess_output("  \xE2\x81\x87 First sentence. Second one.  \xE2\x81\x87\xE2\x81\x87"),
      "First sentence.\nSecond one.");
  EXPECT_EQ(postprocess_output(" \xE2\x81\x87 "), "");
  // Only rougeLsum sees the sentence split: each half of the reference finds its own sentence.
  const RougeScores raw = rouge("The dog ran. A cat sat.", "A cat sat. The dog ran.");
  const RougeScores split =
      rouge(postprocess_output("The dog ran. A cat sat."), "A cat sat. The dog ran.");
  EXPECT_EQ(raw.rougeL, split.rougeL);
  EXPECT_DOUBLE_EQ(raw.rougeLsum, 0.5);
  EXPECT_DOUBLE_EQ(split.rougeLsum, 1.0);
}

// Message of the condense::Error that `f` throws, or "" if it throws none.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const condense::Error& e) {
    return e.what();
  }
  return "";
}

TEST(Csv, ParsesQuotedFieldsAndLineEnds) {
  const std::string text =
      "\xEF\xBB\xBFx,y_pred,y_true\r\n"
      "plain,\"with, comma\",\"say \"\"hi\"\"\"\r\n"
      "\n"
      "\"two\nlines\",,last\n"
      "a,b,\"\"";
  const CsvTable t = parse_csv(text, "t.csv");
  EXPECT_EQ(t.header, (Strings{"x", "y_pred", "y_true"}));
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.rows[0], (Strings{"plain", "with, comma", "say \"hi\""}));
  EXPECT_EQ(t.rows[1], (Strings{"two\nlines", "", "last"}));
  EXPECT_EQ(t.rows[2], (Strings{"a", "b", ""}));
  EXPECT_EQ(t.row_lines, (std::vector<size_t>{2, 4, 6}));
  EXPECT_EQ(t.column("y_true"), 2u);
}

TEST(Csv, ErrorsNameFileAndLine) {
  EXPECT_EQ(error_of([] { parse_csv("a,b\n1,\"open\n2,3\n", "t.csv"); }),
            "t.csv:2: quoted field is never closed");
  EXPECT_EQ(error_of([] { parse_csv("a,b\n1,2\n1,2,3\n", "t.csv"); }),
            "t.csv:3: row has 3 fields, the header has 2");
  EXPECT_EQ(error_of([] { parse_csv("a,b\n\"1\"x,2\n", "t.csv"); }),
            "t.csv:2: unexpected character after a closing quote");
  EXPECT_EQ(error_of([] { parse_csv("a,b\n1,2\"\n", "t.csv"); }),
            "t.csv:2: quote inside an unquoted field");
  EXPECT_EQ(error_of([] { parse_csv("a,a\n", "t.csv"); }), "t.csv:1: column 'a' appears twice");
  EXPECT_EQ(error_of([] { parse_csv("", "t.csv"); }), "t.csv: no header line (empty file)");
  EXPECT_EQ(error_of([] { parse_csv("a,b\n", "t.csv").column("c"); }),
            "t.csv: no column 'c' (columns: a, b)");
  EXPECT_EQ(error_of([] { condense::eval::read_csv("/nonexistent/o.csv"); }),
            "/nonexistent/o.csv: cannot open for reading");
}

TEST(Csv, WriteThenReadRoundTrips) {
  const Strings header = {"x", "y_pred", "y_true"};
  const std::vector<Strings> rows = {{"a,b", "say \"x\"", "multi\nline"}, {"", "plain", " sp "}};
  std::ostringstream out;
  condense::eval::write_csv(out, header, rows);
  EXPECT_EQ(out.str(), "x,y_pred,y_true\n\"a,b\",\"say \"\"x\"\"\",\"multi\nline\"\n,plain, sp \n");
  const CsvTable back = parse_csv(out.str(), "mem");
  EXPECT_EQ(back.header, header);
  EXPECT_EQ(back.rows, rows);
  // A row of one empty field must not become an empty line, which readers skip.
  std::ostringstream one;
  condense::eval::write_csv(one, {"y"}, {{""}});
  EXPECT_EQ(one.str(), "y\n\"\"\n");
  EXPECT_EQ(parse_csv(one.str(), "mem").rows, (std::vector<Strings>{{""}}));
}

// The paper's ROUGE-L for this file is the mid of rouge_score's unseeded bootstrap, which sits
// near the plain mean; we allow 0.15 (x100), the bootstrap noise is about 0.06.
TEST(RougeReproduction, GistingLlamaGist1Human) {
  const CsvTable published = condense::eval::read_csv(kData + "rouge_llama.csv");
  double paper = -1;
  for (const auto& row : published.rows)
    if (row[published.column("condition")] == "gist" &&
        row[published.column("num_gist_tokens")] == "1" &&
        row[published.column("split")] == "human")
      paper = std::stod(row[published.column("value")]);
  ASSERT_GT(paper, 0);

  const CsvTable outputs = condense::eval::read_csv(kOutputs);
  ASSERT_EQ(outputs.rows.size(), 252u);
  Strings preds, targets;
  for (const auto& row : outputs.rows) {
    preds.push_back(row[outputs.column("y_pred")]);
    targets.push_back(row[outputs.column("y_true")]);
  }
  const RougeScores mean = mean_rouge(preds, targets);
  EXPECT_NEAR(100 * mean.rougeL, paper, 0.15);
  // Our own mean, pinned: rouge_score's per-row scores give the same (checked offline).
  EXPECT_NEAR(100 * mean.rougeL, 23.9130, 5e-5);
}

// Runs `condense eval rouge` in-process and returns its stdout.
std::string run_eval_rouge(const condense::cli::Args& args) {
  std::ostringstream captured;
  std::streambuf* old = std::cout.rdbuf(captured.rdbuf());
  try {
    condense::cmd::eval_rouge(args);
  } catch (...) {
    std::cout.rdbuf(old);
    throw;
  }
  std::cout.rdbuf(old);
  return captured.str();
}

TEST(EvalRougeCommand, EndsStdoutWithTheScoreLine) {
  const std::string out = run_eval_rouge({"--csv", kOutputs});
  ASSERT_FALSE(out.empty());
  ASSERT_EQ(out.back(), '\n');
  const std::string last = out.substr(out.rfind('\n', out.size() - 2) + 1);
  EXPECT_EQ(last.rfind("rouge1=", 0), 0u) << last;
  EXPECT_NE(last.find(" rougeL=23.9130 rougeLsum="), std::string::npos) << last;
  // Two copies of one file: the same means.
  const std::string twice = run_eval_rouge({"--csv", kOutputs, "--csv", kOutputs});
  EXPECT_EQ(twice.substr(twice.rfind("rouge1=")), last);
}

TEST(EvalRougeCommand, ErrorsNameTheOptionOrFile) {
  EXPECT_NE(error_of([] { run_eval_rouge({}); }).find("--csv"), std::string::npos);
  EXPECT_EQ(error_of([] {
              run_eval_rouge({"--csv", "/nonexistent/o.csv"});
            }),
            "/nonexistent/o.csv: cannot open for reading");
  EXPECT_NE(error_of([] {
              run_eval_rouge({"--csv", kData + "rouge_llama.csv"});
            }).find("rouge_llama.csv: no column 'y_pred'"),
            std::string::npos);
}

}  // namespace
