// The AutoCompressor's ICL task (experiments/methods/autocompressor/icl.h) on a small
// random model and the shipped SST-2 / AG News samples: the compressed condition
// (demonstrations chained over several segments, σ in the key/value cache) scores
// what an explicitly chained σ prepended to each row scores; the plain condition what
// one causal sequence scores; "none" is plain text with no demonstration; accuracy is
// the calibrated argmin of the per-option NLLs; the demonstration draw and the data
// reader hold their contracts; bad input is a one-line error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/ops.h"
#include "datasets/icl.h"
#include "experiments/methods/autocompressor/icl.h"
#include "experiments/methods/autocompressor/summary_passes.h"
#include "tests/autocompressor_test_util.h"
#include "tests/test_data_util.h"

namespace condense::autocompressor {
namespace {

using testing::error_of;
using testing::tok512;

constexpr int64_t kKappa = 3, kSegment = 40;

LlamaConfig config() {
  LlamaConfig c = testing::autocompressor_config(tok512().vocab_size());
  c.max_seq_len = 1024;
  return c;
}

data::IclExamples sample(const std::string& task, const std::string& file) {
  return data::read_icl(task, {testing::source_path("tests/data/datasets/icl/" + file)});
}

// Examples [begin, end) of `ex`.
data::IclExamples part(const data::IclExamples& ex, size_t begin, size_t end) {
  data::IclExamples out = ex;
  out.values.assign(ex.values.begin() + begin, ex.values.begin() + end);
  out.labels.assign(ex.labels.begin() + begin, ex.labels.begin() + end);
  return out;
}

// Mean NLL of the last n tokens of `ids` (host) under logits [1,T,V] of which column
// T - len(ids) + t predicts token t + 1 of ids: log-softmax by hand, in double.
double mean_nll(const Tensor& logits, const std::vector<int32_t>& ids, int64_t n) {
  const int64_t T = logits.dim(1), V = logits.dim(2), L = static_cast<int64_t>(ids.size());
  const std::vector<float> all = logits.to(Device::cpu).to_vector();
  double sum = 0;
  for (int64_t t = L - n; t < L; ++t) {
    const float* row = all.data() + (T - L + t - 1) * V;
    const double top = *std::max_element(row, row + V);
    double z = 0;
    for (int64_t v = 0; v < V; ++v) z += std::exp(row[v] - top);
    sum += top + std::log(z) - row[ids[t]];
  }
  return sum / static_cast<double>(n);
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

struct Fixture {
  data::IclExamples all = sample("sst2", "sst2/test.tsv");
  data::IclExamples pool = part(all, 0, 400), tests = part(all, 400, all.values.size());
  const IclPrompt& p = icl_prompt("sst2");
  Llama model = testing::model_with_table(config(), kKappa, 5);
  const Tensor& table = model.param(kTableName).var.value();
  IclOptions o;
  Fixture() {
    o.demos = 5;
    o.segment = kSegment;
    o.queries = 12;
  }
};

TEST(AutoCompressorIcl, CompressedEqualsAnExplicitlyChainedSoftPrompt) {
  Fixture f;
  const std::vector<size_t> demos = draw_demonstrations(f.p, f.pool, tok512(), f.o);
  const IclContextIds ids = icl_context_ids(f.p, f.pool, demos, tok512(), kSegment);
  ASSERT_GE(ids.segments.size(), 3u);  // chained over several segments
  for (const std::vector<int32_t>& s : ids.segments)
    EXPECT_LE(static_cast<int64_t>(s.size()), kSegment);
  EXPECT_EQ(ids.segments[0][0], tok512().bos_id());
  EXPECT_NE(ids.segments[1][0], tok512().bos_id());
  for (bool accumulate : {true, false}) {
    const IclRows rows = icl_rows(f.p, f.tests, 3, false, false, tok512());
    const auto options = static_cast<int64_t>(rows.ids.size());
    const IclContext ctx = compressed_context(f.model, f.table, ids.segments, accumulate, options);
    const auto S = static_cast<int64_t>(ids.segments.size());
    EXPECT_EQ(ctx.length, (accumulate ? S : 1) * kKappa);
    const std::vector<double> got = option_nlls(f.model, ctx, rows);
    // Reference: σ chained one compress() call per segment, then each row read as
    // the segment after σ (σ prepended as input embeddings, every position recomputed).
    Tensor sigma;
    for (const std::vector<int32_t>& s : ids.segments) {
      const auto L = static_cast<int64_t>(s.size());
      sigma = compress(f.model, f.table, Tensor::from_i32(s, {1, L}), {L}, sigma, accumulate);
    }
    Tape no_grad(false);
    std::vector<double> want;
    for (size_t o = 0; o < rows.ids.size(); ++o) {
      const auto L = static_cast<int64_t>(rows.ids[o].size());
      const SegmentOutput seg =
          segment_pass(no_grad, f.model, Tensor::from_i32(rows.ids[o], {1, L}), Var(sigma), Var());
      want.push_back(mean_nll(f.model.logits(no_grad, seg.hidden).value(), rows.ids[o],
                              rows.option_tokens[o]));
    }
    EXPECT_LT(max_abs_diff(got, want), 1e-5) << "accumulate " << accumulate;
    // The context matters: the options score differently without it.
    EXPECT_GT(max_abs_diff(got, option_nlls(f.model, IclContext{}, rows)), 1e-3);
  }
}

TEST(AutoCompressorIcl, PlainEqualsOneCausalSequenceAndNoneEqualsNoDemonstration) {
  Fixture f;
  const std::vector<size_t> demos = draw_demonstrations(f.p, f.pool, tok512(), f.o);
  const IclContextIds ids = icl_context_ids(f.p, f.pool, demos, tok512(), kSegment);
  const IclRows rows = icl_rows(f.p, f.tests, 7, false, false, tok512());
  const auto options = static_cast<int64_t>(rows.ids.size());
  const std::vector<double> got =
      option_nlls(f.model, plain_context(f.model, ids.plain, options), rows);
  Tape no_grad(false);
  std::vector<double> want;
  for (size_t o = 0; o < rows.ids.size(); ++o) {
    std::vector<int32_t> seq = ids.plain;
    seq.insert(seq.end(), rows.ids[o].begin(), rows.ids[o].end());
    const Tensor logits = f.model
                              .forward(no_grad, ForwardArgs::tokens(Tensor::from_i32(
                                                    seq, {1, static_cast<int64_t>(seq.size())})))
                              .value();
    want.push_back(mean_nll(logits, rows.ids[o], rows.option_tokens[o]));
  }
  EXPECT_LT(max_abs_diff(got, want), 1e-5);
  // "none" (the query opens the prompt with BOS) = plain text of no demonstration (BOS
  // alone in the cache, the query after it).
  const std::vector<double> none =
      option_nlls(f.model, IclContext{}, icl_rows(f.p, f.tests, 7, false, true, tok512()));
  const std::vector<double> empty_plain =
      option_nlls(f.model, plain_context(f.model, {tok512().bos_id()}, options), rows);
  EXPECT_LT(max_abs_diff(none, empty_plain), 1e-5);
}

TEST(AutoCompressorIcl, AccuracyIsTheCalibratedArgminOfThePerOptionNlls) {
  // By hand: NLL - calibration = (0.8, 1.0) picks option 0; the NLL alone option 1.
  EXPECT_EQ(icl_predict({1.0, 0.5}, {0.2, -0.5}), 0);
  EXPECT_EQ(icl_predict({1.0, 0.5}, {}), 1);
  EXPECT_EQ(icl_predict({2.0, 1.0, 1.0}, {}), 1);  // the first on a tie
  Fixture f;
  const data::IclExamples agnews = sample("agnews", "agnews/test.tsv");
  for (const auto& [pool, tests] :
       {std::pair{f.pool, f.tests}, std::pair{part(agnews, 0, 200), part(agnews, 200, 300)}}) {
    IclOptions o = f.o;
    o.segment = 120;  // AG News articles are longer
    const IclTaskScore s = score_icl_task(f.model, f.table, tok512(), pool, tests, o);
    ASSERT_EQ(s.queries.size(), 12u);
    EXPECT_EQ(s.skipped, 0);
    ASSERT_EQ(s.conditions.size(), 3u);
    EXPECT_EQ(s.options, tests.label_names);
    EXPECT_EQ(s.conditions[0].condition, "compressed");
    EXPECT_EQ(s.conditions[1].condition, "plain");
    EXPECT_EQ(s.conditions[2].condition, "none");
    EXPECT_EQ(s.conditions[1].memory_vectors, s.demo_tokens);
    EXPECT_EQ(s.conditions[2].memory_vectors, 0);
    std::vector<int64_t> gold(tests.label_names.size(), 0);
    for (size_t q : s.queries) ++gold[static_cast<size_t>(tests.labels[q])];
    EXPECT_EQ(s.gold, gold);
    EXPECT_EQ(s.majority, *std::max_element(gold.begin(), gold.end()));
    bool calibration_changed_one = false;
    for (const IclConditionScore& c : s.conditions) {
      ASSERT_EQ(c.nll.size(), s.queries.size());
      int64_t correct = 0, uncalibrated = 0;
      std::vector<int64_t> predicted(tests.label_names.size(), 0);
      for (size_t q = 0; q < s.queries.size(); ++q) {
        std::vector<double> d;
        for (size_t o2 = 0; o2 < c.nll[q].size(); ++o2)
          d.push_back(c.nll[q][o2] - c.calibration[o2]);
        const auto pick = std::min_element(d.begin(), d.end()) - d.begin();
        const auto raw = std::min_element(c.nll[q].begin(), c.nll[q].end()) - c.nll[q].begin();
        correct += pick == tests.labels[s.queries[q]];
        ++predicted[static_cast<size_t>(pick)];
        uncalibrated += raw == tests.labels[s.queries[q]];
        calibration_changed_one |= pick != raw;
      }
      EXPECT_EQ(c.correct, correct) << c.condition;
      EXPECT_EQ(c.correct_uncalibrated, uncalibrated) << c.condition;
      EXPECT_EQ(c.predicted, predicted) << c.condition;
      EXPECT_NEAR(s.accuracy(c), static_cast<double>(correct) / 12.0, 1e-12);
    }
    EXPECT_TRUE(calibration_changed_one);  // the calibration is not a no-op here
    // The stored per-option NLLs are the conditions' scores: "none" recomputed.
    EXPECT_LT(max_abs_diff(s.conditions[2].nll[4],
                           option_nlls(f.model, IclContext{},
                                       icl_rows(icl_prompt(tests.task), tests, s.queries[4], false,
                                                true, tok512()))),
              1e-9);
    // Without a summary table (a full-attention run) there is no compressed condition.
    const IclTaskScore plain = score_icl_task(f.model, Tensor(), tok512(), pool, tests, o);
    ASSERT_EQ(plain.conditions.size(), 2u);
    EXPECT_EQ(plain.conditions[0].correct, s.conditions[1].correct);
  }
}

TEST(AutoCompressorIcl, BalancedDrawAlternatesLabelsAndEveryDemonstrationFitsASegment) {
  Fixture f;
  f.o.demos = 8;
  f.o.segment = 64;
  const std::vector<size_t> demos = draw_demonstrations(f.p, f.pool, tok512(), f.o);
  ASSERT_EQ(demos.size(), 8u);
  EXPECT_EQ(std::set<size_t>(demos.begin(), demos.end()).size(), 8u);
  for (size_t i = 1; i < demos.size(); ++i)
    EXPECT_NE(f.pool.labels[demos[i]], f.pool.labels[demos[i - 1]]);
  for (size_t j : demos)
    EXPECT_LE(tok512()
                  .encode(icl_text(f.p, f.pool, j, false, f.pool.labels[j]) + "\n\n", true, false)
                  .size(),
              static_cast<size_t>(f.o.segment));
  // The same seed draws the same demonstrations, another seed others.
  EXPECT_EQ(draw_demonstrations(f.p, f.pool, tok512(), f.o), demos);
  f.o.seed = 2;
  EXPECT_NE(draw_demonstrations(f.p, f.pool, tok512(), f.o), demos);
  EXPECT_EQ(icl_text(f.p, f.pool, 0, true, 1), "Sentence: N/A\nSentiment: positive");
}

TEST(AutoCompressorIcl, ReadsBackWhatDataIclWrote) {
  const data::IclExamples ex = sample("agnews", "agnews/test.tsv");
  testing::TempDir dir;
  data::TokenDatasetContents c = data::icl_dataset(ex, tok512(), "test");
  c.info.split = "test";
  c.info.source = "agnews";
  c.info.license = "research use";
  data::write_token_dataset(dir.file("agnews.h5"), c);
  const data::IclExamples back =
      data::read_icl_dataset(data::TokenDataset::open(dir.file("agnews.h5"), tok512()));
  EXPECT_EQ(back.task, ex.task);
  EXPECT_EQ(back.fields, ex.fields);
  EXPECT_EQ(back.label_names, ex.label_names);
  EXPECT_EQ(back.values, ex.values);
  EXPECT_EQ(back.labels, ex.labels);
  // Another kind of dataset is refused by name.
  c.info.kind = "text";
  data::write_token_dataset(dir.file("text.h5"), c);
  EXPECT_EQ(error_of([&] {
              data::read_icl_dataset(data::TokenDataset::open(dir.file("text.h5"), tok512()));
            }),
            dir.file("text.h5") + ": a text dataset, not a classification set (condense data icl)");
}

TEST(AutoCompressorIcl, BadInputIsAOneLineError) {
  Fixture f;
  f.o.segment = 6;  // no demonstration fits
  EXPECT_EQ(error_of([&] { draw_demonstrations(f.p, f.pool, tok512(), f.o); }),
            "autocompressor: only 0 examples of the sst2 demonstration pool fit a segment of 6 "
            "tokens (balanced), 5 demonstrations asked");
  EXPECT_EQ(error_of([&] { icl_prompt("trec"); }),
            "autocompressor: no ICL template for task 'trec' (known: agnews, mr, sst2, subj)");
  EXPECT_EQ(error_of([&] {
              score_icl_task(f.model, f.table, tok512(), f.pool,
                             sample("agnews", "agnews/test.tsv"), f.o);
            }),
            "autocompressor: the demonstrations come from task sst2, the queries from agnews");
  f.o.segment = kSegment;
  f.o.demos = 0;
  EXPECT_EQ(error_of([&] { draw_demonstrations(f.p, f.pool, tok512(), f.o); }),
            "autocompressor: ICL needs at least 1 demonstration, got 0");
  EXPECT_EQ(error_of([&] {
              icl_context_ids(f.p, f.pool, {0, 1}, tok512(), 4);
            }).substr(0, 42),
            "autocompressor: demonstration 0 of sst2 ta");
}

}  // namespace
}  // namespace condense::autocompressor
