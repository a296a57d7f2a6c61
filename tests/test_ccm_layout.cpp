// CCM as data (experiments/methods/ccm/layout.h, mask.h, batch.h, adapter.h): layouts,
// masks, skip positions, merge terms and the table's initial value, against small
// hand-checked examples (the mask matrices are METHODS.md §2.3's).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "experiments/methods/ccm/adapter.h"
#include "experiments/methods/ccm/batch.h"
#include "experiments/methods/ccm/layout.h"
#include "experiments/methods/ccm/mask.h"
#include "tests/test_data_util.h"

namespace condense::ccm {
namespace {

// A token list from a compact spelling: "t" text (id = its index + 10), "C0".."C9" the
// <COMP> slots, "S0".."S9" the <SUM> slots.
std::vector<Token> spell(const std::vector<std::string>& s) {
  std::vector<Token> t;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i][0] == 'C' || s[i][0] == 'S')
      t.push_back({s[i][0] == 'C' ? Kind::comp : Kind::sum, 0, s[i][1] - '0'});
    else
      t.push_back({Kind::text, static_cast<int32_t>(i + 10), 0});
  }
  return t;
}

// The lower triangle of a mask, one string per row ('1' / '.').
std::vector<std::string> lower(const std::vector<uint8_t>& m, size_t T) {
  std::vector<std::string> out;
  for (size_t i = 0; i < T; ++i) {
    std::string row;
    for (size_t j = 0; j <= i; ++j) row += m[i * T + j] ? '1' : '.';
    for (size_t j = i + 1; j < T; ++j) EXPECT_EQ(m[i * T + j], 0) << i << "," << j;
    out.push_back(row);
  }
  return out;
}

// B a1 a2 C1 C2 s b1 C1 C2 s x o (n_tok = 2)
const std::vector<std::string> kConcat = {"B", "a",  "a",  "C0", "C1", "s",
                                          "b", "C0", "C1", "s",  "x",  "o"};
// B a1 C S s b1 C S s x o (n_tok = 1)
const std::vector<std::string> kMerge = {"B", "a", "C0", "S0", "s", "b", "C0", "S0", "s", "x", "o"};

TEST(CcmMask, ConcatRecurIsTheVerifiedMatrix) {
  const auto t = spell(kConcat);
  EXPECT_EQ(
      lower(sequence_mask(Attn::concat_recur, false, t), t.size()),
      (std::vector<std::string>{"1", "11", "111", "1111", "11111", "...111", "...1111", "...11111",
                                "...111111", "...11..111", "...11..1111", "...11..11111"}));
}

TEST(CcmMask, MergeRecurIsTheVerifiedMatrix) {
  const auto t = spell(kMerge);
  EXPECT_EQ(lower(sequence_mask(Attn::merge_recur, false, t), t.size()),
            (std::vector<std::string>{"1", "11", "111", "1111", "...11", "...111", "...1111",
                                      "...11111", ".......11", ".......111", ".......1111"}));
}

TEST(CcmMask, SinkOpensTheBosColumnOnly) {
  for (const auto& [attn, s] :
       {std::pair{Attn::concat_recur, kConcat}, std::pair{Attn::merge_recur, kMerge}}) {
    const auto t = spell(s);
    const size_t T = t.size();
    const auto plain = sequence_mask(attn, false, t), sink = sequence_mask(attn, true, t);
    for (size_t i = 0; i < T; ++i)
      for (size_t j = 0; j < T; ++j)
        EXPECT_EQ(sink[i * T + j], j == 0 ? 1 : plain[i * T + j]) << i << "," << j;
  }
}

TEST(CcmMask, NonRecurrentConcatAndMergeAreBlockDiagonal) {
  // concat: the second context does not see the first group; the final segment sees both.
  auto t = spell(kConcat);
  EXPECT_EQ(
      lower(sequence_mask(Attn::concat, false, t), t.size()),
      (std::vector<std::string>{"1", "11", "111", "1111", "11111", ".....1", ".....11", ".....111",
                                ".....1111", "...11..111", "...11..1111", "...11..11111"}));
  // merge: B a C0 b C0 S0 s x: the final segment starts at the SUM block and sees no COMP.
  t = spell({"B", "a", "C0", "b", "C0", "S0", "s", "x"});
  EXPECT_EQ(lower(sequence_mask(Attn::merge, false, t), t.size()),
            (std::vector<std::string>{"1", "11", "111", "...1", "...11", ".....1", ".....11",
                                      ".....111"}));
}

TEST(CcmMask, GistHidesTheContextAfterItsGroupControlsAreCausal) {
  // B a s b C0 C1 s x: after the group only the group and later tokens are visible.
  const auto t = spell({"B", "a", "s", "b", "C0", "C1", "s", "x"});
  EXPECT_EQ(lower(sequence_mask(Attn::gist, false, t), t.size()),
            (std::vector<std::string>{"1", "11", "111", "1111", "11111", "111111", "....111",
                                      "....1111"}));
  for (Attn a : {Attn::pos_control, Attn::no, Attn::neg_control})
    EXPECT_EQ(lower(sequence_mask(a, false, t), t.size()),
              (std::vector<std::string>{"1", "11", "111", "1111", "11111", "111111", "1111111",
                                        "11111111"}));
}

TEST(CcmPositions, SkipPositionsOfTheSpecExample) {
  // B0 a1 a2 C1->3 C2->4 s->3 b1->4 C1->5 C2->6 s->5 x->6 o->7
  EXPECT_EQ(skip_positions(spell(kConcat)),
            (std::vector<int32_t>{0, 1, 2, 3, 4, 3, 4, 5, 6, 5, 6, 7}));
  // <SUM_r> shares <COMP_r>'s position; an offset moves the text (online steps).
  EXPECT_EQ(skip_positions(spell({"s", "b", "C0", "C1", "S0", "S1", "s"}), 7),
            (std::vector<int32_t>{7, 8, 9, 10, 9, 10, 9}));
}

TEST(CcmMerge, SumRowsAreRunningMeansOfEarlierSameSlotComps) {
  // B a C0 C1 S0 S1 s b C0 C1 S0 S1 s x: indices of the second group's SUMs are 10, 11.
  const auto t =
      spell({"B", "a", "C0", "C1", "S0", "S1", "s", "b", "C0", "C1", "S0", "S1", "s", "x"});
  const auto terms = merge_terms(t, 3);
  struct E {
    int32_t target, source;
    float w;
  };
  const std::vector<E> want = {{4, 2, 1.0f},  {5, 3, 1.0f},  {10, 2, 0.5f},
                               {10, 8, 0.5f}, {11, 3, 0.5f}, {11, 9, 0.5f}};
  ASSERT_EQ(terms.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(terms[i].row, 3);
    EXPECT_EQ(terms[i].target, want[i].target);
    EXPECT_EQ(terms[i].source, want[i].source);
    EXPECT_EQ(terms[i].weight, want[i].w);
  }
  EXPECT_TRUE(merge_terms(spell(kConcat), 0).empty());
}

Layout layout(Attn a, int64_t n = 2) {
  Layout l;
  l.attn = a;
  l.n_tok = n;
  l.bos = 1;
  l.eos = 2;
  l.sep = {3};
  return l;
}

// The sequence spelled back: ids for text, C/S + slot for the others.
std::string spelled(const Sequence& s) {
  std::string out;
  for (const Token& t : s.tokens)
    out += (t.kind == Kind::text
                ? std::to_string(t.id)
                : std::string(t.kind == Kind::comp ? "C" : "S") + std::to_string(t.slot)) +
           " ";
  return out;
}

TEST(CcmLayout, EveryAttentionTypesSequence) {
  const std::vector<int32_t> c1 = {10, 11}, c2 = {12}, x = {20}, y = {30, 31};
  const std::vector<std::span<const int32_t>> ctx = {c1, c2};
  auto seq = [&](Attn a) { return build_sequence(layout(a), ctx, x, y); };
  EXPECT_EQ(spelled(seq(Attn::concat_recur)), "1 10 11 C0 C1 3 12 C0 C1 3 20 3 30 31 2 ");
  EXPECT_EQ(spelled(seq(Attn::concat)), spelled(seq(Attn::concat_recur)));
  EXPECT_EQ(spelled(seq(Attn::pos_control)), spelled(seq(Attn::concat_recur)));
  EXPECT_EQ(spelled(seq(Attn::merge_recur)),
            "1 10 11 C0 C1 S0 S1 3 12 C0 C1 S0 S1 3 20 3 30 31 2 ");
  EXPECT_EQ(spelled(seq(Attn::merge)), "1 10 11 C0 C1 3 12 C0 C1 S0 S1 3 20 3 30 31 2 ");
  EXPECT_EQ(spelled(seq(Attn::gist)), "1 10 11 3 12 C0 C1 3 20 3 30 31 2 ");
  EXPECT_EQ(spelled(seq(Attn::no)), "1 10 11 3 12 3 20 3 30 31 2 ");
  EXPECT_EQ(spelled(seq(Attn::neg_control)), "1 20 3 30 31 2 ");
  // Targets: y and EOS only, never a <COMP> (the token before y predicts y's first).
  const Sequence s = seq(Attn::concat_recur);
  EXPECT_EQ(s.target_begin, 12);
  std::vector<int32_t> want(s.tokens.size(), -100);
  want[11] = 30, want[12] = 31, want[13] = 2;
  EXPECT_EQ(sequence_targets(s), want);
}

TEST(CcmLayout, BadInputIsAOneLineError) {
  EXPECT_NE(testing::error_of([] { parse_attn("concat_recurr"); }).find("merge_recur"),
            std::string::npos);
  const std::vector<int32_t> x = {5};
  EXPECT_NE(testing::error_of([&] {
              build_sequence(layout(Attn::concat_recur, 0), {}, x, x);
            }).find("n_tok"),
            std::string::npos);
  EXPECT_NO_THROW(build_sequence(layout(Attn::no, 0), {}, x, x));
  for (Attn a : {Attn::concat_recur, Attn::merge_recur, Attn::concat, Attn::merge, Attn::gist,
                 Attn::pos_control, Attn::neg_control, Attn::no})
    EXPECT_EQ(parse_attn(attn_name(a)), a);
}

TEST(CcmBatch, RightPaddedRowsWithLoraMaskEmbedRowsAndMergeTerms) {
  const Layout l = layout(Attn::merge_recur, 1);
  const std::vector<int32_t> c1 = {10}, c2 = {11}, x = {20}, y = {30};
  const Sequence two = build_sequence(l, {c1, c2}, x, y);  // 1 10 C S 3 11 C S 3 20 3 30 2
  const Sequence one = build_sequence(l, {c1}, x, y);      // 1 10 C S 3 20 3 30 2
  const data::TokenBatch b = one_pass_batch(l, {two, one}, 0);
  const int64_t T = 13;
  ASSERT_EQ(b.T, T);
  EXPECT_EQ(b.lora_mask, (std::vector<uint8_t>{0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0,  //
                                               0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  // The input ids there are the table rows: <COMP_0> row 0, <SUM_0> row n + 0 = 1.
  for (int64_t at : {int64_t{2}, int64_t{6}, T + 2}) EXPECT_EQ(b.inputs[at], 0);
  for (int64_t at : {int64_t{3}, int64_t{7}, T + 3}) EXPECT_EQ(b.inputs[at], 1);
  // Row 1 is padded after its 9 tokens: pads see themselves, carry no target, pad id.
  for (int64_t i = 9; i < T; ++i) {
    EXPECT_EQ(b.inputs[T + i], 0);
    EXPECT_EQ(b.targets[T + i], -100);
    for (int64_t j = 0; j < T; ++j) EXPECT_EQ(b.mask[(T + i) * T + j], i == j) << i << j;
  }
  for (int64_t i = 0; i < 9; ++i)
    for (int64_t j = 9; j < T; ++j) EXPECT_EQ(b.mask[(T + i) * T + j], 0);
  EXPECT_EQ(b.targets[T + 6], 30);
  EXPECT_EQ(b.targets[T + 7], 2);
  // Merge terms of both rows, row 1 renumbered: SUM at 3 <- COMP at 2.
  ASSERT_EQ(b.kv_mix.size(), 4u);
  EXPECT_EQ(b.kv_mix[3].row, 1);
  EXPECT_EQ(b.kv_mix[3].target, 3);
  EXPECT_EQ(b.kv_mix[3].source, 2);
  EXPECT_EQ(b.positions[T + 2], 2);
  EXPECT_EQ(b.positions[T + 4], 2);  // the separator reuses the COMP's position
}

TEST(CcmAdapter, TableRowsAreMeansOfEveryNthEmbeddingRowReversed) {
  // E = [[1,10],[2,20],[3,30],[4,40],[5,50]], 2 rows: E[0::2] = rows 0,2,4 -> row 1;
  // E[1::2] = rows 1,3 -> row 0.
  const Tensor e = Tensor::from_f32({1, 10, 2, 20, 3, 30, 4, 40, 5, 50}, {5, 2});
  EXPECT_EQ(comp_table_init(e, 2).to_vector(), (std::vector<float>{3, 30, 3, 30}));
  EXPECT_EQ(comp_table_init(e, 3).to_vector(), (std::vector<float>{3, 30, 3.5, 35, 2.5, 25}));
}

}  // namespace
}  // namespace condense::ccm
