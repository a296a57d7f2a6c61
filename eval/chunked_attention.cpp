#include "eval/chunked_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "eval/host_attention.h"

namespace condense::eval {

Tensor chunked_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                         int64_t chunk, float scale) {
  if (chunk <= 0) fail("chunked attention: the chunk must be positive, got ", chunk);
  const HostAttention a(q, k, v, mask, scale);
  const int64_t B = a.B, T = a.T, H = a.H, Dh = a.Dh, S = a.S;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  std::vector<float> out(static_cast<size_t>(B * T * H * Dh), 0.0f);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t hk = h / a.group;
      // Per query: the running max, the running sum of exp(score - max), and the
      // running weighted sum of values, rescaled whenever the max grows.
      std::vector<double> mx(static_cast<size_t>(T), neg_inf), sum(static_cast<size_t>(T), 0);
      std::vector<double> acc(static_cast<size_t>(T * Dh), 0);
      std::vector<float> score(static_cast<size_t>(T * chunk));
      for (int64_t s0 = 0; s0 < S; s0 += chunk) {
        const int64_t n = std::min(chunk, S - s0);
        for (int64_t t = 0; t < T; ++t) {
          float block_max = neg_inf;
          for (int64_t j = 0; j < n; ++j) {
            const float sc = a.score(b, t, h, s0 + j);
            score[static_cast<size_t>(t * chunk + j)] = sc;
            block_max = std::max(block_max, sc);
          }
          if (block_max == neg_inf) continue;
          double& m = mx[static_cast<size_t>(t)];
          double* acc_t = acc.data() + t * Dh;
          if (block_max > m) {
            const double r = m == neg_inf ? 0.0 : std::exp(m - block_max);
            sum[static_cast<size_t>(t)] *= r;
            for (int64_t d = 0; d < Dh; ++d) acc_t[d] *= r;
            m = block_max;
          }
          for (int64_t j = 0; j < n; ++j) {
            const float sc = score[static_cast<size_t>(t * chunk + j)];
            if (sc == neg_inf) continue;
            const double w = std::exp(static_cast<double>(sc) - m);
            sum[static_cast<size_t>(t)] += w;
            const float* vv = a.value(b, s0 + j, hk);
            for (int64_t d = 0; d < Dh; ++d) acc_t[d] += w * vv[d];
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
  return a.output(out);
}

}  // namespace condense::eval
