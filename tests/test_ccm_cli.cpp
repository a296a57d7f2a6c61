// CCM through the `condense` binary: `data recall` writes the synthetic set,
// `train --method ccm --config experiments/configs/ccm/smoke.cfg` trains on it from
// stories260K (the loss falls, the frozen base leaves the run bit-identical, the run
// ends with the dialogue task, which `condense eval` reproduces), `sweep --method ccm`
// tabulates a grid and skips finished runs, `chat --method ccm` compresses each exchange
// into the memory, and bad input (a run for another layout or base included) is a
// one-line error that writes nothing.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "core/checkpoint.h"
#include "core/tensor.h"
#include "tests/cli_test_util.h"

namespace condense::testing {
namespace {

namespace fs = std::filesystem;

class CcmCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    auto r = import_stories260k(model(), dir_->path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run_condense({"data", "recall", "--seed", "1", "--dialogues", "300", "--min_facts", "1",
                      "--max_facts", "4", "--tokenizer", tokenizer(), "--out", recall()},
                     dir_->path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run_condense({"data", "recall", "--seed", "2", "--dialogues", "40", "--min_facts", "1",
                      "--max_facts", "4", "--tokenizer", tokenizer(), "--out", valid()},
                     dir_->path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string model() { return dir_->file("model"); }
  static std::string tokenizer() { return model() + "/tokenizer.model"; }
  static std::string recall() { return dir_->file("recall.h5"); }
  static std::string valid() { return dir_->file("recall-valid.h5"); }

  // The smoke config with this suite's model, data and run directory.
  static std::vector<std::string> smoke(const std::string& run) {
    return {"train",
            "--config",
            source_path("experiments/configs/ccm/smoke.cfg"),
            "--data.train",
            recall(),
            "--data.valid",
            valid(),
            "--data.tokenizer",
            tokenizer(),
            "--train.init_from",
            model(),
            "--run.dir",
            run};
  }

  // A 2-step ccm run (no evaluation) of `attn` with n_tok <COMP> tokens.
  static std::string short_run(const std::string& name, const std::string& attn, int n_tok) {
    const std::string run = dir_->file(name);
    std::vector<std::string> args = smoke(run);
    args.erase(args.begin() + 5, args.begin() + 7);  // no --data.valid: no evaluation
    args.insert(args.end(),
                {"--data.valid", "", "--ccm.attn", attn, "--ccm.n_tok", std::to_string(n_tok),
                 "--train.steps", "2", "--train.save_every", "2"});
    const auto r = run_condense(args, dir_->path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return run;
  }

  // `condense chat --method ccm --run.dir RUN ARGS...` with `lines` on its stdin.
  static CommandResult chat(const std::string& run, const std::string& lines,
                            const std::vector<std::string>& more = {}) {
    std::string cmd = "printf " + shell_quote(lines) + " | " + shell_quote(CONDENSE_BINARY);
    for (const std::string& a : std::vector<std::string>{"chat", "--method", "ccm", "--run.dir",
                                                         run, "--chat.max_new_tokens", "6"})
      cmd.append(" ").append(shell_quote(a));
    for (const std::string& a : more) cmd.append(" ").append(shell_quote(a));
    return run_shell(cmd, dir_->path());
  }

  // The KV entries of every "memory: E KV entries, B bytes" line of a chat's stdout,
  // checking B = E x the bytes of one entry of stories260K (2 x 5 layers x 4 heads x 8 x 4).
  static std::vector<int64_t> memory_sizes(const std::string& out) {
    std::vector<int64_t> sizes;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
      long long entries = 0, bytes = 0;
      if (std::sscanf(line.c_str(), "memory: %lld KV entries, %lld bytes", &entries, &bytes) != 2)
        continue;
      EXPECT_EQ(bytes, entries * 1280) << line;
      sizes.push_back(entries);
    }
    return sizes;
  }

  static TempDir* dir_;
};
TempDir* CcmCli::dir_ = nullptr;

TEST_F(CcmCli, SmokeConfigTrainsTheAdapterOverAFrozenBase) {
  const std::string run = dir_->file("run");
  const auto r = run_condense(smoke(run), dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ccm concat_recur n_tok 2"), std::string::npos) << r.err;
  const auto losses = logged_losses(run);
  ASSERT_EQ(losses.size(), 6u);
  EXPECT_LT(losses.back().second, losses.front().second - 0.5);
  // The base is the imported model, bit for bit; the adapter and the table were trained.
  const CheckpointContents start = read_checkpoint(model() + "/model.h5", false);
  const CheckpointContents end = read_checkpoint(run + "/checkpoints/step_00000030.h5", false);
  for (const auto& [name, t] : start.params) {
    ASSERT_TRUE(end.params.count(name)) << name;
    EXPECT_EQ(end.params.at(name).to_vector(), t.to_vector()) << name;
  }
  ASSERT_TRUE(end.params.count("ccm.comp_embed.weight"));
  EXPECT_EQ(end.params.at("ccm.comp_embed.weight").shape(), (Shape{2, 64}));
  // The run ends with the dialogue task: its summary, and the concat memory of 2 entries
  // per fact turn (1..4 of them).
  const auto j = nlohmann::json::parse(slurp(run + "/eval/dialogue-30.json"));
  EXPECT_EQ(j["dialogues"].get<int64_t>(), 40);
  EXPECT_GE(j["memory_entries"].get<double>(), 2.0);
  EXPECT_LE(j["memory_entries"].get<double>(), 8.0);
  EXPECT_GT(j["ppl"].get<double>(), 1.0);
  const size_t at = r.err.find("dialogue: ppl");
  ASSERT_NE(at, std::string::npos) << r.err;
  // `condense eval` on the finished run scores the same.
  const auto e = run_condense(
      {"eval", "--method", "ccm", "--task", "dialogue", "--run.dir", run, "--data.train", recall(),
       "--data.valid", valid(), "--data.tokenizer", tokenizer()},
      dir_->path());
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(e.out, r.err.substr(at, r.err.find('\n', at) - at) + "\n");
  const auto lora_b = end.params.at("model.layers.0.self_attn.q_proj.lora_B.weight").to_vector();
  EXPECT_NE(lora_b, std::vector<float>(lora_b.size(), 0.0f));
}

TEST_F(CcmCli, SweepTrainsEvaluatesTabulatesAndSkipsFinishedRuns) {
  const std::string sweep = dir_->file("sweep");
  std::vector<std::string> args = smoke(dir_->file("unused"));
  args[0] = "sweep";
  args.resize(args.size() - 2);  // the sweep names the runs' directories
  args.insert(args.end(), {"--train.steps", "3", "--train.save_every", "3", "--sweep.dir", sweep,
                           "--sweep.grid",
                           "ccm.attn=merge_recur ccm.n_tok=1; ccm.attn=neg_control ccm.n_tok=1"});
  auto r = run_condense(args, dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string md = slurp(sweep + "/dialogue.md");
  EXPECT_NE(md.find("| merge_recur-1 | 3 | merge_recur | 1 | no |"), std::string::npos) << md;
  EXPECT_NE(md.find("| neg_control-1 | 3 | neg_control | 1 | no |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 1.0 | "), std::string::npos) << md;     // merge: n_tok entries
  EXPECT_NE(md.find("| 0.0 | 0 |"), std::string::npos) << md;  // no context: nothing
  r = run_condense(args, dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("merge_recur-1: finished, skipped"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(sweep + "/dialogue.md"), md);
}

TEST_F(CcmCli, BadInputIsAOneLineErrorThatWritesNothing) {
  // A dataset without turn offsets.
  const std::string text = dir_->file("text.h5");
  ASSERT_EQ(run_condense({"data", "text", "--input", source_path("tests/data/train_sample.txt"),
                          "--tokenizer", tokenizer(), "--out", text},
                         dir_->path())
                .exit_code,
            0);
  std::vector<std::string> args = smoke(dir_->file("bad1"));
  args.insert(args.end(), {"--data.train", text});
  args.erase(args.begin() + 3, args.begin() + 5);  // the suite's --data.train
  auto r = run_condense(args, dir_->path());
  expect_one_line_error(r, "not a dialogue dataset with turn offsets");
  EXPECT_FALSE(fs::exists(dir_->file("bad1")));
  // n_tok <= 0, an unknown attention type.
  args = smoke(dir_->file("bad2"));
  args.insert(args.end(), {"--ccm.n_tok", "0"});
  expect_one_line_error(run_condense(args, dir_->path()), "n_tok");
  EXPECT_FALSE(fs::exists(dir_->file("bad2")));
  args = smoke(dir_->file("bad3"));
  args.insert(args.end(), {"--ccm.attn", "mergee"});
  expect_one_line_error(run_condense(args, dir_->path()), "merge_recur");
  EXPECT_FALSE(fs::exists(dir_->file("bad3")));
  // n_tok < 1 is refused for every type (each keeps a table of n_tok rows), `no` too.
  args = smoke(dir_->file("bad4"));
  args.insert(args.end(), {"--ccm.attn", "no", "--ccm.n_tok", "-1"});
  expect_one_line_error(run_condense(args, dir_->path()),
                        "--ccm.n_tok must be at least 1 (rows of");
  EXPECT_FALSE(fs::exists(dir_->file("bad4")));
  // Bad recall options.
  r = run_condense({"data", "recall", "--max_facts", "99", "--tokenizer", tokenizer(), "--out",
                    dir_->file("r.h5")},
                   dir_->path());
  expect_one_line_error(r, "--max_facts");
  EXPECT_FALSE(fs::exists(dir_->file("r.h5")));
}

// A run used with options it cannot serve, or named as an adapter of a base it was not
// trained over: one line naming the thing and what was expected, before anything is
// written (no eval/ in the run, nothing on chat's stdout).
TEST_F(CcmCli, ARunForAnotherLayoutOrBaseIsRefusedBeforeAnythingIsWritten) {
  const std::string run = short_run("concat-run", "concat_recur", 2);
  const std::vector<std::string> eval = {
      "eval",         "--method", "ccm",          "--task", "dialogue",         "--run.dir", run,
      "--data.train", recall(),   "--data.valid", valid(),  "--data.tokenizer", tokenizer()};
  // Merge over a table without <SUM> rows (a concat run has n, merge reads 2n).
  std::vector<std::string> args = eval;
  args.insert(args.end(), {"--ccm.attn", "merge_recur"});
  expect_one_line_error(run_condense(args, dir_->path()), "a merge layout needs a run trained");
  auto r = chat(run, "hi\n", {"--ccm.attn", "merge_recur"});
  expect_one_line_error(r, "table of 2 rows; merge_recur with n_tok 2 needs 4");
  EXPECT_EQ(r.out, "");
  // Another n_tok than the run's table has.
  r = chat(run, "hi\n", {"--ccm.n_tok", "3"});
  expect_one_line_error(r, "concat_recur with n_tok 3 needs 3");
  EXPECT_EQ(r.out, "");
  // A type that does not compress online cannot chat.
  expect_one_line_error(chat(run, "hi\n", {"--ccm.attn", "gist"}), "concat_recur or merge_recur");

  // Another base of the same shape: stories260K after one step of language-model training.
  const std::string text = dir_->file("text-for-base.h5");
  ASSERT_EQ(run_condense({"data", "text", "--input", source_path("tests/data/train_sample.txt"),
                          "--tokenizer", tokenizer(), "--out", text},
                         dir_->path())
                .exit_code,
            0);
  const std::string other = dir_->file("other-base");
  r = run_condense({"train",     "--data.train",        text,    "--data.tokenizer",
                    tokenizer(), "--train.init_from",   model(), "--train.steps",
                    "1",         "--train.batch_size",  "2",     "--train.seq_len",
                    "32",        "--model.dim",         "64",    "--model.n_layers",
                    "5",         "--model.n_heads",     "8",     "--model.n_kv_heads",
                    "4",         "--model.ffn_dim",     "172",   "--model.tie_embeddings",
                    "true",      "--model.max_seq_len", "512",   "--run.dir",
                    other},
                   dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  args = eval;
  args.insert(args.end(), {"--train.init_from", other});
  expect_one_line_error(run_condense(args, dir_->path()), "an adapter for another base model");
  r = chat(run, "hi\n", {"--train.init_from", other});
  expect_one_line_error(r, "was not trained over the base " + other);
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(fs::exists(run + "/eval"));
  // Its own base passes the check.
  args = eval;
  args.insert(args.end(), {"--train.init_from", model()});
  r = run_condense(args, dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(run + "/eval/dialogue-2.json"));
}

// condense chat: each line is answered from the memory, then the exchange is compressed
// into it: concat grows by n_tok entries a turn, merge stays at n_tok, sink adds BOS.
TEST_F(CcmCli, ChatCompressesEachExchangeIntoTheMemory) {
  const std::string three = "Tom has a red ball.\nWhere is Tom?\n\nWhat color is the ball?\n";
  const std::string concat = short_run("chat-concat", "concat_recur", 2);
  auto r = chat(concat, three);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(memory_sizes(r.out), (std::vector<int64_t>{2, 4, 6})) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 6) << r.out;  // an answer a turn
  // Greedy: the same dialogue, the same answers.
  EXPECT_EQ(chat(concat, three).out, r.out);
  r = chat(concat, three, {"--ccm.sink", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(memory_sizes(r.out), (std::vector<int64_t>{3, 5, 7})) << r.out;

  const std::string merge = short_run("chat-merge", "merge_recur", 1);
  r = chat(merge, three);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(memory_sizes(r.out), (std::vector<int64_t>{1, 1, 1})) << r.out;
}

// condense bench --method ccm: the memory each mode's answer reads at turn t (full
// context: every token so far, BOS + 8, then separator (3) + 8 per turn; concat: n_tok
// per turn; merge: n_tok), and FLOPs that grow with the memory.
TEST_F(CcmCli, BenchReportsEachModesMemoryAndCost) {
  const auto r =
      run_condense({"bench", "--method", "ccm", "--bench.preset", "tiny", "--bench.turns", "5",
                    "--bench.every", "5", "--bench.turn_tokens", "8", "--bench.query_tokens", "4",
                    "--bench.answer_tokens", "2", "--bench.repeats", "1", "--ccm.n_tok", "2"},
                   dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // | t | mode | ms/turn | GFLOPs/turn | memory (entries) | memory (KiB) |
  std::map<std::string, std::vector<std::string>> row;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::istringstream cs(line);
    for (std::string c; std::getline(cs, c, '|');) cells.push_back(c);
    if (cells.size() == 7 && (cells[1] == " 1 " || cells[1] == " 5 "))
      row[cells[1] + cells[2]] = cells;
  }
  ASSERT_EQ(row.size(), 6u) << r.out;
  EXPECT_EQ(row[" 1  full context "][5], " 9 ");
  EXPECT_EQ(row[" 5  full context "][5], " 53 ");
  EXPECT_EQ(row[" 1  CCM-concat "][5], " 2 ");
  EXPECT_EQ(row[" 5  CCM-concat "][5], " 10 ");
  EXPECT_EQ(row[" 5  CCM-merge "][5], " 2 ");
  auto gflops = [&](const std::string& key) { return std::stod(row[key][4]); };
  EXPECT_GT(gflops(" 5  full context "), gflops(" 1  full context "));
  EXPECT_GT(gflops(" 5  full context "), gflops(" 5  CCM-concat "));
  EXPECT_GT(gflops(" 5  CCM-concat "), gflops(" 5  CCM-merge "));
  EXPECT_NE(r.out.find("| CCM-merge |"), std::string::npos) << r.out;  // the whole-dialogue table
}

// condense eval --task stream: the shipped book token by token, CCM against window-only
// at the same cache size; options that cannot fit are refused before anything is written.
TEST_F(CcmCli, StreamTaskComparesCcmWithWindowOnlyOnABook) {
  const std::string run = short_run("stream-run", "concat_recur", 2);
  const std::string book = dir_->file("book.h5");
  auto r = run_condense(
      {"data", "books", "--format", "gutenberg", "--input",
       source_path("tests/data/datasets/books/gutenberg/pg98_a_tale_of_two_cities.txt"),
       "--tokenizer", tokenizer(), "--out", book},
      dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> args = {"eval",      "--method",
                                   "ccm",       "--task",
                                   "stream",    "--run.dir",
                                   run,         "--data.train",
                                   recall(),    "--data.tokenizer",
                                   tokenizer(), "--ccm.stream_data",
                                   book,        "--ccm.stream_tokens",
                                   "600",       "--ccm.stream_cache",
                                   "40",        "--ccm.stream_chunk",
                                   "16"};
  std::vector<std::string> bad = args;
  bad.insert(bad.end(), {"--ccm.stream_memory", "1"});
  expect_one_line_error(run_condense(bad, dir_->path()), "cannot hold one compression of 2");
  EXPECT_FALSE(fs::exists(run + "/eval"));
  args.insert(args.end(), {"--ccm.stream_memory", "4"});
  r = run_condense(args, dir_->path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("stream: 599 tokens, cache 40: ccm ppl ", 0), 0u) << r.out;
  const auto j = nlohmann::json::parse(slurp(run + "/eval/stream-2.json"));
  EXPECT_EQ(j["max_cache"].get<int64_t>(), 40);
  EXPECT_GT(j["compressions"].get<int64_t>(), 20);  // one per 16 tokens after the first 40
  EXPECT_GT(j["ccm_ppl"].get<double>(), 1.0);
  EXPECT_GT(j["window_ppl"].get<double>(), 1.0);
  EXPECT_NE(j["ccm_ppl"].get<double>(), j["window_ppl"].get<double>());
}

}  // namespace
}  // namespace condense::testing
