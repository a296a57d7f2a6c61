#include "core/model.h"

#include <cmath>
#include <random>

#include "core/ops.h"

namespace condense {

void LlamaConfig::validate() const {
  auto positive = [](const char* name, int64_t v) {
    if (v <= 0) fail("model config: ", name, " must be positive, got ", v);
  };
  positive("vocab_size", vocab_size);
  positive("dim", dim);
  positive("n_layers", n_layers);
  positive("n_heads", n_heads);
  positive("n_kv_heads", n_kv_heads);
  positive("ffn_dim", ffn_dim);
  if (dim % n_heads) fail("model config: dim ", dim, " is not divisible by n_heads ", n_heads);
  if (n_heads % n_kv_heads)
    fail("model config: n_heads ", n_heads, " is not divisible by n_kv_heads ", n_kv_heads);
  if (head_dim() % 2) fail("model config: head dim ", head_dim(), " must be even for RoPE");
  if (!(norm_eps > 0)) fail("model config: norm_eps must be positive");
  if (!(rope_theta > 0)) fail("model config: rope_theta must be positive");
}

namespace {

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Normal(0, std) values from a generator seeded by (seed, name).
Tensor normal_init(const Shape& shape, float std, uint64_t seed, const std::string& name) {
  std::mt19937_64 gen(seed ^ fnv1a(name));
  std::normal_distribution<float> dist(0.0f, std);
  std::vector<float> v(static_cast<size_t>(numel_of(shape)));
  for (float& x : v) x = dist(gen);
  return Tensor::from_f32(v, shape);
}

Tensor ones(const Shape& shape) {
  return Tensor::from_f32(std::vector<float>(static_cast<size_t>(numel_of(shape)), 1.0f), shape);
}

}  // namespace

Tensor default_positions(int64_t B, int64_t T, Device device) {
  std::vector<int32_t> p(static_cast<size_t>(B * T));
  for (int64_t i = 0; i < B * T; ++i) p[i] = static_cast<int32_t>(i % T);
  return Tensor::from_i32(p, {B, T}, device);
}

Llama::Llama(const LlamaConfig& config, uint64_t seed, Device device)
    : config_(config), device_(Device::cpu) {
  config_.validate();
  const int64_t D = config_.dim, Dh = config_.head_dim(), F = config_.ffn_dim;
  const int64_t H = config_.n_heads, Hkv = config_.n_kv_heads, V = config_.vocab_size;
  // GPT-2 style: residual-branch outputs get a smaller init so the residual
  // stream's variance does not grow with depth.
  const float std = 0.02f, res_std = 0.02f / std::sqrt(2.0f * config_.n_layers);
  auto add = [&](const std::string& name, Tensor value) {
    Var v(std::move(value), true);
    params_.push_back({name, v, true});
    return v;
  };
  embed_ = add("model.embed_tokens.weight", normal_init({V, D}, std, seed, "model.embed_tokens"));
  for (int64_t l = 0; l < config_.n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    Layer L;
    L.attn_norm = add(p + "input_layernorm.weight", ones({D}));
    L.wq = add(p + "self_attn.q_proj.weight", normal_init({H * Dh, D}, std, seed, p + "q"));
    L.wk = add(p + "self_attn.k_proj.weight", normal_init({Hkv * Dh, D}, std, seed, p + "k"));
    L.wv = add(p + "self_attn.v_proj.weight", normal_init({Hkv * Dh, D}, std, seed, p + "v"));
    L.wo = add(p + "self_attn.o_proj.weight", normal_init({D, H * Dh}, res_std, seed, p + "o"));
    L.mlp_norm = add(p + "post_attention_layernorm.weight", ones({D}));
    L.w_gate = add(p + "mlp.gate_proj.weight", normal_init({F, D}, std, seed, p + "gate"));
    L.w_up = add(p + "mlp.up_proj.weight", normal_init({F, D}, std, seed, p + "up"));
    L.w_down = add(p + "mlp.down_proj.weight", normal_init({D, F}, res_std, seed, p + "down"));
    layers_.push_back(L);
  }
  final_norm_ = add("model.norm.weight", ones({D}));
  if (config_.tie_embeddings)
    lm_head_ = embed_;
  else
    lm_head_ = add("lm_head.weight", normal_init({V, D}, std, seed, "lm_head"));
  if (device != Device::cpu) to(device);
}

Param& Llama::param(const std::string& name) {
  for (Param& p : params_)
    if (p.name == name) return p;
  fail("model has no parameter ", name);
}

int64_t Llama::num_params(bool include_embedding) const {
  int64_t n = 0;
  for (const Param& p : params_)
    if (include_embedding || p.name != "model.embed_tokens.weight") n += p.var.value().numel();
  return n;
}

void Llama::to(Device device) {
  for (Param& p : params_) {
    p.var.set_value(p.var.value().to(device));
    p.var.zero_grad();
  }
  device_ = device;
}

Var Llama::block(Tape& tape, const Layer& L, size_t index, const Var& h, const ForwardArgs& args,
                 const Tensor& pos) const {
  const int64_t B = h.dim(0), T = h.dim(1), H = config_.n_heads, Hkv = config_.n_kv_heads;
  const int64_t Dh = config_.head_dim();
  Var x = ops::rmsnorm(tape, h, L.attn_norm, config_.norm_eps);
  Var q = ops::reshape(tape, ops::linear(tape, x, L.wq), {B, T, H, Dh});
  Var k = ops::reshape(tape, ops::linear(tape, x, L.wk), {B, T, Hkv, Dh});
  Var v = ops::reshape(tape, ops::linear(tape, x, L.wv), {B, T, Hkv, Dh});
  q = ops::rope(tape, q, pos, config_.rope_theta);
  k = ops::rope(tape, k, pos, config_.rope_theta);
  if (args.kv_out) (*args.kv_out)[index] = {k, v};
  Var keys = k, values = v;
  if (args.prefix && (*args.prefix)[index].k.defined() && (*args.prefix)[index].k.dim(1) > 0) {
    const LayerKV& m = (*args.prefix)[index];
    keys = ops::concat(tape, {m.k, k}, 1);
    values = ops::concat(tape, {m.v, v}, 1);
  }
  Var att = ops::attention(tape, q, keys, values, args.mask, 1.0f / std::sqrt(float(Dh)));
  Var o = ops::linear(tape, ops::reshape(tape, att, {B, T, H * Dh}), L.wo);
  Var h2 = ops::add(tape, h, o);
  Var y = ops::rmsnorm(tape, h2, L.mlp_norm, config_.norm_eps);
  Var mlp = ops::swiglu(tape, ops::linear(tape, y, L.w_gate), ops::linear(tape, y, L.w_up));
  return ops::add(tape, h2, ops::linear(tape, mlp, L.w_down));
}

Var Llama::hidden(Tape& tape, const ForwardArgs& args) const {
  if (args.ids.ndim() != 2 || args.ids.dtype() != DType::i32)
    fail("model input ids must be [B,T] i32, got ", shape_str(args.ids.shape()));
  const int64_t B = args.ids.dim(0), T = args.ids.dim(1);
  Tensor pos = args.pos.defined() ? args.pos : default_positions(B, T, device_);
  if (pos.shape() != args.ids.shape())
    fail("position ids ", shape_str(pos.shape()), " do not match input ids ",
         shape_str(args.ids.shape()));
  if (args.prefix && static_cast<int64_t>(args.prefix->size()) != config_.n_layers)
    fail("key/value prefix has ", args.prefix->size(), " layers, the model has ",
         config_.n_layers);
  if (args.kv_out) args.kv_out->assign(static_cast<size_t>(config_.n_layers), LayerKV{});
  Var h = ops::embedding(tape, embed_, args.ids);
  if (args.embed_rows.defined() && args.embed_rows.numel() > 0) {
    Var flat = ops::reshape(tape, h, {B * T, config_.dim});
    h = ops::reshape(tape, ops::replace_rows(tape, flat, args.embed_rows, args.embed_values),
                     {B, T, config_.dim});
  }
  for (size_t l = 0; l < layers_.size(); ++l) h = block(tape, layers_[l], l, h, args, pos);
  return ops::rmsnorm(tape, h, final_norm_, config_.norm_eps);
}

Var Llama::logits(Tape& tape, const Var& hidden) const {
  return ops::linear(tape, hidden, lm_head_);
}

}  // namespace condense
