#include "experiments/methods/autocompressor/facts_task.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/progress.h"
#include "datasets/tokenizer.h"
#include "experiments/methods/autocompressor/last_segment.h"
#include "experiments/methods/autocompressor/summary_passes.h"
#include "experiments/result_record.h"
#include "experiments/run_dir.h"

namespace condense::autocompressor {
namespace {

namespace fs = std::filesystem;

int64_t attr_int(const data::TokenDataset& d, const char* key) {
  const std::string v = d.attr(key);
  if (v.empty()) fail(d.path(), ": no attribute ", key, " (not made by `condense data facts`?)");
  return std::stoll(v);
}

struct Answer {
  int64_t begin, end;  // in the target segment
};

// Per document, its answers' places in its last segment.
std::vector<std::vector<Answer>> answers_of(const data::TokenDataset& d, int64_t n, int64_t S,
                                            int64_t segments) {
  std::vector<std::vector<Answer>> out(static_cast<size_t>(n));
  const std::vector<int64_t>& off = d.offsets();
  for (int64_t r = 0; r < d.span_rows("answer"); ++r) {
    const data::Span s = d.span("answer", r);
    const auto doc = std::upper_bound(off.begin(), off.end(), s.begin) - off.begin() - 1;
    if (doc >= n) break;
    const int64_t target = off[doc] + (segments - 1) * S;
    // The first answer token is predicted from the token before it, inside the target.
    CONDENSE_ASSERT(s.begin > target && s.end <= target + S, "answer ", r, " outside the target");
    out[doc].push_back({s.begin - target, s.end - target});
  }
  return out;
}

// Adds the answers of rows [0,B) to `c`: logits [B,L,V] whose last S rows are the target's,
// ids the target's tokens [B,S] (host).
void score_answers(const Tensor& logits, const std::vector<int32_t>& ids, int64_t S,
                   const std::vector<std::vector<Answer>>& answers, int64_t first,
                   FactsCondition& c, std::vector<double>& nlls) {
  const int64_t B = logits.dim(0), L = logits.dim(1), V = logits.dim(2);
  const std::vector<float> x = logits.to(Device::cpu).to_vector();
  for (int64_t b = 0; b < B; ++b)
    for (const Answer& a : answers[first + b]) {
      double nll = 0;
      bool exact = true;
      for (int64_t p = a.begin; p < a.end; ++p) {
        const float* row = x.data() + (b * L + (L - S) + p - 1) * V;
        const int32_t want = ids[b * S + p];
        const float top = *std::max_element(row, row + V);
        double sum = 0;
        for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(row[v] - top));
        nll += std::log(sum) + top - row[want];
        // A tie is no exact match: the argmax must be the answer token alone.
        exact = exact && row[want] == top && std::count(row, row + V, top) == 1;
      }
      ++c.questions;
      c.exact += exact ? 1 : 0;
      nlls.push_back(nll);
    }
}

void finish(FactsCondition& c, const std::vector<double>& nlls) {
  if (nlls.empty()) return;
  double sum = 0, sq = 0;
  for (double v : nlls) sum += v;
  c.nll = sum / static_cast<double>(nlls.size());
  for (double v : nlls) sq += (v - c.nll) * (v - c.nll);
  const auto n = static_cast<double>(nlls.size());
  c.nll_std_error = n > 1 ? std::sqrt(sq / (n - 1) / n) : 0;
}

std::string facts_summary_path(const std::string& run_dir, int64_t step) {
  return run_dir + "/eval/facts-" + std::to_string(step) + ".json";
}

}  // namespace

double FactsCondition::exact_match() const {
  return questions > 0 ? static_cast<double>(exact) / static_cast<double>(questions) : 0;
}

double FactsCondition::exact_std_error() const {
  if (questions < 1) return 0;
  const double p = exact_match();
  return std::sqrt(p * (1 - p) / static_cast<double>(questions));
}

FactsScore score_facts(const Llama& model, const Tensor& table, const data::TokenDataset& docs,
                       const FactsEvalOptions& o) {
  const int64_t S = attr_int(docs, "facts_segment"), N = attr_int(docs, "facts_segments");
  if (o.contexts.empty() || o.batch < 1 || o.documents < 1)
    fail("facts: the task needs context budgets and a positive batch and document count");
  for (int64_t c : o.contexts)
    if (c % S != 0 || c < S || c > (N - 1) * S)
      fail("facts: a context budget must be a multiple of the segment (", S, ") from ", S, " to ",
           (N - 1) * S, " tokens (", docs.path(), "), got ", c);
  const int64_t n = std::min(o.documents, docs.size());
  const std::vector<std::vector<Answer>> answers = answers_of(docs, n, S, N);
  const Device device = model.device();
  const bool compressed = table.defined();
  FactsScore score;
  score.documents = n;
  score.segment = S;
  score.conditions.push_back({"none", 0, 0, 0, 0, 0, 0});
  for (int64_t c : o.contexts) {
    const std::string at = "@" + std::to_string(c);
    score.conditions.push_back({"full" + at, c, 0, 0, 0, 0, 0});
    if (compressed) {
      score.conditions.push_back({"compressed" + at, c, 0, 0, 0, 0, 0});
      score.conditions.push_back({"control" + at, c, 0, 0, 0, 0, 0});
    }
  }
  std::vector<std::vector<double>> nlls(score.conditions.size());
  Tape no_grad(false);
  Progress progress("facts", n, "documents");
  for (int64_t first = 0; first < n; first += o.batch) {
    const int64_t B = std::min(o.batch, n - first);
    // Row b's tokens [begin, end) (rows of one length).
    auto rows = [&](std::vector<int32_t>& ids, int64_t begin, int64_t end) {
      for (int64_t b = 0; b < B; ++b) {
        const std::span<const int32_t> d = docs.record(first + b);
        ids.insert(ids.end(), d.begin() + begin, d.begin() + end);
      }
    };
    std::vector<int32_t> target;
    rows(target, (N - 1) * S, N * S);
    const Tensor target_ids = Tensor::from_i32(target, {B, S});
    size_t k = 0;
    score_answers(model.forward(no_grad, ForwardArgs::tokens(target_ids.to(device))).value(),
                  target, S, answers, first, score.conditions[k], nlls[k]);
    ++k;
    for (int64_t c : o.contexts) {
      // The fact segment, then the filler right before the questions.
      std::vector<int32_t> context;
      for (int64_t b = 0; b < B; ++b) {
        const std::span<const int32_t> d = docs.record(first + b);
        context.insert(context.end(), d.begin(), d.begin() + S);
        context.insert(context.end(), d.begin() + (N * S - c), d.begin() + (N - 1) * S);
      }
      std::vector<int32_t> full;
      for (int64_t b = 0; b < B; ++b) {
        full.insert(full.end(), context.begin() + b * c, context.begin() + (b + 1) * c);
        full.insert(full.end(), target.begin() + b * S, target.begin() + (b + 1) * S);
      }
      score_answers(
          model.forward(no_grad, ForwardArgs::tokens(Tensor::from_i32(full, {B, c + S}, device)))
              .value(),
          target, S, answers, first, score.conditions[k], nlls[k]);
      score.conditions[k].context = c;
      ++k;
      if (!compressed) continue;
      const Tensor sigma = compress(model, table, Tensor::from_i32(context, {B, c}),
                                    equal_segments(c, S), Tensor(), o.accumulate);
      score.conditions[k].softprompt = score.conditions[k + 1].softprompt = sigma.dim(1);
      const SegmentOutput own = segment_pass(no_grad, model, target_ids, Var(sigma), Var());
      score_answers(model.logits(no_grad, own.hidden).value(), target, S, answers, first,
                    score.conditions[k], nlls[k]);
      ++k;
      if (B >= 2) {
        const SegmentOutput other =
            segment_pass(no_grad, model, target_ids, Var(rotate_rows(sigma)), Var());
        score_answers(model.logits(no_grad, other.hidden).value(), target, S, answers, first,
                      score.conditions[k], nlls[k]);
      }
      ++k;
    }
    progress.advance(B);
  }
  for (size_t i = 0; i < nlls.size(); ++i) finish(score.conditions[i], nlls[i]);
  return score;
}

// ---- the task in the methods

void FactsTask::add_options(cli::po::options_description& desc) {
  namespace po = cli::po;
  desc.add_options()("data.facts", po::value(&path_)->default_value(""),
                     "documents of `condense data facts` the facts task scores")(
      (method_ + ".facts_contexts").c_str(), po::value(&contexts_)->default_value(contexts_),
      "facts: context budgets in tokens (the fact segment + filler before the questions)")(
      (method_ + ".facts_documents").c_str(), po::value(&o_.documents)->default_value(o_.documents),
      "facts: documents scored (the first)");
}

void FactsTask::open(const data::Tokenizer& tok, int64_t batch, bool accumulate) {
  o_.contexts = cli::parse_int_list(method_ + ".facts_contexts", contexts_, 1);
  o_.batch = batch;
  o_.accumulate = accumulate;
  if (o_.documents < 1)
    fail(method_, ": --", method_, ".facts_documents must be at least 1, got ", o_.documents);
  if (path_.empty()) return;
  docs_ = std::make_unique<data::TokenDataset>(data::TokenDataset::open(path_, tok));
  if (docs_->info().kind != "facts")
    fail(method_, ": --data.facts ", path_, " is a '", docs_->info().kind,
         "' dataset, expected one of `condense data facts`");
}

bool FactsTask::evaluated(const std::string& run_dir, int64_t step) const {
  return !enabled() || fs::exists(facts_summary_path(run_dir, step));
}

std::string FactsTask::evaluate(const Llama& model, const Tensor& table, int64_t step,
                                const std::string& run_dir, const exp::RunDir* metrics,
                                int64_t train_tokens) const {
  if (!docs_) fail(method_, ": the facts task needs --data.facts");
  const FactsScore s = score_facts(model, table, *docs_, o_);
  const LlamaConfig& m = model.config();
  nlohmann::json conditions = nlohmann::json::array();
  nlohmann::json line = {{"step", step}};
  std::string text = "facts:";
  for (const FactsCondition& c : s.conditions) {
    conditions.push_back({{"condition", c.condition},
                          {"context", c.context},
                          {"softprompt_vectors", c.softprompt},
                          {"questions", c.questions},
                          {"exact_match", c.exact_match()},
                          {"exact_match_std_error", c.exact_std_error()},
                          {"answer_nll", c.nll},
                          {"answer_nll_std_error", c.nll_std_error}});
    line["facts_em_" + c.condition] = c.exact_match();
    char part[96];
    std::snprintf(part, sizeof part, " %s %.3f", c.condition.c_str(), c.exact_match());
    text += part;
    if (c.questions == 0) continue;
    exp::ResultRecord r;
    r.task = "facts";
    r.condition = c.condition;
    r.n = c.questions;
    r.step = step;
    r.train_tokens = train_tokens;
    r.context_tokens = static_cast<double>(c.context);
    // What the answer reads: σ's vectors (input embeddings, so their KV entries per
    // layer) or the context's KV entries, in fp32 over all layers.
    const bool full = c.condition.rfind("full", 0) == 0;
    r.memory_vectors = static_cast<double>(full ? c.context : c.softprompt);
    r.memory_bytes =
        r.memory_vectors * 2.0 * static_cast<double>(m.n_layers * m.n_kv_heads * m.head_dim() * 4);
    r.metric = "exact_match";
    r.value = c.exact_match();
    r.std_error = c.exact_std_error();
    exp::append_result(run_dir, r);
    r.metric = "answer_nll";
    r.higher_is_better = false;
    r.value = c.nll;
    r.std_error = c.nll_std_error;
    exp::append_result(run_dir, r);
  }
  const nlohmann::json summary = {{"step", step},
                                  {"method", method_},
                                  {"compressed", table.defined()},
                                  {"data", path_},
                                  {"documents", s.documents},
                                  {"segment", s.segment},
                                  {"train_tokens", train_tokens},
                                  {"conditions", conditions}};
  fs::create_directories(run_dir + "/eval");
  write_file_atomically(facts_summary_path(run_dir, step), summary.dump(2) + "\n");
  if (metrics) metrics->log(line);
  return text;
}

}  // namespace condense::autocompressor
