// Gisting as data: the masks of METHODS.md §1.2 for all three conditions (the exact
// matrices of the spec), their packing with left padding and pad-aware positions,
// the cache columns of gist and full-prompt caching, and training targets.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "experiments/methods/gist/batch.h"
#include "experiments/methods/gist/mask.h"

namespace condense::gist {
namespace {

constexpr int32_t G = 99;  // the gist id in these tests

// Rows of '1' / '.' as METHODS.md §1.2 prints them.
std::vector<uint8_t> parse(const std::vector<std::string>& rows) {
  std::vector<uint8_t> m;
  for (const std::string& r : rows)
    for (char c : r)
      if (c == '1' || c == '.') m.push_back(c == '1');
  return m;
}

std::string show(const std::vector<uint8_t>& m, int64_t T) {
  std::string s;
  for (int64_t i = 0; i < T; ++i) {
    for (int64_t j = 0; j < T; ++j) s += m[i * T + j] ? "1 " : ". ";
    s += "\n";
  }
  return s;
}

// The spec's example: I I G G x y (k = 2).
const std::vector<int32_t> kRow = {10, 11, G, G, 12, 13};

TEST(GistMask, GistMatchesSpec) {
  const auto want = parse({"1 . . . . .",  //
                           "1 1 . . . .",  //
                           "1 1 1 . . .",  //
                           "1 1 1 1 . .",  //
                           ". . 1 1 1 .",  //
                           ". . 1 1 1 1"});
  const auto got = row_mask(Condition::gist, kRow, G);
  EXPECT_EQ(got, want) << show(got, 6);
}

TEST(GistMask, NegControlMatchesSpec) {
  const auto want = parse({"1 . . . . .",  //
                           "1 1 . . . .",  //
                           "1 1 1 . . .",  //
                           "1 1 1 1 . .",  //
                           ". . . . 1 .",  //
                           ". . . . 1 1"});
  const auto got = row_mask(Condition::neg_control, kRow, G);
  EXPECT_EQ(got, want) << show(got, 6);
}

TEST(GistMask, PosControlMatchesSpec) {
  const auto want = parse({"1 . . . . .",  //
                           "1 1 . . . .",  //
                           "1 1 1 . . .",  //
                           "1 1 1 1 . .",  //
                           "1 1 1 1 1 .",  //
                           "1 1 1 1 1 1"});
  const auto got = row_mask(Condition::pos_control, kRow, G);
  EXPECT_EQ(got, want) << show(got, 6);
}

TEST(GistMask, RowWithoutGistIsCausal) {
  const std::vector<int32_t> row = {10, 11, 12};
  const auto want = parse({"1 . .", "1 1 .", "1 1 1"});
  for (Condition c : {Condition::gist, Condition::neg_control, Condition::pos_control})
    EXPECT_EQ(row_mask(c, row, G), want) << condition_name(c);
}

// Examples with instruction lengths 2 and 4, k = 2.
Method method(Condition c) {
  return {{2, G}, c, /*pad_id=*/2};
}
Example example(std::vector<int32_t> instruction, std::vector<int32_t> suffix) {
  return {std::move(instruction), std::move(suffix), {50, 51, 2}};
}

TEST(GistBatch, LeftPaddingKeepsEachRowsMaskAndPositions) {
  const Example a = example({10, 11}, {12, 13});          // prompt I I G G x x (6)
  const Example b = example({20, 21, 22, 23}, {24, 25});  // prompt I I I I G G x x (8)
  const Batch batch = prompt_batch(method(Condition::gist), {&a, &b}, Device::cpu);
  ASSERT_EQ(batch.T, 8);
  ASSERT_EQ(batch.M, 0);
  const std::vector<int32_t> ids = batch.ids.to_i32_vector(), pos = batch.pos.to_i32_vector();
  EXPECT_EQ(ids, (std::vector<int32_t>{2, 2, 10, 11, G, G, 12, 13,  //
                                       20, 21, 22, 23, G, G, 24, 25}));
  // Pad-aware positions: real tokens count from 0 whatever the padding.
  EXPECT_EQ(pos, (std::vector<int32_t>{0, 0, 0, 1, 2, 3, 4, 5,  //
                                       0, 1, 2, 3, 4, 5, 6, 7}));
  const uint8_t* m = batch.mask.u8();
  const auto want_a = row_mask(Condition::gist, std::vector<int32_t>{10, 11, G, G, 12, 13}, G);
  for (int64_t i = 0; i < 8; ++i)
    for (int64_t j = 0; j < 8; ++j) {
      const bool real = i >= 2 && j >= 2;
      EXPECT_EQ(m[i * 8 + j], real ? want_a[(i - 2) * 6 + (j - 2)] : 0) << i << "," << j;
    }
  const auto want_b =
      row_mask(Condition::gist, std::vector<int32_t>{20, 21, 22, 23, G, G, 24, 25}, G);
  for (int64_t i = 0; i < 64; ++i) EXPECT_EQ(m[64 + i], want_b[i]) << i;
}

TEST(GistBatch, GistCacheColumnsAndSuffixPositions) {
  const Example a = example({10, 11}, {12, 13, 14});
  const Example b = example({20, 21, 22, 23}, {24});
  for (Condition c : {Condition::gist, Condition::neg_control}) {
    const Batch s = suffix_batch(method(c), {&a, &b}, CacheMode::gist, Device::cpu);
    ASSERT_EQ(s.M, 2);
    ASSERT_EQ(s.T, 3);
    // The suffix continues at f + k: 4 for a, 6 for b.
    EXPECT_EQ(s.pos.to_i32_vector(), (std::vector<int32_t>{4, 5, 6, 0, 0, 6}));
    const uint8_t* m = s.mask.u8();  // [2, 3, 5]
    const uint8_t gist_visible = c == Condition::gist;
    const std::vector<uint8_t> want = {
        gist_visible,
        gist_visible,
        1,
        0,
        0,  // a: x0
        gist_visible,
        gist_visible,
        1,
        1,
        0,  // a: x1
        gist_visible,
        gist_visible,
        1,
        1,
        1,  // a: x2
        0,
        0,
        0,
        0,
        0,  // b: pad
        0,
        0,
        0,
        0,
        0,  // b: pad
        gist_visible,
        gist_visible,
        0,
        0,
        1,  // b: x0
    };
    EXPECT_EQ(std::vector<uint8_t>(m, m + 30), want) << condition_name(c);
  }
}

TEST(GistBatch, PromptCacheColumnsFollowTheCondition) {
  const Example a = example({10, 11}, {12});          // instruction+gists: 4 tokens
  const Example b = example({20, 21, 22, 23}, {24});  // 6 tokens
  const Batch s = suffix_batch(method(Condition::gist), {&a, &b}, CacheMode::prompt, Device::cpu);
  ASSERT_EQ(s.M, 6);
  ASSERT_EQ(s.T, 1);
  const uint8_t* m = s.mask.u8();  // [2, 1, 7]
  // a: two pad columns, its instruction (hidden by the gist mask), its gists, itself.
  EXPECT_EQ(std::vector<uint8_t>(m, m + 7), (std::vector<uint8_t>{0, 0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(std::vector<uint8_t>(m + 7, m + 14), (std::vector<uint8_t>{0, 0, 0, 0, 1, 1, 1}));
  const Batch p =
      suffix_batch(method(Condition::pos_control), {&a, &b}, CacheMode::prompt, Device::cpu);
  EXPECT_EQ(std::vector<uint8_t>(p.mask.u8(), p.mask.u8() + 14),
            (std::vector<uint8_t>{0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}));
}

TEST(GistBatch, OnlyCompletionTokensAreTargets) {
  const Example a = example({10, 11}, {12});  // prompt 10 11 G G 12 | 50 51 2
  const TrainingBatch t = training_batch(method(Condition::gist), {&a}, 100);
  EXPECT_EQ(t.rows.inputs, (std::vector<int32_t>{10, 11, G, G, 12, 50, 51}));
  EXPECT_EQ(t.rows.targets, (std::vector<int32_t>{-100, -100, -100, -100, 50, 51, 2}));
  EXPECT_EQ(t.rows.positions, (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(t.tokens, 7);
  // Cut from the right at max_length (the EOS and the last output token go).
  const TrainingBatch cut = training_batch(method(Condition::gist), {&a}, 6);
  EXPECT_EQ(cut.rows.targets, (std::vector<int32_t>{-100, -100, -100, -100, 50}));
}

}  // namespace
}  // namespace condense::gist
