#include "experiments/methods/fot/memory_cache.h"

#include <algorithm>
#include <numeric>

#include "core/backend.h"
#include "core/error.h"
#include "core/ops.h"
#include "eval/chunked_attention.h"
#include "eval/topk_attention.h"

namespace condense::fot {

void check_memory_options(const MemoryOptions& o, const LlamaConfig& model) {
  for (int64_t l : o.layers)
    if (l < 0 || l >= model.n_layers)
      fail("fot: memory layer ", l, " is out of range: the model has layers 0..",
           model.n_layers - 1);
  check_memory_settings(o);
}

void check_memory_settings(const MemoryOptions& o) {
  if (o.window <= 0) fail("fot: the window (local context) must be positive, got ", o.window);
  if (o.last_context < 0 || o.last_context > o.window)
    fail("fot: --fot.last_context ", o.last_context, " must be in [0, ", o.window,
         "] (at most the window)");
  if (o.knn < 0) fail("fot: --fot.knn must be positive (0: dense memory), got ", o.knn);
  eval::check_key_index_options(o.index, "fot: --fot.knn_index");
  if (o.memory_chunk < 0)
    fail("fot: --fot.memory_chunk must be positive (0: one block), got ", o.memory_chunk);
  if (o.memory_dtype != DType::f32 && o.memory_dtype != DType::bf16)
    fail("fot: the memory is stored as f32 or bf16, not ", dtype_name(o.memory_dtype));
}

MemoryCache::MemoryCache(const Llama& model, MemoryOptions options)
    : model_(model), o_(std::move(options)) {
  check_memory_options(o_, model.config());
  memory_.resize(static_cast<size_t>(model.config().n_layers));
  local_.resize(memory_.size());
  index_.resize(memory_.size());
}

bool MemoryCache::is_memory_layer(int64_t l) const {
  return std::find(o_.layers.begin(), o_.layers.end(), l) != o_.layers.end();
}

int64_t MemoryCache::memory_tokens(int64_t layer) const {
  const LayerKV& m = memory_[static_cast<size_t>(layer)];
  return m.k.defined() ? m.k.dim(1) : 0;
}

namespace {

Var cat(const Var& a, const Var& b) {
  Tape no_grad(false);
  if (!a.defined()) return ops::detach(b);
  return ops::concat(no_grad, {a, b}, 1);
}

Var cast_to(const Var& x, DType dtype) {
  if (!x.defined() || x.value().dtype() == dtype) return x;
  Tensor out = Tensor::empty(x.value().shape(), dtype, x.value().device());
  backend_for(out.device()).cast(out, x.value());
  return Var(out);
}

Tensor zeros_then_iota(int64_t zeros, int64_t n, Device device) {
  std::vector<int32_t> p(static_cast<size_t>(zeros + n), 0);
  std::iota(p.begin() + zeros, p.end(), 0);
  return Tensor::from_i32(p, {1, zeros + n}, device);
}

}  // namespace

Tensor MemoryCache::run(const std::vector<int32_t>& ids, int32_t first_pos, bool with_local,
                        std::vector<LayerKV>& fresh) {
  const int64_t T = static_cast<int64_t>(ids.size()), L = model_.config().n_layers;
  const Device dev = model_.device();
  // Every layer's prefix is [memory (memory layers only), at position 0; local cache at
  // 0..n−1], unrotated and rotated by the layer; the default mask opens the whole
  // prefix and is causal over the new tokens, which is exactly FoT's attention.
  std::vector<LayerKV> prefix(static_cast<size_t>(L));
  std::vector<AttentionFn> attention(static_cast<size_t>(L));
  bool any = false;
  for (int64_t l = 0; l < L; ++l) {
    const LayerKV& m = memory_[static_cast<size_t>(l)];
    const LayerKV& c = local_[static_cast<size_t>(l)];
    const int64_t M = is_memory_layer(l) ? memory_tokens(l) : 0, n = with_local ? local_len_ : 0;
    if (M + n == 0) continue;
    LayerKV& p = prefix[static_cast<size_t>(l)];
    // A bf16 memory is widened one layer at a time, for this pass only.
    const Var mk = M > 0 ? cast_to(m.k, DType::f32) : Var(),
              mv = M > 0 ? cast_to(m.v, DType::f32) : Var();
    if (M > 0 && n > 0) {
      p.k = cat(mk, c.k);
      p.v = cat(mv, c.v);
    } else {
      p.k = M > 0 ? mk : c.k;
      p.v = M > 0 ? mv : c.v;
    }
    p.pos = zeros_then_iota(M, n, dev);
    any = true;
    if (M > 0 && o_.knn > 0) {
      std::vector<const eval::KeyIndex*> heads;
      for (const auto& ix : index_[static_cast<size_t>(l)]) heads.push_back(ix.get());
      attention[static_cast<size_t>(l)] = [M, k = o_.knn, heads](Tape&, const Var& q,
                                                                 const Var& keys, const Var& values,
                                                                 const Tensor& mask, float scale) {
        return Var(eval::topk_memory_attention(q.value(), keys.value(), values.value(), mask, M, k,
                                               scale, heads.empty() ? nullptr : &heads));
      };
    } else if (M > 0 && o_.memory_chunk > 0) {
      attention[static_cast<size_t>(l)] = [chunk = o_.memory_chunk](
                                              Tape&, const Var& q, const Var& keys,
                                              const Var& values, const Tensor& mask, float scale) {
        return Var(
            eval::chunked_attention(q.value(), keys.value(), values.value(), mask, chunk, scale));
      };
    }
  }
  std::vector<int32_t> pos(static_cast<size_t>(T));
  std::iota(pos.begin(), pos.end(), first_pos);
  Tape no_grad(false);
  ForwardArgs args;
  args.ids = Tensor::from_i32(ids, {1, T}, dev);
  args.pos = Tensor::from_i32(pos, {1, T}, dev);
  args.prefix = any ? &prefix : nullptr;
  args.attention = o_.knn > 0 || o_.memory_chunk > 0 ? &attention : nullptr;
  args.kv_out = &fresh;
  return model_.forward(no_grad, args).value();
}

Tensor MemoryCache::push_window(const std::vector<int32_t>& ids) {
  if (ids.empty() || static_cast<int64_t>(ids.size()) > o_.window)
    fail("fot: a memory window holds 1..", o_.window, " tokens, got ", ids.size());
  std::vector<LayerKV> fresh;
  Tensor logits = run(ids, 0, /*with_local=*/false, fresh);
  for (int64_t l : o_.layers)
    append_memory(l, fresh[static_cast<size_t>(l)].k_raw, fresh[static_cast<size_t>(l)].v);
  return logits;
}

void MemoryCache::flush_local() {
  for (int64_t l : o_.layers)
    append_memory(l, local_[static_cast<size_t>(l)].k, local_[static_cast<size_t>(l)].v);
  for (LayerKV& c : local_) c = LayerKV{};
  local_len_ = 0;
}

void MemoryCache::append_memory(int64_t l, const Var& k, const Var& v) {
  LayerKV& m = memory_[static_cast<size_t>(l)];
  const Var stored = cast_to(k, o_.memory_dtype);
  m.k = cat(m.k, stored);
  m.v = cat(m.v, cast_to(v, o_.memory_dtype));
  if (o_.index.kind == "exact") return;
  // Keys at position 0 are unrotated, so the index holds exactly what attention scores
  // (the stored keys, widened).
  const Tensor keys = cast_to(stored, DType::f32).value().to(Device::cpu);
  const int64_t n = keys.dim(1), Hkv = keys.dim(2), Dh = keys.dim(3);
  auto& heads = index_[static_cast<size_t>(l)];
  while (static_cast<int64_t>(heads.size()) < Hkv)
    heads.push_back(eval::make_key_index(o_.index, Dh));
  const float* kp = keys.f32();
  std::vector<float> rows(static_cast<size_t>(n * Dh));
  for (int64_t h = 0; h < Hkv; ++h) {
    for (int64_t s = 0; s < n; ++s) std::copy_n(kp + (s * Hkv + h) * Dh, Dh, rows.begin() + s * Dh);
    heads[static_cast<size_t>(h)]->add(rows.data(), n);
  }
}

void MemoryCache::load_memory(int64_t layer, const Tensor& k, const Tensor& v) {
  if (!is_memory_layer(layer)) fail("fot: layer ", layer, " is not a memory layer");
  append_memory(layer, Var(k), Var(v));
}

Tensor MemoryCache::extend_local(const std::vector<int32_t>& ids) {
  const int64_t T = static_cast<int64_t>(ids.size());
  if (T == 0 || T > o_.window) fail("fot: a local step holds 1..", o_.window, " tokens, got ", T);
  if (local_len_ + T > o_.window) flush_local();
  std::vector<LayerKV> fresh;
  Tensor logits = run(ids, static_cast<int32_t>(local_len_), /*with_local=*/true, fresh);
  for (size_t l = 0; l < local_.size(); ++l) {
    local_[l].k = cat(local_[l].k, fresh[l].k_raw);
    local_[l].v = cat(local_[l].v, fresh[l].v);
  }
  local_len_ += T;
  return logits;
}

std::vector<float> MemoryCache::prefill(const std::vector<int32_t>& ids) {
  if (ids.empty()) fail("fot: empty prompt");
  const int64_t L = static_cast<int64_t>(ids.size());
  const int64_t to_memory = std::max<int64_t>(L - o_.last_context, 0);
  Tensor logits;  // of the last pass: its last row predicts the first new token
  for (int64_t b = 0; b < to_memory; b += o_.window)
    logits = push_window({ids.begin() + b, ids.begin() + std::min(b + o_.window, to_memory)});
  if (to_memory < L) logits = extend_local({ids.begin() + to_memory, ids.end()});
  const std::vector<float> all = logits.to_vector();
  const int64_t V = logits.dim(2);
  return {all.end() - V, all.end()};
}

std::vector<int32_t> MemoryCache::greedy(const std::vector<float>& first_logits, int64_t n) {
  std::vector<int32_t> out;
  std::vector<float> logits = first_logits;
  for (int64_t i = 0; i < n; ++i) {
    const auto tok =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.push_back(tok);
    if (i + 1 == n) break;
    const std::vector<float> all = extend_local({tok}).to_vector();
    logits.assign(all.end() - static_cast<std::ptrdiff_t>(logits.size()), all.end());
  }
  return out;
}

}  // namespace condense::fot
