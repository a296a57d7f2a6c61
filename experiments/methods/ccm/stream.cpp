#include "experiments/methods/ccm/stream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/ops.h"
#include "datasets/token_dataset.h"

namespace condense::ccm {
namespace {

// Entries of one cache region: per layer, keys before RoPE and values, entries × E floats.
struct Region {
  std::vector<std::vector<float>> k, v;
  int64_t n = 0;
  void append(const std::vector<LayerKV>& kv, int64_t first, int64_t count, int64_t E) {
    if (k.empty()) k.resize(kv.size()), v.resize(kv.size());
    for (size_t l = 0; l < kv.size(); ++l) {
      const std::vector<float> kr = kv[l].k_raw.value().to(Device::cpu).to_vector();
      const std::vector<float> vv = kv[l].v.value().to(Device::cpu).to_vector();
      k[l].insert(k[l].end(), kr.begin() + first * E, kr.begin() + (first + count) * E);
      v[l].insert(v[l].end(), vv.begin() + first * E, vv.begin() + (first + count) * E);
    }
    n += count;
  }
  void drop_front(int64_t count, int64_t E) {
    for (size_t l = 0; l < k.size(); ++l) {
      k[l].erase(k[l].begin(), k[l].begin() + count * E);
      v[l].erase(v[l].begin(), v[l].begin() + count * E);
    }
    n -= count;
  }
};

// The regions in order (the first `window_count` window entries of the last) as a
// prefix of unrotated keys at positions 0..S-1.
std::vector<LayerKV> prefix_of(const std::vector<const Region*>& regions, int64_t window_count,
                               const LlamaConfig& c, Device device, int64_t& S) {
  const int64_t E = c.n_kv_heads * c.head_dim();
  S = 0;
  for (size_t r = 0; r < regions.size(); ++r)
    S += r + 1 == regions.size() ? window_count : regions[r]->n;
  if (S == 0) return {};
  std::vector<int32_t> pos(static_cast<size_t>(S));
  for (int64_t i = 0; i < S; ++i) pos[i] = static_cast<int32_t>(i);
  const Tensor pos_t = Tensor::from_i32(pos, {1, S}, device);
  std::vector<LayerKV> out(static_cast<size_t>(c.n_layers));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    std::vector<float> k, v;
    k.reserve(static_cast<size_t>(S * E)), v.reserve(static_cast<size_t>(S * E));
    for (size_t r = 0; r < regions.size(); ++r) {
      const Region& g = *regions[r];
      if (g.n == 0) continue;
      const int64_t take = r + 1 == regions.size() ? window_count : g.n;
      k.insert(k.end(), g.k[l].begin(), g.k[l].begin() + take * E);
      v.insert(v.end(), g.v[l].begin(), g.v[l].begin() + take * E);
    }
    const Shape s{1, S, c.n_kv_heads, c.head_dim()};
    out[l] = {Var(Tensor::from_f32(k, s, device)), Var(Tensor::from_f32(v, s, device)), pos_t};
  }
  return out;
}

}  // namespace

double StreamResult::ppl() const {
  return tokens > 0 ? std::exp(nll / static_cast<double>(tokens)) : 0.0;
}

void check_stream(const StreamOptions& o) {
  if (o.sink < 0 || o.chunk < 1 || o.memory < 0 || o.n_tok < 1)
    fail("ccm stream: sink >= 0, chunk >= 1, memory >= 0 and n_tok >= 1 expected, got sink ",
         o.sink, ", chunk ", o.chunk, ", memory ", o.memory, ", n_tok ", o.n_tok);
  if (o.memory > 0 && o.memory < o.n_tok)
    fail("ccm stream: a memory of ", o.memory, " entries cannot hold one compression of ", o.n_tok,
         " <COMP> entries");
  if (o.cache < o.sink + o.memory + o.chunk + 1)
    fail("ccm stream: a cache of ", o.cache, " entries cannot hold sink ", o.sink, " + memory ",
         o.memory, " + a chunk of ", o.chunk, " + the current token");
}

StreamResult stream_nll(const Llama& model, const Tensor* table, std::span<const int32_t> tokens,
                        const StreamOptions& o) {
  check_stream(o);
  if (o.memory > 0 && (!table || table->dim(0) < o.n_tok))
    fail("ccm stream: compression needs a <COMP> table of at least ", o.n_tok, " rows");
  const LlamaConfig& c = model.config();
  const Device device = model.device();
  const int64_t E = c.n_kv_heads * c.head_dim();
  Region sink, memory, window;
  StreamResult res;
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    if (sink.n + memory.n + window.n + 1 > o.cache) {  // full: make room for this token
      if (o.memory > 0) {
        int64_t P = 0;
        const std::vector<LayerKV> prefix =
            prefix_of({&sink, &memory, &window}, o.chunk, c, device, P);
        std::vector<int32_t> pos(static_cast<size_t>(o.n_tok)), rows(pos.size());
        for (int64_t r = 0; r < o.n_tok; ++r) pos[r] = static_cast<int32_t>(P + r), rows[r] = r;
        Tape tape(false);
        ForwardArgs a;
        a.ids = Tensor::zeros({1, o.n_tok}, DType::i32, device);
        a.pos = Tensor::from_i32(pos, {1, o.n_tok}, device);
        a.prefix = &prefix;
        a.embed_rows = Tensor::from_i32(rows, {o.n_tok}, device);
        a.embed_values = ops::gather_rows(tape, Var(table->to(device)),
                                          Tensor::from_i32(rows, {o.n_tok}, device));
        a.lora_mask = Tensor::from_u8(std::vector<uint8_t>(pos.size(), 1), {1, o.n_tok}, device);
        std::vector<LayerKV> kv;
        a.kv_out = &kv;
        model.hidden(tape, a);
        memory.append(kv, 0, o.n_tok, E);
        if (memory.n > o.memory) memory.drop_front(memory.n - o.memory, E);
        res.compressions++;
      }
      window.drop_front(std::min(o.chunk, window.n), E);
    }
    int64_t S = 0;
    const std::vector<LayerKV> prefix =
        prefix_of({&sink, &memory, &window}, window.n, c, device, S);
    Tape tape(false);
    ForwardArgs a;
    a.ids = Tensor::from_i32({tokens[i]}, {1, 1}, device);
    a.pos = Tensor::from_i32({static_cast<int32_t>(S)}, {1, 1}, device);
    a.lora_mask = Tensor::zeros({1, 1}, DType::u8, device);
    if (S > 0) a.prefix = &prefix;
    std::vector<LayerKV> kv;
    a.kv_out = &kv;
    const std::vector<float> logits = model.forward(tape, a).value().to(Device::cpu).to_vector();
    const float top = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (float x : logits) sum += std::exp(static_cast<double>(x - top));
    res.nll += std::log(sum) + top - logits[static_cast<size_t>(tokens[i + 1])];
    res.tokens++;
    res.max_cache = std::max(res.max_cache, S + 1);
    (sink.n < o.sink ? sink : window).append(kv, 0, 1, E);
  }
  return res;
}

void add_stream_options(cli::po::options_description& desc, StreamTask& t) {
  namespace po = cli::po;
  StreamOptions& o = t.options;
  desc.add_options()("ccm.stream_data", po::value(&t.data)->default_value(""),
                     "books .h5 the stream task reads (condense data books); empty: no task")(
      "ccm.stream_tokens", po::value(&t.tokens)->default_value(t.tokens),
      "tokens streamed (of the first record that long)")(
      "ccm.stream_cache", po::value(&o.cache)->default_value(o.cache), "most cached entries")(
      "ccm.stream_chunk", po::value(&o.chunk)->default_value(o.chunk),
      "window tokens evicted (compressed) at once")("ccm.stream_memory",
                                                    po::value(&o.memory)->default_value(o.memory),
                                                    "most <COMP> entries kept")(
      "ccm.stream_sink", po::value(&o.sink)->default_value(o.sink), "leading tokens always kept");
}

std::string evaluate_stream(const StreamTask& t, const Llama& model, const Tensor& table,
                            int64_t n_tok, const data::Tokenizer& tok, int64_t step,
                            const std::string& run_dir) {
  if (t.data.empty()) fail("ccm: the stream task needs --ccm.stream_data");
  if (t.tokens < 2) fail("ccm: --ccm.stream_tokens must be at least 2, got ", t.tokens);
  StreamOptions ccm = t.options;
  ccm.n_tok = n_tok;
  if (ccm.memory < 1) fail("ccm: --ccm.stream_memory must be at least 1, got ", ccm.memory);
  check_stream(ccm);
  const data::TokenDataset set = data::TokenDataset::open(t.data, tok);
  std::span<const int32_t> text;
  for (int64_t i = 0; i < set.size() && text.empty(); ++i)
    if (static_cast<int64_t>(set.record(i).size()) >= t.tokens)
      text = set.record(i).first(static_cast<size_t>(t.tokens));
  if (text.empty()) fail("ccm: ", t.data, " has no record of ", t.tokens, " tokens");
  StreamOptions window = ccm;
  window.memory = 0;
  const StreamResult c = stream_nll(model, &table, text, ccm);
  const StreamResult w = stream_nll(model, nullptr, text, window);
  const nlohmann::json j = {{"step", step},
                            {"data", t.data},
                            {"tokens", c.tokens},
                            {"cache", ccm.cache},
                            {"sink", ccm.sink},
                            {"chunk", ccm.chunk},
                            {"memory", ccm.memory},
                            {"n_tok", n_tok},
                            {"ccm_ppl", c.ppl()},
                            {"window_ppl", w.ppl()},
                            {"compressions", c.compressions},
                            {"max_cache", std::max(c.max_cache, w.max_cache)}};
  std::filesystem::create_directories(run_dir + "/eval");
  write_file_atomically(run_dir + "/eval/stream-" + std::to_string(step) + ".json",
                        j.dump(2) + "\n");
  char line[200];
  std::snprintf(line, sizeof line, "stream: %lld tokens, cache %lld: ccm ppl %.3f, window ppl %.3f",
                static_cast<long long>(c.tokens), static_cast<long long>(ccm.cache), c.ppl(),
                w.ppl());
  return line;
}

}  // namespace condense::ccm
