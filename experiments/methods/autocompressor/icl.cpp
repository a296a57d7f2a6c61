#include "experiments/methods/autocompressor/icl.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <random>

#include "core/error.h"
#include "core/ops.h"
#include "core/progress.h"
#include "eval/batch_generate.h"
#include "eval/kv_prefix.h"
#include "experiments/methods/autocompressor/generate.h"
#include "experiments/methods/autocompressor/summary_passes.h"

namespace condense::autocompressor {
namespace {

constexpr int32_t kIgnoreIndex = -100;
constexpr int32_t kPad = 0;  // masked out wherever it stands
constexpr const char* kDelimiter = "\n\n";

// A permutation of 0..n-1 (its own Fisher-Yates: the same on every standard library).
std::vector<size_t> shuffled(size_t n, std::mt19937_64& g) {
  std::vector<size_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = i;
  for (size_t i = n; i > 1; --i) std::swap(p[i - 1], p[g() % i]);
  return p;
}

std::string demo_text(const IclPrompt& p, const data::IclExamples& pool, size_t j) {
  return icl_text(p, pool, j, false, pool.labels[j]) + kDelimiter;
}

}  // namespace

const IclPrompt& icl_prompt(const std::string& task) {
  // icl_dataset_loading.py: the template, and whether demonstrations are balanced.
  static const std::map<std::string, IclPrompt> prompts = {
      {"sst2", {"Sentence: ", "\nSentiment:", true}},
      {"agnews", {"Article: ", "\nTopic:", false}},
      {"mr", {"Review: ", "\nSentiment:", true}},
      {"subj", {"input: ", "\ntype:", true}},
  };
  const auto it = prompts.find(task);
  if (it == prompts.end()) {
    std::string known;
    for (const auto& [name, p] : prompts) known += (known.empty() ? "" : ", ") + name;
    fail("autocompressor: no ICL template for task '", task, "' (known: ", known, ")");
  }
  return it->second;
}

std::string icl_text(const IclPrompt& p, const data::IclExamples& ex, size_t i, bool na,
                     int64_t option) {
  std::string input;
  for (const std::string& v : ex.values[i]) input += (input.empty() ? "" : " ") + v;
  std::string s = p.input_prefix + (na ? "N/A" : input) + p.answer_prefix;
  if (option >= 0) s += " " + ex.label_names[static_cast<size_t>(option)];
  return s;
}

std::vector<size_t> draw_demonstrations(const IclPrompt& p, const data::IclExamples& pool,
                                        const data::Tokenizer& tok, const IclOptions& o) {
  if (o.demos < 1) fail("autocompressor: ICL needs at least 1 demonstration, got ", o.demos);
  std::vector<size_t> fit;
  for (size_t j = 0; j < pool.values.size(); ++j)
    if (static_cast<int64_t>(tok.encode(demo_text(p, pool, j), true, false).size()) <= o.segment)
      fit.push_back(j);
  const auto k = static_cast<size_t>(o.demos);
  // Mixed with k, as the authors mix the seed with the demonstration counts.
  std::mt19937_64 g(o.seed * 1000003u + k);
  std::vector<size_t> order;
  if (p.balanced) {
    // Label by label in turn (each label's examples shuffled), from a random start.
    std::vector<std::vector<size_t>> by_label(pool.label_names.size());
    for (size_t j : fit) by_label[static_cast<size_t>(pool.labels[j])].push_back(j);
    size_t rounds = fit.empty() ? 0 : SIZE_MAX;
    for (std::vector<size_t>& l : by_label) {
      std::vector<size_t> perm = shuffled(l.size(), g), out;
      for (size_t i : perm) out.push_back(l[i]);
      l = std::move(out);
      rounds = std::min(rounds, l.size());
    }
    for (size_t r = 0; r < rounds; ++r)
      for (const std::vector<size_t>& l : by_label) order.push_back(l[r]);
  } else {
    for (size_t i : shuffled(fit.size(), g)) order.push_back(fit[i]);
  }
  if (order.size() < k)
    fail("autocompressor: only ", order.size(), " examples of the ", pool.task,
         " demonstration pool fit a segment of ", o.segment, " tokens",
         p.balanced ? " (balanced)" : "", ", ", k, " demonstrations asked");
  const size_t start = p.balanced ? g() % (order.size() - k + 1) : 0;
  return {order.begin() + static_cast<std::ptrdiff_t>(start),
          order.begin() + static_cast<std::ptrdiff_t>(start + k)};
}

IclContextIds icl_context_ids(const IclPrompt& p, const data::IclExamples& pool,
                              const std::vector<size_t>& demos, const data::Tokenizer& tok,
                              int64_t segment) {
  IclContextIds out;
  std::string all, current;
  for (size_t j : demos) {
    const std::string d = demo_text(p, pool, j);
    all += d;
    const bool bos = out.segments.empty();  // BOS on the first segment only
    if (current.empty() ||
        static_cast<int64_t>(tok.encode(current + d, bos, false).size()) <= segment) {
      current += d;
    } else {
      out.segments.push_back(tok.encode(current, bos, false));
      current = d;
    }
    const std::vector<int32_t> ids = tok.encode(current, out.segments.empty(), false);
    if (static_cast<int64_t>(ids.size()) > segment)
      fail("autocompressor: demonstration ", j, " of ", pool.task, " takes ", ids.size(),
           " tokens, more than a segment of ", segment);
  }
  if (!current.empty()) out.segments.push_back(tok.encode(current, out.segments.empty(), false));
  out.plain = tok.encode(all, true, false);
  return out;
}

IclContext compressed_context(const Llama& model, const Tensor& table,
                              const std::vector<std::vector<int32_t>>& segments, bool accumulate,
                              int64_t rows) {
  if (segments.empty()) fail("autocompressor: no demonstrations to compress");
  const int64_t kappa = table.dim(0), limit = model.config().max_seq_len;
  std::vector<int32_t> ids;
  std::vector<int64_t> lengths;
  for (size_t s = 0; s < segments.size(); ++s) {
    const auto L = static_cast<int64_t>(segments[s].size());
    const int64_t sigma = s == 0 ? 0 : (accumulate ? static_cast<int64_t>(s) : 1) * kappa;
    if (sigma + L + kappa > limit)
      fail("autocompressor: compressing segment ", s + 1, " takes ", sigma + L + kappa,
           " positions (σ ", sigma, ", ", L, " tokens, ", kappa, " <Sum>), more than the model's ",
           limit);
    ids.insert(ids.end(), segments[s].begin(), segments[s].end());
    lengths.push_back(L);
  }
  const Tensor ids_t = Tensor::from_i32(ids, {1, static_cast<int64_t>(ids.size())});
  const Tensor sigma = compress(model, table, ids_t, lengths, Tensor(), accumulate);
  // The same σ in every row (one per option).
  const std::vector<float> one = sigma.to(Device::cpu).to_vector();
  std::vector<float> all;
  for (int64_t r = 0; r < rows; ++r) all.insert(all.end(), one.begin(), one.end());
  const int64_t m = sigma.dim(1);
  const Tensor repeated = Tensor::from_f32(all, {rows, m, sigma.dim(2)}).to(model.device());
  return {softprompt_cache(model, repeated), m};
}

IclContext plain_context(const Llama& model, const std::vector<int32_t>& ids, int64_t rows) {
  const auto M = static_cast<int64_t>(ids.size());
  if (M == 0) return {};
  const std::vector<std::vector<int32_t>> copies(static_cast<size_t>(rows), ids);
  return {eval::cache_last_columns(model, eval::causal_batch(copies, {}, kPad, model.device()), M),
          M};
}

IclRows icl_rows(const IclPrompt& p, const data::IclExamples& ex, size_t i, bool na, bool bos,
                 const data::Tokenizer& tok) {
  const size_t asked = tok.encode(icl_text(p, ex, i, na, -1), bos, false).size();
  IclRows rows;
  for (size_t o = 0; o < ex.label_names.size(); ++o) {
    std::vector<int32_t> ids =
        tok.encode(icl_text(p, ex, i, na, static_cast<int64_t>(o)), bos, false);
    const int64_t n = static_cast<int64_t>(ids.size()) - static_cast<int64_t>(asked);
    if (n < 1)
      fail("autocompressor: option '", ex.label_names[o], "' of ", ex.task, " example ", i,
           " adds no token to its prompt");
    rows.ids.push_back(std::move(ids));
    rows.option_tokens.push_back(n);
  }
  return rows;
}

std::vector<double> option_nlls(const Llama& model, const IclContext& ctx, const IclRows& rows) {
  const auto B = static_cast<int64_t>(rows.ids.size());
  if (ctx.length > 0 && ctx.kv.at(0).k.dim(0) != B)
    fail("autocompressor: a context of ", ctx.kv[0].k.dim(0), " rows for ", B, " options");
  const eval::PromptBatch batch =
      eval::causal_batch(rows.ids,
                         ctx.length > 0 ? std::vector<int64_t>(static_cast<size_t>(B), ctx.length)
                                        : std::vector<int64_t>{},
                         kPad, model.device());
  const int64_t T = batch.ids.dim(1);
  // Left-padded rows: row b's token t sits at column T - L_b + t.
  std::vector<int32_t> targets(static_cast<size_t>(B * T), kIgnoreIndex);
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<int32_t>& ids = rows.ids[b];
    const auto L = static_cast<int64_t>(ids.size());
    for (int64_t t = L - rows.option_tokens[b]; t < L; ++t) targets[b * T + T - L + t - 1] = ids[t];
  }
  Tape no_grad(false);
  ForwardArgs a;
  a.ids = batch.ids;
  a.pos = batch.pos;
  a.mask = batch.mask;
  a.prefix = ctx.length > 0 ? &ctx.kv : nullptr;
  const std::vector<float> losses =
      ops::cross_entropy_rows(model.forward(no_grad, a).value(),
                              Tensor::from_i32(targets, {B, T}, model.device()), kIgnoreIndex)
          .to_vector();
  std::vector<double> nll(static_cast<size_t>(B), 0.0);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t c = 0; c < T; ++c)
      if (targets[b * T + c] != kIgnoreIndex) nll[b] += losses[b * T + c];
    nll[b] /= static_cast<double>(rows.option_tokens[b]);
  }
  return nll;
}

int64_t icl_predict(const std::vector<double>& nll, const std::vector<double>& calibration) {
  if (!calibration.empty() && calibration.size() != nll.size())
    fail("autocompressor: ", calibration.size(), " calibration scores for ", nll.size(),
         " options");
  int64_t best = 0;
  double best_score = 0;
  for (size_t o = 0; o < nll.size(); ++o) {
    const double s = nll[o] - (calibration.empty() ? 0.0 : calibration[o]);
    if (o == 0 || s < best_score) {
      best = static_cast<int64_t>(o);
      best_score = s;
    }
  }
  return best;
}

double IclTaskScore::accuracy(const IclConditionScore& c) const {
  return queries.empty() ? std::nan("")
                         : static_cast<double>(c.correct) / static_cast<double>(queries.size());
}

double IclTaskScore::accuracy_uncalibrated(const IclConditionScore& c) const {
  return queries.empty()
             ? std::nan("")
             : static_cast<double>(c.correct_uncalibrated) / static_cast<double>(queries.size());
}

double IclTaskScore::std_error(const IclConditionScore& c) const {
  const double p = accuracy(c);
  return std::sqrt(p * (1 - p) / static_cast<double>(queries.size()));
}

IclTaskScore score_icl_task(const Llama& model, const Tensor& table, const data::Tokenizer& tok,
                            const data::IclExamples& pool, const data::IclExamples& tests,
                            const IclOptions& o) {
  if (pool.task != tests.task || pool.label_names != tests.label_names)
    fail("autocompressor: the demonstrations come from task ", pool.task, ", the queries from ",
         tests.task);
  if (tests.values.empty()) fail("autocompressor: no ", tests.task, " queries to score");
  const IclPrompt& p = icl_prompt(tests.task);
  IclTaskScore score;
  score.task = tests.task;
  score.options = tests.label_names;
  score.demos = draw_demonstrations(p, pool, tok, o);
  const IclContextIds ids = icl_context_ids(p, pool, score.demos, tok, o.segment);
  for (const std::vector<int32_t>& s : ids.segments)
    score.segment_tokens.push_back(static_cast<int64_t>(s.size()));
  score.demo_tokens = static_cast<int64_t>(ids.plain.size());

  const auto options = static_cast<int64_t>(tests.label_names.size());
  struct Condition {
    std::string name;
    IclContext ctx;
    bool bos;  // the query opens the prompt
  };
  std::vector<Condition> conditions;
  if (table.defined())
    conditions.push_back({"compressed",
                          compressed_context(model, table, ids.segments, o.accumulate, options),
                          false});
  conditions.push_back({"plain", plain_context(model, ids.plain, options), false});
  conditions.push_back({"none", IclContext{}, true});

  // The queries: a seeded draw, each scored in every condition or in none (a row that
  // would pass the model's positions after the longest context is left out).
  std::mt19937_64 g(o.seed ^ 0x9E3779B97F4A7C15ull);
  std::vector<size_t> drawn = shuffled(tests.values.size(), g);
  if (o.queries > 0 && o.queries < static_cast<int64_t>(drawn.size()))
    drawn.resize(static_cast<size_t>(o.queries));
  std::sort(drawn.begin(), drawn.end());
  int64_t longest = 0;
  for (const Condition& c : conditions) longest = std::max(longest, c.ctx.length);
  for (size_t i : drawn) {
    int64_t row = 0;
    for (const std::vector<int32_t>& r : icl_rows(p, tests, i, false, true, tok).ids)
      row = std::max(row, static_cast<int64_t>(r.size()));
    if (longest + row <= model.config().max_seq_len)
      score.queries.push_back(i);
    else
      ++score.skipped;
  }
  if (score.queries.empty())
    fail("autocompressor: no ", tests.task, " query fits the model's ", model.config().max_seq_len,
         " positions after ", longest, " context positions");

  score.gold.assign(static_cast<size_t>(options), 0);
  for (size_t i : score.queries) ++score.gold[static_cast<size_t>(tests.labels[i])];
  score.majority = *std::max_element(score.gold.begin(), score.gold.end());

  for (const Condition& c : conditions) {
    IclConditionScore s;
    s.condition = c.name;
    s.memory_vectors = c.ctx.length;
    s.predicted.assign(static_cast<size_t>(options), 0);
    // "N/A" in place of the input: the same rows for every query, so scored once.
    s.calibration = option_nlls(model, c.ctx, icl_rows(p, tests, 0, true, c.bos, tok));
    Progress progress("icl " + tests.task + " " + c.name,
                      static_cast<int64_t>(score.queries.size()), "queries");
    const auto start = std::chrono::steady_clock::now();
    for (size_t i : score.queries) {
      s.nll.push_back(option_nlls(model, c.ctx, icl_rows(p, tests, i, false, c.bos, tok)));
      const int64_t pick = icl_predict(s.nll.back(), s.calibration);
      ++s.predicted[static_cast<size_t>(pick)];
      s.correct += pick == tests.labels[i];
      s.correct_uncalibrated += icl_predict(s.nll.back(), {}) == tests.labels[i];
      progress.advance(1);
    }
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    score.conditions.push_back(std::move(s));
  }
  return score;
}

}  // namespace condense::autocompressor
