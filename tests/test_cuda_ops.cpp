// Every op of the CUDA backend against the CPU backend (the reference) on random
// inputs of awkward sizes (not multiples of any tile): f32 within 1e-5, bf16
// within 2e-2 (see expect_close for what the tolerance measures). bf16 cases
// feed both backends the same bf16-representable values; the CPU computes in f32.
// Masked attention is checked on the gist and CCM masks of
// shared/METHODS.md (§1.2, §2.3), a random mask with fully hidden rows, and the
// causal path with a memory prefix. Skipped, with the reason, without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/backend.h"
#ifdef CONDENSE_HAVE_CUDA
#include "core/cuda/cuda_backend.h"
#endif

namespace condense {
namespace {

constexpr float kTolF32 = 1e-5f;
constexpr float kTolBf16 = 2e-2f;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

Backend& cpu() {
  return backend_for(Device::cpu);
}
Backend& gpu() {
  return backend_for(Device::cuda);
}

class CudaOps : public ::testing::Test {
 protected:
  void SetUp() override {
#ifdef CONDENSE_HAVE_CUDA
    cuda::register_backend();
    if (!device_available(Device::cuda)) GTEST_SKIP() << "no CUDA device: no GPU found";
#else
    GTEST_SKIP() << "no CUDA device: condense was built without CUDA";
#endif
  }
};

float tol_for(DType t) {
  return t == DType::bf16 ? kTolBf16 : kTolF32;
}

std::vector<float> uniform(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Round to the nearest bf16 (ties to even), as f32: what a bf16 tensor holds.
float round_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  bits &= 0xffff0000u;
  std::memcpy(&f, &bits, 4);
  return f;
}

// The values both backends see: rounded to bf16 when the GPU side is bf16.
std::vector<float> representable(std::vector<float> v, DType t) {
  if (t == DType::bf16)
    for (float& x : v) x = round_bf16(x);
  return v;
}

Tensor host(const std::vector<float>& v, const Shape& s) {
  return Tensor::from_f32(v, s);
}

Tensor device(const std::vector<float>& v, const Shape& s, DType t = DType::f32) {
  Tensor f = Tensor::from_f32(v, s, Device::cuda);
  if (t == DType::f32) return f;
  Tensor out = Tensor::empty(s, t, Device::cuda);
  gpu().cast(out, f);
  return out;
}

// Passes when every element satisfies |got - want| <= tol * (|want| + rms(want)):
// relative to the element, with the tensor's typical magnitude as the floor so
// that elements near zero (where a relative error means nothing) are judged on
// the scale of the rest. Infinities must match exactly, and a NaN passes only
// where the reference has a NaN too.
::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want,
                                 float tol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  double ss = 0;
  size_t finite = 0;
  for (float w : want)
    if (std::isfinite(w)) ss += double{w} * w, ++finite;
  const double rms = finite ? std::sqrt(ss / finite) : 0.0;
  double worst = 0;
  size_t worst_i = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const float g = got[i], w = want[i];
    if (std::isnan(w) || std::isnan(g)) {
      if (std::isnan(w) != std::isnan(g))
        return ::testing::AssertionFailure() << "element " << i << ": got " << g << ", want " << w;
      continue;
    }
    if (std::isinf(w) || std::isinf(g)) {
      if (g != w)
        return ::testing::AssertionFailure() << "element " << i << ": got " << g << ", want " << w;
      continue;
    }
    const double err = std::abs(double{g} - w) / (std::abs(double{w}) + rms + 1e-30);
    if (err > worst) worst = err, worst_i = i;
  }
  if (worst > tol)
    return ::testing::AssertionFailure()
           << "element " << worst_i << ": got " << got[worst_i] << ", want " << want[worst_i]
           << " (error " << worst << " > " << tol << ")";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult close(const Tensor& got, const Tensor& want, float tol) {
  return close(got.to_vector(), want.to_vector(), tol);
}

const DType kActTypes[] = {DType::f32, DType::bf16};

TEST(CudaTestHelpers, CloseRejectsNaNAndMismatchedInfinity) {
  EXPECT_TRUE(close(std::vector<float>{1, 2}, std::vector<float>{1, 2}, kTolF32));
  EXPECT_FALSE(close(std::vector<float>{1, kNaN}, std::vector<float>{1, 2}, kTolF32));
  EXPECT_FALSE(close(std::vector<float>{1, 2}, std::vector<float>{1, kNaN}, kTolF32));
  EXPECT_FALSE(close(std::vector<float>{-kInf}, std::vector<float>{0}, kTolF32));
  EXPECT_TRUE(close(std::vector<float>{-kInf, 1}, std::vector<float>{-kInf, 1}, kTolF32));
  EXPECT_FALSE(close(std::vector<float>{1.001f}, std::vector<float>{1}, kTolF32));
}

TEST_F(CudaOps, Gemm) {
  const int64_t M = 37, N = 53, K = 71;
  for (DType t : kActTypes) {
    for (DType ct : {DType::f32, DType::bf16}) {
      if (t == DType::f32 && ct == DType::bf16) continue;  // f32 inputs give an f32 C
      for (int ta = 0; ta < 2; ++ta) {
        for (int tb = 0; tb < 2; ++tb) {
          SCOPED_TRACE(std::string(dtype_name(t)) + " C " + dtype_name(ct) + " ta " +
                       std::to_string(ta) + " tb " + std::to_string(tb));
          const Shape sa = ta ? Shape{K, M} : Shape{M, K}, sb = tb ? Shape{N, K} : Shape{K, N};
          const auto a = representable(uniform(M * K, 1), t);
          const auto b = representable(uniform(K * N, 2), t);
          const auto c = representable(uniform(M * N, 3), ct);
          Tensor hc = host(c, {M, N}), dc = device(c, {M, N}, ct);
          cpu().gemm(ta, tb, M, N, K, 0.7f, host(a, sa), host(b, sb), 0.3f, hc);
          gpu().gemm(ta, tb, M, N, K, 0.7f, device(a, sa, t), device(b, sb, t), 0.3f, dc);
          EXPECT_TRUE(close(dc, hc, tol_for(t)));
        }
      }
    }
  }
}

TEST_F(CudaOps, GemmWithEmptyInnerDimensionScalesC) {
  const auto c = uniform(6, 4);
  Tensor dc = device(c, {2, 3});
  gpu().gemm(false, false, 2, 3, 0, 1.0f, device({}, {2, 0}), device({}, {0, 3}), 0.5f, dc);
  std::vector<float> want = c;
  for (float& x : want) x *= 0.5f;
  EXPECT_TRUE(close(dc.to_vector(), want, kTolF32));
}

TEST_F(CudaOps, GatherScatterSetRows) {
  const int64_t R = 50, D = 77, N = 33;
  std::vector<int32_t> idx(N);
  for (int64_t i = 0; i < N; ++i) idx[i] = static_cast<int32_t>((i * 17 + 5) % R);  // repeats
  idx[3] = idx[20];
  std::vector<int32_t> unique_idx(N);
  for (int64_t i = 0; i < N; ++i) unique_idx[i] = static_cast<int32_t>((i * 3 + 1) % R);
  for (DType t : kActTypes) {
    SCOPED_TRACE(dtype_name(t));
    const auto src = representable(uniform(R * D, 5), t);
    Tensor hout = Tensor::empty({N, D}), dout = Tensor::empty({N, D}, t, Device::cuda);
    cpu().gather_rows(hout, host(src, {R, D}), Tensor::from_i32(idx, {N}));
    gpu().gather_rows(dout, device(src, {R, D}, t), Tensor::from_i32(idx, {N}, Device::cuda));
    EXPECT_TRUE(close(dout, hout, 0.0f));

    const auto rows = representable(uniform(N * D, 6), t);
    const auto base = uniform(R * D, 7);
    Tensor hdst = host(base, {R, D}), ddst = device(base, {R, D});
    cpu().scatter_add_rows(hdst, host(rows, {N, D}), Tensor::from_i32(idx, {N}));
    gpu().scatter_add_rows(ddst, device(rows, {N, D}, t), Tensor::from_i32(idx, {N}, Device::cuda));
    EXPECT_TRUE(close(ddst, hdst, kTolF32));

    Tensor hset = host(representable(base, t), {R, D});
    Tensor dset = device(representable(base, t), {R, D}, t);
    cpu().set_rows(hset, host(rows, {N, D}), Tensor::from_i32(unique_idx, {N}));
    gpu().set_rows(dset, device(rows, {N, D}, t), Tensor::from_i32(unique_idx, {N}, Device::cuda));
    EXPECT_TRUE(close(dset, hset, 0.0f));
    cpu().set_rows(hset, Tensor(), Tensor::from_i32(idx, {N}));
    gpu().set_rows(dset, Tensor(), Tensor::from_i32(idx, {N}, Device::cuda));
    EXPECT_TRUE(close(dset, hset, 0.0f));
  }
}

TEST_F(CudaOps, BadRowIndexIsReportedAtTheNextSync) {
  Tensor out = Tensor::empty({2, 3}, DType::f32, Device::cuda);
  Tensor src = device(uniform(12, 8), {4, 3});
  gpu().gather_rows(out, src, Tensor::from_i32({1, 4}, {2}, Device::cuda));
  EXPECT_THROW(out.to_vector(), Error);
  // The error is consumed: the backend keeps working.
  gpu().gather_rows(out, src, Tensor::from_i32({1, 3}, {2}, Device::cuda));
  EXPECT_NO_THROW(out.to_vector());
}

TEST_F(CudaOps, RmsNorm) {
  const int64_t N = 45, D = 300;
  for (DType t : kActTypes) {
    for (DType wt : kActTypes) {
      SCOPED_TRACE(std::string(dtype_name(t)) + " w " + dtype_name(wt));
      const auto x = representable(uniform(N * D, 9, -2, 2), t);
      const auto w = representable(uniform(D, 10, 0.5f, 1.5f), wt);
      const auto dy = representable(uniform(N * D, 11), t);
      const auto dx0 = representable(uniform(N * D, 12), t);
      const auto dw0 = uniform(D, 13);
      Tensor hy = Tensor::empty({N, D}), hr = Tensor::empty({N});
      Tensor dy_ = Tensor::empty({N, D}, t, Device::cuda);
      Tensor dr = Tensor::empty({N}, DType::f32, Device::cuda);
      cpu().rmsnorm_forward(hy, hr, host(x, {N, D}), host(w, {D}), 1e-5f);
      gpu().rmsnorm_forward(dy_, dr, device(x, {N, D}, t), device(w, {D}, wt), 1e-5f);
      EXPECT_TRUE(close(dy_, hy, tol_for(t)));
      EXPECT_TRUE(close(dr, hr, kTolF32));

      Tensor hdx = host(dx0, {N, D}), hdw = host(dw0, {D});
      Tensor ddx = device(dx0, {N, D}, t), ddw = device(dw0, {D});
      cpu().rmsnorm_backward(hdx, hdw, host(dy, {N, D}), host(x, {N, D}), host(w, {D}), hr);
      gpu().rmsnorm_backward(ddx, ddw, device(dy, {N, D}, t), device(x, {N, D}, t),
                             device(w, {D}, wt), dr);
      EXPECT_TRUE(close(ddx, hdx, tol_for(t)));
      EXPECT_TRUE(close(ddw, hdw, kTolF32));  // f32, from the same inputs
    }
  }
}

TEST_F(CudaOps, Rope) {
  const int64_t B = 2, T = 13, H = 3, Dh = 24;
  std::vector<int32_t> pos(B * T);
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>((i * 977) % 6000);
  for (DType t : kActTypes) {
    for (bool inverse : {false, true}) {
      SCOPED_TRACE(std::string(dtype_name(t)) + (inverse ? " inverse" : ""));
      const auto x = representable(uniform(B * T * H * Dh, 14), t);
      const Shape s{B, T, H, Dh};
      Tensor hy = Tensor::empty(s), dy = Tensor::empty(s, t, Device::cuda);
      cpu().rope(hy, host(x, s), Tensor::from_i32(pos, {B, T}), 10000.0f, inverse);
      gpu().rope(dy, device(x, s, t), Tensor::from_i32(pos, {B, T}, Device::cuda), 10000.0f,
                 inverse);
      EXPECT_TRUE(close(dy, hy, tol_for(t)));
      Tensor dx = device(x, s, t);  // in place
      gpu().rope(dx, dx, Tensor::from_i32(pos, {B, T}, Device::cuda), 10000.0f, inverse);
      EXPECT_TRUE(close(dx, hy, tol_for(t)));
    }
  }
}

TEST_F(CudaOps, SwiGlu) {
  const int64_t N = 13, F = 77;
  for (DType t : kActTypes) {
    SCOPED_TRACE(dtype_name(t));
    const auto g = representable(uniform(N * F, 15, -4, 4), t);
    const auto u = representable(uniform(N * F, 16, -2, 2), t);
    const auto dy = representable(uniform(N * F, 17), t);
    const auto dg0 = representable(uniform(N * F, 18), t);
    const auto du0 = representable(uniform(N * F, 19), t);
    Tensor hy = Tensor::empty({N, F}), dyv = Tensor::empty({N, F}, t, Device::cuda);
    cpu().swiglu_forward(hy, host(g, {N, F}), host(u, {N, F}));
    gpu().swiglu_forward(dyv, device(g, {N, F}, t), device(u, {N, F}, t));
    EXPECT_TRUE(close(dyv, hy, tol_for(t)));
    Tensor hdg = host(dg0, {N, F}), hdu = host(du0, {N, F});
    Tensor ddg = device(dg0, {N, F}, t), ddu = device(du0, {N, F}, t);
    cpu().swiglu_backward(hdg, hdu, host(dy, {N, F}), host(g, {N, F}), host(u, {N, F}));
    gpu().swiglu_backward(ddg, ddu, device(dy, {N, F}, t), device(g, {N, F}, t),
                          device(u, {N, F}, t));
    EXPECT_TRUE(close(ddg, hdg, tol_for(t)));
    EXPECT_TRUE(close(ddu, hdu, tol_for(t)));
  }
}

TEST_F(CudaOps, CrossEntropy) {
  const int64_t N = 9, V = 5003;
  const int ignore = -100;
  std::vector<int32_t> targets(N);
  for (int64_t i = 0; i < N; ++i) targets[i] = static_cast<int32_t>((i * 1231 + 7) % V);
  targets[2] = ignore;
  targets[6] = ignore;
  for (DType t : kActTypes) {
    SCOPED_TRACE(dtype_name(t));
    const auto logits = representable(uniform(N * V, 20, -8, 8), t);
    const auto dl0 = representable(uniform(N * V, 21, -1e-3f, 1e-3f), t);
    Tensor hl = Tensor::empty({N}), hs = Tensor::empty({N});
    Tensor dl = Tensor::empty({N}, DType::f32, Device::cuda);
    Tensor ds = Tensor::empty({N}, DType::f32, Device::cuda);
    Tensor ht = Tensor::from_i32(targets, {N}), dt = Tensor::from_i32(targets, {N}, Device::cuda);
    cpu().cross_entropy_forward(hl, hs, host(logits, {N, V}), ht, ignore);
    gpu().cross_entropy_forward(dl, ds, device(logits, {N, V}, t), dt, ignore);
    EXPECT_TRUE(close(dl, hl, kTolF32));
    EXPECT_TRUE(close(ds, hs, kTolF32));
    Tensor hd = host(dl0, {N, V}), dd = device(dl0, {N, V}, t);
    cpu().cross_entropy_backward(hd, host(logits, {N, V}), hs, ht, ignore, 1.0f / 7);
    gpu().cross_entropy_backward(dd, device(logits, {N, V}, t), ds, dt, ignore, 1.0f / 7);
    EXPECT_TRUE(close(dd, hd, tol_for(t)));
  }
}

TEST_F(CudaOps, ElementwiseAndCast) {
  const int64_t n = 1237;
  for (DType t : kActTypes) {
    SCOPED_TRACE(dtype_name(t));
    const auto a = representable(uniform(n, 22), t), b = representable(uniform(n, 23), t);
    Tensor h = Tensor::empty({n}), d = Tensor::empty({n}, t, Device::cuda);
    cpu().add(h, host(a, {n}), host(b, {n}));
    gpu().add(d, device(a, {n}, t), device(b, {n}, DType::f32));  // mixed operands
    EXPECT_TRUE(close(d, h, tol_for(t)));
    cpu().axpy(h, -0.37f, host(b, {n}));
    gpu().axpy(d, -0.37f, device(b, {n}, t));
    EXPECT_TRUE(close(d, h, tol_for(t)));
    cpu().scale(h, 1.7f, h);
    gpu().scale(d, 1.7f, d);
    EXPECT_TRUE(close(d, h, tol_for(t)));
  }
  // The cast must round exactly as the CPU does (ties to even), bit for bit.
  auto x = uniform(n, 24, -1e3f, 1e3f);
  x[0] = kNaN;
  x[1] = -kInf;
  Tensor hb = Tensor::empty({n}, DType::bf16), db = Tensor::empty({n}, DType::bf16, Device::cuda);
  cpu().cast(hb, host(x, {n}));
  gpu().cast(db, device(x, {n}));
  EXPECT_TRUE(close(db, hb, 0.0f));
  Tensor back = Tensor::empty({n}, DType::f32, Device::cuda);
  gpu().cast(back, db);
  EXPECT_TRUE(close(back.to_vector(), hb.to_vector(), 0.0f));
}

TEST_F(CudaOps, CopyBlocks) {
  // A [3,5,7] slice of a [3,9,7] tensor (rows 2..6 of the middle axis), then added back.
  const int64_t A = 3, Bsrc = 9, C = 7, rows = 5, off = 2;
  for (DType t : kActTypes) {
    SCOPED_TRACE(dtype_name(t));
    const auto src = representable(uniform(A * Bsrc * C, 25), t);
    const auto dst0 = representable(uniform(A * rows * C + 3, 26), t);
    Tensor hd = host(dst0, {A * rows * C + 3}), dd = device(dst0, {A * rows * C + 3}, t);
    Tensor hs = host(src, {A, Bsrc, C}), ds = device(src, {A, Bsrc, C}, t);
    cpu().copy_blocks(hd, 3, rows * C, hs, off * C, Bsrc * C, rows * C, A, false);
    gpu().copy_blocks(dd, 3, rows * C, ds, off * C, Bsrc * C, rows * C, A, false);
    EXPECT_TRUE(close(dd, hd, 0.0f));
    Tensor hacc = host(src, {A, Bsrc, C}), dacc = device(src, {A, Bsrc, C}, t);
    cpu().copy_blocks(hacc, off * C, Bsrc * C, hd, 3, rows * C, rows * C, A, true);
    gpu().copy_blocks(dacc, off * C, Bsrc * C, dd, 3, rows * C, rows * C, A, true);
    EXPECT_TRUE(close(dacc, hacc, tol_for(t)));
  }
  Tensor small = Tensor::empty({10}, DType::f32, Device::cuda);
  EXPECT_THROW(gpu().copy_blocks(small, 0, 6, small, 0, 0, 5, 2, false), Error);
}

TEST_F(CudaOps, SumSquaresAndAdamW) {
  const int64_t n = 4099;
  for (DType t : kActTypes) {
    SCOPED_TRACE(dtype_name(t));
    const auto g = representable(uniform(n, 27), t);
    const double want = cpu().sum_squares(host(g, {n}));
    EXPECT_NEAR(gpu().sum_squares(device(g, {n}, t)), want, 1e-9 * want);

    const auto p0 = uniform(n, 28), m0 = uniform(n, 29, -0.1f, 0.1f), v0 = uniform(n, 30, 0, 0.01f);
    Tensor hp = host(p0, {n}), hm = host(m0, {n}), hv = host(v0, {n});
    Tensor dp = device(p0, {n}), dm = device(m0, {n}), dv = device(v0, {n});
    for (int64_t step = 1; step <= 3; ++step) {
      cpu().adamw(hp, host(g, {n}), hm, hv, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step, 0.5f);
      gpu().adamw(dp, device(g, {n}, t), dm, dv, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step, 0.5f);
    }
    EXPECT_TRUE(close(dp, hp, kTolF32));
    EXPECT_TRUE(close(dm, hm, kTolF32));
    EXPECT_TRUE(close(dv, hv, kTolF32));
  }
}

// ---- attention ----------------------------------------------------------------

struct AttnCase {
  std::string name;
  int64_t B, T, S, H, Hkv, Dh;
  std::vector<uint8_t> mask;  // [B,T,S], empty: causal
};

// METHODS.md §1.2 (gist), with `pad` left-padding tokens per row: pad rows see
// nothing (fully masked rows) and no row sees a pad column. Rows up to the last
// gist token are causal; later rows see only the gists and what follows them.
std::vector<uint8_t> gist_mask(int64_t T, const std::vector<int64_t>& first,
                               const std::vector<int64_t>& last, const std::vector<int64_t>& pad) {
  const int64_t B = static_cast<int64_t>(first.size());
  std::vector<uint8_t> m(B * T * T, 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = pad[b]; i < T; ++i)
      for (int64_t j = pad[b]; j <= i; ++j) m[(b * T + i) * T + j] = i <= last[b] || j >= first[b];
  return m;
}

// METHODS.md §2.3 layouts: segments of `ctx` text tokens each followed by `ncomp`
// COMP tokens (concat) or COMP then SUM tokens (merge), then a final segment of
// `tail` tokens (input and output). concat_recur: a row sees its own segment and
// every COMP token; merge_recur: its own segment and the previous segment's SUM
// tokens. Both causal.
std::vector<uint8_t> ccm_mask(int64_t B, int nseg, int64_t ctx, int64_t ncomp, int64_t tail,
                              bool merge, int64_t* T_out) {
  std::vector<int> seg, comp, sum;
  for (int s = 0; s < nseg; ++s) {
    for (int64_t i = 0; i < ctx; ++i) seg.push_back(s), comp.push_back(0), sum.push_back(0);
    for (int64_t i = 0; i < ncomp; ++i) seg.push_back(s), comp.push_back(1), sum.push_back(0);
    if (merge)
      for (int64_t i = 0; i < ncomp; ++i) seg.push_back(s), comp.push_back(0), sum.push_back(1);
  }
  for (int64_t i = 0; i < tail; ++i) seg.push_back(nseg), comp.push_back(0), sum.push_back(0);
  const int64_t T = static_cast<int64_t>(seg.size());
  *T_out = T;
  std::vector<uint8_t> m(B * T * T, 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < T; ++i)
      for (int64_t j = 0; j <= i; ++j) {
        const bool same = seg[i] == seg[j];
        const bool memory = merge ? (sum[j] && seg[j] == seg[i] - 1) : comp[j] != 0;
        m[(b * T + i) * T + j] = same || memory;
      }
  return m;
}

std::vector<AttnCase> attention_cases() {
  std::vector<AttnCase> cases;
  cases.push_back({"causal", 2, 37, 37, 4, 2, 40, {}});
  cases.push_back({"causal_memory_prefix", 2, 45, 100, 6, 2, 72, {}});
  cases.push_back({"causal_long_head128", 1, 130, 161, 2, 2, 128, {}});
  {
    // Random mask with fully hidden rows and a run of hidden columns.
    const int64_t B = 2, T = 70, S = 90;
    std::mt19937 rng(31);
    std::vector<uint8_t> m(B * T * S);
    for (auto& x : m) x = (rng() % 10) < 6;
    for (int64_t j = 0; j < S; ++j) m[(0 * T + 5) * S + j] = m[(1 * T + 69) * S + j] = 0;
    for (int64_t i = 0; i < T; ++i)
      for (int64_t j = 32; j < 64; ++j) m[(1 * T + i) * S + j] = 0;
    cases.push_back({"random_mask", B, T, S, 2, 1, 64, m});
  }
  {
    const int64_t T = 150;
    cases.push_back({"gist", 2, T, T, 4, 4, 20, gist_mask(T, {40, 70}, {42, 73}, {0, 11})});
  }
  {
    int64_t T = 0;
    auto m = ccm_mask(2, 3, 41, 4, 23, false, &T);
    cases.push_back({"ccm_concat_recur", 2, T, T, 4, 2, 64, m});
    m = ccm_mask(1, 3, 70, 2, 50, true, &T);
    cases.push_back({"ccm_merge_recur", 1, T, T, 2, 1, 96, m});
  }
  {
    // Gist caching: 3 cached gist keys in front; the queries see them and, causally,
    // each other (an explicit mask with S > T).
    const int64_t B = 1, T = 40, M = 3, S = T + M;
    std::vector<uint8_t> m(B * T * S, 0);
    for (int64_t i = 0; i < T; ++i)
      for (int64_t j = 0; j < S; ++j) m[i * S + j] = j < M || j - M <= i;
    cases.push_back({"gist_cache_prefix", B, T, S, 3, 1, 32, m});
  }
  return cases;
}

TEST_F(CudaOps, Attention) {
  for (const AttnCase& c : attention_cases()) {
    for (DType t : kActTypes) {
      SCOPED_TRACE(c.name + " " + dtype_name(t));
      const Shape qs{c.B, c.T, c.H, c.Dh}, ks{c.B, c.S, c.Hkv, c.Dh}, ls{c.B, c.H, c.T};
      const int64_t nq = c.B * c.T * c.H * c.Dh, nk = c.B * c.S * c.Hkv * c.Dh;
      const auto q = representable(uniform(nq, 40, -2, 2), t);
      const auto k = representable(uniform(nk, 41, -2, 2), t);
      const auto v = representable(uniform(nk, 42), t);
      const auto dout = representable(uniform(nq, 43), t);
      Tensor hmask, dmask;
      if (!c.mask.empty()) {
        hmask = Tensor::from_u8(c.mask, {c.B, c.T, c.S});
        dmask = Tensor::from_u8(c.mask, {c.B, c.T, c.S}, Device::cuda);
      }
      const float scale = 1.0f / std::sqrt(static_cast<float>(c.Dh));
      Tensor hq = host(q, qs), hk = host(k, ks), hv = host(v, ks);
      Tensor dq = device(q, qs, t), dk = device(k, ks, t), dv = device(v, ks, t);
      Tensor hout = Tensor::empty(qs), hlse = Tensor::empty(ls);
      Tensor dout_ = Tensor::empty(qs, t, Device::cuda);
      Tensor dlse = Tensor::empty(ls, DType::f32, Device::cuda);
      cpu().attention_forward(hout, hlse, hq, hk, hv, hmask, scale);
      gpu().attention_forward(dout_, dlse, dq, dk, dv, dmask, scale);
      EXPECT_TRUE(close(dout_, hout, tol_for(t))) << "out";
      EXPECT_TRUE(close(dlse, hlse, kTolF32)) << "lse";

      // Gradients accumulate into random values; bf16 runs use a bf16 dq (the
      // buffered path) and f32 dk/dv (the direct path).
      const auto g0 = uniform(nq, 44), gk0 = uniform(nk, 45), gv0 = uniform(nk, 46);
      const DType gq_t = t;
      Tensor hgq = host(representable(g0, gq_t), qs), hgk = host(gk0, ks), hgv = host(gv0, ks);
      Tensor dgq = device(representable(g0, gq_t), qs, gq_t), dgk = device(gk0, ks),
             dgv = device(gv0, ks);
      cpu().attention_backward(hgq, hgk, hgv, host(dout, qs), hq, hk, hv, hout, hlse, hmask, scale);
      gpu().attention_backward(dgq, dgk, dgv, device(dout, qs, t), dq, dk, dv, dout_, dlse, dmask,
                               scale);
      EXPECT_TRUE(close(dgq, hgq, tol_for(t))) << "dq";
      EXPECT_TRUE(close(dgk, hgk, tol_for(t))) << "dk";
      EXPECT_TRUE(close(dgv, hgv, tol_for(t))) << "dv";
    }
  }
}

TEST_F(CudaOps, AttentionFullyMaskedRowsGiveZeroAndMinusInfinity) {
  const int64_t B = 1, T = 5, S = 7, H = 2, Dh = 16;
  std::vector<uint8_t> m(B * T * S, 1);
  for (int64_t j = 0; j < S; ++j) m[2 * S + j] = 0;
  Tensor mask = Tensor::from_u8(m, {B, T, S}, Device::cuda);
  Tensor q = device(uniform(B * T * H * Dh, 50), {B, T, H, Dh});
  Tensor k = device(uniform(B * S * H * Dh, 51), {B, S, H, Dh});
  Tensor v = device(uniform(B * S * H * Dh, 52), {B, S, H, Dh});
  Tensor out = Tensor::empty({B, T, H, Dh}, DType::f32, Device::cuda);
  Tensor lse = Tensor::empty({B, H, T}, DType::f32, Device::cuda);
  gpu().attention_forward(out, lse, q, k, v, mask, 0.25f);
  const auto o = out.to_vector(), l = lse.to_vector();
  for (int64_t h = 0; h < H; ++h) {
    EXPECT_EQ(l[h * T + 2], -kInf);
    for (int64_t d = 0; d < Dh; ++d) EXPECT_EQ(o[(2 * H + h) * Dh + d], 0.0f);
  }
  Tensor gq = Tensor::zeros({B, T, H, Dh}, DType::f32, Device::cuda);
  Tensor gk = Tensor::zeros({B, S, H, Dh}, DType::f32, Device::cuda);
  Tensor gv = Tensor::zeros({B, S, H, Dh}, DType::f32, Device::cuda);
  gpu().attention_backward(gq, gk, gv, device(uniform(B * T * H * Dh, 53), {B, T, H, Dh}), q, k, v,
                           out, lse, mask, 0.25f);
  const auto g = gq.to_vector();
  for (int64_t h = 0; h < H; ++h)
    for (int64_t d = 0; d < Dh; ++d) EXPECT_EQ(g[(2 * H + h) * Dh + d], 0.0f);
}

TEST_F(CudaOps, NaNPropagates) {
  // A NaN logit makes its row's loss NaN (never a finite number that looks fine).
  const int64_t N = 3, V = 700;
  auto logits = uniform(N * V, 60);
  logits[1 * V + 123] = kNaN;
  Tensor losses = Tensor::empty({N}, DType::f32, Device::cuda);
  Tensor lse = Tensor::empty({N}, DType::f32, Device::cuda);
  gpu().cross_entropy_forward(losses, lse, device(logits, {N, V}),
                              Tensor::from_i32({1, 2, 3}, {N}, Device::cuda), -100);
  const auto l = losses.to_vector();
  EXPECT_TRUE(std::isfinite(l[0]) && std::isnan(l[1]) && std::isfinite(l[2]));

  // A NaN value reaches every output row that attends to its key (rows that do not
  // may see it too: 0 * NaN, on both backends); a NaN query poisons its own row.
  const int64_t T = 40, H = 2, Dh = 24;
  auto v = uniform(T * H * Dh, 61);
  v[(10 * H + 1) * Dh + 5] = kNaN;  // key 10, head 1
  auto q = uniform(T * H * Dh, 62);
  q[(3 * H + 0) * Dh + 7] = kNaN;  // query 3, head 0
  Tensor out = Tensor::empty({1, T, H, Dh}, DType::f32, Device::cuda);
  Tensor alse = Tensor::empty({1, H, T}, DType::f32, Device::cuda);
  gpu().attention_forward(out, alse, device(q, {1, T, H, Dh}),
                          device(uniform(T * H * Dh, 63), {1, T, H, Dh}), device(v, {1, T, H, Dh}),
                          Tensor(), 0.2f);
  const auto o = out.to_vector();
  for (int64_t t = 10; t < T; ++t) EXPECT_TRUE(std::isnan(o[(t * H + 1) * Dh + 5])) << t;
  EXPECT_TRUE(std::isnan(o[(3 * H + 0) * Dh + 0]));
  EXPECT_TRUE(std::isnan(alse.to_vector()[0 * T + 3]));

  auto x = uniform(100, 64);
  x[50] = kNaN;
  EXPECT_TRUE(std::isnan(gpu().sum_squares(device(x, {100}))));
}

TEST_F(CudaOps, AllocatorReusesFreedBlocks) {
  void* first = nullptr;
  {
    Tensor a = Tensor::empty({1000, 37}, DType::f32, Device::cuda);
    first = a.raw();
  }
  Tensor b = Tensor::empty({1000, 37}, DType::f32, Device::cuda);
  EXPECT_EQ(b.raw(), first);
#ifdef CONDENSE_HAVE_CUDA
  const size_t held = cuda::device_bytes_held();
  for (int i = 0; i < 10; ++i) Tensor::empty({4096, 33}, DType::bf16, Device::cuda);
  const size_t after_first = cuda::device_bytes_held();
  for (int i = 0; i < 10; ++i) Tensor::empty({4096, 33}, DType::bf16, Device::cuda);
  EXPECT_EQ(cuda::device_bytes_held(), after_first);
  EXPECT_GE(after_first, held);
#endif
}

}  // namespace
}  // namespace condense
