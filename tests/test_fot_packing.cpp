// FoT's document-aware k-packing (experiments/methods/fot/packing.h): k consecutive
// entries hold consecutive chunks of one document, documents continue after EOS BOS,
// resumable and split over data-parallel ranks by whole packs.
#include <gtest/gtest.h>

#include "datasets/token_dataset.h"
#include "experiments/methods/fot/packing.h"
#include "model_test_util.h"
#include "test_data_util.h"

namespace condense {
namespace {

using testing::error_of;
constexpr int32_t b = 1, e = 2;  // BOS and EOS of these tests

data::TokenDataset make_documents(const testing::TempDir& dir) {
  data::TokenDatasetContents c;
  c.info.kind = "books";
  c.info.tokenizer_sha256 = testing::tok512().sha256();
  c.info.vocab_size = 512;
  for (const std::vector<int32_t>& r : std::vector<std::vector<int32_t>>{
           {b, 10, 11, 12, 13, 14}, {b, 20, 21}, {b, 30, 31, 32, 33, 34, 35, 36}, {b, 40}}) {
    c.tokens.insert(c.tokens.end(), r.begin(), r.end());
    c.offsets.push_back(static_cast<int64_t>(c.tokens.size()));
  }
  data::write_token_dataset(dir.file("docs.h5"), c);
  return data::TokenDataset::open(dir.file("docs.h5"), testing::tok512());
}

TEST(FotPacking, PacksHoldConsecutiveChunksOfOneDocument) {
  testing::TempDir dir;
  const data::TokenDataset ds = make_documents(dir);
  // 4 entries of 2 tokens in packs of 2: two streams of 2·2+1 tokens per batch.
  fot::PackedDocuments docs(ds, 4, 2, 2, b, e);
  data::TokenBatch x = docs.next();
  EXPECT_EQ(x.inputs, (std::vector<int32_t>{b, 10, 11, 12, b, 20, 21, e}));
  EXPECT_EQ(x.targets, (std::vector<int32_t>{10, 11, 12, 13, 20, 21, e, b}));
  // Stream 0 goes on with its document, then the next one after EOS BOS; stream 1 with
  // the document it started.
  x = docs.next();
  EXPECT_EQ(x.inputs, (std::vector<int32_t>{13, 14, e, b, b, 30, 31, 32}));
  EXPECT_EQ(x.targets, (std::vector<int32_t>{14, e, b, 40, 30, 31, 32, 33}));
  const data::TokenBatch third = docs.next();
  // Resuming replays to the same place; rank 1 of 2 gets the second pack.
  fot::PackedDocuments resumed(ds, 4, 2, 2, b, e);
  resumed.set_position(2);
  EXPECT_EQ(resumed.next().inputs, third.inputs);
  fot::PackedDocuments rank1(ds, 4, 2, 2, b, e, 1, 2);
  rank1.next();
  const data::TokenBatch share = rank1.next();
  EXPECT_EQ(share.rows, 2);
  EXPECT_EQ(share.inputs, (std::vector<int32_t>{b, 30, 31, 32}));
}

TEST(FotPacking, BadPacksAreOneLineErrors) {
  testing::TempDir dir;
  const data::TokenDataset ds = make_documents(dir);
  EXPECT_NE(error_of([&] { fot::PackedDocuments(ds, 4, 2, 3, b, e); }).find("does not divide"),
            std::string::npos);
  EXPECT_NE(error_of([&] { fot::PackedDocuments(ds, 4, 2, 4, b, e, 0, 2); }).find("one rank"),
            std::string::npos);
}

}  // namespace
}  // namespace condense
