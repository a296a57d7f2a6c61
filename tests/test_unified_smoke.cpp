// The unified comparison's pipeline at smoke scale (experiments/configs/unified/smoke.cfg),
// through the `condense` binary: synthetic instructions, tokenized with a pretrained
// model's tokenizer (llama2.c stories260K) for gist and, as one-context dialogues, for
// CCM; one sweep over both methods, every run fine-tuned from that same model; then
// `condense report`, whose table of the seen split has a row per run with the
// quality and memory each evaluation recorded. A second sweep skips every run.
#include <gtest/gtest.h>

#include <filesystem>

#include "eval/csv.h"
#include "tests/cli_test_util.h"
#include "tests/test_data_util.h"

namespace condense::testing {
namespace {

namespace fs = std::filesystem;

TEST(UnifiedSmoke, SweepOverMethodsFromOneBaseAndReport) {
  TempDir dir;
  const std::string d = dir.file("data"), base = dir.file("stories");
  auto ok = [&](const std::vector<std::string>& args) {
    const CommandResult r = run_condense(args, dir.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r;
  };
  ok({"import", "llama2c", "--model", source_path("tests/data/tinyllamas/stories260K.bin"),
      "--tokenizer", source_path("tests/data/tinyllamas/tok512.bin"), "--out", base});
  const std::string tok = base + "/tokenizer.model";
  ok({"data", "synth-instruct", "--out", d + "/json", "--train", "400", "--valid", "16"});
  ok({"data", "instruct", "--prepare.train_json", d + "/json/alpaca_plus_train.json",
      "--prepare.valid_dir", d + "/json", "--prepare.tokenizer", tok, "--data.dir",
      d + "/instruct"});
  for (const std::string split : {"train", "validation_seen"})
    ok({"data", "instruct-dialogue", "--json", d + "/json/alpaca_plus_" + split + ".json",
        "--tokenizer", tok, "--split", split, "--out", d + "/dialogue-" + split + ".h5"});
  ASSERT_FALSE(::testing::Test::HasFailure());

  // The config's data paths are under out/unified-smoke/data: point them here.
  std::string cfg = slurp(source_path("experiments/configs/unified/smoke.cfg"));
  for (size_t at; (at = cfg.find("out/unified-smoke/data")) != std::string::npos;)
    cfg.replace(at, 22, d);
  cfg += "\n[ccm:data]\ntokenizer = " + tok + "\n";
  write_file(dir.file("smoke.cfg"), cfg);
  const std::vector<std::string> sweep = {"sweep",          "--config",   dir.file("smoke.cfg"),
                                          "--sweep.dir",    dir.file("u"), "--train.init_from",
                                          base};
  ok(sweep);
  const CommandResult report = ok({"report", dir.file("u"), "--out", dir.file("report")});
  ASSERT_FALSE(::testing::Test::HasFailure());

  const eval::CsvTable t = eval::read_csv(dir.file("report") + "/instruct_seen.csv");
  std::map<std::string, std::string> method_of;  // run -> method, for its exact-match row
  const auto col = [&](const std::string& name) {
    return std::find(t.header.begin(), t.header.end(), name) - t.header.begin();
  };
  for (const auto& row : t.rows)
    if (row[col("metric")] == "exact_match") method_of[row[col("run")]] = row[col("method")];
  EXPECT_EQ(method_of, (std::map<std::string, std::string>{{"gist-gist-1", "gist"},
                                                           {"gist-pos_control-1", "gist"},
                                                           {"gist-neg_control-1", "gist"},
                                                           {"ccm-concat_recur-1", "ccm"},
                                                           {"ccm-no-1", "ccm"},
                                                           {"ccm-neg_control-1", "ccm"}}));
  EXPECT_NE(report.out.find("instruct_seen"), std::string::npos) << report.out;
  EXPECT_NE(slurp(dir.file("report") + "/instruct_seen.svg").find("<svg"),
            std::string::npos);

  const CommandResult again = ok(sweep);
  size_t skipped = 0;
  for (size_t at = 0; (at = again.err.find("finished, skipped", at)) != std::string::npos; ++at)
    ++skipped;
  EXPECT_EQ(skipped, 6u) << again.err;
}

}  // namespace
}  // namespace condense::testing
