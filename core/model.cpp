#include "core/model.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <random>
#include <tuple>
#include <utility>

#include "core/backend.h"
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

// Uniform(-bound, bound) values from a generator seeded by (seed, name).
Tensor uniform_init(const Shape& shape, float bound, uint64_t seed, const std::string& name) {
  std::mt19937_64 gen(seed ^ fnv1a(name));
  std::uniform_real_distribution<float> dist(-bound, bound);
  std::vector<float> v(static_cast<size_t>(numel_of(shape)));
  for (float& x : v) x = dist(gen);
  return Tensor::from_f32(v, shape);
}

Tensor ones(const Shape& shape) {
  return Tensor::from_f32(std::vector<float>(static_cast<size_t>(numel_of(shape)), 1.0f), shape);
}

// Throws naming the first way `s` does not fit `c`.
void check_shard(const LlamaConfig& c, const ModelShard& s) {
  if (s.tp_size < 1 || s.tp_rank < 0 || s.tp_rank >= s.tp_size)
    fail("model shard: tensor-parallel rank ", s.tp_rank, " is not in a group of ", s.tp_size);
  if (s.tp_size > 1 && !s.tp)
    fail("model shard: tensor parallelism over ", s.tp_size, " ranks needs communication hooks");
  auto divides = [&](const char* what, int64_t n) {
    if (n % s.tp_size)
      fail("model shard: ", what, " ", n, " is not divisible by the tensor-parallel size ",
           s.tp_size);
  };
  divides("n_heads", c.n_heads);
  divides("n_kv_heads", c.n_kv_heads);
  divides("ffn_dim", c.ffn_dim);
  divides("vocab_size", c.vocab_size);
  if (s.layer_begin < 0 || s.layer_begin >= s.layer_end || s.layer_end > c.n_layers)
    fail("model shard: layers [", s.layer_begin, ",", s.layer_end, ") are not a range of the ",
         c.n_layers, " layers");
}

}  // namespace

Tensor default_positions(int64_t B, int64_t T, Device device) {
  std::vector<int32_t> p(static_cast<size_t>(B * T));
  for (int64_t i = 0; i < B * T; ++i) p[i] = static_cast<int32_t>(i % T);
  return Tensor::from_i32(p, {B, T}, device);
}

Llama::Llama(const LlamaConfig& config, uint64_t seed, Device device, const ModelShard& shard)
    : config_(config), device_(Device::cpu), shard_(shard) {
  config_.validate();
  if (shard_.layer_end < 0) shard_.layer_end = config_.n_layers;
  check_shard(config_, shard_);
  const int64_t D = config_.dim, Dh = config_.head_dim(), F = config_.ffn_dim;
  const int64_t H = config_.n_heads, Hkv = config_.n_kv_heads, V = config_.vocab_size;
  // GPT-2 style: residual-branch outputs get a smaller init so the residual
  // stream's variance does not grow with depth.
  const float std = 0.02f, res_std = 0.02f / std::sqrt(2.0f * config_.n_layers);
  // A tensor-parallel rank keeps its block of the whole model's initial value, so
  // every layout starts from the same weights. Column-parallel weights (q, k, v,
  // gate, up, embedding, lm_head) split their rows (output features, vocabulary),
  // row-parallel ones (o, down) their columns (input features).
  auto add = [&](const std::string& name, Tensor full, int tp_dim) {
    Tensor value =
        tp_dim < 0 ? std::move(full) : shard_tensor(full, tp_dim, shard_.tp_rank, shard_.tp_size);
    Var v(std::move(value), true);
    params_.push_back({name, v, true, tp_dim});
    return v;
  };
  const TensorParallelHooks* tp = shard_.tp_size > 1 ? shard_.tp : nullptr;
  auto embedding_init = [&] { return normal_init({V, D}, std, seed, "model.embed_tokens"); };
  if (first_stage()) embed_ = add("model.embed_tokens.weight", embedding_init(), 0);
  for (int64_t l = shard_.layer_begin; l < shard_.layer_end; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    auto linear = [&](const std::string& name, const Shape& shape, float init_std,
                      const std::string& key, TpSplit split) {
      return LinearLayer(add(p + name, normal_init(shape, init_std, seed, p + key),
                             split == TpSplit::column ? 0 : 1),
                         split, tp);
    };
    Layer L;
    L.attn_norm = add(p + "input_layernorm.weight", ones({D}), -1);
    L.q = linear("self_attn.q_proj.weight", {H * Dh, D}, std, "q", TpSplit::column);
    L.k = linear("self_attn.k_proj.weight", {Hkv * Dh, D}, std, "k", TpSplit::column);
    L.v = linear("self_attn.v_proj.weight", {Hkv * Dh, D}, std, "v", TpSplit::column);
    L.o = linear("self_attn.o_proj.weight", {D, H * Dh}, res_std, "o", TpSplit::row);
    L.mlp_norm = add(p + "post_attention_layernorm.weight", ones({D}), -1);
    L.gate = linear("mlp.gate_proj.weight", {F, D}, std, "gate", TpSplit::column);
    L.up = linear("mlp.up_proj.weight", {F, D}, std, "up", TpSplit::column);
    L.down = linear("mlp.down_proj.weight", {D, F}, res_std, "down", TpSplit::row);
    layers_.push_back(L);
  }
  if (last_stage()) {
    final_norm_ = add("model.norm.weight", ones({D}), -1);
    // A tied lm_head on a later pipeline stage than the embedding is a copy of it
    // under the same name; parallel/ keeps the two copies' gradients summed.
    if (config_.tie_embeddings)
      lm_head_ = first_stage() ? embed_ : add("model.embed_tokens.weight", embedding_init(), 0);
    else
      lm_head_ = add("lm_head.weight", normal_init({V, D}, std, seed, "lm_head"), 0);
  }
  if (device != Device::cpu) to(device);
}

const Param& Llama::param(const std::string& name) const {
  for (const Param& p : params_)
    if (p.name == name) return p;
  fail("model has no parameter ", name);
}

Param& Llama::param(const std::string& name) {
  return const_cast<Param&>(std::as_const(*this).param(name));
}

Param* Llama::find_param(const std::string& name) {
  for (Param& p : params_)
    if (p.name == name) return &p;
  return nullptr;
}

bool Llama::holds_stage_of(int64_t layer) const {
  if (layer == ParamSpec::kFirstStage) return first_stage();
  if (layer == ParamSpec::kLastStage) return last_stage();
  if (layer < 0 || layer >= config_.n_layers)
    fail("model: layer ", layer, " is not one of the ", config_.n_layers, " layers");
  return layer >= shard_.layer_begin && layer < shard_.layer_end;
}

void Llama::declare(const std::string& name) {
  // Names of every stage, not only this shard's, so that a clash is found on every rank.
  static const char* const kLayerNames[] = {
      "input_layernorm.weight",  "self_attn.q_proj.weight", "self_attn.k_proj.weight",
      "self_attn.v_proj.weight", "self_attn.o_proj.weight", "post_attention_layernorm.weight",
      "mlp.gate_proj.weight",    "mlp.up_proj.weight",      "mlp.down_proj.weight"};
  if (declared_.empty()) {
    declared_ = {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"};
    for (int64_t l = 0; l < config_.n_layers; ++l)
      for (const char* n : kLayerNames)
        declared_.insert("model.layers." + std::to_string(l) + "." + n);
  }
  if (!declared_.insert(name).second) fail("model: a parameter named ", name, " exists already");
}

void Llama::check_split(const std::string& name, const Shape& shape, int tp_dim) const {
  const int nd = static_cast<int>(shape.size());
  if (tp_dim == -1 || (tp_dim >= 0 && tp_dim < nd && shape[tp_dim] % shard_.tp_size == 0)) return;
  fail("model: parameter ", name, " ", shape_str(shape), " cannot be split along dimension ",
       tp_dim, " over ", shard_.tp_size, " tensor-parallel ranks");
}

Var Llama::add_shard_param(const std::string& name, const Tensor& full, int tp_dim,
                           bool trainable) {
  Tensor value = tp_dim < 0 ? full : shard_tensor(full, tp_dim, shard_.tp_rank, shard_.tp_size);
  Var v(value.to(device_), trainable);
  params_.push_back({name, v, trainable, tp_dim});
  return v;
}

void Llama::add_param(const ParamSpec& spec) {
  if (!spec.value.defined()) fail("model: parameter ", spec.name, " has no value");
  declare(spec.name);
  check_split(spec.name, spec.value.shape(), spec.tp_dim);
  if (holds_stage_of(spec.layer))
    add_shard_param(spec.name, spec.value.to(Device::cpu), spec.tp_dim, spec.trainable);
}

void Llama::add_lora(const LoraSpec& spec) {
  struct Target {
    const char* name;
    const char* module;
    LinearLayer Layer::*linear;
  };
  static const Target kTargets[] = {
      {"q_proj", "self_attn", &Layer::q}, {"k_proj", "self_attn", &Layer::k},
      {"v_proj", "self_attn", &Layer::v}, {"o_proj", "self_attn", &Layer::o},
      {"gate_proj", "mlp", &Layer::gate}, {"up_proj", "mlp", &Layer::up},
      {"down_proj", "mlp", &Layer::down}};
  if (spec.dropout != 0) fail("LoRA dropout is not supported yet");
  if (spec.rank <= 0) fail("LoRA rank must be positive, got ", spec.rank);
  if (spec.targets.empty()) fail("LoRA needs at least one target linear");
  std::vector<const Target*> targets;
  for (const std::string& name : spec.targets) {
    auto it = std::find_if(std::begin(kTargets), std::end(kTargets),
                           [&](const Target& t) { return name == t.name; });
    if (it == std::end(kTargets))
      fail("LoRA target ", name,
           " is not a linear of the model (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, "
           "down_proj)");
    targets.push_back(&*it);
  }
  const float scale = spec.alpha / static_cast<float>(spec.rank);
  for (int64_t l = 0; l < config_.n_layers; ++l) {
    for (const Target* t : targets) {
      const std::string p =
          "model.layers." + std::to_string(l) + "." + t->module + "." + t->name + ".";
      declare(p + "lora_A.weight");
      declare(p + "lora_B.weight");
      if (l < shard_.layer_begin || l >= shard_.layer_end) continue;
      LinearLayer& linear = layers_[static_cast<size_t>(l - shard_.layer_begin)].*(t->linear);
      // The whole model's shape of W, from this rank's slice of it.
      const bool column = linear.split() == TpSplit::column;
      const int64_t out = linear.weight().dim(0) * (column ? shard_.tp_size : 1);
      const int64_t in = linear.weight().dim(1) * (column ? 1 : shard_.tp_size);
      // PEFT's init: A Kaiming-uniform (bound 1/sqrt(In)), B zeros.
      Var a = add_shard_param(p + "lora_A.weight",
                              uniform_init({spec.rank, in}, 1.0f / std::sqrt(float(in)), spec.seed,
                                           p + "lora_A.weight"),
                              column ? -1 : 1, true);
      Var b = add_shard_param(p + "lora_B.weight", Tensor::zeros({out, spec.rank}), column ? 0 : -1,
                              true);
      linear.set_lora(a, b, scale);
    }
  }
}

void Llama::set_trainable(const std::string& name, bool trainable) {
  Param& p = param(name);
  p.trainable = trainable;
  // ops record no weight-gradient product for an input that needs no gradient.
  p.var.set_requires_grad(trainable);
  if (!trainable) p.var.zero_grad();
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

void Llama::resize_vocab(int64_t vocab_size) {
  const int64_t V = config_.vocab_size, D = config_.dim;
  if (vocab_size < V)
    fail("resize_vocab: cannot shrink the vocabulary from ", V, " to ", vocab_size);
  if (vocab_size == V) return;
  // A shard's rows would be a slice of the vocabulary: grow the whole model, then shard it.
  if (shard_.tp_size != 1 || !first_stage() || !last_stage())
    fail("resize_vocab: only a whole model can be resized, not a tensor/pipeline shard");
  auto grow = [&](const Var& w) {
    std::vector<float> rows = w.value().to_vector();
    std::vector<double> mean(static_cast<size_t>(D), 0.0);
    for (int64_t r = 0; r < V; ++r)
      for (int64_t c = 0; c < D; ++c) mean[c] += rows[r * D + c];
    rows.reserve(static_cast<size_t>(vocab_size * D));
    for (int64_t r = V; r < vocab_size; ++r)
      for (int64_t c = 0; c < D; ++c) rows.push_back(static_cast<float>(mean[c] / V));
    w.set_value(Tensor::from_f32(rows, {vocab_size, D}, device_));
    w.zero_grad();
  };
  grow(embed_);
  if (!config_.tie_embeddings) grow(lm_head_);
  config_.vocab_size = vocab_size;
}

namespace {

// Writes k, v [1,T,Hkv,Dh] at positions [length, length + T) of layer `l` of the cache
// and returns the keys and values [1, length + T, Hkv, Dh] there (views of its buffers).
std::pair<Var, Var> write_in_place(const Tape& tape, InPlaceKV& c, size_t l, const Var& k,
                                   const Var& v) {
  if (tape.enabled()) fail("in-place key/value cache: inference only (no gradients)");
  const Tensor& kt = k.value();
  const int64_t T = kt.dim(1), Hkv = kt.dim(2), Dh = kt.dim(3), end = c.length + T;
  if (kt.dim(0) != 1)
    fail("in-place key/value cache: holds one sequence, got a batch of ", kt.dim(0));
  if (end > c.capacity)
    fail("in-place key/value cache: ", end, " positions, more than its capacity ", c.capacity);
  if (c.layers.size() <= l) c.layers.resize(l + 1);
  std::pair<Var, Var> out;
  for (auto [src, buffer, view] : {std::tuple{&kt, &c.layers[l].k, &out.first},
                                   std::tuple{&v.value(), &c.layers[l].v, &out.second}}) {
    if (!buffer->defined())
      *buffer = Var(Tensor::empty({c.capacity, Hkv, Dh}, src->dtype(), src->device()));
    backend_for(src->device())
        .copy_blocks(buffer->value(), c.length * Hkv * Dh, 0, *src, 0, 0, T * Hkv * Dh, 1, false);
    *view = Var(buffer->value().rows(0, end).reshape({1, end, Hkv, Dh}));
  }
  return out;
}

}  // namespace

Var Llama::block(Tape& tape, const Layer& L, size_t index, const Var& h, const ForwardArgs& args,
                 const Tensor& pos, const LoraGate& gate) const {
  // A tensor-parallel shard computes its own heads and its slice of the MLP.
  const int64_t B = h.dim(0), T = h.dim(1), H = config_.n_heads / shard_.tp_size;
  const int64_t Hkv = config_.n_kv_heads / shard_.tp_size, Dh = config_.head_dim();
  const TensorParallelHooks* tp = shard_.tp_size > 1 ? shard_.tp : nullptr;
  // The replicated input of the column-parallel linears enters the tensor-parallel
  // region once for all of them; the row-parallel ones leave it themselves.
  auto to_tp = [&](const Var& a) { return tp ? tp->copy_to_tp_region(tape, a) : a; };
  const Var x = ops::rmsnorm(tape, h, L.attn_norm, config_.norm_eps), x_tp = to_tp(x);
  Var q = ops::reshape(tape, L.q.column(tape, x, x_tp, gate), {B, T, H, Dh});
  Var k = ops::reshape(tape, L.k.column(tape, x, x_tp, gate), {B, T, Hkv, Dh});
  Var v = ops::reshape(tape, L.v.column(tape, x, x_tp, gate), {B, T, Hkv, Dh});
  q = ops::rope(tape, q, pos, config_.rope_theta);
  const Var k_raw = k;
  k = ops::rope(tape, k, pos, config_.rope_theta);
  if (args.kv_out) (*args.kv_out)[index] = {k, v, Tensor(), k_raw};
  Var keys = k, values = v;
  if (args.in_place) std::tie(keys, values) = write_in_place(tape, *args.in_place, index, k, v);
  if (args.prefix && (*args.prefix)[index].k.defined() && (*args.prefix)[index].k.dim(1) > 0) {
    const LayerKV& m = (*args.prefix)[index];
    const Var mk = m.pos.defined() ? ops::rope(tape, m.k, m.pos, config_.rope_theta) : m.k;
    keys = ops::concat(tape, {mk, k}, 1);
    values = ops::concat(tape, {m.v, v}, 1);
  }
  if (args.row_gather && (*args.row_gather)[index].rows.defined()) {
    const RowGather& g = (*args.row_gather)[index];
    const int64_t S = g.rows.numel() / B;
    auto gather = [&](const Var& a) {
      const Var rows = ops::reshape(tape, a, {B * T, Hkv * Dh});
      return ops::reshape(tape, ops::gather_rows(tape, rows, g.rows), {B, S, Hkv, Dh});
    };
    keys = ops::concat(tape, {ops::rope(tape, gather(k_raw), g.pos, config_.rope_theta), keys}, 1);
    values = ops::concat(tape, {gather(v), values}, 1);
  }
  if (args.kv_mix) {
    // Rows are key positions of the flattened [B*S]: every head of a position together.
    auto mix = [&](const Var& a) {
      const Var rows = ops::reshape(tape, a, {a.dim(0) * a.dim(1), Hkv * Dh});
      return ops::reshape(tape, ops::mix_rows(tape, rows, args.kv_mix->rows, args.kv_mix->weights),
                          a.shape());
    };
    keys = mix(keys);
    values = mix(values);
  }
  const Tensor& mask = args.layer_mask && (*args.layer_mask)[index].defined()
                           ? (*args.layer_mask)[index]
                           : args.mask;
  const float scale = 1.0f / std::sqrt(float(Dh));
  const bool own = args.attention && (*args.attention)[index];
  Var att = own ? (*args.attention)[index](tape, q, keys, values, mask, scale)
                : ops::attention(tape, q, keys, values, mask, scale);
  Var h2 = ops::add(tape, h, L.o.row(tape, ops::reshape(tape, att, {B, T, H * Dh}), gate));
  const Var y = ops::rmsnorm(tape, h2, L.mlp_norm, config_.norm_eps), y_tp = to_tp(y);
  Var mlp = ops::swiglu(tape, L.gate.column(tape, y, y_tp, gate), L.up.column(tape, y, y_tp, gate));
  return ops::add(tape, h2, L.down.row(tape, mlp, gate));
}

Var Llama::table_embeddings(Tape& tape, const TableInputs& in, const Var& h) const {
  const Param* table = nullptr;
  for (const Param& p : params_)
    if (p.name == in.table) table = &p;
  if (!table)
    fail("model: input embedding table ", in.table, " is not a parameter of the first stage");
  if (table->var.shape().size() != 2 || table->var.dim(1) != config_.dim)
    fail("model: input embedding table ", in.table, " is ", shape_str(table->var.shape()),
         ", expected [rows,", config_.dim, "]");
  // A split table would need a vocabulary-parallel lookup; a method's few rows do not.
  if (table->tp_dim >= 0 && shard_.tp_size > 1)
    fail("model: input embedding table ", in.table,
         " is split across tensor-parallel ranks; it must be replicated (tp_dim -1)");
  if (in.rows.ndim() != 1 || in.ids.shape() != in.rows.shape())
    fail("model: table inputs at ", shape_str(in.rows.shape()), " rows with ",
         shape_str(in.ids.shape()), " table ids, expected [P] and [P]");
  const int64_t B = h.dim(0), T = h.dim(1), D = config_.dim;
  const Var rows = ops::gather_rows(tape, table->var, in.ids);
  return ops::reshape(
      tape, ops::replace_rows(tape, ops::reshape(tape, h, {B * T, D}), in.rows, rows), {B, T, D});
}

Var Llama::hidden(Tape& tape, const ForwardArgs& args) const {
  if (!first_stage() || !last_stage())
    fail("model: this shard holds layers [", shard_.layer_begin, ",", shard_.layer_end, ") of ",
         config_.n_layers, "; run it stage by stage");
  return stage(tape, args, Var());
}

Var Llama::stage(Tape& tape, const ForwardArgs& args, const Var& input) const {
  if (args.ids.ndim() != 2 || args.ids.dtype() != DType::i32)
    fail("model input ids must be [B,T] i32, got ", shape_str(args.ids.shape()));
  const int64_t B = args.ids.dim(0), T = args.ids.dim(1);
  Tensor pos = args.pos.defined() ? args.pos : default_positions(B, T, device_);
  if (pos.shape() != args.ids.shape())
    fail("position ids ", shape_str(pos.shape()), " do not match input ids ",
         shape_str(args.ids.shape()));
  if (args.prefix && static_cast<int64_t>(args.prefix->size()) != config_.n_layers)
    fail("key/value prefix has ", args.prefix->size(), " layers, the model has ", config_.n_layers);
  if (args.prefix && args.in_place) fail("a key/value prefix and an in-place cache together");
  if (args.layer_mask && static_cast<int64_t>(args.layer_mask->size()) != config_.n_layers)
    fail("per-layer masks for ", args.layer_mask->size(), " layers, the model has ",
         config_.n_layers);
  if (args.attention && static_cast<int64_t>(args.attention->size()) != config_.n_layers)
    fail("attention functions for ", args.attention->size(), " layers, the model has ",
         config_.n_layers);
  if (args.row_gather && static_cast<int64_t>(args.row_gather->size()) != config_.n_layers)
    fail("row gathers for ", args.row_gather->size(), " layers, the model has ", config_.n_layers);
  if (args.row_gather)
    for (const RowGather& g : *args.row_gather)
      if (g.rows.defined() &&
          (g.rows.numel() % B != 0 || g.pos.shape() != Shape{B, g.rows.numel() / B}))
        fail("row gather of ", g.rows.numel(), " rows with positions ", shape_str(g.pos.shape()),
             " does not split over ", B, " batch rows");
  if (args.kv_out) args.kv_out->assign(static_cast<size_t>(config_.n_layers), LayerKV{});
  Var h;
  if (first_stage()) {
    h = shard_.tp_size > 1
            ? shard_.tp->vocab_parallel_embedding(tape, embed_, args.ids, vocab_begin())
            : ops::embedding(tape, embed_, args.ids);
    if (!args.table_inputs.table.empty()) h = table_embeddings(tape, args.table_inputs, h);
    if (args.embed_rows.defined() && args.embed_rows.numel() > 0) {
      Var flat = ops::reshape(tape, h, {B * T, config_.dim});
      h = ops::reshape(tape, ops::replace_rows(tape, flat, args.embed_rows, args.embed_values),
                       {B, T, config_.dim});
    }
  } else {
    if (!input.defined() || input.shape() != Shape{B, T, config_.dim})
      fail("model stage from layer ", shard_.layer_begin, ": input ",
           input.defined() ? shape_str(input.shape()) : "missing", ", expected ",
           shape_str({B, T, config_.dim}));
    h = input;
  }
  const LoraGate gate = LoraGate::from_mask(args.lora_mask, B, T, device_);
  for (size_t i = 0; i < layers_.size(); ++i)
    h = block(tape, layers_[i], static_cast<size_t>(shard_.layer_begin) + i, h, args, pos, gate);
  return last_stage() ? ops::rmsnorm(tape, h, final_norm_, config_.norm_eps) : h;
}

Var Llama::logits(Tape& tape, const Var& hidden) const {
  if (!last_stage()) fail("model: logits on a stage without the last layer");
  // Every tensor-parallel rank computes its vocabulary slice of the logits.
  const Var x = shard_.tp_size > 1 ? shard_.tp->copy_to_tp_region(tape, hidden) : hidden;
  return ops::linear(tape, x, lm_head_);
}

}  // namespace condense
