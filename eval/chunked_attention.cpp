#include "eval/chunked_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"

namespace condense::eval {

Tensor chunked_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                         const Tensor& mask_in, int64_t chunk, float scale) {
  if (chunk <= 0) fail("chunked attention: the chunk must be positive, got ", chunk);
  const Device dev = q_in.device();
  const Tensor q = q_in.to(Device::cpu), k = k_in.to(Device::cpu), v = v_in.to(Device::cpu);
  const Tensor mask = mask_in.defined() ? mask_in.to(Device::cpu) : Tensor();
  const int64_t B = q.dim(0), T = q.dim(1), H = q.dim(2), Dh = q.dim(3);
  const int64_t S = k.dim(1), Hkv = k.dim(2), group = H / Hkv;
  const float* qp = q.f32();
  const float* kp = k.f32();
  const float* vp = v.f32();
  const uint8_t* mp = mask.defined() ? mask.u8() : nullptr;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  std::vector<float> out(static_cast<size_t>(B * T * H * Dh), 0.0f);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t hk = h / group;
      // Per query: the running max, the running sum of exp(score - max), and the
      // running weighted sum of values, rescaled whenever the max grows.
      std::vector<double> mx(static_cast<size_t>(T), neg_inf), sum(static_cast<size_t>(T), 0);
      std::vector<double> acc(static_cast<size_t>(T * Dh), 0);
      std::vector<float> score(static_cast<size_t>(T * chunk));
      for (int64_t s0 = 0; s0 < S; s0 += chunk) {
        const int64_t n = std::min(chunk, S - s0);
        for (int64_t t = 0; t < T; ++t) {
          const float* qv = qp + ((b * T + t) * H + h) * Dh;
          float block_max = neg_inf;
          for (int64_t j = 0; j < n; ++j) {
            const int64_t s = s0 + j;
            const bool open = mp ? mp[(b * T + t) * S + s] != 0 : s <= S - T + t;
            float sc = neg_inf;
            if (open) {
              const float* kv = kp + ((b * S + s) * Hkv + hk) * Dh;
              double dot = 0;
              for (int64_t d = 0; d < Dh; ++d) dot += static_cast<double>(qv[d]) * kv[d];
              sc = static_cast<float>(dot * scale);
            }
            score[static_cast<size_t>(t * chunk + j)] = sc;
            block_max = std::max(block_max, sc);
          }
          if (block_max == neg_inf) continue;
          double& m = mx[static_cast<size_t>(t)];
          double* a = acc.data() + t * Dh;
          if (block_max > m) {
            const double r = m == neg_inf ? 0.0 : std::exp(m - block_max);
            sum[static_cast<size_t>(t)] *= r;
            for (int64_t d = 0; d < Dh; ++d) a[d] *= r;
            m = block_max;
          }
          for (int64_t j = 0; j < n; ++j) {
            const float sc = score[static_cast<size_t>(t * chunk + j)];
            if (sc == neg_inf) continue;
            const double w = std::exp(static_cast<double>(sc) - m);
            sum[static_cast<size_t>(t)] += w;
            const float* vv = vp + ((b * S + s0 + j) * Hkv + hk) * Dh;
            for (int64_t d = 0; d < Dh; ++d) a[d] += w * vv[d];
          }
        }
      }
      for (int64_t t = 0; t < T; ++t) {
        if (sum[static_cast<size_t>(t)] == 0) continue;
        float* o = out.data() + ((b * T + t) * H + h) * Dh;
        for (int64_t d = 0; d < Dh; ++d)
          o[d] = static_cast<float>(acc[static_cast<size_t>(t * Dh + d)] /
                                    sum[static_cast<size_t>(t)]);
      }
    }
  return Tensor::from_f32(out, {B, T, H, Dh}).to(dev);
}

}  // namespace condense::eval
