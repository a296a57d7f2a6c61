// The layer hooks methods pass with the forward call: a per-layer key/value prefix
// (rotated by the layer at given positions, or already rotated), per-layer masks,
// keys out before and after RoPE, and the K/V row mix (KVMix). Checked against a
// float64 reference written with plain loops, and gradients against differences.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "gradcheck.h"
#include "model_test_util.h"

namespace condense {
namespace {

using testing::random_ids;
using testing::small_config;

using Vec = std::vector<double>;

Vec to_double(const Tensor& t) {
  const std::vector<float> f = t.to_vector();
  return Vec(f.begin(), f.end());
}

// y [N, Out] = x [N, In] W^T, W [Out, In].
Vec matmul_t(const Vec& x, const Vec& w, int64_t N, int64_t In, int64_t Out) {
  Vec y(N * Out, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < Out; ++o) {
      double s = 0;
      for (int64_t i = 0; i < In; ++i) s += x[n * In + i] * w[o * In + i];
      y[n * Out + o] = s;
    }
  return y;
}

Vec rmsnorm(const Vec& x, const Vec& w, int64_t N, int64_t D, double eps) {
  Vec y(x.size());
  for (int64_t n = 0; n < N; ++n) {
    double ss = 0;
    for (int64_t d = 0; d < D; ++d) ss += x[n * D + d] * x[n * D + d];
    const double r = 1.0 / std::sqrt(ss / D + eps);
    for (int64_t d = 0; d < D; ++d) y[n * D + d] = x[n * D + d] * r * w[d];
  }
  return y;
}

// Hugging Face's rotate_half RoPE on rows [N, heads, Dh] at positions pos[N].
Vec rope(const Vec& x, const std::vector<int32_t>& pos, int64_t heads, int64_t Dh, double theta) {
  Vec y(x.size());
  const int64_t half = Dh / 2;
  for (size_t n = 0; n < pos.size(); ++n)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < half; ++i) {
        const double a = pos[n] * std::pow(theta, -2.0 * i / Dh);
        const size_t base = (n * heads + h) * Dh;
        const double x1 = x[base + i], x2 = x[base + i + half];
        y[base + i] = x1 * std::cos(a) - x2 * std::sin(a);
        y[base + i + half] = x2 * std::cos(a) + x1 * std::sin(a);
      }
  return y;
}

struct RefPrefix {
  Vec k, v;                  // [B, M, Hkv*Dh]
  std::vector<int32_t> pos;  // [B*M], empty: k is rotated already
  int64_t M = 0;
};

// The model's logits in float64: per-layer prefixes and masks (empty: causal),
// and one KV mix (rows of [B*S] with weights [P, B*S]) applied in every layer.
Vec reference_logits(const Llama& model, const std::vector<int32_t>& ids, int64_t B, int64_t T,
                     const std::vector<RefPrefix>& prefix,
                     const std::vector<std::vector<uint8_t>>& masks,
                     const std::vector<int32_t>& mix_rows, const Vec& mix_w) {
  const LlamaConfig& c = model.config();
  const int64_t D = c.dim, H = c.n_heads, Hkv = c.n_kv_heads, Dh = c.head_dim(), F = c.ffn_dim;
  const int64_t V = c.vocab_size, N = B * T, KD = Hkv * Dh;
  auto P = [&](const std::string& n) { return to_double(model.param(n).var.value()); };
  const Vec E = P("model.embed_tokens.weight");
  Vec h(N * D);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d) h[n * D + d] = E[ids[n] * D + d];
  std::vector<int32_t> pos(N);
  for (int64_t n = 0; n < N; ++n) pos[n] = static_cast<int32_t>(n % T);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const Vec x = rmsnorm(h, P(p + "input_layernorm.weight"), N, D, c.norm_eps);
    const Vec q =
        rope(matmul_t(x, P(p + "self_attn.q_proj.weight"), N, D, H * Dh), pos, H, Dh, c.rope_theta);
    const Vec k =
        rope(matmul_t(x, P(p + "self_attn.k_proj.weight"), N, D, KD), pos, Hkv, Dh, c.rope_theta);
    const Vec v = matmul_t(x, P(p + "self_attn.v_proj.weight"), N, D, KD);
    const RefPrefix& pre = prefix[l];
    const int64_t M = pre.M, S = M + T;
    const Vec pk = pre.pos.empty() ? pre.k : rope(pre.k, pre.pos, Hkv, Dh, c.rope_theta);
    Vec keys(B * S * KD), values(B * S * KD);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t s = 0; s < S; ++s)
        for (int64_t e = 0; e < KD; ++e) {
          const size_t at = (b * S + s) * KD + e;
          keys[at] = s < M ? pk[(b * M + s) * KD + e] : k[(b * T + s - M) * KD + e];
          values[at] = s < M ? pre.v[(b * M + s) * KD + e] : v[(b * T + s - M) * KD + e];
        }
    if (!mix_rows.empty()) {
      const Vec k0 = keys, v0 = values;
      for (size_t r = 0; r < mix_rows.size(); ++r)
        for (int64_t e = 0; e < KD; ++e) {
          double sk = 0, sv = 0;
          for (int64_t j = 0; j < B * S; ++j) {
            sk += mix_w[r * B * S + j] * k0[j * KD + e];
            sv += mix_w[r * B * S + j] * v0[j * KD + e];
          }
          keys[mix_rows[r] * KD + e] = sk;
          values[mix_rows[r] * KD + e] = sv;
        }
    }
    Vec att(N * H * Dh, 0.0);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t hh = 0; hh < H; ++hh) {
          const int64_t g = hh / (H / Hkv);
          std::vector<double> score(S, -INFINITY);
          double mx = -INFINITY;
          for (int64_t s = 0; s < S; ++s) {
            const bool ok = masks[l].empty() ? s <= t + M : masks[l][(b * T + t) * S + s] != 0;
            if (!ok) continue;
            double d = 0;
            for (int64_t i = 0; i < Dh; ++i)
              d += q[((b * T + t) * H + hh) * Dh + i] * keys[((b * S + s) * Hkv + g) * Dh + i];
            score[s] = d / std::sqrt(double(Dh));
            mx = std::max(mx, score[s]);
          }
          if (mx == -INFINITY) continue;
          double z = 0;
          for (double& sc : score) z += sc == -INFINITY ? 0 : (sc = std::exp(sc - mx));
          for (int64_t s = 0; s < S; ++s) {
            if (score[s] == -INFINITY) continue;
            for (int64_t i = 0; i < Dh; ++i)
              att[((b * T + t) * H + hh) * Dh + i] +=
                  score[s] / z * values[((b * S + s) * Hkv + g) * Dh + i];
          }
        }
    const Vec o = matmul_t(att, P(p + "self_attn.o_proj.weight"), N, H * Dh, D);
    for (int64_t i = 0; i < N * D; ++i) h[i] += o[i];
    const Vec y = rmsnorm(h, P(p + "post_attention_layernorm.weight"), N, D, c.norm_eps);
    const Vec gate = matmul_t(y, P(p + "mlp.gate_proj.weight"), N, D, F);
    Vec up = matmul_t(y, P(p + "mlp.up_proj.weight"), N, D, F);
    for (int64_t i = 0; i < N * F; ++i) up[i] *= gate[i] / (1 + std::exp(-gate[i]));
    const Vec down = matmul_t(up, P(p + "mlp.down_proj.weight"), N, F, D);
    for (int64_t i = 0; i < N * D; ++i) h[i] += down[i];
  }
  return matmul_t(rmsnorm(h, P("model.norm.weight"), N, D, c.norm_eps), P("lm_head.weight"), N, D,
                  V);
}

// A setup of prefixes, masks and a mix, as the model's inputs and the reference's.
struct Hooks {
  int64_t B = 2, T = 4;
  Tensor ids;
  std::vector<LayerKV> prefix;
  std::vector<Tensor> layer_mask;
  KVMix mix;
  std::vector<RefPrefix> ref_prefix;
  std::vector<std::vector<uint8_t>> ref_mask;
  std::vector<int32_t> ref_mix_rows;
  Vec ref_mix_w;

  ForwardArgs args() const {
    ForwardArgs a = ForwardArgs::tokens(ids);
    a.prefix = &prefix;
    a.layer_mask = &layer_mask;
    if (!ref_mix_rows.empty()) a.kv_mix = &mix;
    return a;
  }
};

// A prefix of M keys in `layer` (unrotated with positions when `rotate`), a random
// mask there (every query sees something), and a mix when `with_mix`.
Hooks make_hooks(const LlamaConfig& c, int64_t layer, int64_t M, bool rotate, bool with_mix) {
  Hooks hk;
  const int64_t B = hk.B, T = hk.T, S = M + T;
  hk.ids = random_ids(B, T, c.vocab_size, 11);
  hk.prefix.assign(c.n_layers, LayerKV{});
  hk.layer_mask.assign(c.n_layers, Tensor());
  hk.ref_prefix.assign(c.n_layers, RefPrefix{});
  hk.ref_mask.assign(c.n_layers, {});
  const Shape kv{B, M, c.n_kv_heads, c.head_dim()};
  LayerKV& p = hk.prefix[layer];
  p.k = Var(testing::randn(kv, 21), true);
  p.v = Var(testing::randn(kv, 22), true);
  RefPrefix& rp = hk.ref_prefix[layer];
  rp.M = M;
  rp.k = to_double(p.k.value());
  rp.v = to_double(p.v.value());
  if (rotate) {
    std::mt19937 g(5);
    for (int64_t i = 0; i < B * M; ++i) rp.pos.push_back(static_cast<int32_t>(g() % 50));
    p.pos = Tensor::from_i32(rp.pos, {B, M});
  }
  std::mt19937 g(6);
  std::vector<uint8_t> m(B * T * S);
  for (int64_t r = 0; r < B * T; ++r) {
    for (int64_t s = 0; s < S; ++s) m[r * S + s] = g() % 3 != 0;
    m[r * S + M + r % T] = 1;  // itself
  }
  hk.layer_mask[layer] = Tensor::from_u8(m, {B, T, S});
  hk.ref_mask[layer] = m;
  if (with_mix) {
    hk.ref_mix_rows = {1, static_cast<int32_t>(S + M + 1), static_cast<int32_t>(S + 2)};
    std::mt19937 gw(7);
    std::uniform_real_distribution<float> d(0.0f, 0.5f);
    std::vector<float> w(3 * B * S);
    for (float& x : w) x = d(gw);
    hk.ref_mix_w.assign(w.begin(), w.end());
    hk.mix.rows = Tensor::from_i32(hk.ref_mix_rows, {3});
    hk.mix.weights = Tensor::from_f32(w, {3, B * S});
  }
  return hk;
}

void expect_matches_reference(const Llama& model, const Hooks& hk) {
  Tape tape(false);
  const std::vector<float> got = model.forward(tape, hk.args()).value().to_vector();
  const Vec want = reference_logits(model, hk.ids.to_i32_vector(), hk.B, hk.T, hk.ref_prefix,
                                    hk.ref_mask, hk.ref_mix_rows, hk.ref_mix_w);
  ASSERT_EQ(got.size(), want.size());
  double scale = 0, worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    scale = std::max(scale, std::abs(want[i]));
    worst = std::max(worst, std::abs(got[i] - want[i]));
  }
  EXPECT_LE(worst, 1e-4 * scale) << "max abs error " << worst << " at scale " << scale;
}

// Larger weights than the init, so attention is far from uniform and a wrong mask,
// rotation or mix shows.
void sharpen(Llama& model) {
  uint32_t seed = 300;
  for (Param& p : model.params())
    if (p.var.value().ndim() == 2) p.var.set_value(testing::randn(p.var.shape(), seed++, 0.3f));
}

TEST(ModelHooks, OneLayerWithMixAndLayerMaskMatchesFloat64) {
  Llama model(small_config(1), 3);
  sharpen(model);
  expect_matches_reference(model, make_hooks(model.config(), 0, 3, true, true));
  expect_matches_reference(model, make_hooks(model.config(), 0, 3, false, true));
}

// Layer 0 keeps the causal default without a prefix; layer 1 has its prefix and mask.
TEST(ModelHooks, PerLayerPrefixAndMaskMatchFloat64) {
  Llama model(small_config(2), 3);
  sharpen(model);
  expect_matches_reference(model, make_hooks(model.config(), 1, 3, true, false));
}

TEST(ModelHooks, GradcheckUnderMixAndLayerMasks) {
  Llama model(small_config(1), 3);
  sharpen(model);
  const Hooks hk = make_hooks(model.config(), 0, 3, true, true);
  auto loss = [&] {
    Tape tape(false);
    return static_cast<double>(testing::lm_loss(tape, model, hk.args()).value().to_vector()[0]);
  };
  Tape tape;
  tape.backward(testing::lm_loss(tape, model, hk.args()));
  std::vector<std::pair<std::string, Var>> vars = {{"prefix k", hk.prefix[0].k},
                                                   {"prefix v", hk.prefix[0].v}};
  for (const Param& p : model.params()) vars.emplace_back(p.name, p.var);
  EXPECT_GT(testing::check_against_differences(loss, vars, 9), 200);
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// The layer rotating an unrotated prefix at positions p is the caller rotating it:
// at p = 0 (the identity) that is a prefix the caller left unrotated.
TEST(ModelHooks, PrefixRotatedAtPositionsEqualsPreRotated) {
  Llama model(small_config(2), 3);
  const int64_t B = 2, M = 3;
  const Shape kv{B, M, 2, 4};
  Tape tape(false);
  for (bool zero : {true, false}) {
    std::vector<int32_t> p(B * M, 0);
    if (!zero)
      for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<int32_t>(7 * i + 1);
    const Tensor pos = Tensor::from_i32(p, {B, M});
    std::vector<LayerKV> raw(2), rotated(2);
    for (int l = 0; l < 2; ++l) {
      const Var k(testing::randn(kv, 40 + l)), v(testing::randn(kv, 50 + l));
      raw[l] = {k, v, pos};
      rotated[l] = {zero ? k : ops::rope(tape, k, pos, model.config().rope_theta), v};
    }
    ForwardArgs a = ForwardArgs::tokens(random_ids(B, 4, 48, 2));
    a.prefix = &raw;
    const Tensor got = model.forward(tape, a).value();
    a.prefix = &rotated;
    EXPECT_TRUE(bit_equal(got, model.forward(tape, a).value())) << "positions zero: " << zero;
  }
}

TEST(ModelHooks, RawKeysRotatedAreTheKeys) {
  Llama model(small_config(2), 3);
  std::vector<LayerKV> out;
  ForwardArgs a = ForwardArgs::tokens(random_ids(2, 5, 48, 8));
  a.pos = Tensor::from_i32({3, 4, 5, 6, 7, 0, 1, 2, 9, 9}, {2, 5});
  a.kv_out = &out;
  Tape tape(false);
  model.forward(tape, a);
  ASSERT_EQ(out.size(), 2u);
  for (const LayerKV& kv : out) {
    ASSERT_TRUE(kv.k_raw.defined());
    EXPECT_FALSE(bit_equal(kv.k_raw.value(), kv.k.value()));
    EXPECT_TRUE(bit_equal(ops::rope(tape, kv.k_raw, a.pos, 1e4f).value(), kv.k.value()));
  }
}

TEST(ModelHooks, BadHookShapesAreErrors) {
  Llama model(small_config(2), 3);
  std::vector<Tensor> masks(1);
  ForwardArgs a = ForwardArgs::tokens(random_ids(2, 5, 48, 8));
  a.layer_mask = &masks;
  Tape tape(false);
  EXPECT_THROW(model.forward(tape, a), Error);
  KVMix mix{Tensor::from_i32({1}, {1}), Tensor::zeros({1, 9})};
  a.layer_mask = nullptr;
  a.kv_mix = &mix;
  EXPECT_THROW(model.forward(tape, a), Error);
}

}  // namespace
}  // namespace condense
