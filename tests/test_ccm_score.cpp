// Scoring dialogues (experiments/methods/ccm/score.h): the online score's perplexity is
// the one-pass teacher-forced one (the two paths are equivalent), EOS is not scored,
// and the memory each type reads is what METHODS.md §2.7 says: n·t entries for
// concat, n for merge and gist, every context token for full context, none without.
// The ICL task (icl.h) picks, per episode, the option each dialogue score ranks first.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "experiments/methods/ccm/adapter.h"
#include "experiments/methods/ccm/batch.h"
#include "experiments/methods/ccm/icl.h"
#include "experiments/methods/ccm/score.h"
#include "tests/model_test_util.h"

namespace condense::ccm {
namespace {

struct Fixture {
  std::vector<std::vector<std::vector<int32_t>>> turns;  // per dialogue
  std::vector<DialogueTurns> dialogues;
  int64_t context_tokens = 0;  // text tokens of the contexts (separators included)
  Fixture() {
    std::mt19937 g(3);
    for (int d = 0; d < 5; ++d) {
      std::vector<std::vector<int32_t>> t;
      for (int k = 0; k < d + 3; ++k) {
        std::vector<int32_t> turn(1 + g() % 3);
        for (int32_t& id : turn) id = static_cast<int32_t>(4 + g() % 40);
        t.push_back(turn);
      }
      turns.push_back(std::move(t));
    }
    for (const auto& t : turns) {
      dialogues.push_back({t.begin(), t.end()});
      context_tokens += 1;  // BOS
      for (size_t k = 0; k + 2 < t.size(); ++k) context_tokens += t[k].size() + (k > 0);
    }
  }
};

Layout layout(Attn a) {
  Layout l;
  l.attn = a;
  l.n_tok = 2;
  l.bos = 1;
  l.eos = 2;
  l.sep = {3};
  return l;
}

struct Model {
  Llama m;
  explicit Model(const Layout& l) : m(testing::small_config(), 4) {
    extend_model(m, comp_table_init(m.param("model.embed_tokens.weight").var.value(), 4), {});
    uint32_t seed = 1;
    for (Param& p : m.params())
      if (p.name.find("lora_B") != std::string::npos || p.name == kTableName)
        p.var.set_value(testing::randn(p.var.shape(), seed++, 0.5f));
    (void)l;
  }
  const Tensor& table() const { return m.param(kTableName).var.value(); }
};

// The teacher-forced perplexity of y (EOS excluded) from one pass, by hand.
double one_pass_ppl(const Model& model, const Layout& l, const Fixture& f) {
  std::vector<Sequence> seqs;
  for (const auto& t : f.turns) {
    const std::vector<std::span<const int32_t>> ctx(t.begin(), t.end() - 2);
    seqs.push_back(build_sequence(l, ctx, t[t.size() - 2], t.back()));
  }
  const data::TokenBatch b = one_pass_batch(l, seqs, 0);
  Tape tape(false);
  const data::BatchTensors bt = one_pass_tensors(tape, b, Var(model.table()), Device::cpu);
  const std::vector<float> lg = model.m.forward(tape, bt.args).value().to_vector();
  const int64_t V = model.m.config().vocab_size;
  double nll = 0;
  int64_t n = 0;
  for (size_t r = 0; r < seqs.size(); ++r)
    for (int64_t i = seqs[r].target_begin; i + 1 < static_cast<int64_t>(seqs[r].tokens.size());
         ++i, ++n) {
      const float* row = lg.data() + (r * b.T + i - 1) * V;
      double z = 0;
      for (int64_t v = 0; v < V; ++v) z += std::exp(static_cast<double>(row[v]));
      nll += std::log(z) - row[seqs[r].tokens[i].id];
    }
  return std::exp(nll / static_cast<double>(n));
}

TEST(CcmScore, OnlinePerplexityIsTheOnePassOneAndMemoryIsPerType) {
  const Fixture f;
  int64_t turns = 0, y_tokens = 0;
  for (const auto& t : f.turns) turns += static_cast<int64_t>(t.size()) - 2;
  for (const auto& t : f.turns) y_tokens += static_cast<int64_t>(t.back().size());
  for (Attn a : {Attn::concat_recur, Attn::merge_recur}) {
    const Layout l = layout(a);
    const Model m(l);
    const DialogueScores sc = score_dialogues(m.m, m.table(), l, f.dialogues, 2, 0);
    const DialogueScore& s = sc.all;
    EXPECT_EQ(s.dialogues, 5);
    // Each dialogue lands in the bucket of its own number of context turns.
    std::map<int64_t, int64_t> per_turns;
    for (const auto& t : f.turns) ++per_turns[static_cast<int64_t>(t.size()) - 2];
    ASSERT_EQ(sc.by_context_turns.size(), per_turns.size());
    for (const auto& [t, n] : per_turns) {
      ASSERT_TRUE(sc.by_context_turns.count(t)) << t;
      EXPECT_EQ(sc.by_context_turns.at(t).dialogues, n) << t;
      EXPECT_EQ(sc.by_context_turns.at(t).memory_entries,
                a == Attn::concat_recur ? 2 * t * n : 2 * n)
          << t;
    }
    EXPECT_EQ(s.tokens, y_tokens);  // EOS is not scored
    EXPECT_NEAR(s.ppl(), one_pass_ppl(m, l, f), 1e-4 * s.ppl()) << attn_name(a);
    EXPECT_EQ(s.memory_entries, a == Attn::concat_recur ? 2 * turns : 2 * 5);
    EXPECT_GE(s.exact_match(), 0.0);
  }
  const Model m(layout(Attn::no));
  for (const auto& [a, entries] :
       {std::pair{Attn::no, f.context_tokens}, std::pair{Attn::neg_control, int64_t{0}},
        std::pair{Attn::gist, int64_t{2 * 5}}, std::pair{Attn::concat, 2 * turns},
        std::pair{Attn::merge, int64_t{2 * 5}}}) {
    const Layout l = layout(a);
    const DialogueScore s = score_dialogues(m.m, m.table(), l, f.dialogues, 3, 0).all;
    EXPECT_EQ(s.memory_entries, entries) << attn_name(a);
    EXPECT_NEAR(s.ppl(), one_pass_ppl(m, l, f), 1e-4 * s.ppl()) << attn_name(a);
  }
}

// Each episode's prediction is the option whose own dialogue (the option as the target)
// has the least summed NLL (acc) or mean NLL (acc_norm); episodes map to their records.
TEST(CcmScore, IclPicksTheOptionOfLeastNllPerTask) {
  const Fixture f;
  std::mt19937 g(9);
  IclChoices c;
  c.task_names = {"a", "b"};
  std::vector<std::vector<std::vector<int32_t>>> held(5);
  for (size_t r = 0; r < 5; ++r) {
    for (int o = 0; o < 3; ++o) {
      std::vector<int32_t> option(1 + g() % 3);
      for (int32_t& id : option) id = static_cast<int32_t>(4 + g() % 40);
      held[r].push_back(option);
    }
    c.gold.push_back(static_cast<int32_t>(r % 3));
    c.task.push_back(static_cast<int32_t>(r % 2));
  }
  for (const auto& h : held) c.options.push_back({h.begin(), h.end()});
  // Episode e is record 4 - e.
  std::vector<DialogueTurns> episodes;
  std::vector<size_t> records;
  for (size_t e = 0; e < 5; ++e) {
    episodes.push_back(f.dialogues[e]);
    records.push_back(4 - e);
  }
  for (Attn a : {Attn::concat_recur, Attn::no}) {
    const Layout l = layout(a);
    const Model m(l);
    std::map<std::string, IclAccuracy> want;
    for (size_t e = 0; e < 5; ++e) {
      const size_t rec = records[e];
      size_t best = 0, best_norm = 0;
      double nll = 1e300, mean = 1e300;
      for (size_t o = 0; o < 3; ++o) {
        DialogueTurns d = episodes[e];
        d.back() = c.options[rec][o];
        const DialogueScore s = score_dialogues(m.m, m.table(), l, {d}, 1, 0, false).all;
        if (s.nll < nll) nll = s.nll, best = o;
        if (s.nll / s.tokens < mean) mean = s.nll / s.tokens, best_norm = o;
      }
      for (const std::string& t : {c.task_names[c.task[rec]], std::string("all")}) {
        ++want[t].episodes;
        want[t].correct += best == static_cast<size_t>(c.gold[rec]);
        want[t].correct_norm += best_norm == static_cast<size_t>(c.gold[rec]);
      }
    }
    const std::map<std::string, IclAccuracy> got =
        score_icl(m.m, m.table(), l, episodes, records, c, 4, 0);
    ASSERT_EQ(got.size(), 3u) << attn_name(a);
    for (const auto& [t, w] : want) {
      EXPECT_EQ(got.at(t).episodes, w.episodes) << t;
      EXPECT_EQ(got.at(t).correct, w.correct) << t << " " << attn_name(a);
      EXPECT_EQ(got.at(t).correct_norm, w.correct_norm) << t << " " << attn_name(a);
    }
    EXPECT_EQ(got.at("a").episodes, 3);  // records 0, 2, 4: golds 0, 2, 1
    EXPECT_EQ(got.at("a").majority, 1);
    EXPECT_EQ(got.at("b").majority, 1);  // records 1, 3: golds 1, 0
    EXPECT_EQ(got.at("all").majority, 2);
  }
}

// A dialogue that needs positions past the model's max_seq_len is refused, whatever the
// path (online or one pass).
TEST(CcmScore, DialoguesPastMaxSeqLenAreRefused) {
  const Fixture f;
  for (Attn a : {Attn::concat_recur, Attn::no}) {
    const Layout l = layout(a);
    Model m(l);
    LlamaConfig c = m.m.config();
    c.max_seq_len = 4;
    Llama short_model(c, 4);
    extend_model(short_model, m.table(), {});
    const std::string e = testing::error_of(
        [&] { score_dialogues(short_model, m.table(), l, f.dialogues, 2, 0, false); });
    EXPECT_EQ(e.rfind("ccm: dialogue 0 needs positions up to ", 0), 0u) << e;
    EXPECT_NE(e.find("beyond the model's max_seq_len 4"), std::string::npos) << e;
  }
}

}  // namespace
}  // namespace condense::ccm
