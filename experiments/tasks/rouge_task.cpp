#include "experiments/tasks/rouge_task.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/progress.h"
#include "datasets/tokenizer.h"
#include "eval/csv.h"
#include "eval/std_error.h"

namespace condense::instruct {
namespace fs = std::filesystem;

void add_eval_options(cli::po::options_description& desc, EvalOptions& o) {
  namespace po = cli::po;
  desc.add_options()("eval.max_examples", po::value(&o.max_examples)->default_value(o.max_examples),
                     "examples per split after a seeded shuffle (0: all)")(
      "eval.batch_size", po::value(&o.batch_size)->default_value(o.batch_size),
      "prompts decoded together")(
      "eval.max_new_tokens", po::value(&o.max_new_tokens)->default_value(o.max_new_tokens),
      "longest generated output")("eval.every", po::value(&o.every)->default_value(o.every),
                                  "ROUGE evaluation every N training steps (0: at the end only)");
}

std::string outputs_csv(const std::string& out_dir, int64_t step, const std::string& split) {
  return (fs::path(out_dir) / ("outputs-" + std::to_string(step) + "-validation_" + split + ".csv"))
      .string();
}

std::string summary_json(const std::string& out_dir, int64_t step) {
  return (fs::path(out_dir) / ("summary-" + std::to_string(step) + ".json")).string();
}

namespace {

using Clock = std::chrono::steady_clock;

// The examples a split is scored on: all, or the first max_examples of a shuffle with
// seed 42 (gisting shuffles its eval splits with seed 42 too; numpy's order differs).
std::vector<int64_t> chosen(int64_t n, int64_t max_examples) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  if (max_examples > 0 && max_examples < n) {
    std::mt19937_64 rng(42);
    std::shuffle(idx.begin(), idx.end(), rng);
    idx.resize(static_cast<size_t>(max_examples));
  }
  return idx;
}

SplitScores score(const std::string& split, const std::vector<std::string>& preds,
                  const std::vector<std::string>& truths, double gen_len, double seconds) {
  SplitScores s;
  s.split = split;
  s.examples = static_cast<int64_t>(preds.size());
  s.rouge = eval::mean_rouge(preds, truths);
  s.exact_match = eval::exact_match(preds, truths);
  std::vector<double> rougeL;
  for (size_t i = 0; i < preds.size(); ++i)
    rougeL.push_back(eval::rouge(preds[i], truths[i]).rougeL);
  s.rougeL_std_error = eval::std_error(rougeL);
  s.exact_match_std_error = eval::fraction_std_error(
      std::llround(s.exact_match * static_cast<double>(s.examples)), s.examples);
  s.gen_len = gen_len;
  s.seconds = seconds;
  return s;
}

SplitScores rescore(const std::string& split, const std::string& csv) {
  const eval::CsvTable t = eval::read_csv(csv);
  const size_t p = t.column("y_pred"), y = t.column("y_true");
  std::vector<std::string> preds, truths;
  for (const auto& row : t.rows) {
    preds.push_back(row[p]);
    truths.push_back(row[y]);
  }
  return score(split, preds, truths, 0, 0);
}

SplitScores run_split(const Llama& model, const methods::Method& m, const data::Tokenizer& tok,
                      const std::string& split, const Split& s, const std::vector<int64_t>& idx,
                      const EvalOptions& o, const std::string& csv) {
  // Decode in batches of similar prompt length (less padding), report in `idx` order.
  std::vector<size_t> order(idx.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return m.prompt_length(s.examples[idx[a]]) < m.prompt_length(s.examples[idx[b]]);
  });
  eval::BatchGenerateConfig gcfg;
  gcfg.max_new_tokens = o.max_new_tokens;
  gcfg.stop_ids = {tok.eos_id()};
  gcfg.vocab_limit = tok.vocab_size();
  std::vector<std::vector<int32_t>> outputs(idx.size());
  const auto t0 = Clock::now();
  Progress progress(std::string(m.name()) + ": generating", static_cast<int64_t>(order.size()),
                    "examples");
  for (size_t b = 0; b < order.size(); b += static_cast<size_t>(o.batch_size)) {
    methods::Records batch;
    const size_t end = std::min(order.size(), b + static_cast<size_t>(o.batch_size));
    for (size_t i = b; i < end; ++i) batch.push_back(&s.examples[idx[order[i]]]);
    eval::BatchGenerateResult r = m.answer(model, m.compress(model, batch), batch, gcfg);
    for (size_t i = b; i < end; ++i) outputs[order[i]] = std::move(r.tokens[i - b]);
    progress.advance(static_cast<int64_t>(end - b));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<std::string> preds, truths;
  std::vector<std::vector<std::string>> rows;
  double gen_len = 0;
  for (size_t i = 0; i < idx.size(); ++i) {
    std::vector<int32_t>& out = outputs[i];
    if (!out.empty() && out.back() == tok.eos_id()) out.pop_back();
    gen_len += static_cast<double>(out.size());
    preds.push_back(eval::postprocess_output(tok.decode(out)));
    truths.push_back(eval::postprocess_output(s.output[idx[i]]));
    rows.push_back(
        {m.prompt_text(s.instruction[idx[i]], s.input[idx[i]]), preds.back(), truths.back()});
  }
  eval::write_csv(csv, {"x", "y_pred", "y_true"}, rows);
  return score(split, preds, truths, idx.empty() ? 0 : gen_len / double(idx.size()), seconds);
}

}  // namespace

std::vector<SplitScores> evaluate_rouge(const Llama& model, const methods::Method& m,
                                        const data::Tokenizer& tokenizer,
                                        const std::string& data_dir, const EvalOptions& o,
                                        int64_t step, const std::string& out_dir,
                                        const nlohmann::json& about) {
  if (o.batch_size <= 0) fail("eval: eval.batch_size must be positive");
  fs::create_directories(out_dir);
  const DataFiles files = DataFiles::in(data_dir);
  std::vector<SplitScores> all;
  nlohmann::json summary = about;
  summary["step"] = step;
  summary["method"] = m.name();
  summary["max_new_tokens"] = o.max_new_tokens;
  // A split rescored from its CSV keeps the generation time and length that the summary
  // of the evaluation which wrote the CSV recorded.
  nlohmann::json earlier;
  if (std::ifstream in(summary_json(out_dir, step)); in)
    earlier = nlohmann::json::parse(in, nullptr, false);
  for (size_t i = 0; i < kEvalSplits.size(); ++i) {
    const std::string& split = kEvalSplits[i];
    if (!fs::exists(files.eval[i])) continue;
    const std::string csv = outputs_csv(out_dir, step, split);
    const Split set = load_split(files.eval[i], tokenizer, Template::make(tokenizer));
    const std::vector<int64_t> idx =
        chosen(static_cast<int64_t>(set.examples.size()), o.max_examples);
    SplitScores s = fs::exists(csv) ? rescore(split, csv)
                                    : run_split(model, m, tokenizer, split, set, idx, o, csv);
    if (s.seconds == 0 && earlier.is_object() && earlier.contains("splits") &&
        earlier["splits"].contains(split)) {
      s.seconds = earlier["splits"][split].value("seconds", 0.0);
      s.gen_len = earlier["splits"][split].value("gen_len", 0.0);
    }
    for (int64_t e : idx) {
      s.memory_entries += static_cast<double>(m.memory_entries(set.examples[e]));
      s.context_tokens += static_cast<double>(set.examples[e].instruction.size());
    }
    if (!idx.empty()) {
      s.memory_entries /= static_cast<double>(idx.size());
      s.context_tokens /= static_cast<double>(idx.size());
    }
    std::cerr << "eval: step " << step << " " << split << ": " << s.examples << " examples, rougeL "
              << std::fixed << std::setprecision(2) << 100 * s.rouge.rougeL << ", exact match "
              << 100 * s.exact_match << std::defaultfloat << " (" << s.seconds << " s)\n";
    summary["splits"][split] = {{"examples", s.examples},
                                {"rouge1", 100 * s.rouge.rouge1},
                                {"rouge2", 100 * s.rouge.rouge2},
                                {"rougeL", 100 * s.rouge.rougeL},
                                {"rougeLsum", 100 * s.rouge.rougeLsum},
                                {"exact_match", 100 * s.exact_match},
                                {"gen_len", s.gen_len},
                                {"seconds", s.seconds}};
    all.push_back(std::move(s));
  }
  if (all.empty()) fail("eval: no validation_{seen,unseen,human}.h5 in ", data_dir);
  const std::string path = summary_json(out_dir, step);
  write_file_atomically(path, summary.dump(2) + "\n");
  return all;
}

std::string format_scores(const std::vector<SplitScores>& scores) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(2);
  for (const SplitScores& s : scores)
    os << (os.tellp() > 0 ? " " : "") << s.split << "_rougeL=" << 100 * s.rouge.rougeL;
  return os.str();
}

}  // namespace condense::instruct
