#include "core/llama2c.h"

#include <cstdint>
#include <fstream>

namespace condense {
namespace {

class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    if (!in_) fail(path, ": cannot open llama2.c checkpoint");
  }
  std::vector<float> floats(int64_t n, const char* what) {
    std::vector<float> v(static_cast<size_t>(n));
    in_.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * 4));
    if (in_.gcount() != n * 4)
      fail(path_, ": truncated llama2.c checkpoint while reading ", what, " (", n, " floats)");
    return v;
  }
  int32_t i32(const char* what) {
    int32_t x = 0;
    in_.read(reinterpret_cast<char*>(&x), 4);
    if (in_.gcount() != 4) fail(path_, ": truncated llama2.c header at ", what);
    return x;
  }
  bool at_end() { return in_.peek() == std::char_traits<char>::eof(); }

 private:
  std::string path_;
  std::ifstream in_;
};

// Rows of one projection [heads*Dh, D]: within each head, row 2i -> i and 2i+1 -> i+Dh/2.
std::vector<float> interleaved_to_halves(const std::vector<float>& w, int64_t heads, int64_t Dh,
                                         int64_t D) {
  std::vector<float> out(w.size());
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < Dh / 2; ++i)
      for (int64_t c = 0; c < D; ++c) {
        out[((h * Dh) + i) * D + c] = w[((h * Dh) + 2 * i) * D + c];
        out[((h * Dh) + i + Dh / 2) * D + c] = w[((h * Dh) + 2 * i + 1) * D + c];
      }
  return out;
}

void set(Llama& m, const std::string& name, const std::vector<float>& data) {
  Param& p = m.param(name);
  p.var.set_value(Tensor::from_f32(data, p.var.shape(), m.device()));
}

}  // namespace

Llama read_llama2c_checkpoint(const std::string& path) {
  Reader r(path);
  LlamaConfig c;
  c.dim = r.i32("dim");
  c.ffn_dim = r.i32("hidden_dim");
  c.n_layers = r.i32("n_layers");
  c.n_heads = r.i32("n_heads");
  c.n_kv_heads = r.i32("n_kv_heads");
  const int32_t vocab = r.i32("vocab_size");
  c.max_seq_len = r.i32("seq_len");
  // A negative vocab size marks an unshared classifier (llama2.c convention).
  c.tie_embeddings = vocab > 0;
  c.vocab_size = vocab > 0 ? vocab : -vocab;
  c.norm_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  if (c.dim <= 0 || c.n_layers <= 0 || c.n_layers > 1000 || c.n_heads <= 0 || c.n_kv_heads <= 0)
    fail(path, ": not a llama2.c checkpoint (header dim=", c.dim, " layers=", c.n_layers,
         " heads=", c.n_heads, ")");
  c.validate();
  Llama m(c, 0);
  const int64_t D = c.dim, F = c.ffn_dim, L = c.n_layers, Dh = c.head_dim();
  const int64_t H = c.n_heads, Hkv = c.n_kv_heads, kv = Hkv * Dh;
  set(m, "model.embed_tokens.weight", r.floats(c.vocab_size * D, "token_embedding"));
  auto per_layer = [&](const char* what, int64_t n) {
    std::vector<float> all = r.floats(L * n, what);
    std::vector<std::vector<float>> out(static_cast<size_t>(L));
    for (int64_t l = 0; l < L; ++l) out[l].assign(all.begin() + l * n, all.begin() + (l + 1) * n);
    return out;
  };
  auto rms_att = per_layer("rms_att", D);
  auto wq = per_layer("wq", D * D);
  auto wk = per_layer("wk", kv * D);
  auto wv = per_layer("wv", kv * D);
  auto wo = per_layer("wo", D * D);
  auto rms_ffn = per_layer("rms_ffn", D);
  auto w1 = per_layer("w1", F * D);
  auto w2 = per_layer("w2", D * F);
  auto w3 = per_layer("w3", F * D);
  for (int64_t l = 0; l < L; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    set(m, p + "input_layernorm.weight", rms_att[l]);
    set(m, p + "self_attn.q_proj.weight", interleaved_to_halves(wq[l], H, Dh, D));
    set(m, p + "self_attn.k_proj.weight", interleaved_to_halves(wk[l], Hkv, Dh, D));
    set(m, p + "self_attn.v_proj.weight", wv[l]);
    set(m, p + "self_attn.o_proj.weight", wo[l]);
    set(m, p + "post_attention_layernorm.weight", rms_ffn[l]);
    set(m, p + "mlp.gate_proj.weight", w1[l]);
    set(m, p + "mlp.down_proj.weight", w2[l]);
    set(m, p + "mlp.up_proj.weight", w3[l]);
  }
  set(m, "model.norm.weight", r.floats(D, "rms_final"));
  // The precomputed RoPE tables are skipped: condense computes them from theta.
  r.floats(c.max_seq_len * Dh / 2, "freq_cis_real");
  r.floats(c.max_seq_len * Dh / 2, "freq_cis_imag");
  if (!c.tie_embeddings) set(m, "lm_head.weight", r.floats(c.vocab_size * D, "wcls"));
  if (!r.at_end()) fail(path, ": trailing bytes after the llama2.c checkpoint (wrong format?)");
  return m;
}

}  // namespace condense
