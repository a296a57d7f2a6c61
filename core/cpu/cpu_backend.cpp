// CPU implementation of the op table: OpenBLAS sgemm for matrix products and
// OpenMP loops for the rest. OpenBLAS is the OpenMP build, so BLAS calls made
// inside our parallel regions run single-threaded and never oversubscribe.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/backend.h"
#include "core/bf16.h"
#include "core/cpu/attention_cpu.h"
#include "core/cpu/vec_math.h"

namespace condense {
namespace {

void require_cpu_f32(const Tensor& t, const char* what) {
  if (!t.defined()) fail("cpu backend: ", what, " is undefined");
  if (t.device() != Device::cpu || t.dtype() != DType::f32)
    fail("cpu backend: ", what, " must be an f32 cpu tensor, got ", dtype_name(t.dtype()), " on ",
         device_name(t.device()));
}

// Checked before a parallel loop: an exception must not leave an OpenMP region.
void check_indices(const int32_t* ix, int64_t n, int64_t rows) {
  for (int64_t i = 0; i < n; ++i)
    if (ix[i] < 0 || ix[i] >= rows) fail("row index ", ix[i], " out of range [0,", rows, ")");
}

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }

 protected:
  void gemm_impl(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const Tensor& A,
                 const Tensor& B, float beta, const Tensor& C) override {
    require_cpu_f32(A, "gemm A");
    require_cpu_f32(B, "gemm B");
    require_cpu_f32(C, "gemm C");
    CONDENSE_ASSERT(A.numel() >= M * K && B.numel() >= K * N && C.numel() >= M * N);
    if (M == 0 || N == 0) return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), alpha, A.f32(),
                static_cast<int>(ta ? M : K), B.f32(), static_cast<int>(tb ? K : N), beta, C.f32(),
                static_cast<int>(N));
  }

 public:
  void gather_rows(const Tensor& out, const Tensor& src, const Tensor& idx) override {
    const int64_t n = idx.numel(), d = src.dim(-1), rows = src.numel() / d;
    const int32_t* ix = idx.i32();
    const float* s = src.f32();
    float* o = out.f32();
    check_indices(ix, n, rows);
#pragma omp parallel for schedule(static) if (n * d > 32768)
    for (int64_t i = 0; i < n; ++i) {
      std::memcpy(o + i * d, s + static_cast<int64_t>(ix[i]) * d, d * sizeof(float));
    }
  }

  void scatter_add_rows(const Tensor& dst, const Tensor& src, const Tensor& idx) override {
    const int64_t n = idx.numel(), d = dst.dim(-1);
    const int32_t* ix = idx.i32();
    const float* s = src.f32();
    float* o = dst.f32();
    check_indices(ix, n, dst.numel() / d);
    // Rows may repeat, so threads split the columns instead of the rows.
#pragma omp parallel if (n * d > 32768)
    {
      int nt = omp_get_num_threads(), id = omp_get_thread_num();
      int64_t c0 = d * id / nt, c1 = d * (id + 1) / nt;
      for (int64_t i = 0; i < n; ++i) {
        float* orow = o + static_cast<int64_t>(ix[i]) * d;
        const float* srow = s + i * d;
        for (int64_t c = c0; c < c1; ++c) orow[c] += srow[c];
      }
    }
  }

  void set_rows(const Tensor& dst, const Tensor& src, const Tensor& idx) override {
    const int64_t n = idx.numel(), d = dst.dim(-1);
    const int32_t* ix = idx.i32();
    float* o = dst.f32();
    check_indices(ix, n, dst.numel() / d);
    for (int64_t i = 0; i < n; ++i) {
      float* orow = o + static_cast<int64_t>(ix[i]) * d;
      if (src.defined())
        std::memcpy(orow, src.f32() + i * d, d * sizeof(float));
      else
        std::memset(orow, 0, d * sizeof(float));
    }
  }

  void rmsnorm_forward(const Tensor& y, const Tensor& rstd, const Tensor& x, const Tensor& w,
                       float eps) override {
    const int64_t d = x.dim(-1), n = x.numel() / d;
    const float *xp = x.f32(), *wp = w.f32();
    float *yp = y.f32(), *rp = rstd.f32();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float* xr = xp + i * d;
      float ss = 0;
      for (int64_t j = 0; j < d; ++j) ss += xr[j] * xr[j];
      float r = 1.0f / std::sqrt(ss / d + eps);
      rp[i] = r;
      float* yr = yp + i * d;
      for (int64_t j = 0; j < d; ++j) yr[j] = xr[j] * r * wp[j];
    }
  }

  void rmsnorm_backward(const Tensor& dx, const Tensor& dw, const Tensor& dy, const Tensor& x,
                        const Tensor& w, const Tensor& rstd) override {
    const int64_t d = x.dim(-1), n = x.numel() / d;
    const float *xp = x.f32(), *wp = w.f32(), *gp = dy.f32(), *rp = rstd.f32();
    float* dxp = dx.f32();
    const int nt = omp_get_max_threads();
    std::vector<float> dw_part(static_cast<size_t>(nt * d), 0.0f);
#pragma omp parallel
    {
      float* my_dw = dw_part.data() + omp_get_thread_num() * d;
#pragma omp for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        const float *xr = xp + i * d, *gr = gp + i * d;
        const float r = rp[i];
        // y = x*r*w: dx = r*(g*w) - x * r^3 * mean(g*w*x)
        float dot = 0;
        for (int64_t j = 0; j < d; ++j) dot += gr[j] * wp[j] * xr[j];
        const float c = dot * r * r * r / d;
        float* dxr = dxp + i * d;
        for (int64_t j = 0; j < d; ++j) {
          dxr[j] += gr[j] * wp[j] * r - xr[j] * c;
          my_dw[j] += gr[j] * xr[j] * r;
        }
      }
    }
    float* dwp = dw.f32();
    for (int t = 0; t < nt; ++t)
      for (int64_t j = 0; j < d; ++j) dwp[j] += dw_part[t * d + j];
  }

  void rope(const Tensor& y, const Tensor& x, const Tensor& pos, float theta,
            bool inverse) override {
    const int64_t B = x.dim(0), T = x.dim(1), H = x.dim(2), Dh = x.dim(3), half = Dh / 2;
    CONDENSE_ASSERT(Dh % 2 == 0, "head dim must be even for RoPE");
    const float* xp = x.f32();
    float* yp = y.f32();
    const int32_t* pp = pos.i32();
    std::vector<double> inv_freq(half);
    for (int64_t i = 0; i < half; ++i)
      inv_freq[i] = std::pow(static_cast<double>(theta), -2.0 * i / Dh);
    // cos/sin per position, computed once per distinct position when the positions
    // span no more than the tokens (a batch repeats 0..T-1 B times), else per token.
    if (B * T == 0) return;
    const auto [lo, hi] = std::minmax_element(pp, pp + B * T);
    const int64_t first = *lo, span = int64_t{*hi} - first + 1;
    const bool by_position = span <= B * T;
    const int64_t rows = by_position ? span : B * T;
    std::vector<float> cs(static_cast<size_t>(rows * half)), sn(cs.size());
    const float sign = inverse ? -1.0f : 1.0f;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const double p = by_position ? static_cast<double>(first + r) : pp[r];
      for (int64_t i = 0; i < half; ++i) {
        cs[r * half + i] = static_cast<float>(std::cos(p * inv_freq[i]));
        sn[r * half + i] = sign * static_cast<float>(std::sin(p * inv_freq[i]));
      }
    }
#pragma omp parallel for schedule(static)
    for (int64_t bt = 0; bt < B * T; ++bt) {
      const int64_t r = by_position ? pp[bt] - first : bt;
      const float *c = cs.data() + r * half, *s = sn.data() + r * half;
      for (int64_t h = 0; h < H; ++h) {
        const float* xr = xp + (bt * H + h) * Dh;
        float* yr = yp + (bt * H + h) * Dh;
        for (int64_t i = 0; i < half; ++i) {
          const float a = xr[i], b = xr[i + half];
          yr[i] = a * c[i] - b * s[i];
          yr[i + half] = b * c[i] + a * s[i];
        }
      }
    }
  }

  void attention_forward(const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k,
                         const Tensor& v, const Tensor& mask, float scale) override {
    cpu::attention_forward(out, lse, q, k, v, mask, scale);
  }

  void attention_backward(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& dout,
                          const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                          const Tensor& lse, const Tensor& mask, float scale) override {
    cpu::attention_backward(dq, dk, dv, dout, q, k, v, out, lse, mask, scale);
  }

  void swiglu_forward(const Tensor& y, const Tensor& gate, const Tensor& up) override {
    const int64_t n = y.numel();
    const float *g = gate.f32(), *u = up.f32();
    float* o = y.f32();
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float s = 1.0f / (1.0f + cpu::exp_approx(-g[i]));
      o[i] = g[i] * s * u[i];
    }
  }

  void swiglu_backward(const Tensor& dgate, const Tensor& dup, const Tensor& dy, const Tensor& gate,
                       const Tensor& up) override {
    const int64_t n = dy.numel();
    const float *g = gate.f32(), *u = up.f32(), *d = dy.f32();
    float *dg = dgate.f32(), *du = dup.f32();
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float s = 1.0f / (1.0f + cpu::exp_approx(-g[i]));
      const float silu = g[i] * s;
      du[i] += d[i] * silu;
      dg[i] += d[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
    }
  }

  void cross_entropy_forward(const Tensor& losses, const Tensor& lse, const Tensor& logits,
                             const Tensor& targets, int ignore_index) override {
    const int64_t V = logits.dim(-1), n = logits.numel() / V;
    const float* lp = logits.f32();
    const int32_t* tp = targets.i32();
    float *op = losses.f32(), *sp = lse.f32();
    for (int64_t i = 0; i < n; ++i)
      if (tp[i] != ignore_index && (tp[i] < 0 || tp[i] >= V))
        fail("target id ", tp[i], " out of range [0,", V, ")");
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float* row = lp + i * V;
      float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
      for (int64_t j = 0; j < V; ++j) mx = std::max(mx, row[j]);
      float sum = 0;  // 16 lanes of partial sums keep float accurate to ~1e-6 here
#pragma omp simd reduction(+ : sum)
      for (int64_t j = 0; j < V; ++j) sum += cpu::exp_approx(row[j] - mx);
      const float l = mx + std::log(sum);
      sp[i] = l;
      const int t = tp[i];
      op[i] = t == ignore_index ? 0.0f : l - row[t];
    }
  }

  void cross_entropy_backward(const Tensor& dlogits, const Tensor& logits, const Tensor& lse,
                              const Tensor& targets, int ignore_index, float scale) override {
    const int64_t V = logits.dim(-1), n = logits.numel() / V;
    const float *lp = logits.f32(), *sp = lse.f32();
    const int32_t* tp = targets.i32();
    float* dp = dlogits.f32();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      if (tp[i] == ignore_index) continue;
      const float* row = lp + i * V;
      float* drow = dp + i * V;
      const float l = sp[i];
#pragma omp simd
      for (int64_t j = 0; j < V; ++j) drow[j] += scale * cpu::exp_approx(row[j] - l);
      drow[tp[i]] -= scale;
    }
  }

  void add(const Tensor& out, const Tensor& a, const Tensor& b) override {
    const int64_t n = out.numel();
    const float *ap = a.f32(), *bp = b.f32();
    float* o = out.f32();
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) o[i] = ap[i] + bp[i];
  }

  void axpy(const Tensor& y, float alpha, const Tensor& x) override {
    const int64_t n = y.numel();
    const float* xp = x.f32();
    float* yp = y.f32();
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) yp[i] += alpha * xp[i];
  }

  void scale(const Tensor& out, float alpha, const Tensor& x) override {
    const int64_t n = out.numel();
    const float* xp = x.f32();
    float* o = out.f32();
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) o[i] = alpha * xp[i];
  }

  void cast(const Tensor& out, const Tensor& x) override {
    const int64_t n = out.numel();
    if (out.dtype() == x.dtype()) {
      std::memcpy(out.raw(), x.raw(), x.nbytes());
    } else if (out.dtype() == DType::bf16 && x.dtype() == DType::f32) {
      for (int64_t i = 0; i < n; ++i) out.data<uint16_t>()[i] = f32_to_bf16(x.f32()[i]);
    } else if (out.dtype() == DType::f32 && x.dtype() == DType::bf16) {
      for (int64_t i = 0; i < n; ++i) out.f32()[i] = bf16_to_f32(x.data<uint16_t>()[i]);
    } else {
      fail("cpu backend: cast from ", dtype_name(x.dtype()), " to ", dtype_name(out.dtype()),
           " is not supported");
    }
  }

  void copy_blocks(const Tensor& dst, int64_t dst_off, int64_t dst_stride, const Tensor& src,
                   int64_t src_off, int64_t src_stride, int64_t block, int64_t n_blocks,
                   bool accumulate) override {
    CONDENSE_ASSERT(dst.dtype() == src.dtype());
    const size_t es = dtype_size(dst.dtype());
    char* d = static_cast<char*>(dst.raw());
    const char* s = static_cast<const char*>(src.raw());
    if (accumulate) {
      CONDENSE_ASSERT(dst.dtype() == DType::f32);
#pragma omp parallel for schedule(static) if (block * n_blocks > 65536)
      for (int64_t b = 0; b < n_blocks; ++b) {
        float* dr = dst.f32() + dst_off + b * dst_stride;
        const float* sr = src.f32() + src_off + b * src_stride;
        for (int64_t i = 0; i < block; ++i) dr[i] += sr[i];
      }
    } else {
#pragma omp parallel for schedule(static) if (block * n_blocks > 65536)
      for (int64_t b = 0; b < n_blocks; ++b)
        std::memcpy(d + (dst_off + b * dst_stride) * es, s + (src_off + b * src_stride) * es,
                    block * es);
    }
  }

  double sum_squares(const Tensor& x) override {
    const int64_t n = x.numel();
    const float* p = x.f32();
    double s = 0;
#pragma omp parallel for reduction(+ : s) schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(p[i]) * p[i];
    return s;
  }

  void adamw(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v, float lr,
             float beta1, float beta2, float eps, float weight_decay, int64_t step,
             float grad_scale) override {
    const int64_t n = param.numel();
    float *p = param.f32(), *mp = m.f32(), *vp = v.f32();
    const float* g = grad.f32();
    // mhat / (sqrt(vhat) + eps) with the bias corrections folded into two constants.
    const float bc1 = 1.0f - std::pow(beta1, static_cast<float>(step));
    const float rsqrt_bc2 = 1.0f / std::sqrt(1.0f - std::pow(beta2, static_cast<float>(step)));
    const float step_size = lr / bc1, decay = 1.0f - lr * weight_decay;
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) {
      const float gi = g[i] * grad_scale;
      mp[i] = beta1 * mp[i] + (1.0f - beta1) * gi;
      vp[i] = beta2 * vp[i] + (1.0f - beta2) * gi * gi;
      p[i] = decay * p[i] - step_size * mp[i] / (std::sqrt(vp[i]) * rsqrt_bc2 + eps);
    }
  }
};

}  // namespace

Backend& cpu_backend() {
  static CpuBackend b;
  return b;
}

}  // namespace condense
