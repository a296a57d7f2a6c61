// Helpers for tests that run programs: a scratch directory, the `condense` binary
// (or any command line) with its output captured, and what a run logged.
#pragma once
#include <gtest/gtest.h>
#include <stdlib.h>    // mkdtemp
#include <sys/wait.h>  // WIFEXITED

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace condense::testing {

inline std::string source_path(const std::string& rel) {
  return std::string(CONDENSE_SOURCE_DIR) + "/" + rel;
}

// A fresh directory under the system temp dir, removed with its contents at scope end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "condense-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
  std::vector<std::string> err_lines() const {
    std::vector<std::string> lines;
    std::istringstream in(err);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
  }
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a shell command line with stdout and stderr in files under `scratch`.
inline CommandResult run_shell(std::string cmd, const std::filesystem::path& scratch) {
  // Built with append() only: GCC 12 warns falsely (-Wrestrict) on `" " + std::string`.
  const auto out = scratch / "cmd.out", err = scratch / "cmd.err";
  cmd.append(" >")
      .append(shell_quote(out.string()))
      .append(" 2>")
      .append(shell_quote(err.string()));
  const int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// Runs argv (argv[0] looked up in PATH), each word quoted.
inline CommandResult run_command(const std::vector<std::string>& argv,
                                 const std::filesystem::path& scratch) {
  std::string cmd;
  for (const auto& a : argv) cmd.append(cmd.empty() ? "" : " ").append(shell_quote(a));
  return run_shell(std::move(cmd), scratch);
}

// `args` are passed to condense as separate, quoted words.
inline CommandResult run_condense(const std::vector<std::string>& args,
                                  const std::filesystem::path& scratch) {
  std::vector<std::string> argv{CONDENSE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, scratch);
}

// `condense import llama2c` of the shipped stories260K model into `out`.
inline CommandResult import_stories260k(const std::string& out,
                                        const std::filesystem::path& scratch) {
  return run_condense(
      {"import", "llama2c", "--model", source_path("tests/data/tinyllamas/stories260K.bin"),
       "--tokenizer", source_path("tests/data/tinyllamas/tok512.bin"), "--out", out},
      scratch);
}

// What the end-to-end training tests train on: stories260K imported into dir/stories
// (its tokenizer) and tests/data/train_sample.txt tokenized with it into dir/train.h5.
// A failing step is a test failure: callers check HasFailure().
struct SampleTrainingData {
  std::string model_dir, tokenizer, dataset;
};
inline SampleTrainingData make_sample_training_data(const TempDir& dir) {
  SampleTrainingData d{dir.file("stories"), dir.file("stories") + "/tokenizer.model",
                       dir.file("train.h5")};
  const CommandResult imp = import_stories260k(d.model_dir, dir.path());
  EXPECT_EQ(imp.exit_code, 0) << imp.err;
  const CommandResult data =
      run_condense({"data", "text", "--input", source_path("tests/data/train_sample.txt"),
                    "--tokenizer", d.tokenizer, "--out", d.dataset},
                   dir.path());
  EXPECT_EQ(data.exit_code, 0) << data.err;
  return d;
}

// The same plus a held-out book (A Tale of Two Cities) as a long-document dataset in
// dir/valid.h5: what the long-context methods (AutoCompressor, RMT, FoT) are scored on.
struct SampleBookData : SampleTrainingData {
  std::string valid;
};
inline SampleBookData make_sample_book_data(const TempDir& dir) {
  SampleBookData d{make_sample_training_data(dir), dir.file("valid.h5")};
  const CommandResult book = run_condense(
      {"data", "books", "--format", "gutenberg", "--input",
       source_path("tests/data/datasets/books/gutenberg/pg98_a_tale_of_two_cities.txt"),
       "--tokenizer", d.tokenizer, "--out", d.valid},
      dir.path());
  EXPECT_EQ(book.exit_code, 0) << book.err;
  return d;
}

// `condense train` words for a 2-layer d32 model, batch 4 x 32, logging every step;
// callers add steps, learning rate and the rest.
inline std::vector<std::string> small_train_args(const SampleTrainingData& d,
                                                 const std::string& run_dir) {
  return {"train",     "--data.train",       d.dataset, "--data.tokenizer",
          d.tokenizer, "--run.dir",          run_dir,   "--model.dim",
          "32",        "--model.n_layers",   "2",       "--model.n_heads",
          "4",         "--model.n_kv_heads", "2",       "--model.ffn_dim",
          "64",        "--train.batch_size", "4",       "--train.seq_len",
          "32",        "--train.log_every",  "1"};
}

// (step, value of `key`) of every line of a run's metrics.jsonl that has `key`, in order.
inline std::vector<std::pair<int64_t, double>> logged_values(const std::string& run_dir,
                                                             const std::string& key) {
  std::vector<std::pair<int64_t, double>> out;
  std::istringstream in(slurp(run_dir + "/metrics.jsonl"));
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains(key)) out.emplace_back(j["step"].get<int64_t>(), j[key].get<double>());
  }
  return out;
}

// (step, loss) of every training line a run wrote to its metrics.jsonl.
inline std::vector<std::pair<int64_t, double>> logged_losses(const std::string& run_dir) {
  return logged_values(run_dir, "loss");
}

// step -> value of `key` (the last line of a step counts).
inline std::map<int64_t, double> logged_by_step(const std::string& run_dir,
                                                const std::string& key) {
  std::map<int64_t, double> out;
  for (const auto& [step, value] : logged_values(run_dir, key)) out[step] = value;
  return out;
}

// The words that start `condense` on `ranks` ranks under mpirun (cores oversubscribed).
inline std::vector<std::string> mpirun_condense(int ranks) {
  return {"mpirun", "-n", std::to_string(ranks), "--oversubscribe", CONDENSE_BINARY};
}

// The last stderr line is one "condense: error: ..." line mentioning `needle`.
inline void expect_one_line_error(const CommandResult& r, const std::string& needle) {
  EXPECT_NE(r.exit_code, 0) << r.err;
  const auto lines = r.err_lines();
  ASSERT_FALSE(lines.empty()) << "no error message";
  EXPECT_EQ(lines.back().rfind("condense: error: ", 0), 0u) << r.err;
  EXPECT_NE(lines.back().find(needle), std::string::npos)
      << "error does not name '" << needle << "': " << lines.back();
}

}  // namespace condense::testing
