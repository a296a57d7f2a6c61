// The LLaMA decoder: RMSNorm, RoPE at explicit positions, grouped-query
// attention with an arbitrary mask and an optional per-layer key/value prefix,
// SwiGLU. Parameter names and shapes follow Hugging Face's LLaMA, so weights
// move to and from other tools without a mapping table.
//
// What the compression methods need from it, without forking it:
// explicit position ids (gist caching offsets, CCM skip positions), a mask
// [B,T,M+T] (gist / CCM masks), a key/value prefix per layer (gist cache, CCM
// memory, FoT memory; gradients flow into it unless detached), input embeddings
// in place of token embeddings at chosen rows (AutoCompressor soft prompts) or
// from a table the model holds (CCM's <COMP>/<SUM>, through any pipeline), the
// final hidden states (summary vectors), per-layer keys/values out before and
// after RoPE (caches, FoT memory), per-layer masks, a prefix RoPE'd at given
// positions, a K/V row mix (CCM-merge), parameters a method adds (ParamSpec),
// LoRA gated per token (CCM's conditional LoRA) and frozen parameters. All of it
// is data passed with the call or declared on the model, never a subclass.
#pragma once
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/linear_layer.h"
#include "core/model_shard.h"

namespace condense {

struct LlamaConfig {
  int64_t vocab_size = 512;
  int64_t dim = 64;
  int64_t n_layers = 2;
  int64_t n_heads = 4;
  int64_t n_kv_heads = 4;
  int64_t ffn_dim = 172;
  float norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  bool tie_embeddings = false;
  int64_t max_seq_len = 2048;

  int64_t head_dim() const { return dim / n_heads; }
  // Throws naming the first field that is inconsistent.
  void validate() const;
  bool operator==(const LlamaConfig&) const = default;
};

struct Param {
  std::string name;  // Hugging Face name, e.g. model.layers.3.self_attn.q_proj.weight
  Var var;
  bool trainable = true;
  // The dimension split across tensor-parallel ranks (-1: every rank holds all of it).
  int tp_dim = -1;
};

// Keys and values of one layer. As a prefix (caches, memories): `k` is rotated
// already, unless `pos` is given: then `k` is unrotated and the layer applies RoPE
// at `pos` (FoT memory keys at position 0; CCM streaming re-rotates by cache index).
// From kv_out: `k` after RoPE, `k_raw` before it (both before any KVMix).
// (Members default-initialised with {} so that {k, v} may leave the rest out.)
struct LayerKV {
  Var k{};       // [B,S,Hkv,Dh]
  Var v{};       // [B,S,Hkv,Dh]
  Tensor pos{};  // [B,S] i32: positions to rotate an unrotated prefix `k` at; else undefined
  Var k_raw{};   // kv_out only: the keys before RoPE [B,T,Hkv,Dh]
};

// "Replace these rows of K/V with this linear combination of other rows", applied
// in every layer to the keys (after RoPE) and values, prefix included, just before
// attention: rows[p] of the keys/values viewed as [B*S, Hkv*Dh] become
// sum_j weights[p, j] * row j of the unmixed keys/values (CCM-merge: a <SUM> slot
// holds the running mean of the <COMP> keys/values of its index). Differentiable;
// weights are constants on the model's device. Every layer's S must be the same.
struct KVMix {
  Tensor rows;     // [P] i32, rows of the flattened [B*S] keys/values replaced
  Tensor weights;  // [P, B*S] f32
};

// A tensor a method adds to the model (CCM's <COMP> embeddings, an
// AutoCompressor's summary table): created, sharded, optimized and checkpointed
// like the model's own weights.
struct ParamSpec {
  std::string name;  // e.g. "ccm.comp_embed.weight"; must not clash with another
  Tensor value;      // the full logical initial value (CPU, f32)
  int tp_dim = -1;   // the dimension tensor parallelism splits (-1: replicated)
  // Which pipeline stage holds it: the stage of this layer; kFirstStage (with the
  // embedding) or kLastStage (with the lm_head).
  int64_t layer = kFirstStage;
  bool trainable = true;
  static constexpr int64_t kFirstStage = -1;
  static constexpr int64_t kLastStage = -2;
};

// LoRA on chosen linears of every layer: y = W x + m ⊙ (B A x) · alpha / rank, with
// m the per-token LoRA mask of the forward call (ForwardArgs::lora_mask; all ones
// when undefined). Parameters follow PEFT's names without its wrapper prefix
// (base_model.model.): model.layers.3.self_attn.q_proj.lora_A.weight [rank, In]
// (Kaiming-uniform init, seeded by (seed, name)), ...lora_B.weight [Out, rank]
// (zeros), so a new adapter leaves the model unchanged. core/linear_layer.h says how
// tensor parallelism splits them.
struct LoraSpec {
  // Any of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj.
  std::vector<std::string> targets;
  int64_t rank = 8;
  float alpha = 16;
  // On the adapter's input, training passes only. Not supported yet: add_lora refuses
  // dropout > 0 (it needs an elementwise mask kernel on every backend).
  float dropout = 0;
  uint64_t seed = 1;
};

// Keys and values a layer takes from its own tokens in other rows of the batch (FoT
// crossbatch: the keys of other documents, with gradients into them): row b of the
// batch gets S of the layer's tokens, rows[b*S + s] indexing the flattened [B*T]
// tokens; their keys before RoPE, rotated at pos[b, s], and their values sit before
// the layer's `prefix` and its own tokens: keys = [gathered, prefix, tokens].
struct RowGather {
  Tensor rows;  // [B*S] i32
  Tensor pos;   // [B,S] i32
};

// q [B,T,H,Dh] after RoPE, the layer's keys/values [B,S,Hkv,Dh] and mask (as
// ops::attention takes them) and the scale -> [B,T,H,Dh].
using AttentionFn = std::function<Var(Tape& tape, const Var& q, const Var& k, const Var& v,
                                      const Tensor& mask, float scale)>;

// Input embeddings from a table the model holds instead of the token embedding: a
// method's own tokens (CCM's <COMP>/<SUM>), whose rows are a first-stage parameter
// [R,D] (ParamSpec::kFirstStage, replicated across tensor-parallel ranks). Row
// rows[p] of the flattened [B*T] input takes row ids[p] of the table; gradients
// reach the table. Carried with the batch, so the first stage of a pipeline, the
// one that embeds, applies it. (Members default-initialised, as LayerKV's.)
struct TableInputs {
  std::string table{};  // the parameter's name; empty: none
  Tensor rows{};        // [P] i32
  Tensor ids{};         // [P] i32, rows of the table
};

// The keys/values of one sequence in buffers of `capacity` positions, filled in place:
// generation's cache (eval/generate.cpp). A forward pass given it (no gradients, batch 1)
// writes its keys/values at positions [length, length + T) of each layer's buffers,
// allocated at the first pass, and attends over [0, length + T); the caller then adds
// T to `length`. A pass past the capacity is refused.
struct InPlaceKV {
  int64_t capacity = 0, length = 0;
  std::vector<LayerKV> layers;  // per layer, k and v [capacity, Hkv, Dh]
};

struct ForwardArgs {
  Tensor ids;   // [B,T] i32
  Tensor pos;   // [B,T] i32; undefined means 0..T-1 for every row
  Tensor mask;  // [B,T,M+T] u8 (1 = may attend); undefined means causal over prefix + tokens
  const std::vector<LayerKV>* prefix = nullptr;  // per-layer KV prepended to the keys
  InPlaceKV* in_place = nullptr;                 // the cache written in place (no prefix)
  Tensor embed_rows;  // [P] i32 rows of the flattened [B*T] input whose embeddings are replaced
  Var embed_values;   // [P,D] the embeddings put there
  TableInputs table_inputs;                // applied before embed_rows/embed_values
  std::vector<LayerKV>* kv_out = nullptr;  // if set, receives each layer's k/v of the T tokens
  // Per-layer masks [B,T,M_l+T] (M_l = that layer's prefix length), in place of `mask`
  // in the layers where defined (FoT memory layers); nullptr or undefined: `mask`.
  const std::vector<Tensor>* layer_mask = nullptr;
  const KVMix* kv_mix = nullptr;  // applied in every layer when set
  Tensor lora_mask;               // [B,T] u8, 1 where LoRA applies; undefined: every token
  bool training = false;          // a training pass (for LoRA dropout, once supported)
  // Per-layer gathers of the layer's own keys/values (RowGather); nullptr or undefined
  // rows: none. A layer's mask then covers S + M_l + T keys.
  const std::vector<RowGather>* row_gather = nullptr;
  // Per-layer attention in place of ops::attention (an inference-time variant, e.g. FoT's
  // top-k memory attention); nullptr or an empty function: ops::attention.
  const std::vector<AttentionFn>* attention = nullptr;

  // Plain causal language modelling over `ids`.
  static ForwardArgs tokens(Tensor ids) {
    ForwardArgs a;
    a.ids = std::move(ids);
    return a;
  }
};

class Llama {
 public:
  // Parameters initialised from `seed`: each from its own generator seeded by
  // (seed, name), so a shard can be initialised to the same values as the whole.
  // A shard (core/model_shard.h) holds its tensor-parallel slice of its layers,
  // the embedding when it has the first layer and the final norm and lm_head when
  // it has the last; parameters keep their Hugging Face names.
  Llama(const LlamaConfig& config, uint64_t seed, Device device = Device::cpu,
        const ModelShard& shard = {});

  const LlamaConfig& config() const { return config_; }
  Device device() const { return device_; }
  std::vector<Param>& params() { return params_; }
  const std::vector<Param>& params() const { return params_; }
  Param& param(const std::string& name);
  const Param& param(const std::string& name) const;
  int64_t num_params(bool include_embedding = true) const;

  const ModelShard& shard() const { return shard_; }
  bool first_stage() const { return shard_.layer_begin == 0; }
  bool last_stage() const { return shard_.layer_end == config_.n_layers; }
  // The first vocabulary row of this shard's embedding and lm_head.
  int64_t vocab_begin() const { return config_.vocab_size / shard_.tp_size * shard_.tp_rank; }

  // Final-norm hidden states [B,T,D] (a shard holding every layer).
  Var hidden(Tape& tape, const ForwardArgs& args) const;
  // This shard's part of the forward pass: token embeddings on the first stage,
  // else `input` [B,T,D] from the previous stage; its layers; the final norm on
  // the last stage. Layer indices in `args` (prefix, kv_out) are the model's.
  Var stage(Tape& tape, const ForwardArgs& args, const Var& input) const;
  // hidden [B,T,D] -> logits [B,T,V] (a tensor-parallel shard: its vocabulary
  // slice [B,T,V/tp], for a vocab-parallel loss).
  Var logits(Tape& tape, const Var& hidden) const;
  Var forward(Tape& tape, const ForwardArgs& args) const {
    return logits(tape, hidden(tape, args));
  }

  // Adds a method's tensor (this shard's slice of it, if this shard's stage holds it).
  // Throws on a clashing name or a shape tensor parallelism cannot split.
  void add_param(const ParamSpec& spec);
  // Adds LoRA pairs to the target linears of this shard's layers (see LoraSpec).
  // Throws naming an unknown target. Tensor parallelism splits B of the
  // column-parallel linears (q, k, v, gate, up) by rows and A of the row-parallel
  // ones (o, down) by columns, so that no replicated parameter gets a partial gradient.
  void add_lora(const LoraSpec& spec);
  // A parameter of this shard by name, or nullptr.
  Param* find_param(const std::string& name);
  // Freezes (false) or unfreezes a parameter: a frozen one records no gradient (no
  // weight-gradient GEMM), gets no optimizer state and is left out of the gradient
  // norm and of data-parallel sync. Build the optimizer after changing this.
  void set_trainable(const std::string& name, bool trainable);

  // Moves all parameters to `device` (values copied; gradients dropped).
  void to(Device device);

  // Grows the vocabulary to `vocab_size` (new special tokens such as <GIST>): the
  // embedding and lm_head get new rows set to the mean of their existing rows, so a
  // pretrained model sees the new token as an "average" token instead of noise.
  // Gradients are dropped; build the optimizer after resizing.
  void resize_vocab(int64_t vocab_size);

 private:
  struct Layer {
    Var attn_norm, mlp_norm;
    LinearLayer q, k, v, o, gate, up, down;
  };
  Var block(Tape& tape, const Layer& layer, size_t index, const Var& h, const ForwardArgs& args,
            const Tensor& pos, const LoraGate& gate) const;
  // h [B,T,D] with the rows `in` names taken from its table (first stage).
  Var table_embeddings(Tape& tape, const TableInputs& in, const Var& h) const;
  // Whether this shard's stage holds `layer` (or ParamSpec::kFirstStage / kLastStage).
  bool holds_stage_of(int64_t layer) const;
  // Records a method's parameter name; throws if the model (any stage) has it already.
  void declare(const std::string& name);
  // Throws unless `shape` splits over the tensor-parallel ranks along tp_dim (-1: replicated).
  void check_split(const std::string& name, const Shape& shape, int tp_dim) const;
  // This shard's slice of `full` (host), on the model's device, as a new parameter.
  Var add_shard_param(const std::string& name, const Tensor& full, int tp_dim, bool trainable);

  LlamaConfig config_;
  Device device_;
  ModelShard shard_;
  Var embed_, final_norm_, lm_head_;
  std::vector<Layer> layers_;
  std::vector<Param> params_;
  std::set<std::string> declared_;  // every parameter name of the whole model, once filled
};

// Positions 0..T-1 for every row of a [B,T] batch.
Tensor default_positions(int64_t B, int64_t T, Device device = Device::cpu);

}  // namespace condense
