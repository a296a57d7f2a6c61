// The HDF5 token dataset (write/read/checks), field records and parallel tokenization.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/error.h"
#include "core/h5.h"
#include "datasets/parallel_encode.h"
#include "datasets/records.h"
#include "datasets/text_file.h"
#include "datasets/token_dataset.h"
#include "test_data_util.h"

namespace condense {
namespace {

using data::TokenDataset;
using data::TokenDatasetContents;
using testing::error_of;
using testing::TempDir;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TokenDatasetContents small_contents(const data::Tokenizer& tok) {
  data::RecordBuilder b({{"question"}, {"answer"}}, /*bos_per_record=*/true);
  b.add(0, "What is green?");
  b.add(1, " The grass.");
  b.end_record();
  b.add(0, "");
  b.add(1, "Nothing\nat all  ");
  b.end_record();
  b.end_record();  // a record without fields: just BOS
  TokenDatasetContents c;
  EXPECT_EQ(b.build(tok, "test", c), 0);
  c.info.kind = "test";
  c.info.split = "validation";
  c.info.source = "made up";
  c.info.license = "CC0";
  c.int32s["/labels"] = {1, 0, 1};
  c.attrs["label_names"] = "[\"no\",\"yes\"]";
  return c;
}

TEST(TokenDataset, WriteReadRoundTrip) {
  const data::Tokenizer& tok = testing::tok512();
  TempDir dir;
  const std::string path = dir.file("sub/ds.h5");  // parent folder is created
  TokenDatasetContents c = small_contents(tok);
  data::write_token_dataset(path, c);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  const TokenDataset ds = TokenDataset::open(path, tok);
  EXPECT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.num_tokens(), static_cast<int64_t>(c.tokens.size()));
  EXPECT_EQ(std::vector<int64_t>(ds.offsets()), c.offsets);
  EXPECT_EQ(ds.info().kind, "test");
  EXPECT_EQ(ds.info().split, "validation");
  EXPECT_EQ(ds.info().source, "made up");
  EXPECT_EQ(ds.info().license, "CC0");
  EXPECT_EQ(ds.info().vocab_size, 512);
  EXPECT_EQ(ds.info().tokenizer_sha256, tok.sha256());
  EXPECT_EQ(ds.info().format_version, data::kDatasetFormatVersion);
  EXPECT_EQ(ds.attr("label_names"), "[\"no\",\"yes\"]");
  EXPECT_EQ(ds.int32s("/labels"), (std::vector<int32_t>{1, 0, 1}));
  EXPECT_EQ(ds.record(2).size(), 1u);
  EXPECT_EQ(ds.record(0)[0], tok.bos_id());
  // Every field's span decodes back to exactly its text.
  for (const char* field : {"question", "answer"}) {
    const std::vector<std::string> texts = ds.texts(field);
    ASSERT_EQ(ds.span_rows(field), 2);
    for (int64_t r = 0; r < 2; ++r) EXPECT_EQ(tok.decode(ds.span_tokens(field, r)), texts[r]);
  }
  EXPECT_EQ(ds.texts("answer")[1], "Nothing\nat all  ");
  EXPECT_EQ(ds.span("question", 1).begin, ds.span("question", 1).end);  // empty field
}

TEST(TokenDataset, OtherTokenizerIsAnError) {
  TempDir dir;
  TokenDatasetContents c = small_contents(testing::tok512());
  data::write_token_dataset(dir.file("ds.h5"), c);
  const std::string other(64, 'f');
  const std::string msg = error_of([&] { TokenDataset::open(dir.file("ds.h5"), other); });
  EXPECT_TRUE(contains(msg, "dataset " + dir.file("ds.h5") + " was made with tokenizer sha256 " +
                                testing::tok512().sha256() + ", but the tokenizer given is " +
                                other))
      << msg;
}

TEST(TokenDataset, InvalidContentsLeaveNothing) {
  TempDir dir;
  const std::string path = dir.file("bad.h5");
  TokenDatasetContents c = small_contents(testing::tok512());
  TokenDatasetContents not_monotone = c;
  std::swap(not_monotone.offsets[1], not_monotone.offsets[2]);
  EXPECT_TRUE(
      contains(error_of([&] { data::write_token_dataset(path, not_monotone); }), "not monotone"));
  TokenDatasetContents bad_span = c;
  bad_span.spans["answer"][3] = static_cast<int64_t>(c.tokens.size()) + 1;
  EXPECT_TRUE(contains(error_of([&] { data::write_token_dataset(path, bad_span); }), "outside"));
  TokenDatasetContents bad_id = c;
  bad_id.tokens[1] = 512;
  EXPECT_TRUE(contains(error_of([&] { data::write_token_dataset(path, bad_id); }), "vocabulary"));
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(TokenDataset, FailureWhileWritingRemovesTheTemporaryFile) {
  TempDir dir;
  const std::string path = dir.file("ds.h5");
  TokenDatasetContents c = small_contents(testing::tok512());
  c.int32s["/tokens"] = {1};  // a second /tokens: HDF5 refuses it halfway through the write
  EXPECT_THROW(data::write_token_dataset(path, c), Error);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(TokenDataset, CorruptFilesAreErrorsNamingThem) {
  TempDir dir;
  const std::string path = dir.file("ds.h5");
  data::write_token_dataset(path, small_contents(testing::tok512()));
  const std::string sha = testing::tok512().sha256();
  // Offsets that no longer end at the token count.
  {
    h5::File f(path, h5::File::Mode::create);
    f.write("/tokens", {3}, std::vector<int32_t>{1, 5, 6}.data());
    f.write("/offsets", {2}, std::vector<int64_t>{0, 4}.data());
    f.set_attr("/", "format_version", int64_t{1});
    for (const char* key : {"kind", "source", "license", "split"}) f.set_attr("/", key, "x");
    f.set_attr("/", "tokenizer_sha256", sha);
    f.set_attr("/", "vocab_size", int64_t{512});
  }
  std::string msg = error_of([&] { TokenDataset::open(path, sha); });
  EXPECT_TRUE(contains(msg, path) && contains(msg, "/offsets ends at 4")) << msg;
  // A required dataset missing.
  {
    h5::File f(path, h5::File::Mode::create);
    f.set_attr("/", "format_version", int64_t{1});
    f.set_attr("/", "tokenizer_sha256", sha);
    for (const char* key : {"kind", "source", "license", "split"}) f.set_attr("/", key, "x");
    f.set_attr("/", "vocab_size", int64_t{512});
  }
  msg = error_of([&] { TokenDataset::open(path, sha); });
  EXPECT_TRUE(contains(msg, path) && contains(msg, "/tokens")) << msg;
  // Not HDF5 at all.
  testing::write_file(path, "plain text");
  msg = error_of([&] { TokenDataset::open(path, sha); });
  EXPECT_TRUE(contains(msg, path)) << msg;
}

TEST(ParallelEncode, EqualsWholeEncodeOnALongBook) {
  const data::Tokenizer& tok = testing::tok512();
  std::string book = testing::slurp(
      testing::source_path("tests/data/datasets/books/gutenberg/pg98_a_tale_of_two_cities.txt"));
  book += book + book;  // ~175 KB: several 64 KiB pieces
  const std::vector<std::string> texts = {book, "short one", "", "\n\nstarts with newlines"};
  const auto ids = data::encode_parallel(tok, texts, "test");
  ASSERT_EQ(ids.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(ids[i], tok.encode(texts[i], false, false)) << i;
    EXPECT_EQ(tok.decode(ids[i]), texts[i]);
  }
}

TEST(ParallelEncode, EqualsWholeEncodeWithLlamaTokenizer) {
  SKIP_WITHOUT_SHARED("books/gutenberg/pg345_dracula.txt");
  const data::Tokenizer tok =
      data::Tokenizer::load(testing::shared_data("tokenizer/tokenizer.model"));
  ASSERT_TRUE(tok.can_split_at_newlines());
  const std::vector<std::string> texts = {
      data::read_text_file(testing::shared_data("books/gutenberg/pg345_dracula.txt"))};
  const auto ids = data::encode_parallel(tok, texts, "dracula");
  EXPECT_EQ(ids[0], tok.encode(texts[0], false, false));
  EXPECT_EQ(tok.decode(ids[0]), texts[0]);
}

TEST(TextFile, Utf8AndLatin1) {
  EXPECT_TRUE(data::is_valid_utf8("plain ✓ 🙂"));
  EXPECT_FALSE(data::is_valid_utf8("caf\xe9"));
  EXPECT_FALSE(data::is_valid_utf8("\xc0\xaf"));      // overlong '/'
  EXPECT_FALSE(data::is_valid_utf8("\xed\xa0\x80"));  // surrogate
  EXPECT_FALSE(data::is_valid_utf8("\xe2\x9c"));      // truncated
  EXPECT_EQ(data::latin1_to_utf8("caf\xe9"), "caf\xc3\xa9");
  TempDir dir;
  testing::write_file(dir.file("l1.txt"), "na\xefve\r\nline 2\n");
  EXPECT_EQ(data::read_text_file(dir.file("l1.txt")), "na\xc3\xafve\r\nline 2\n");
  const auto lines = data::split_lines("a\r\nb\n\nc");
  EXPECT_EQ(lines, (std::vector<std::string_view>{"a", "b", "", "c"}));
  EXPECT_THROW(data::read_text_file(dir.file("missing.txt")), Error);
}

}  // namespace
}  // namespace condense
