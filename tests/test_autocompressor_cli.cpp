// AutoCompressor and RMT through the `condense` binary: the smoke configs train from
// stories260K on a book sample (summary table starting at the EOS embedding, then
// trained) and end with the last_segment task on a held-out book, which `condense
// eval` reproduces (its icl task writes a summary and result records); `sweep`
// tabulates a grid and skips finished runs, and tools/ac_results.py builds the results
// table from it; `bench` reports its rows; bad input is a one-line error that writes
// nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "core/checkpoint.h"
#include "datasets/tokenizer.h"
#include "tests/cli_test_util.h"

namespace condense::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTable = "autocompressor.embed_summary.weight";

class AutoCompressorCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    make_sample_book_data(*dir_);
    ASSERT_FALSE(HasFailure());
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string model() { return dir_->file("stories"); }
  static std::string tokenizer() { return model() + "/tokenizer.model"; }
  static std::string train() { return dir_->file("train.h5"); }
  static std::string valid() { return dir_->file("valid.h5"); }

  // A smoke config with this suite's model, data (valid_path "": no evaluation) and run
  // directory.
  static std::vector<std::string> smoke(const std::string& config, const std::string& run,
                                        const std::string& valid_path = valid(),
                                        const std::string& init_from = model()) {
    return {"train",
            "--config",
            source_path("experiments/configs/autocompressor/" + config),
            "--data.train",
            train(),
            "--data.valid",
            valid_path,
            "--data.tokenizer",
            tokenizer(),
            "--train.init_from",
            init_from,
            "--run.dir",
            run};
  }
  static std::vector<std::string> with(std::vector<std::string> args,
                                       const std::vector<std::string>& more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  static TempDir* dir_;
};
TempDir* AutoCompressorCli::dir_ = nullptr;

TEST_F(AutoCompressorCli, SmokeConfigTrainsTheSummaryTableAndScoresTheLastSegment) {
  const std::string run = dir_->file("run");
  const auto r = run_condense(smoke("smoke.cfg", run), dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("autocompressor kappa 4 accumulated, 2 substeps x 2 random segments"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(logged_losses(run).size(), 4u);
  const CheckpointContents end = read_checkpoint(run + "/checkpoints/step_00000020.h5", false);
  ASSERT_TRUE(end.params.count(kTable));
  EXPECT_EQ(end.params.at(kTable).shape(), (Shape{4, 64}));
  // The evaluation: both budgets, σ of κ vectors per compressed segment of 64 tokens.
  const auto j = nlohmann::json::parse(slurp(run + "/eval/last_segment-20.json"));
  EXPECT_EQ(j["windows"].get<int64_t>(), 16);
  EXPECT_EQ(j["predictions"].get<int64_t>(), 16 * 63);
  ASSERT_EQ(j["contexts"].size(), 2u);
  EXPECT_EQ(j["contexts"][0]["softprompt_vectors"].get<int64_t>(), 4);
  EXPECT_EQ(j["contexts"][1]["softprompt_vectors"].get<int64_t>(), 8);
  for (const auto& c : j["contexts"]) {
    EXPECT_GT(c["ppl_compressed"].get<double>(), 1.0);
    // The control: every window of the 2 batches of 8 read another window's σ.
    EXPECT_EQ(c["other_context_predictions"].get<int64_t>(), 16 * 63);
    EXPECT_NE(c["ppl_other_context"].get<double>(), c["ppl_compressed"].get<double>());
    // Seeing the context in full helps the pretrained model over no context.
    EXPECT_LT(c["ppl_full"].get<double>(), j["ppl_none"].get<double>());
  }
  const size_t at = r.err.find("last_segment: ppl none");
  ASSERT_NE(at, std::string::npos) << r.err;
  // `condense eval` on the finished run scores the same.
  const auto e = run_condense(
      {"eval", "--method", "autocompressor", "--task", "last_segment", "--run.dir", run,
       "--data.train", train(), "--data.valid", valid(), "--data.tokenizer", tokenizer()},
      dir_->path());
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(e.out, r.err.substr(at, r.err.find('\n', at) - at) + "\n");

  // The icl task on the same run: an SST-2 sample as `condense data icl` writes it, its
  // three conditions each a result record (calibrated and not) beside the summary.
  const std::string sst2 = dir_->file("sst2.h5");
  ASSERT_EQ(run_condense({"data", "icl", "--task", "sst2", "--input",
                          source_path("tests/data/datasets/icl/sst2/test.tsv"), "--tokenizer",
                          tokenizer(), "--out", sst2},
                         dir_->path())
                .exit_code,
            0);
  const std::vector<std::string> icl = {"eval",
                                        "--method",
                                        "autocompressor",
                                        "--task",
                                        "icl",
                                        "--run.dir",
                                        run,
                                        "--data.train",
                                        train(),
                                        "--data.tokenizer",
                                        tokenizer(),
                                        "--autocompressor.icl_queries",
                                        "10"};
  const auto i = run_condense(with(icl, {"--data.icl", sst2 + "," + sst2 + ",3"}), dir_->path());
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_EQ(i.out.rfind("icl: sst2 compressed ", 0), 0u) << i.out;
  const auto ij = nlohmann::json::parse(slurp(run + "/eval/icl-20.json"));
  ASSERT_EQ(ij["tasks"].size(), 1u);
  EXPECT_EQ(ij["tasks"][0]["k"].get<int64_t>(), 3);
  EXPECT_EQ(ij["tasks"][0]["queries"].get<int64_t>(), 10);
  EXPECT_EQ(ij["tasks"][0]["conditions"].size(), 3u);
  const std::string records = slurp(run + "/results.jsonl");
  for (const char* condition : {"compressed", "plain", "none"})
    EXPECT_NE(records.find(std::string("\"condition\":\"") + condition + "\""), std::string::npos)
        << records;
  // accuracy and accuracy_uncalibrated per condition (besides the last_segment records).
  size_t icl_records = 0;
  for (size_t at = 0; (at = records.find("\"task\":\"icl_sst2\"", at)) != std::string::npos; ++at)
    ++icl_records;
  EXPECT_EQ(icl_records, 6u) << records;
  // A set without its queries is a one-line error.
  expect_one_line_error(
      run_condense(with(icl, {"--data.icl", sst2}), dir_->path()),
      "autocompressor: --data.icl expects DEMOS.h5,QUERIES.h5[,K], got '" + sst2 + "'");
}

TEST_F(AutoCompressorCli, TheSummaryTableStartsAsTheEosEmbeddingAndTrains) {
  // lr 0: the step leaves every weight as it started.
  const std::string still = dir_->file("lr0");
  auto r = run_condense(
      with(smoke("smoke.cfg", still, ""), {"--optim.lr", "0", "--train.steps", "1"}), dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const CheckpointContents c = read_checkpoint(still + "/checkpoints/step_00000001.h5", false);
  const int64_t eos = data::Tokenizer::load(tokenizer()).eos_id();
  const std::vector<float> e = c.params.at("model.embed_tokens.weight").to_vector();
  const std::vector<float> eos_row(e.begin() + eos * 64, e.begin() + (eos + 1) * 64);
  const std::vector<float> table = c.params.at(kTable).to_vector();
  for (int64_t j = 0; j < 4; ++j)
    EXPECT_EQ(std::vector<float>(table.begin() + j * 64, table.begin() + (j + 1) * 64), eos_row)
        << "row " << j;
  // Trained (the smoke run): the rows moved.
  const std::string run = dir_->file("trained");
  r = run_condense(with(smoke("smoke.cfg", run, ""), {"--train.steps", "3"}), dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<float> trained =
      read_checkpoint(run + "/checkpoints/step_00000003.h5", false).params.at(kTable).to_vector();
  EXPECT_NE(std::vector<float>(trained.begin(), trained.begin() + 64), eos_row);
}

TEST_F(AutoCompressorCli, LoraTrainsTheAdapterAndTableOverAFrozenBase) {
  const std::string run = dir_->file("lora");
  const auto r = run_condense(
      with(smoke("smoke.cfg", run, ""), {"--autocompressor.lora_r", "4", "--train.steps", "3"}),
      dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("LoRA r 4 on q,k,v,o, base frozen"), std::string::npos) << r.err;
  const CheckpointContents start = read_checkpoint(model() + "/model.h5", false);
  const CheckpointContents end = read_checkpoint(run + "/checkpoints/step_00000003.h5", false);
  for (const auto& [name, t] : start.params) {
    ASSERT_TRUE(end.params.count(name)) << name;
    EXPECT_EQ(end.params.at(name).to_vector(), t.to_vector()) << name;
  }
  const auto lora_b = end.params.at("model.layers.0.self_attn.v_proj.lora_B.weight").to_vector();
  EXPECT_NE(lora_b, std::vector<float>(lora_b.size(), 0.0f));
  ASSERT_TRUE(end.params.count(kTable));
}

// The random segmenting of batch i follows from the run's seed, i and the model's
// position limit alone, so a run stopped and resumed draws the same segments and ends
// with the same weights. Windows of 1024 tokens: substeps of 512 tokens, more than the
// 496 positions a segment may take (stories260K's 512 less 16 soft-prompt and <Sum>
// rows), so the limit shapes the cuts.
TEST_F(AutoCompressorCli, AResumedRunEqualsTheUninterruptedOne) {
  const std::vector<std::string> four = {"--train.steps",   "4",    "--train.save_every", "2",
                                         "--train.seq_len", "1024", "--train.batch_size", "2"};
  const std::string whole = dir_->file("whole"), parts = dir_->file("parts");
  ASSERT_EQ(run_condense(with(smoke("smoke.cfg", whole, ""), four), dir_->path()).exit_code, 0);
  auto r = run_condense(with(smoke("smoke.cfg", parts, ""), with(four, {"--train.stop_at", "2"})),
                        dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_condense(with(smoke("smoke.cfg", parts, ""), with(four, {"--resume"})), dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const CheckpointContents a = read_checkpoint(whole + "/checkpoints/step_00000004.h5", false);
  const CheckpointContents b = read_checkpoint(parts + "/checkpoints/step_00000004.h5", false);
  ASSERT_EQ(a.params.size(), b.params.size());
  for (const auto& [name, t] : a.params)
    EXPECT_EQ(b.params.at(name).to_vector(), t.to_vector()) << name;
  EXPECT_EQ(logged_by_step(whole, "loss").at(4), logged_by_step(parts, "loss").at(4));
}

TEST_F(AutoCompressorCli, RmtSmokeConfigTrainsWithFixedSegmentsAndReplacedSummaries) {
  const std::string run = dir_->file("rmt");
  const auto r =
      run_condense(with(smoke("rmt_smoke.cfg", run), {"--train.steps", "8"}), dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("rmt kappa 4 replaced, 1 substeps x 4 fixed segments"), std::string::npos)
      << r.err;
  const auto j = nlohmann::json::parse(slurp(run + "/eval/last_segment-8.json"));
  EXPECT_EQ(j["method"], "rmt");
  EXPECT_FALSE(j["accumulate"].get<bool>());
  // Replacement: σ is the last segment's κ vectors, whatever the context.
  for (const auto& c : j["contexts"]) EXPECT_EQ(c["softprompt_vectors"].get<int64_t>(), 4);
}

TEST_F(AutoCompressorCli, SweepTrainsEvaluatesTabulatesAndSkipsFinishedRuns) {
  const std::string sweep = dir_->file("sweep");
  std::vector<std::string> args = smoke("smoke.cfg", dir_->file("unused"));
  args[0] = "sweep";
  args.resize(args.size() - 2);  // the sweep names the runs' directories
  args.insert(
      args.end(),
      {"--train.steps", "2", "--train.save_every", "2", "--sweep.dir", sweep, "--sweep.grid",
       "autocompressor.mode=compress autocompressor.kappa=2 autocompressor.accumulate="
       "true,false; autocompressor.mode=full_attention"});
  auto r = run_condense(args, dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string md = slurp(sweep + "/last_segment.md");
  EXPECT_NE(md.find("| compress-2-true | 2 | compress | 2 | yes | 128 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| compress-2-false | 2 | compress | 2 | no | 64 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| full_attention | 2 | full_attention | 0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 4 |\n"), std::string::npos) << md;  // 2 segments of 64, accumulated
  EXPECT_NE(slurp(sweep + "/last_segment.csv").find("compress-2-false,2,autocompressor"),
            std::string::npos);
  r = run_condense(args, dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("compress-2-true: finished, skipped"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(sweep + "/last_segment.md"), md);

  // tools/ac_results.py (docs/results/autocompressor) reads the same runs: each row is
  // its run's evaluation, "no context" the full-attention run's model without context,
  // and the copies in runs/ alone rebuild the same table.
  const std::string out = dir_->file("results");
  const std::string tool = "python3 " + shell_quote(source_path("tools/ac_results.py")) +
                           " --out " + shell_quote(out) + " ";
  const CommandResult t = run_shell(tool + shell_quote(sweep), dir_->path());
  ASSERT_EQ(t.exit_code, 0) << t.err;
  const std::string results = slurp(out + "/results.md");
  const auto j = nlohmann::json::parse(slurp(sweep + "/compress-2-false/eval/last_segment-2.json"));
  char row[160];
  std::snprintf(row, sizeof row, "| RMT κ=2 | 2 | %.3f | %.3f | 2 | %.3f | %.3f |",
                j["contexts"][0]["ppl_compressed"].get<double>(),
                j["contexts"][1]["ppl_compressed"].get<double>(), j["ppl_none"].get<double>(),
                j["contexts"][1]["ppl_other_context"].get<double>());
  EXPECT_NE(results.find(row), std::string::npos) << row << "\n" << results;
  const auto fa = nlohmann::json::parse(slurp(sweep + "/full_attention/eval/last_segment-2.json"));
  std::snprintf(row, sizeof row, "| no context | 2 | %.3f | %.3f | 0 |",
                fa["ppl_none"].get<double>(), fa["ppl_none"].get<double>());
  EXPECT_NE(results.find(row), std::string::npos) << row << "\n" << results;
  EXPECT_NE(results.find("| AutoCompressor κ=2 | 2 |"), std::string::npos) << results;
  EXPECT_TRUE(fs::exists(out + "/results.svg"));
  ASSERT_TRUE(fs::exists(out + "/runs/compress-2-true/eval/last_segment-2.json"));
  EXPECT_FALSE(fs::exists(out + "/runs/compress-2-true/checkpoints"));
  ASSERT_EQ(run_shell(tool + shell_quote(out + "/runs"), dir_->path()).exit_code, 0);
  EXPECT_EQ(slurp(out + "/results.md"), results);
}

TEST_F(AutoCompressorCli, BadInputIsAOneLineErrorThatWritesNothing) {
  int n = 0;
  auto expect_refused = [&](const std::string& config, const std::vector<std::string>& more,
                            const std::string& needle) {
    const std::string run = dir_->file("bad" + std::to_string(++n));
    expect_one_line_error(run_condense(with(smoke(config, run), more), dir_->path()), needle);
    EXPECT_FALSE(fs::exists(run)) << needle;
  };
  expect_refused("smoke.cfg", {"--autocompressor.kappa", "0"}, "kappa must be at least 1");
  expect_refused("rmt_smoke.cfg", {"--rmt.kappa", "-3"}, "kappa must be at least 1");
  expect_refused("rmt_smoke.cfg", {"--rmt.segment_lengths", "64,0,64"}, "at least 1");
  expect_refused("smoke.cfg", {"--autocompressor.segments", "100"}, "cannot be cut");
  // Documents shorter than the windows the segments need (training and evaluation).
  expect_refused("smoke.cfg", {"--train.seq_len", "40000"}, "no document of");
  expect_refused("smoke.cfg", {"--autocompressor.eval_contexts", "64,50000"},
                 "the last_segment task takes");
  // A checkpoint whose summary table has another width than --kappa asks for.
  const std::string first = dir_->file("kappa4");
  ASSERT_EQ(run_condense(with(smoke("smoke.cfg", first, ""), {"--train.steps", "1"}), dir_->path())
                .exit_code,
            0);
  expect_one_line_error(
      run_condense(with(smoke("smoke.cfg", dir_->file("bad-width"), valid(), first),
                        {"--autocompressor.kappa", "8"}),
                   dir_->path()),
      "is [4,64], expected [8,64]");
  EXPECT_FALSE(fs::exists(dir_->file("bad-width")));
  expect_refused("smoke.cfg", {"--autocompressor.mode", "compresss"}, "full_attention");
  // No segments, no substeps, evaluation segments of 0 tokens.
  expect_refused("smoke.cfg", {"--autocompressor.segments", "0"},
                 "segments per substep must be at least 1, got 0");
  expect_refused("smoke.cfg", {"--autocompressor.substeps", "0"},
                 "substeps must be at least 1, got 0");
  expect_refused("rmt_smoke.cfg", {"--rmt.eval_segment", "0"}, "eval_segment");
  // `condense eval` at another κ than the run's table: the table's shape and the
  // model's, and no evaluation written.
  expect_one_line_error(
      run_condense({"eval", "--method", "autocompressor", "--task", "last_segment", "--run.dir",
                    first, "--data.train", train(), "--data.valid", valid(), "--data.tokenizer",
                    tokenizer(), "--autocompressor.kappa", "8"},
                   dir_->path()),
      "tensor autocompressor.embed_summary.weight is [4,64], the model's is [8,64]");
  EXPECT_FALSE(fs::exists(first + "/eval"));
}

// The bench on a tiny random model: the rows' soft prompts and memory follow from the
// shapes (d64, 2 layers of 4 KV heads: 2 x 2 x 64 x 4 bytes = 1 KiB of keys/values per
// token), accumulated (AutoCompressor) and replaced (RMT).
TEST_F(AutoCompressorCli, BenchReportsCompressionAndBothAnswersPerContext) {
  const std::vector<std::string> tiny = {
      "--model.dim",        "64", "--model.n_layers",      "2",   "--model.n_heads",       "4",
      "--model.n_kv_heads", "4",  "--model.ffn_dim",       "172", "--model.vocab_size",    "512",
      "--bench.segment",    "32", "--bench.prompt_tokens", "4",   "--bench.answer_tokens", "4",
      "--bench.repeats",    "1"};
  auto r = run_condense(with(with({"bench", "--method", "autocompressor"}, tiny),
                             {"--autocompressor.kappa", "4", "--bench.contexts", "64,96"}),
                        dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // N = 64: 2 segments, σ of 8 vectors; the answer reads 8 + 8 or 64 + 8 entries; σ is
  // 8 x 64 floats = 2 KiB; compressing holds at most 4 + 32 + 4 entries, the prefill 64.
  EXPECT_NE(r.out.find("| 64 | 8 | "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" | 16 / 72 | 2 | 40 / 64 |\n"), std::string::npos) << r.out;
  // N = 96: 3 segments, σ of 12.
  EXPECT_NE(r.out.find("| 96 | 12 | "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" | 20 / 104 | 3 | 44 / 96 |\n"), std::string::npos) << r.out;
  r = run_condense(with(with({"bench", "--method", "rmt"}, tiny),
                        {"--rmt.kappa", "4", "--bench.contexts", "64,96"}),
                   dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("κ 4 replaced"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| 96 | 4 | "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" | 12 / 104 | 1 | 40 / 96 |\n"), std::string::npos) << r.out;
  // Bad input: one line, non-zero exit.
  expect_one_line_error(
      run_condense(with(with({"bench", "--method", "autocompressor"}, tiny),
                        {"--autocompressor.kappa", "0", "--bench.contexts", "64"}),
                   dir_->path()),
      "--autocompressor.kappa must be positive, got 0");
  expect_one_line_error(run_condense(with(with({"bench", "--method", "autocompressor"}, tiny),
                                          {"--bench.contexts", "64,0"}),
                                     dir_->path()),
                        "--bench.contexts: 0 in '64,0' must be at least 1");
  expect_one_line_error(
      run_condense(with(with({"bench", "--method", "autocompressor"}, tiny),
                        {"--bench.contexts", "9000", "--autocompressor.kappa", "4"}),
                   dir_->path()),
      "needs 9008 positions, more than --model.max_seq_len 8192");
}

}  // namespace
}  // namespace condense::testing
