// condense bench --method ccm [--bench.preset small] [options]
// Latency per answered turn and the key/value memory, over one synthetic dialogue of
// --bench.turns turns, for
//   full:   full context, every turn's keys/values kept in one cache,
//   concat: CCM-concat, c(t) compressed into n_tok entries more per turn (online.h),
//   merge:  CCM-merge, the memory stays n_tok entries,
// where a turn is: the context c(t) (--bench.turn_tokens) enters the memory (full: its
// keys/values are appended; CCM: it runs with its <COMP> tokens through the conditional
// LoRA), then a query (--bench.query_tokens) is answered by --bench.answer_tokens greedy
// tokens that read the memory. The latency of a turn covers both. The weights are
// random (a preset: time does not depend on their values). FLOPs are counted from shapes
// (eval/forward_cost.h; the context passes run no lm_head); wall time is the median of
// --bench.repeats runs of the dialogue per turn, the modes' runs interleaved. Peak KV is
// the most entries held at once (memory + the pass or the answer's own tokens), 4-byte
// floats. Prints a Markdown report.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>

#include "core/error.h"
#include "core/ops.h"
#include "eval/batch_generate.h"
#include "eval/forward_cost.h"
#include "eval/kv_prefix.h"
#include "eval/median.h"
#include "experiments/device.h"
#include "experiments/methods/ccm/adapter.h"
#include "experiments/methods/ccm/commands.h"
#include "experiments/methods/ccm/online.h"

namespace condense::ccm {
namespace {

using Clock = std::chrono::steady_clock;

// Random-weight models; vocabularies like LLaMA's, so the lm_head weighs what it does.
LlamaConfig preset(const std::string& name) {
  LlamaConfig c;
  c.vocab_size = 32000;
  if (name == "tiny") {
    c.vocab_size = 512, c.dim = 64, c.n_layers = 4, c.n_heads = 4, c.n_kv_heads = 4;
    c.ffn_dim = 172;
  } else if (name == "small") {
    c.dim = 512, c.n_layers = 8, c.n_heads = 8, c.n_kv_heads = 8, c.ffn_dim = 1376;
  } else if (name == "medium") {
    c.dim = 1024, c.n_layers = 12, c.n_heads = 16, c.n_kv_heads = 16, c.ffn_dim = 2752;
  } else {
    fail("bench --method ccm: unknown --bench.preset '", name, "', expected tiny, small or medium");
  }
  c.max_seq_len = 1 << 16;
  return c;
}

enum class Mode { full, concat, merge };
constexpr Mode kModes[] = {Mode::full, Mode::concat, Mode::merge};
const char* mode_name(Mode m) {
  return m == Mode::full ? "full context" : m == Mode::concat ? "CCM-concat" : "CCM-merge";
}

struct Dialogue {
  std::vector<std::vector<int32_t>> contexts, queries;
  int64_t answer_tokens = 0;
};

struct TurnCost {
  double seconds = 0, flops = 0;
  int64_t memory = 0;  // entries the answer reads
  int64_t peak = 0;    // entries held at once during the turn
};

// FLOPs of a context pass of `tokens` over `memory` entries (no lm_head).
double context_flops(const LlamaConfig& c, int64_t tokens, int64_t memory) {
  return eval::forward_flops(c, 1, tokens, memory + tokens) -
         2.0 * double(tokens) * double(c.dim) * double(c.vocab_size);
}

// FLOPs of answering `query` tokens over `memory` entries with `answer` greedy tokens:
// the prompt pass, then one pass per token after the first.
double answer_flops(const LlamaConfig& c, int64_t query, int64_t memory, int64_t answer) {
  double f = eval::forward_flops(c, 1, query, memory + query);
  for (int64_t j = 1; j < answer; ++j) f += eval::forward_flops(c, 1, 1, memory + query + j);
  return f;
}

eval::BatchGenerateConfig answer_config(const Dialogue& d) {
  eval::BatchGenerateConfig cfg;
  cfg.max_new_tokens = d.answer_tokens;  // no stop id: every answer has the same length
  cfg.base_only = true;
  return cfg;
}

std::vector<TurnCost> run_ccm(const Llama& model, const Tensor& table, const Layout& l,
                              const Dialogue& d, int64_t turns) {
  const LlamaConfig& c = model.config();
  std::vector<TurnCost> out;
  OnlineMemory mem(1);
  for (int64_t t = 0; t < turns; ++t) {
    TurnCost cost;
    const int64_t before = mem[0].entries;
    const int64_t ctx_tokens =
        (t == 0 ? 1 : static_cast<int64_t>(l.sep.size())) + d.contexts[t].size() + l.n_tok;
    const auto t0 = Clock::now();
    compress(model, table, l, mem, {&d.contexts[t]}, l.eos);
    const std::vector<std::vector<int32_t>> q{query_tokens(l, mem[0], d.queries[t])};
    answer(model, mem, q, l.eos, answer_config(d));
    cost.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const int64_t query = static_cast<int64_t>(q[0].size());
    cost.memory = mem[0].entries;
    cost.flops =
        context_flops(c, ctx_tokens, before) + answer_flops(c, query, cost.memory, d.answer_tokens);
    cost.peak = std::max(before + ctx_tokens, cost.memory + query + d.answer_tokens);
    out.push_back(cost);
  }
  return out;
}

std::vector<TurnCost> run_full(const Llama& model, const Layout& l, const Dialogue& d,
                               int64_t turns) {
  const LlamaConfig& c = model.config();
  const Device device = model.device();
  std::vector<TurnCost> out;
  std::vector<LayerKV> cache;
  int64_t M = 0;
  for (int64_t t = 0; t < turns; ++t) {
    TurnCost cost;
    std::vector<int32_t> ctx = t == 0 ? std::vector<int32_t>{l.bos} : l.sep;
    ctx.insert(ctx.end(), d.contexts[t].begin(), d.contexts[t].end());
    std::vector<int32_t> q = l.sep;
    q.insert(q.end(), d.queries[t].begin(), d.queries[t].end());
    q.insert(q.end(), l.sep.begin(), l.sep.end());
    const int64_t T = static_cast<int64_t>(ctx.size());
    const auto t0 = Clock::now();
    std::vector<int32_t> pos(static_cast<size_t>(T));
    for (int64_t i = 0; i < T; ++i) pos[i] = static_cast<int32_t>(M + i);
    Tape tape(false);
    ForwardArgs args;
    args.ids = Tensor::from_i32(ctx, {1, T}, device);
    args.pos = Tensor::from_i32(pos, {1, T}, device);
    args.lora_mask = Tensor::zeros({1, T}, DType::u8, device);
    if (M > 0) args.prefix = &cache;
    std::vector<LayerKV> kv;
    args.kv_out = &kv;
    model.hidden(tape, args);
    if (cache.empty()) cache.resize(kv.size());
    for (size_t layer = 0; layer < kv.size(); ++layer) {
      LayerKV& e = cache[layer];
      // Detached (Var of the value), so that a cache does not hold on to the ones before.
      e.k = M == 0 ? kv[layer].k : Var(ops::concat(tape, {e.k, kv[layer].k}, 1).value());
      e.v = M == 0 ? kv[layer].v : Var(ops::concat(tape, {e.v, kv[layer].v}, 1).value());
    }
    cost.flops = context_flops(c, T, M);
    M += T;
    const eval::PromptBatch p = eval::causal_batch({q}, {M}, l.eos, device);
    eval::generate_batch(model, &cache, p, answer_config(d));
    cost.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const int64_t query = static_cast<int64_t>(q.size());
    cost.memory = M;
    cost.flops += answer_flops(c, query, M, d.answer_tokens);
    cost.peak = M + query + d.answer_tokens;
    out.push_back(cost);
  }
  return out;
}

using eval::median;

}  // namespace

int bench(const cli::Args& args) {
  std::string preset_name = "small", device_name = "cpu";
  int64_t turns = 50, turn_tokens = 32, query_tokens_n = 8, answer_tokens = 8, n_tok = 2;
  int64_t repeats = 3, every = 10;
  uint64_t seed = 1;
  namespace po = cli::po;
  po::options_description desc("bench --method ccm");
  desc.add_options()("bench.preset", po::value(&preset_name)->default_value(preset_name),
                     "random weights: tiny (d64 L4), small (d512 L8) or medium (d1024 L12)")(
      "bench.turns", po::value(&turns)->default_value(turns), "turns of the dialogue")(
      "bench.turn_tokens", po::value(&turn_tokens)->default_value(turn_tokens),
      "tokens of each context c(t)")("bench.query_tokens",
                                     po::value(&query_tokens_n)->default_value(query_tokens_n),
                                     "tokens of each query")(
      "bench.answer_tokens", po::value(&answer_tokens)->default_value(answer_tokens),
      "greedy tokens of each answer")("ccm.n_tok", po::value(&n_tok)->default_value(n_tok),
                                      "<COMP> tokens per context")(
      "bench.repeats", po::value(&repeats)->default_value(repeats), "timed runs per mode")(
      "bench.every", po::value(&every)->default_value(every), "a table row every N turns")(
      "bench.seed", po::value(&seed)->default_value(seed), "weights and tokens")(
      "device", po::value(&device_name)->default_value(device_name), "cpu or cuda")(
      "method", po::value<std::string>(), "ccm");
  po::variables_map vm;
  if (!cli::parse("bench --method ccm", desc, args, vm)) return 0;
  for (const auto& [name, v] : {std::pair<const char*, int64_t>{"bench.turns", turns},
                                {"bench.turn_tokens", turn_tokens},
                                {"bench.query_tokens", query_tokens_n},
                                {"bench.answer_tokens", answer_tokens},
                                {"ccm.n_tok", n_tok},
                                {"bench.repeats", repeats},
                                {"bench.every", every}})
    if (v <= 0) fail("bench --method ccm: --", name, " must be positive, got ", v);
  const Device device = exp::parse_device(device_name);

  const LlamaConfig cfg = preset(preset_name);
  Llama model(cfg, seed);
  Layout concat;
  concat.n_tok = n_tok;
  std::mt19937_64 rng(seed);
  auto random_tokens = [&](int64_t n) {
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (int32_t& id : ids) id = 3 + static_cast<int32_t>(rng() % uint64_t(cfg.vocab_size - 3));
    return ids;
  };
  concat.sep = random_tokens(3);  // as long as LLaMA's "\nA:"
  Layout merge = concat;
  merge.attn = Attn::merge_recur;
  // One table of 2n rows serves both: <COMP_r> is row r in either layout.
  extend_model(model,
               comp_table_init(model.param("model.embed_tokens.weight").var.value(),
                               table_rows(Attn::merge_recur, n_tok)),
               AdapterOptions{});
  if (device != Device::cpu) model.to(device);
  const Tensor& table = model.param(kTableName).var.value();
  Dialogue d;
  d.answer_tokens = answer_tokens;
  for (int64_t t = 0; t < turns; ++t) {
    d.contexts.push_back(random_tokens(turn_tokens));
    d.queries.push_back(random_tokens(query_tokens_n));
  }

  auto run = [&](Mode m, int64_t n) {
    return m == Mode::full     ? run_full(model, concat, d, n)
           : m == Mode::concat ? run_ccm(model, table, concat, d, n)
                               : run_ccm(model, table, merge, d, n);
  };
  for (Mode m : kModes) run(m, std::min<int64_t>(turns, 3));  // warm-up
  std::vector<std::vector<std::vector<TurnCost>>> runs(3);    // [mode][repeat][turn]
  for (int64_t r = 0; r < repeats; ++r)
    for (int k = 0; k < 3; ++k) {
      const int m = static_cast<int>((k + r) % 3);  // rotate which mode runs first
      runs[m].push_back(run(kModes[m], turns));
    }
  // Per mode and turn: the median seconds over the repeats; the rest is deterministic.
  std::vector<std::vector<TurnCost>> per(3);
  for (int m = 0; m < 3; ++m)
    for (int64_t t = 0; t < turns; ++t) {
      TurnCost c = runs[m][0][t];
      std::vector<double> s;
      for (const auto& rep : runs[m]) s.push_back(rep[t].seconds);
      c.seconds = median(s);
      per[m].push_back(c);
    }

  const int64_t entry_bytes = eval::kv_bytes_per_token(cfg);
  char line[400];
  std::cout << "## bench --method ccm: preset " << preset_name << " (d" << cfg.dim << " L"
            << cfg.n_layers << " H" << cfg.n_heads << " ffn " << cfg.ffn_dim << " vocab "
            << cfg.vocab_size << ", random weights), n_tok " << n_tok << ", " << turns
            << " turns of " << turn_tokens << " context + " << query_tokens_n << " query + "
            << answer_tokens << " answer tokens, " << repeats << " repeats, " << device_name
            << "\n\nPer answered turn at turn t (memory = KV entries the answer reads):\n\n"
            << "| t | mode | ms/turn | GFLOPs/turn | memory (entries) | memory (KiB) |\n"
            << "|---:|---|---:|---:|---:|---:|\n";
  for (int64_t t = 0; t < turns; ++t) {
    if (t != 0 && (t + 1) % every != 0) continue;
    for (int m = 0; m < 3; ++m) {
      const TurnCost& c = per[m][t];
      std::snprintf(line, sizeof line, "| %lld | %s | %.2f | %.5g | %lld | %.1f |\n",
                    static_cast<long long>(t + 1), mode_name(kModes[m]), 1e3 * c.seconds,
                    c.flops / 1e9, static_cast<long long>(c.memory),
                    double(c.memory * entry_bytes) / 1024.0);
      std::cout << line;
    }
  }
  std::cout << "\nWhole dialogue (" << turns << " turns):\n\n"
            << "| mode | ms/turn (mean) | GFLOPs/turn (mean) | peak KV (entries) | peak KV (KiB) "
               "| FLOP saving | wall-time saving | wall / FLOP saving |\n"
            << "|---|---:|---:|---:|---:|---:|---:|---:|\n";
  double full_s = 0, full_f = 0;
  for (const TurnCost& c : per[0]) full_s += c.seconds, full_f += c.flops;
  for (int m = 0; m < 3; ++m) {
    double s = 0, f = 0;
    int64_t peak = 0;
    for (const TurnCost& c : per[m]) s += c.seconds, f += c.flops, peak = std::max(peak, c.peak);
    const double flop_saving = 1 - f / full_f, wall_saving = 1 - s / full_s;
    if (m == 0)
      std::snprintf(line, sizeof line, "| %s | %.2f | %.4f | %lld | %.1f | | | |\n",
                    mode_name(kModes[m]), 1e3 * s / double(turns), f / 1e9 / double(turns),
                    static_cast<long long>(peak), double(peak * entry_bytes) / 1024.0);
    else
      std::snprintf(line, sizeof line,
                    "| %s | %.2f | %.4f | %lld | %.1f | %.1f%% | %.1f%% | %.2f |\n",
                    mode_name(kModes[m]), 1e3 * s / double(turns), f / 1e9 / double(turns),
                    static_cast<long long>(peak), double(peak * entry_bytes) / 1024.0,
                    100 * flop_saving, 100 * wall_saving, wall_saving / flop_saving);
    std::cout << line;
  }
  return 0;
}

}  // namespace condense::ccm
