// The facts task (issue 15): `condense data facts` documents are deterministic for a
// seed, mark exactly the answer tokens, state every asked fact before its question and
// refuse options that cannot make a document; the facts task's full-attention score
// equals scoring the concatenated sequence by hand, and its compressed score equals
// implicit segmenting of the same sequence (within 1e-5).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "datasets/facts.h"
#include "experiments/methods/autocompressor/facts_task.h"
#include "experiments/methods/autocompressor/last_segment.h"
#include "experiments/methods/autocompressor/summary_passes.h"
#include "tests/test_data_util.h"

namespace condense {
namespace {

namespace fs = std::filesystem;
using testing::error_of;
using testing::tok512;

constexpr int64_t kSegment = 64, kSegments = 4;

data::FactsOptions options(uint64_t seed, bool heldout = false) {
  data::FactsOptions o;
  o.seed = seed;
  o.documents = 5;
  o.facts = 3;
  o.segment = kSegment;
  o.segments = kSegments;
  o.heldout_names = heldout;
  return o;
}

const std::vector<int32_t>& filler() {
  static const std::vector<int32_t> f = data::synthetic_filler(tok512(), 4000);
  return f;
}

data::TokenDatasetContents make(uint64_t seed, bool heldout = false) {
  return data::facts_dataset(options(seed, heldout), tok512(), filler());
}

std::vector<int32_t> ids(const data::TokenDatasetContents& c, const std::string& span, size_t row) {
  const std::vector<int64_t>& s = c.spans.at(span);
  return {c.tokens.begin() + s[2 * row], c.tokens.begin() + s[2 * row + 1]};
}

TEST(FactsData, DeterministicForASeedAndDifferentAcrossSeeds) {
  const data::TokenDatasetContents a = make(7), b = make(7), c = make(8);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.spans, b.spans);
  EXPECT_EQ(a.texts, b.texts);
  EXPECT_NE(a.tokens, c.tokens);
  EXPECT_NE(a.texts.at("answer"), c.texts.at("answer"));
  ASSERT_EQ(a.offsets.size(), 6u);
  for (size_t d = 0; d + 1 < a.offsets.size(); ++d)
    EXPECT_EQ(a.offsets[d + 1] - a.offsets[d], kSegments * kSegment + 1);
}

TEST(FactsData, AnswersAreMarkedExactlyAndEveryFactComesBeforeItsQuestion) {
  for (const bool heldout : {false, true}) {
    const data::TokenDatasetContents c = make(3, heldout);
    const std::vector<std::string>& pool = data::facts_names(heldout);
    const std::vector<int32_t> dot = tok512().encode_continuation(".");
    const size_t rows = c.spans.at("answer").size() / 2;
    ASSERT_EQ(rows, 5u * 3u);
    for (size_t r = 0; r < rows; ++r) {
      const std::vector<int64_t>& q = c.spans.at("question");
      const std::vector<int64_t>& a = c.spans.at("answer");
      const std::vector<int64_t>& f = c.spans.at("fact");
      // The answer follows its question directly and is the number, exactly.
      EXPECT_EQ(a[2 * r], q[2 * r + 1]);
      const std::vector<int32_t> answer = ids(c, "answer", r);
      EXPECT_EQ(tok512().decode(answer), c.texts.at("answer")[r]);
      const std::string name = c.texts.at("name")[r];
      EXPECT_NE(std::find(pool.begin(), pool.end(), name), pool.end()) << name;
      EXPECT_EQ(tok512().decode(ids(c, "question", r)), "The code of " + name + " is");
      // The fact is the question, its answer and a full stop, in the first segment of
      // the same document; the question ends the document's last segment.
      std::vector<int32_t> fact = ids(c, "question", r);
      fact.insert(fact.end(), answer.begin(), answer.end());
      fact.insert(fact.end(), dot.begin(), dot.end());
      EXPECT_EQ(ids(c, "fact", r), fact);
      const int64_t doc = static_cast<int64_t>(r / 3), start = c.offsets[doc];
      EXPECT_GT(f[2 * r], start);
      EXPECT_LE(f[2 * r + 1], start + kSegment);
      EXPECT_GT(q[2 * r], start + (kSegments - 1) * kSegment);
      EXPECT_LT(a[2 * r + 1], c.offsets[doc + 1]);
    }
  }
}

TEST(FactsData, BadInputIsAOneLineError) {
  data::FactsOptions o = options(1);
  o.facts = 0;
  EXPECT_EQ(error_of([&] { data::check_facts_options(o); }),
            "facts: --facts must be at least 1, got 0");
  o = options(1);
  o.documents = 0;
  EXPECT_EQ(error_of([&] { data::check_facts_options(o); }),
            "facts: the number of documents must be at least 1, got 0");
  o = options(1);
  o.segment = 16;
  o.facts = 4;
  EXPECT_NE(error_of([&] {
              data::facts_dataset(o, tok512(), filler());
            }).find("more than a segment of 16 holds"),
            std::string::npos);

  testing::TempDir dir;
  const std::string out = dir.file("facts");
  const std::vector<std::string> base = {
      "data",    "facts", "--out",  out, "--tokenizer", testing::tok512_path(),
      "--valid", "1",     "--test", "1"};
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::run_condense(args, dir.path());
  };
  testing::expect_one_line_error(run({"--train", "0"}),
                                 "data facts: --train must be at least 1, got 0");
  testing::expect_one_line_error(
      run({"--train", "2", "--segment", "16", "--doc.tokens", "64", "--facts", "4"}),
      "more than a segment of 16 holds");
  testing::expect_one_line_error(run({"--train", "2", "--doc.tokens", "100"}),
                                 "--doc.tokens (100) must be a multiple of --segment (128)");
  EXPECT_FALSE(fs::exists(out));
}

// ---- the task

constexpr int64_t kKappa = 3;

Llama model_with_table() {
  LlamaConfig cfg = testing::small_config(2);
  cfg.vocab_size = tok512().vocab_size();
  cfg.dim = 32;
  cfg.ffn_dim = 48;
  Llama m(cfg, 5);
  uint32_t s = 500;
  for (Param& p : m.params())
    if (p.var.value().ndim() == 2) p.var.set_value(testing::randn(p.var.shape(), ++s, 0.3f));
  ParamSpec table;
  table.name = autocompressor::kTableName;
  table.value = testing::randn({kKappa, cfg.dim}, ++s);
  m.add_param(table);
  return m;
}

// Mean over the dataset's questions of the answer's summed NLL under `logits` [1,L,V]
// of a sequence whose last kSegment tokens are document d's last segment.
struct ByHand {
  double nll = 0;
  int64_t exact = 0, questions = 0;
};
void add_answers(const data::TokenDataset& docs, int64_t d, const Tensor& logits, ByHand& h) {
  const int64_t L = logits.dim(1), V = logits.dim(2);
  const std::vector<float> x = logits.to_vector();
  const int64_t target = docs.offsets()[d] + (kSegments - 1) * kSegment;
  for (int64_t r = 0; r < docs.span_rows("answer"); ++r) {
    const data::Span s = docs.span("answer", r);
    if (s.begin < docs.offsets()[d] || s.begin >= docs.offsets()[d + 1]) continue;
    double nll = 0;
    bool exact = true;
    for (int64_t t = s.begin; t < s.end; ++t) {
      const float* row = x.data() + (L - kSegment + (t - target) - 1) * V;
      double z = 0;
      for (int64_t v = 0; v < V; ++v) z += std::exp(static_cast<double>(row[v]));
      const int32_t want = docs.tokens()[t];
      nll += std::log(z) - row[want];
      exact = exact && std::max_element(row, row + V) - row == want;
    }
    h.nll += nll;
    h.exact += exact;
    ++h.questions;
  }
}

TEST(FactsTask, FullAttentionAndCompressedEqualScoringTheSequenceByHand) {
  testing::TempDir dir;
  data::TokenDatasetContents c = make(11, true);
  c.info.split = "test";
  data::write_token_dataset(dir.file("test.h5"), c);
  const data::TokenDataset docs = data::TokenDataset::open(dir.file("test.h5"), tok512());
  const Llama model = model_with_table();
  const Tensor table = model.param(autocompressor::kTableName).var.value();
  autocompressor::FactsEvalOptions o;
  o.contexts = {64, 192};
  o.documents = 4;
  o.batch = 3;  // a batch of 3 and one of 1 (no control there)
  const autocompressor::FactsScore score = autocompressor::score_facts(model, table, docs, o);
  ASSERT_EQ(score.conditions.size(), 7u);
  Tape no_grad(false);
  for (const autocompressor::FactsCondition& cond : score.conditions) {
    if (cond.condition.rfind("control", 0) == 0) {
      EXPECT_EQ(cond.questions, 3 * 3);  // the batch of one has no other document
      continue;
    }
    ByHand h;
    for (int64_t d = 0; d < o.documents; ++d) {
      const std::span<const int32_t> doc = docs.record(d);
      std::vector<int32_t> seq;
      const int64_t ctx = cond.context;
      if (ctx > 0) {
        seq.insert(seq.end(), doc.begin(), doc.begin() + kSegment);
        seq.insert(seq.end(), doc.begin() + (kSegments * kSegment - ctx),
                   doc.begin() + (kSegments - 1) * kSegment);
      }
      seq.insert(seq.end(), doc.begin() + (kSegments - 1) * kSegment,
                 doc.begin() + kSegments * kSegment);
      const auto L = static_cast<int64_t>(seq.size());
      const Tensor tokens = Tensor::from_i32(seq, {1, L});
      if (cond.condition.rfind("compressed", 0) == 0) {
        // Implicit segmenting: the context's segments, then the target after its σ.
        std::vector<int64_t> lengths = autocompressor::equal_segments(ctx, kSegment);
        lengths.push_back(kSegment);
        add_answers(docs, d,
                    autocompressor::segment_logits(model, table, tokens, lengths, Tensor(), true),
                    h);
      } else {
        add_answers(docs, d, model.forward(no_grad, ForwardArgs::tokens(tokens)).value(), h);
      }
    }
    EXPECT_EQ(cond.questions, h.questions) << cond.condition;
    EXPECT_EQ(cond.exact, h.exact) << cond.condition;
    EXPECT_NEAR(cond.nll, h.nll / static_cast<double>(h.questions), 1e-5) << cond.condition;
  }
  EXPECT_EQ(score.conditions[2].softprompt, kKappa * 1);  // compressed@64: one segment
  EXPECT_EQ(score.conditions[5].softprompt, kKappa * 3);  // compressed@192: three, accumulated
  EXPECT_EQ(error_of([&] {
              o.contexts = {100};
              autocompressor::score_facts(model, table, docs, o);
            }).rfind("facts: a context budget must be a multiple of the segment (64)", 0),
            0u);
}

}  // namespace
}  // namespace condense
