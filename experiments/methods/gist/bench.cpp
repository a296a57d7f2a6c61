// condense bench --method gist --data.dir DATA (--run.dir RUN | --bench.preset NAME) [options]
// Gisting's benchmark on the human split: for every example
// (batch 1) or every group of examples (batch 16), one forward pass of
//   uncached: the whole prompt (instruction + gists + input),
//   gist:     the post-gist suffix against the k cached gist tokens,
//   prompt:   the suffix against the cached instruction + gists (full prompt caching),
// with FLOPs counted from shapes (eval/forward_cost.h), wall time (median of
// bench.repeats runs, the three modes interleaved in a random order per example)
// and key/value memory (analytic, 2·L·Hkv·Dh·4 bytes per token). The caches are
// computed beforehand and not timed, as in gisting. Writes one CSV row per example
// and mode (--bench.out) and prints a Markdown summary on stdout.
#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <map>
#include <numeric>
#include <random>
#include <sstream>

#include "core/checkpoint.h"
#include "datasets/tokenizer.h"
#include "eval/csv.h"
#include "eval/forward_cost.h"
#include "eval/kv_prefix.h"
#include "eval/median.h"
#include "experiments/device.h"
#include "experiments/methods/gist/inference.h"
#include "experiments/methods/gist/options.h"
#include "experiments/model_dir.h"
#include "experiments/tasks/instruct.h"

namespace condense::gist {
namespace {

using Clock = std::chrono::steady_clock;
constexpr gist::CacheMode kModes[] = {gist::CacheMode::none, gist::CacheMode::gist,
                                      gist::CacheMode::prompt};

// Random-weight models for timing at sizes the CPU reproduction cannot train.
LlamaConfig preset(const std::string& name, int64_t vocab) {
  LlamaConfig c;
  c.vocab_size = vocab;
  if (name == "small") {
    c.dim = 512, c.n_layers = 8, c.n_heads = 8, c.n_kv_heads = 8, c.ffn_dim = 1376;
  } else if (name == "medium") {
    c.dim = 1024, c.n_layers = 12, c.n_heads = 16, c.n_kv_heads = 16, c.ffn_dim = 2752;
  } else {
    fail("bench --method gist: unknown --bench.preset '", name, "', expected small or medium");
  }
  return c;
}

struct Measure {
  double flops = 0, seconds = 0;
  int64_t cached_tokens = 0, peak_tokens = 0;
};

using eval::median;

double forward_seconds(const Llama& model, const gist::Prepared& p) {
  Tape no_grad(false);
  const auto t0 = Clock::now();
  const Var logits = model.forward(no_grad, p.forward_args());
  logits.value().to_vector();  // waits for the device and touches the result
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string pct(double now, double base) {
  std::ostringstream os;
  os << std::showpos << std::fixed << std::setprecision(1) << 100.0 * (now - base) / base << "%";
  return os.str();
}

std::string ratio(double a, double b) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(2) << a / b;
  return os.str();
}

}  // namespace

int bench(const cli::Args& args) {
  std::string data_dir, run_dir, preset_name, out_csv, device_name;
  int num_tokens = 1;
  int64_t repeats = 5, max_examples = 0;
  std::string batch_sizes;
  cli::po::options_description desc("bench --method gist");
  desc.add_options()("data.dir", cli::po::value(&data_dir)->required(),
                     "prepared gist data (its validation_human.h5 is benchmarked)")(
      "run.dir", cli::po::value(&run_dir)->default_value(""), "a trained gist run to time")(
      "bench.preset", cli::po::value(&preset_name)->default_value(""),
      "instead of a run: random weights, small (d512 L8) or medium (d1024 L12)")(
      "gist.num_tokens", cli::po::value(&num_tokens)->default_value(1),
      "k for a preset (a run's own k otherwise)")(
      "bench.batch_sizes", cli::po::value(&batch_sizes)->default_value("1,16"),
      "examples per forward pass (comma-separated)")(
      "bench.repeats", cli::po::value(&repeats)->default_value(repeats), "timed runs per mode")(
      "bench.max_examples", cli::po::value(&max_examples)->default_value(0),
      "first N human examples (0: all 252)")(
      "bench.out", cli::po::value(&out_csv)->default_value(""), "per-example CSV")(
      "device", cli::po::value(&device_name)->default_value("cpu"), "cpu or cuda")(
      "method", cli::po::value<std::string>(), "gist");
  cli::po::variables_map vm;
  if (!cli::parse("bench --method gist", desc, args, vm)) return 0;
  if (run_dir.empty() == preset_name.empty())
    fail("bench --method gist: give exactly one of --run.dir and --bench.preset");
  if (repeats <= 0) fail("bench --method gist: --bench.repeats must be positive");
  const Device device = exp::parse_device(device_name);

  const instruct::DataFiles files = instruct::DataFiles::in(data_dir);
  const data::Tokenizer tok = data::Tokenizer::load(files.tokenizer);
  const gist::Template tmpl = instruct::Template::make(tok);
  std::string model_name = preset_name;
  std::unique_ptr<Llama> model;
  if (!run_dir.empty()) {
    std::string condition;
    gist::read_run_method(run_dir, num_tokens, condition);
    const std::string ckpt = exp::locate_model(run_dir).checkpoint;
    model = std::make_unique<Llama>(read_checkpoint_config(ckpt), 0);
    load_checkpoint(ckpt, *model, nullptr);
    model_name = run_dir;
  } else {
    model = std::make_unique<Llama>(preset(preset_name, gist_token_id(tok) + 1), 1);
  }
  if (device != Device::cpu) model->to(device);
  const gist::Method method{{num_tokens, gist_token_id(tok)}, gist::Condition::gist, tmpl.eos};
  instruct::Split human = instruct::load_split(files.eval[2], tok, tmpl);
  if (max_examples > 0 && max_examples < static_cast<int64_t>(human.examples.size()))
    human.examples.resize(static_cast<size_t>(max_examples));
  const LlamaConfig& cfg = model->config();
  const int64_t kv_token = eval::kv_bytes_per_token(cfg);

  std::vector<std::vector<std::string>> csv;
  std::mt19937_64 rng(0);
  std::cout
      << "## bench --method gist: " << model_name << " (" << model->num_params() << " parameters, d"
      << cfg.dim << " L" << cfg.n_layers << ", k=" << num_tokens << "), " << human.examples.size()
      << " human examples, " << repeats << " repeats\n\n"
      << "| batch | mode | GFLOPs/example | Δ FLOPs | ms/example | Δ time | median speed-up | "
         "time saving / FLOP saving | cached KV/example | peak KV/example |\n"
      << "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const int64_t bs : cli::parse_int_list("bench.batch_sizes", batch_sizes, 1)) {
    std::map<gist::CacheMode, std::vector<Measure>> per;
    bool warm = false;
    // Batches group prompts of similar length, as a server would, so that padding does
    // not swamp what caching saves.
    std::vector<size_t> by_length(human.examples.size());
    std::iota(by_length.begin(), by_length.end(), 0);
    if (bs > 1)
      std::stable_sort(by_length.begin(), by_length.end(), [&](size_t a, size_t b) {
        return method.layout.prompt_length(human.examples[a]) <
               method.layout.prompt_length(human.examples[b]);
      });
    for (size_t begin = 0; begin < by_length.size(); begin += static_cast<size_t>(bs)) {
      std::vector<const gist::Example*> ex;
      for (size_t i = begin; i < std::min(by_length.size(), begin + bs); ++i)
        ex.push_back(&human.examples[by_length[i]]);
      std::map<gist::CacheMode, gist::Prepared> prep;
      for (gist::CacheMode m : kModes) prep[m] = gist::prepare(*model, method, ex, m);
      if (!warm) {  // first touches (allocator, caches) are not part of any measurement
        for (gist::CacheMode m : kModes) forward_seconds(*model, prep[m]);
        warm = true;
      }
      std::vector<gist::CacheMode> order(std::begin(kModes), std::end(kModes));
      std::map<gist::CacheMode, std::vector<double>> times;
      for (int64_t r = 0; r < repeats; ++r) {
        std::shuffle(order.begin(), order.end(), rng);
        for (gist::CacheMode m : order) times[m].push_back(forward_seconds(*model, prep[m]));
      }
      for (gist::CacheMode m : kModes) {
        const gist::Batch& b = prep[m].batch;
        Measure x;
        x.flops = eval::forward_flops(cfg, b.rows, b.T, b.M + b.T);
        x.seconds = median(times[m]);
        int64_t prompt_tokens = 0, gist_index = 0, suffix_tokens = 0;
        for (const gist::Example* e : ex) {
          const int64_t f = gist::Layout::first_gist(*e);
          prompt_tokens += method.layout.prompt_length(*e);
          gist_index += f;
          suffix_tokens += static_cast<int64_t>(e->suffix.size());
          x.cached_tokens += m == gist::CacheMode::none   ? 0
                             : m == gist::CacheMode::gist ? num_tokens
                                                          : f + num_tokens;
        }
        x.peak_tokens =
            m == gist::CacheMode::none ? prompt_tokens : x.cached_tokens + suffix_tokens;
        csv.push_back(
            {std::to_string(bs), std::to_string(by_length[begin]), gist::cache_mode_name(m),
             std::to_string(prompt_tokens), std::to_string(suffix_tokens),
             std::to_string(gist_index), std::to_string(x.flops), std::to_string(x.seconds * 1e6),
             std::to_string(x.cached_tokens * kv_token), std::to_string(x.peak_tokens * kv_token)});
        per[m].push_back(x);
      }
    }
    // Per-example means: a batch's numbers are shared by its rows.
    const double n_examples = static_cast<double>(human.examples.size());
    auto total = [&](gist::CacheMode m, auto field) {
      double s = 0;
      for (const Measure& x : per[m]) s += field(x);
      return s / n_examples;
    };
    const double base_flops = total(gist::CacheMode::none, [](auto& x) { return x.flops; });
    const double base_time = total(gist::CacheMode::none, [](auto& x) { return x.seconds; });
    for (gist::CacheMode m : kModes) {
      const double flops = total(m, [](auto& x) { return x.flops; });
      const double time = total(m, [](auto& x) { return x.seconds; });
      std::vector<double> speedups;
      for (size_t i = 0; i < per[m].size(); ++i)
        speedups.push_back(per[gist::CacheMode::none][i].seconds / per[m][i].seconds);
      const double kv_cached = total(m, [](auto& x) { return double(x.cached_tokens); });
      const double kv_peak = total(m, [](auto& x) { return double(x.peak_tokens); });
      std::cout << "| " << bs << " | " << gist::cache_mode_name(m) << " | " << std::fixed
                << std::setprecision(4) << flops / 1e9 << " | "
                << (m == gist::CacheMode::none ? "" : pct(flops, base_flops)) << " | "
                << std::setprecision(3) << time * 1e3 << " | "
                << (m == gist::CacheMode::none ? "" : pct(time, base_time)) << " | "
                << std::setprecision(3) << median(speedups) << "x | "
                << (m == gist::CacheMode::none
                        ? std::string()
                        : ratio((base_time - time) / base_time, (base_flops - flops) / base_flops))
                << " | " << std::setprecision(1) << kv_cached * kv_token / 1024 << " KiB ("
                << kv_cached << " tok) | " << kv_peak * kv_token / 1024 << " KiB |\n"
                << std::defaultfloat;
    }
  }
  double prompt_len = 0, gist_index = 0;
  for (const instruct::Example& e : human.examples) {
    prompt_len += static_cast<double>(method.layout.prompt_length(e));
    gist_index += static_cast<double>(gist::Layout::first_gist(e));
  }
  const double n = static_cast<double>(human.examples.size());
  std::cout << std::fixed << std::setprecision(1) << "\nMean prompt length " << prompt_len / n
            << " tokens; mean gist index (tokens before the gists, what k gist tokens replace) "
            << gist_index / n << ".\n";
  if (!out_csv.empty())
    eval::write_csv(out_csv,
                    {"batch_size", "first_example", "mode", "num_prompt_tokens", "num_input_tokens",
                     "gist_index", "flops", "time_us", "cached_kv_bytes", "peak_kv_bytes"},
                    csv);
  return 0;
}

}  // namespace condense::gist
