// The `condense data ...` commands end to end: outputs, one-line errors, nothing
// left behind on failure, and `data prepare` over the shipped samples.
#include <gtest/gtest.h>

#include <filesystem>

#include "datasets/token_dataset.h"
#include "test_data_util.h"

namespace condense {
namespace {

namespace fs = std::filesystem;
using testing::run_condense;
using testing::TempDir;

std::string sample(const std::string& rel) {
  return testing::source_path("tests/data/datasets/" + rel);
}

// A failed command: exit 1, one stderr line that starts "condense: error: <start>",
// and neither the output nor its temporary file on disk.
void expect_clean_failure(const testing::CommandResult& r, const std::string& start,
                          const std::string& out) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("condense: error: " + start, 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".tmp"));
}

TEST(DataCli, TextAndTokenizer) {
  TempDir dir;
  testing::write_file(dir.file("a.txt"), "Once upon a time.\nThere was a cat.\n\nThe end.\n");
  testing::write_file(dir.file("b.txt"), "Second file.\n");
  const std::string tok = testing::tok512_path();
  auto r = run_condense("data text --input " + dir.file("a.txt") + " " + dir.file("b.txt") +
                        " --tokenizer " + tok + " --out " + dir.file("t.h5") + " --license CC0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  data::TokenDataset ds = data::TokenDataset::open(dir.file("t.h5"), testing::tok512());
  EXPECT_EQ(ds.size(), 2);
  EXPECT_EQ(ds.info().kind, "text");
  EXPECT_EQ(ds.info().license, "CC0");
  EXPECT_EQ(ds.record(1)[0], 1);  // BOS
  EXPECT_EQ(testing::tok512().decode(ds.span_tokens("text", 0)),
            "Once upon a time.\nThere was a cat.\n\nThe end.\n");

  r = run_condense("data text --doc-per-line --input " + dir.file("a.txt") + " --tokenizer " + tok +
                   " --out " + dir.file("lines.h5"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ds = data::TokenDataset::open(dir.file("lines.h5"), testing::tok512());
  EXPECT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.texts("title")[2], dir.file("a.txt") + ":4");

  r = run_condense("data tokenizer --input " + dir.file("a.txt") + " " + dir.file("b.txt") +
                   " --vocab-size 320 --out " + dir.file("m"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(data::Tokenizer::load(dir.file("m.model")).vocab_size(), 320);
}

TEST(DataCli, MalformedInputsFailCleanly) {
  TempDir dir;
  const std::string tok = " --tokenizer " + testing::tok512_path();
  const std::string out = dir.file("o.h5");
  testing::write_file(dir.file("bad.json"), "[{\"instruction\": \"a\",\n \"input\": }]");
  expect_clean_failure(
      run_condense("data alpaca --input " + dir.file("bad.json") + tok + " --out " + out),
      dir.file("bad.json") + ":2: bad JSON", out);
  testing::write_file(dir.file("missing.json"), "[{\"instruction\": \"a\", \"output\": \"b\"}]");
  expect_clean_failure(
      run_condense("data alpaca --input " + dir.file("missing.json") + tok + " --out " + out),
      dir.file("missing.json") + ":1: record 0 has no \"input\" field", out);
  testing::write_file(dir.file("s.tsv"), "sentence\tlabel\nfine .\t1\nbad .\tmaybe\n");
  expect_clean_failure(
      run_condense("data icl --task sst2 --input " + dir.file("s.tsv") + tok + " --out " + out),
      dir.file("s.tsv") + ":3: unknown label 'maybe'", out);
  testing::write_file(dir.file("a.tsv"), "World news\tWorld\nno label here\n");
  expect_clean_failure(
      run_condense("data icl --task agnews --input " + dir.file("a.tsv") + tok + " --out " + out),
      dir.file("a.tsv") + ":2: expected text<TAB>label", out);
  testing::write_file(dir.file("d.txt"), "Hi __eou__ there __eou__\n__eou__\n");
  expect_clean_failure(
      run_condense("data dialogue --input " + dir.file("d.txt") + tok + " --out " + out),
      dir.file("d.txt") + ":2: empty turn 1", out);
  expect_clean_failure(run_condense("data passkey --lengths 100,x" + tok + " --out " + out),
                       "bad value for option --lengths: 'x'", out);
  expect_clean_failure(run_condense("data text --input " + dir.file("a.tsv") + " --tokenizer " +
                                    dir.file("none.model") + " --out " + out),
                       dir.file("none.model") + ": no such tokenizer model file", out);
}

TEST(DataCli, PrepareBuildsEverySampleDataset) {
  TempDir dir;
  const std::string out = dir.file("prepared");
  const auto r =
      run_condense("data prepare --from " + sample("") + " --out " + out + " --tokenizer " +
                   testing::tok512_path() + " --passkey-lengths 512,1024 --passkey-per-length 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::pair<std::string, int64_t>> want = {
      {"alpaca_plus/validation_seen", 1000},
      {"alpaca_plus/validation_unseen", 1000},
      {"alpaca_plus/validation_human", 252},
      {"alpaca_plus/train_approx", 300},
      {"dialogue/dailydialog_validation", 300},
      {"books/gutenberg", 1},
      {"books/wikitext2_raw_test", 3},
      {"books/wikitext2_valid", 3},
      {"icl/sst2_test", 872},
      {"icl/agnews_test", 300},
      {"icl/trec_train", 200},
      {"icl/trec_test", 500},
      {"icl/mr", 300},
      {"icl/subj", 300},
      {"icl/rte1_dev", 150},
      {"icl/rte3_dev", 150},
      {"passkey/passkey", 4}};
  for (const auto& [name, records] : want) {
    const data::TokenDataset ds =
        data::TokenDataset::open(out + "/" + name + ".h5", testing::tok512());
    EXPECT_EQ(ds.size(), records) << name;
    EXPECT_FALSE(ds.info().source.empty()) << name;
    EXPECT_FALSE(ds.info().license.empty()) << name;
    EXPECT_NE(r.out.find("| " + name + " | " + std::to_string(records) + " |"), std::string::npos)
        << r.out;
  }
  EXPECT_EQ(
      data::TokenDataset::open(out + "/icl/sst2_test.h5", testing::tok512()).attr("label_names"),
      "[\"negative\",\"positive\"]");
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(out)) files += e.is_regular_file();
  EXPECT_EQ(files, want.size());  // nothing else, no .tmp left

  expect_clean_failure(run_condense("data prepare --from " + dir.file("nowhere") + " --out " + out +
                                    "2 --tokenizer " + testing::tok512_path()),
                       dir.file("nowhere") + ": no such input folder", out + "2");
}

}  // namespace
}  // namespace condense
