// Loaders: the packed training stream (resume, sharding, wrap-around), perplexity
// windows, and long-document windows; batches split into row ranges and made tensors.
#include <gtest/gtest.h>

#include <numeric>
#include <set>

#include "datasets/doc_windows.h"
#include "datasets/eval_windows.h"
#include "datasets/packed_loader.h"
#include "datasets/token_dataset.h"
#include "test_data_util.h"

namespace condense {
namespace {

using data::TokenBatch;
using data::TokenDataset;

// A dataset whose token i is 3 + i % 500 (below tok512's 512 ids), in records of
// the given lengths, so positions can be read back from the ids.
TokenDataset make_dataset(const testing::TempDir& dir, const std::vector<int64_t>& lengths) {
  data::TokenDatasetContents c;
  c.info.kind = "text";
  c.info.tokenizer_sha256 = testing::tok512().sha256();
  c.info.vocab_size = 512;
  for (int64_t n : lengths) {
    for (int64_t i = 0; i < n; ++i)
      c.tokens.push_back(static_cast<int32_t>(3 + c.tokens.size() % 500));
    c.offsets.push_back(static_cast<int64_t>(c.tokens.size()));
  }
  data::write_token_dataset(dir.file("ds.h5"), c);
  return TokenDataset::open(dir.file("ds.h5"), testing::tok512());
}

bool same(const TokenBatch& a, const TokenBatch& b) {
  return a.rows == b.rows && a.T == b.T && a.inputs == b.inputs && a.targets == b.targets;
}

TEST(PackedLoader, WindowsFollowTheStreamAndWrap) {
  testing::TempDir dir;
  const TokenDataset ds = make_dataset(dir, {40, 1, 59});  // 100 tokens
  data::PackedLoader loader(ds, 3, 7);
  const auto t = ds.tokens();
  std::vector<int32_t> seen;
  for (int b = 0; b < 5; ++b) {  // 5 batches x 24 tokens: wraps past 100
    const TokenBatch batch = loader.next();
    ASSERT_EQ(batch.rows, 3);
    ASSERT_EQ(batch.T, 7);
    for (int64_t r = 0; r < 3; ++r) {
      const int64_t start = b * 24 + r * 8;
      for (int64_t i = 0; i < 7; ++i) {
        EXPECT_EQ(batch.inputs[r * 7 + i], t[(start + i) % 100]);
        EXPECT_EQ(batch.targets[r * 7 + i], t[(start + i + 1) % 100]);
      }
    }
  }
  EXPECT_EQ(loader.position(), 120);
  EXPECT_EQ(loader.epoch(), 1);
}

TEST(PackedLoader, ResumedLoaderReadsTheSameBatches) {
  testing::TempDir dir;
  const TokenDataset ds = make_dataset(dir, {300, 17, 450});
  data::PackedLoader a(ds, 4, 16);
  for (int i = 0; i < 5; ++i) a.next();
  const int64_t saved = a.position();
  data::PackedLoader b(ds, 4, 16);
  b.set_position(saved);
  for (int i = 0; i < 30; ++i) EXPECT_TRUE(same(a.next(), b.next())) << "batch " << i;
}

TEST(PackedLoader, ShardsConcatenateToTheSingleRankBatch) {
  testing::TempDir dir;
  const TokenDataset ds = make_dataset(dir, {1000});
  for (int world : {2, 3, 4}) {
    data::PackedLoader whole(ds, 12, 9);
    std::vector<data::PackedLoader> shards;
    for (int r = 0; r < world; ++r) shards.emplace_back(ds, 12, 9, r, world);
    for (int step = 0; step < 6; ++step) {
      const TokenBatch all = whole.next();
      std::vector<int32_t> inputs, targets;
      for (auto& s : shards) {
        const TokenBatch part = s.next();
        EXPECT_EQ(part.rows, 12 / world);
        inputs.insert(inputs.end(), part.inputs.begin(), part.inputs.end());
        targets.insert(targets.end(), part.targets.begin(), part.targets.end());
      }
      EXPECT_EQ(inputs, all.inputs);
      EXPECT_EQ(targets, all.targets);
      for (auto& s : shards) EXPECT_EQ(s.position(), whole.position());
    }
  }
}

TEST(EvalWindows, EveryTokenAfterTheFirstIsATargetOnce) {
  testing::TempDir dir;
  const TokenDataset ds = make_dataset(dir, {50, 23});  // 73 tokens, 72 targets
  const data::EvalWindows ev(ds, 10, -100, 0);
  EXPECT_EQ(ev.num_targets(), 72);
  EXPECT_EQ(ev.num_windows(), 8);
  EXPECT_EQ(ev.num_batches(3), 3);
  std::vector<int32_t> targets;
  for (int64_t b = 0; b < ev.num_batches(3); ++b) {
    // Two ranks give the same rows as one.
    const TokenBatch one = ev.batch(b, 3);
    TokenBatch r0 = ev.batch(b, 3, 0, 2), r1 = ev.batch(b, 3, 1, 2);
    r0.targets.insert(r0.targets.end(), r1.targets.begin(), r1.targets.end());
    EXPECT_EQ(r0.targets, one.targets);
    for (int32_t t : one.targets)
      if (t != -100) targets.push_back(t);
  }
  const auto t = ds.tokens();
  EXPECT_EQ(targets, std::vector<int32_t>(t.begin() + 1, t.end()));
  // The last window is padded: inputs with pad id 0, missing targets ignored.
  const TokenBatch last = ev.batch(2, 3);
  EXPECT_EQ(last.inputs[1 * 10 + 2], 0);  // window 7 holds tokens 70..72: 2 targets
  EXPECT_EQ(last.targets[1 * 10 + 1], t[72]);
  EXPECT_EQ(last.targets[1 * 10 + 2], -100);
  EXPECT_EQ(last.targets[2 * 10], -100);  // row 2 is past the last window
}

TEST(DocumentWindows, NeverCrossDocumentsUnlessAsked) {
  testing::TempDir dir;
  const TokenDataset ds = make_dataset(dir, {25, 9, 30});
  const data::DocumentWindows w(ds, 10);
  // 25 -> 2 windows, 9 -> none, 30 -> 3 windows.
  ASSERT_EQ(w.size(), 5);
  const std::vector<int64_t> records = {0, 0, 2, 2, 2};
  for (int64_t i = 0; i < w.size(); ++i) {
    const int64_t r = w.record_of(i);
    EXPECT_EQ(r, records[i]);
    const int64_t start = w.window(i).data() - ds.tokens().data();
    EXPECT_GE(start, ds.offsets()[r]);
    EXPECT_LE(start + 10, ds.offsets()[r + 1]);
  }
  const data::DocumentWindows across(ds, 10, /*cross_documents=*/true);
  EXPECT_EQ(across.size(), 6);
  EXPECT_EQ(across.record_of(3), -1);
}

TEST(WindowSampler, ShuffledEpochsResumeAndShard) {
  testing::TempDir dir;
  const TokenDataset ds = make_dataset(dir, {200, 130, 70});
  const data::DocumentWindows w(ds, 9);
  ASSERT_EQ(w.size(), 22 + 14 + 7);
  data::WindowSampler a(w, 4, 42);
  // One epoch visits every window once.
  std::multiset<int32_t> firsts;
  data::WindowSampler epoch(w, 1, 42);
  for (int64_t i = 0; i < w.size(); ++i) firsts.insert(epoch.next().inputs[0]);
  std::multiset<int32_t> want;
  for (int64_t i = 0; i < w.size(); ++i) want.insert(w.window(i)[0]);
  EXPECT_EQ(firsts, want);
  // Resume.
  for (int i = 0; i < 7; ++i) a.next();
  data::WindowSampler b(w, 4, 42);
  b.set_position(a.position());
  for (int i = 0; i < 25; ++i) EXPECT_TRUE(same(a.next(), b.next()));
  // Shards.
  data::WindowSampler whole(w, 4, 42), r0(w, 4, 42, 0, 2), r1(w, 4, 42, 1, 2);
  for (int i = 0; i < 20; ++i) {
    TokenBatch x = r0.next();
    const TokenBatch y = r1.next();
    x.inputs.insert(x.inputs.end(), y.inputs.begin(), y.inputs.end());
    EXPECT_EQ(x.inputs, whole.next().inputs);
  }
}

// A 3-row batch with positions and a mask, every value telling its row apart.
TokenBatch numbered_batch() {
  TokenBatch b;
  b.rows = 3;
  b.T = 2;
  for (int32_t i = 0; i < 6; ++i) {
    b.inputs.push_back(10 + i);
    b.targets.push_back(20 + i);
    b.positions.push_back(30 + i);
  }
  for (int i = 0; i < 12; ++i) b.mask.push_back(static_cast<uint8_t>(i % 3 == 0));
  return b;
}

TEST(TokenBatch, RowsKeepTheirPositionsAndMask) {
  const TokenBatch b = numbered_batch();
  const TokenBatch mid = data::rows_of(b, 1, 2);
  EXPECT_EQ(mid.rows, 1);
  EXPECT_EQ(mid.inputs, (std::vector<int32_t>{12, 13}));
  EXPECT_EQ(mid.targets, (std::vector<int32_t>{22, 23}));
  EXPECT_EQ(mid.positions, (std::vector<int32_t>{32, 33}));
  EXPECT_EQ(mid.mask, (std::vector<uint8_t>{0, 0, 1, 0}));  // mask elements 4..7
  EXPECT_THROW(data::rows_of(b, 2, 4), Error);
  // A plain causal batch stays without them.
  TokenBatch plain = b;
  plain.positions.clear();
  plain.mask.clear();
  EXPECT_TRUE(data::rows_of(plain, 0, 2).mask.empty());
}

TEST(TokenBatch, TensorsCarryPositionsAndMask) {
  const TokenBatch b = numbered_batch();
  const data::BatchTensors t = data::to_tensors(b, Device::cpu);
  EXPECT_EQ(t.args.ids.to_i32_vector(), b.inputs);
  EXPECT_EQ(t.targets.to_i32_vector(), b.targets);
  EXPECT_EQ(t.args.pos.to_i32_vector(), b.positions);
  ASSERT_EQ(t.args.mask.shape(), (Shape{3, 2, 2}));
  EXPECT_EQ(std::vector<uint8_t>(t.args.mask.u8(), t.args.mask.u8() + 12), b.mask);
  TokenBatch plain = b;
  plain.positions.clear();
  plain.mask.clear();
  const data::BatchTensors causal = data::to_tensors(plain, Device::cpu);
  EXPECT_FALSE(causal.args.pos.defined());
  EXPECT_FALSE(causal.args.mask.defined());
  TokenBatch wrong = b;
  wrong.mask.pop_back();
  EXPECT_THROW(data::to_tensors(wrong, Device::cpu), Error);
}

// numbered_batch with a LoRA mask and a K/V mix in rows 0 and 2.
TokenBatch method_batch() {
  TokenBatch b = numbered_batch();
  b.lora_mask = {1, 0, 0, 1, 1, 1};
  b.kv_mix = {{2, 1, 0, 0.25f}, {0, 1, 0, 0.5f}, {2, 1, 1, 0.75f}, {0, 1, 1, 0.5f}};
  return b;
}

TEST(TokenBatch, RowsKeepTheirLoraMaskAndMixTerms) {
  const TokenBatch b = method_batch();
  const TokenBatch tail = data::rows_of(b, 1, 3);
  EXPECT_EQ(tail.lora_mask, (std::vector<uint8_t>{0, 1, 1, 1}));
  // Row 2's terms, renumbered as row 1; row 0's left out.
  ASSERT_EQ(tail.kv_mix.size(), 2u);
  for (const data::KVMixTerm& t : tail.kv_mix) {
    EXPECT_EQ(t.row, 1);
    EXPECT_EQ(t.target, 1);
  }
  EXPECT_EQ(tail.kv_mix[0].weight, 0.25f);
  EXPECT_TRUE(data::rows_of(b, 1, 2).kv_mix.empty());
}

TEST(TokenBatch, TensorsCarryLoraMaskAndKVMix) {
  const TokenBatch b = method_batch();
  const data::BatchTensors t = data::to_tensors(b, Device::cpu);
  ASSERT_EQ(t.args.lora_mask.shape(), (Shape{3, 2}));
  EXPECT_EQ(std::vector<uint8_t>(t.args.lora_mask.u8(), t.args.lora_mask.u8() + 6), b.lora_mask);
  ASSERT_NE(t.args.kv_mix, nullptr);
  EXPECT_EQ(t.args.kv_mix, t.kv_mix.get());
  // Token 1 of row 0 (flat row 1) and of row 2 (flat row 5), in that order, over
  // the flattened [3*2] keys: weights on their own row's tokens only.
  EXPECT_EQ(t.args.kv_mix->rows.to_i32_vector(), (std::vector<int32_t>{1, 5}));
  ASSERT_EQ(t.args.kv_mix->weights.shape(), (Shape{2, 6}));
  EXPECT_EQ(t.args.kv_mix->weights.to_vector(),
            (std::vector<float>{0.5f, 0.5f, 0, 0, 0, 0, 0, 0, 0, 0, 0.25f, 0.75f}));
  // A micro-batch of the last two rows mixes within its own flattened [2*2].
  const data::BatchTensors tail = data::to_tensors(data::rows_of(b, 1, 3), Device::cpu);
  EXPECT_EQ(tail.args.kv_mix->rows.to_i32_vector(), (std::vector<int32_t>{3}));
  EXPECT_EQ(tail.args.kv_mix->weights.to_vector(), (std::vector<float>{0, 0, 0.25f, 0.75f}));
  // Without them the forward pass has neither.
  const data::BatchTensors plain = data::to_tensors(numbered_batch(), Device::cpu);
  EXPECT_FALSE(plain.args.lora_mask.defined());
  EXPECT_EQ(plain.args.kv_mix, nullptr);
}

TEST(TokenBatch, BadLoraMaskOrMixTermIsAnError) {
  TokenBatch short_mask = method_batch();
  short_mask.lora_mask.pop_back();
  EXPECT_THROW(data::to_tensors(short_mask, Device::cpu), Error);
  for (const data::KVMixTerm bad :
       {data::KVMixTerm{3, 0, 0, 1}, data::KVMixTerm{0, 2, 0, 1}, data::KVMixTerm{0, 0, -1, 1}}) {
    TokenBatch b = method_batch();
    b.kv_mix.push_back(bad);
    EXPECT_THROW(data::to_tensors(b, Device::cpu), Error) << bad.row << " " << bad.target;
  }
}

}  // namespace
}  // namespace condense
