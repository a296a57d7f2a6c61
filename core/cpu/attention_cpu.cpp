// Attention on the CPU, in blocks of query rows. For each block we first find
// the range of keys any of its rows may see; keys outside it are never touched.
// That is what makes causal and the block-structured gist/CCM masks cheap: the
// products are sgemm calls over [block rows x visible keys] only.
// The backward recomputes the probabilities from the saved log-sum-exp
// (FlashAttention style) instead of storing a [T,S] matrix per head.
#include "core/cpu/attention_cpu.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/cpu/vec_math.h"

namespace condense::cpu {
namespace {

constexpr int64_t kBlock = 64;  // query rows per block: a [64 x S] score tile stays in L2
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct Dims {
  int64_t B, T, S, H, Hkv, Dh, group, nblk;
};

Dims dims_of(const Tensor& q, const Tensor& k, const Tensor& mask) {
  Dims d{q.dim(0), q.dim(1), k.dim(1), q.dim(2), k.dim(2), q.dim(3), 0, 0};
  if (d.H % d.Hkv != 0) fail("attention: heads ", d.H, " not divisible by kv-heads ", d.Hkv);
  if (k.dim(0) != d.B || k.dim(3) != d.Dh)
    fail("attention: keys ", shape_str(k.shape()), " do not match queries ", shape_str(q.shape()));
  if (mask.defined() && mask.shape() != Shape{d.B, d.T, d.S})
    fail("attention: mask ", shape_str(mask.shape()), " expected ", shape_str({d.B, d.T, d.S}));
  if (!mask.defined() && d.S < d.T)
    fail("attention: causal attention needs at least as many keys (", d.S, ") as queries (", d.T,
         ")");
  d.group = d.H / d.Hkv;
  d.nblk = (d.T + kBlock - 1) / kBlock;
  return d;
}

// Visible key range [k0,k1) per (batch, query block).
std::vector<std::pair<int64_t, int64_t>> key_ranges(const Dims& d, const Tensor& mask) {
  std::vector<std::pair<int64_t, int64_t>> r(static_cast<size_t>(d.B * d.nblk));
  const uint8_t* m = mask.defined() ? mask.u8() : nullptr;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < d.B * d.nblk; ++i) {
    const int64_t b = i / d.nblk, t0 = (i % d.nblk) * kBlock, t1 = std::min(d.T, t0 + kBlock);
    if (!m) {
      r[i] = {0, std::min(d.S, t1 + d.S - d.T)};
      continue;
    }
    int64_t lo = d.S, hi = 0;
    for (int64_t t = t0; t < t1; ++t) {
      const uint8_t* row = m + (b * d.T + t) * d.S;
      for (int64_t j = 0; j < lo; ++j)
        if (row[j]) {
          lo = j;
          break;
        }
      for (int64_t j = d.S - 1; j >= hi; --j)
        if (row[j]) {
          hi = j + 1;
          break;
        }
    }
    r[i] = lo < hi ? std::make_pair(lo, hi) : std::make_pair(int64_t{0}, int64_t{0});
  }
  return r;
}

// Sets row[j] (key k0 + j of query t) to `hidden` where the query may not see the key.
inline void hide_invisible(float* row, const Dims& d, const uint8_t* m, int64_t b, int64_t t,
                           int64_t k0, int64_t nk, float hidden) {
  if (m) {
    const uint8_t* mrow = m + (b * d.T + t) * d.S + k0;
#pragma omp simd
    for (int64_t j = 0; j < nk; ++j) row[j] = mrow[j] ? row[j] : hidden;
  } else {  // causal: keys after t + S - T are hidden
    for (int64_t j = std::max<int64_t>(0, t + d.S - d.T + 1 - k0); j < nk; ++j) row[j] = hidden;
  }
}

std::vector<float>& scratch(int which, size_t n) {
  thread_local std::vector<float> bufs[3];
  if (bufs[which].size() < n) bufs[which].resize(n);
  return bufs[which];
}

}  // namespace

void attention_forward(const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k,
                       const Tensor& v, const Tensor& mask, float scale) {
  const Dims d = dims_of(q, k, mask);
  const auto ranges = key_ranges(d, mask);
  const uint8_t* m = mask.defined() ? mask.u8() : nullptr;
  const float *qp = q.f32(), *kp = k.f32(), *vp = v.f32();
  float *op = out.f32(), *lp = lse.f32();
  const int ldq = static_cast<int>(d.H * d.Dh), ldk = static_cast<int>(d.Hkv * d.Dh);
#pragma omp parallel for schedule(dynamic) collapse(2)
  for (int64_t bh = 0; bh < d.B * d.H; ++bh) {
    for (int64_t blk = 0; blk < d.nblk; ++blk) {
      const int64_t b = bh / d.H, h = bh % d.H, g = h / d.group;
      const int64_t t0 = blk * kBlock, t1 = std::min(d.T, t0 + kBlock), nq = t1 - t0;
      const auto [k0, k1] = ranges[b * d.nblk + blk];
      const int64_t nk = k1 - k0;
      float* o_blk = op + (b * d.T + t0) * ldq + h * d.Dh;
      float* l_blk = lp + (b * d.H + h) * d.T + t0;
      if (nk <= 0) {
        for (int64_t t = 0; t < nq; ++t) {
          std::fill(o_blk + t * ldq, o_blk + t * ldq + d.Dh, 0.0f);
          l_blk[t] = kNegInf;
        }
        continue;
      }
      float* s = scratch(0, static_cast<size_t>(nq * nk)).data();
      const float* q_blk = qp + (b * d.T + t0) * ldq + h * d.Dh;
      const float* k_blk = kp + (b * d.S + k0) * ldk + g * d.Dh;
      const float* v_blk = vp + (b * d.S + k0) * ldk + g * d.Dh;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, d.Dh, scale, q_blk, ldq, k_blk,
                  ldk, 0.0f, s, nk);
      for (int64_t t = 0; t < nq; ++t) {
        float* row = s + t * nk;
        hide_invisible(row, d, m, b, t0 + t, k0, nk, kNegInf);
        float mx = kNegInf;
#pragma omp simd reduction(max : mx)
        for (int64_t j = 0; j < nk; ++j) mx = std::max(mx, row[j]);
        if (mx == kNegInf) {  // fully masked row: contributes nothing
          std::fill(row, row + nk, 0.0f);
          l_blk[t] = kNegInf;
          continue;
        }
        float sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int64_t j = 0; j < nk; ++j) {
          row[j] = exp_approx(row[j] - mx);
          sum += row[j];
        }
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j < nk; ++j) row[j] *= inv;
        l_blk[t] = mx + std::log(sum);
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, d.Dh, nk, 1.0f, s, nk, v_blk, ldk,
                  0.0f, o_blk, ldq);
    }
  }
}

void attention_backward(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& dout,
                        const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                        const Tensor& lse, const Tensor& mask, float scale) {
  const Dims d = dims_of(q, k, mask);
  const auto ranges = key_ranges(d, mask);
  const uint8_t* m = mask.defined() ? mask.u8() : nullptr;
  const float *qp = q.f32(), *kp = k.f32(), *vp = v.f32(), *op = out.f32(), *lp = lse.f32(),
              *gp = dout.f32();
  float *dqp = dq.f32(), *dkp = dk.f32(), *dvp = dv.f32();
  const int ldq = static_cast<int>(d.H * d.Dh), ldk = static_cast<int>(d.Hkv * d.Dh);
  // One task per (batch, kv-head): the heads of a group all write the same dk/dv rows.
#pragma omp parallel for schedule(dynamic)
  for (int64_t bg = 0; bg < d.B * d.Hkv; ++bg) {
    const int64_t b = bg / d.Hkv, g = bg % d.Hkv;
    for (int64_t h = g * d.group; h < (g + 1) * d.group; ++h) {
      for (int64_t blk = 0; blk < d.nblk; ++blk) {
        const int64_t t0 = blk * kBlock, t1 = std::min(d.T, t0 + kBlock), nq = t1 - t0;
        const auto [k0, k1] = ranges[b * d.nblk + blk];
        const int64_t nk = k1 - k0;
        if (nk <= 0) continue;
        float* p = scratch(0, static_cast<size_t>(nq * nk)).data();
        float* dp = scratch(1, static_cast<size_t>(nq * nk)).data();
        const float* q_blk = qp + (b * d.T + t0) * ldq + h * d.Dh;
        const float* o_blk = op + (b * d.T + t0) * ldq + h * d.Dh;
        const float* g_blk = gp + (b * d.T + t0) * ldq + h * d.Dh;
        const float* k_blk = kp + (b * d.S + k0) * ldk + g * d.Dh;
        const float* v_blk = vp + (b * d.S + k0) * ldk + g * d.Dh;
        const float* l_blk = lp + (b * d.H + h) * d.T + t0;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, d.Dh, scale, q_blk, ldq, k_blk,
                    ldk, 0.0f, p, nk);
        // dP = dO V^T
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, d.Dh, 1.0f, g_blk, ldq, v_blk,
                    ldk, 0.0f, dp, nk);
        for (int64_t t = 0; t < nq; ++t) {
          float* prow = p + t * nk;
          float* dprow = dp + t * nk;
          const float l = l_blk[t];
          if (l == kNegInf) {
            std::fill(prow, prow + nk, 0.0f);
            std::fill(dprow, dprow + nk, 0.0f);
            continue;
          }
          float di = 0;  // rowsum(dO * O) = sum_j P_j dP_j
          for (int64_t x = 0; x < d.Dh; ++x) di += g_blk[t * ldq + x] * o_blk[t * ldq + x];
#pragma omp simd
          for (int64_t j = 0; j < nk; ++j) prow[j] = exp_approx(prow[j] - l);
          hide_invisible(prow, d, m, b, t0 + t, k0, nk, 0.0f);
#pragma omp simd
          for (int64_t j = 0; j < nk; ++j) dprow[j] = prow[j] * (dprow[j] - di);  // dS
        }
        float* dq_blk = dqp + (b * d.T + t0) * ldq + h * d.Dh;
        float* dk_blk = dkp + (b * d.S + k0) * ldk + g * d.Dh;
        float* dv_blk = dvp + (b * d.S + k0) * ldk + g * d.Dh;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, d.Dh, nk, scale, dp, nk, k_blk,
                    ldk, 1.0f, dq_blk, ldq);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, d.Dh, nq, scale, dp, nk, q_blk,
                    ldq, 1.0f, dk_blk, ldk);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, d.Dh, nq, 1.0f, p, nk, g_blk, ldq,
                    1.0f, dv_blk, ldk);
      }
    }
  }
}

}  // namespace condense::cpu
