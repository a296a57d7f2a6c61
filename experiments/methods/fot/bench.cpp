// condense bench --method fot [--bench.preset results] [--bench.memory 16384,65536,262144]
// The cost of FoT's memory attention at inference (memory_cache.h), random weights:
// 1. per memory size M, one memory layer holding M tokens (random keys/values loaded
//    as a pushed window would store them), the time of the next window of C tokens
//    (--bench.window) through the whole model, and the process's peak resident memory
//    above what it held before that window (the scores and copies the pass makes), for
//      dense:          one softmax over [memory ∪ window], the engine's attention,
//      dense chunked:  the same in blocks of --fot.memory_chunk keys (online softmax),
//      knn exact:      each query's top --fot.knn_k memory keys found by our scan,
//      knn faiss-flat: the same top k found by FAISS's exact flat index;
//    the median of --bench.repeats windows (each adds its C tokens to the memory), in
//    CPU time of the process (with one thread, the work, whatever else shares the
//    cores) and in wall time;
// 2. a prompt of --bench.prefill tokens (0: none) through MemoryCache::prefill, dense
//    and knn faiss-flat: CPU and wall seconds and CPU ms per token (the authors' issue: ~17 s for
//    64k tokens on an A100 for LongLLaMA-3B, dense).
// Peak memory is /proc/self/status VmHWM after resetting it (clear_refs 5), minus VmRSS
// before the pass. Prints a Markdown report.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <random>

#include "core/error.h"
#include "eval/median.h"
#include "experiments/cli.h"
#include "experiments/device.h"
#include "experiments/methods/fot/bench.h"
#include "experiments/methods/fot/memory_cache.h"

namespace condense::fot {
namespace {

using Clock = std::chrono::steady_clock;

// Random-weight models: "results" is the passkey model of docs/results/fot (d128 L4),
// "small" a 27M-parameter one with LLaMA's vocabulary.
LlamaConfig preset(const std::string& name) {
  LlamaConfig c;
  if (name == "results") {
    c.vocab_size = 400, c.dim = 128, c.n_layers = 4, c.n_heads = 4, c.n_kv_heads = 2;
    c.ffn_dim = 344;
  } else if (name == "small") {
    c.vocab_size = 32000, c.dim = 512, c.n_layers = 8, c.n_heads = 8, c.n_kv_heads = 8;
    c.ffn_dim = 1376;
  } else {
    fail("bench --method fot: unknown --bench.preset '", name, "', expected results or small");
  }
  return c;
}

// A /proc/self/status field in KiB ("VmRSS", "VmHWM"); 0 where there is none.
int64_t status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  return 0;
}

// Resets VmHWM to the current RSS, so that it measures the peak from here on.
void reset_peak() {
  std::ofstream("/proc/self/clear_refs") << "5";
}

struct Mode {
  const char* name;
  int64_t knn, chunk;
  const char* index;
};

std::vector<int32_t> random_ids(std::mt19937_64& rng, int64_t n, int64_t vocab) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int32_t& id : ids) id = 3 + static_cast<int32_t>(rng() % uint64_t(vocab - 3));
  return ids;
}

Tensor random_rows(std::mt19937_64& rng, int64_t n, int64_t heads, int64_t dh) {
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(n * heads * dh));
  for (float& v : x) v = normal(rng);
  return Tensor::from_f32(x, {1, n, heads, dh});
}

// CPU seconds of the whole process (all threads) and wall seconds since construction.
struct Stopwatch {
  std::clock_t cpu0 = std::clock();
  Clock::time_point wall0 = Clock::now();
  double cpu() const { return double(std::clock() - cpu0) / CLOCKS_PER_SEC; }
  double wall() const { return std::chrono::duration<double>(Clock::now() - wall0).count(); }
};

using eval::median;

}  // namespace

int bench(const cli::Args& args) {
  std::string preset_name = "results", memory_list = "16384,65536,262144";
  int64_t window = 256, knn_k = 128, chunk = 4096, repeats = 3, prefill = 65536, layer = -1;
  uint64_t seed = 1;
  namespace po = cli::po;
  po::options_description desc("bench --method fot");
  desc.add_options()("bench.preset", po::value(&preset_name)->default_value(preset_name),
                     "random weights: results (d128 L4) or small (d512 L8)")(
      "bench.memory", po::value(&memory_list)->default_value(memory_list),
      "memory sizes in tokens, comma-separated")(
      "bench.window", po::value(&window)->default_value(window), "local context C")(
      "bench.layer", po::value(&layer)->default_value(layer),
      "the memory layer (-1: n_layers / 2)")("fot.knn_k", po::value(&knn_k)->default_value(knn_k),
                                             "k of knn memory attention")(
      "fot.memory_chunk", po::value(&chunk)->default_value(chunk),
      "keys per block of the chunked dense mode")(
      "bench.repeats", po::value(&repeats)->default_value(repeats), "timed windows per mode")(
      "bench.prefill", po::value(&prefill)->default_value(prefill),
      "tokens of the timed prefill (0: none)")("bench.seed", po::value(&seed)->default_value(seed),
                                               "weights, keys and tokens")(
      "method", po::value<std::string>(), "fot");
  po::variables_map vm;
  if (!cli::parse("bench --method fot", desc, args, vm)) return 0;
  const std::vector<int64_t> sizes = cli::parse_int_list("bench.memory", memory_list, 1);
  for (const auto& [name, v] : {std::pair<const char*, int64_t>{"bench.window", window},
                                {"fot.knn_k", knn_k},
                                {"fot.memory_chunk", chunk},
                                {"bench.repeats", repeats}})
    if (v <= 0) fail("bench --method fot: --", name, " must be positive, got ", v);
  if (prefill < 0) fail("bench --method fot: --bench.prefill must be ≥ 0, got ", prefill);
  LlamaConfig cfg = preset(preset_name);
  cfg.max_seq_len = window;  // positions run 0..C-1: memory keys sit at 0
  if (layer < 0) layer = cfg.n_layers / 2;
  if (layer >= cfg.n_layers)
    fail("bench --method fot: --bench.layer ", layer, " is out of range: the model has layers 0..",
         cfg.n_layers - 1);
  const Llama model(cfg, seed);
  std::mt19937_64 rng(seed);
  const int64_t hkv = cfg.n_kv_heads, dh = cfg.dim / cfg.n_heads;
  const Mode modes[] = {{"dense", 0, 0, "exact"},
                        {"dense chunked", 0, chunk, "exact"},
                        {"knn exact", knn_k, 0, "exact"},
                        {"knn faiss-flat", knn_k, 0, "faiss-flat"}};
  auto options = [&](const Mode& m) {
    MemoryOptions o;
    o.layers = {layer};
    o.window = window;
    o.knn = m.knn;
    o.memory_chunk = m.chunk;
    o.index.kind = m.index;
    return o;
  };

  char line[400];
  std::cout
      << "## bench --method fot: preset " << preset_name << " (d" << cfg.dim << " L" << cfg.n_layers
      << " H" << cfg.n_heads << " KV" << hkv << " vocab " << cfg.vocab_size
      << ", random weights), memory layer " << layer << ", window C = " << window << ", k " << knn_k
      << ", chunk " << chunk << ", " << repeats << " repeats, cpu\n\n"
      << "One window of C tokens against a memory of M tokens (median; tokens/s and "
         "throughput from CPU time; throughput = query-key pairs of the memory layer per "
         "second, as if dense):\n\n"
      << "| memory M | mode | CPU ms/window | wall ms/window | tokens/s | Gpairs/s | "
         "memory store (MiB) | peak above (MiB) |\n|---:|---|---:|---:|---:|---:|---:|---:|\n";
  for (int64_t M : sizes) {
    const Tensor k = random_rows(rng, M, hkv, dh), v = random_rows(rng, M, hkv, dh);
    const std::vector<int32_t> ids = random_ids(rng, window, cfg.vocab_size);
    for (const Mode& m : modes) {
      MemoryCache cache(model, options(m));
      cache.load_memory(layer, k, v);
      std::vector<double> cpu, wall;
      int64_t peak = 0;
      for (int64_t r = 0; r < repeats; ++r) {
        const int64_t before = status_kib("VmRSS");
        reset_peak();
        const Stopwatch t;
        cache.push_window(ids);
        cpu.push_back(t.cpu());
        wall.push_back(t.wall());
        peak = std::max(peak, status_kib("VmHWM") - before);
      }
      const double s = median(cpu);
      const double store = double(M * hkv * dh * 2 * 4) / (1 << 20);
      std::snprintf(line, sizeof line, "| %lld | %s | %.1f | %.1f | %.0f | %.3f | %.1f | %.1f |\n",
                    static_cast<long long>(M), m.name, 1e3 * s, 1e3 * median(wall),
                    double(window) / s, double(window) * double(M) * double(cfg.n_heads) / s / 1e9,
                    store, double(peak) / 1024);
      std::cout << line << std::flush;
    }
  }
  if (prefill == 0) return 0;
  std::cout << "\nA prompt of " << prefill
            << " tokens through MemoryCache::prefill (windows of C, the last C/2 tokens local):\n\n"
            << "| mode | CPU s | wall s | CPU ms/token | tokens/s (CPU) | peak above (MiB) |\n"
            << "|---|---:|---:|---:|---:|---:|\n";
  const std::vector<int32_t> prompt = random_ids(rng, prefill, cfg.vocab_size);
  for (const Mode& m : {modes[0], modes[3]}) {
    MemoryOptions o = options(m);
    o.last_context = window / 2;
    MemoryCache cache(model, o);
    const int64_t before = status_kib("VmRSS");
    reset_peak();
    const Stopwatch t;
    cache.prefill(prompt);
    const double s = t.cpu();
    std::snprintf(line, sizeof line, "| %s | %.1f | %.1f | %.3f | %.0f | %.1f |\n", m.name, s,
                  t.wall(), 1e3 * s / double(prefill), double(prefill) / s,
                  double(status_kib("VmHWM") - before) / 1024);
    std::cout << line << std::flush;
  }
  return 0;
}

}  // namespace condense::fot
