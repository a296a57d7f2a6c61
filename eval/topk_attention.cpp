#include "eval/topk_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "eval/host_attention.h"

namespace condense::eval {

std::vector<int64_t> top_k_indices(const float* scores, int64_t n, int64_t k) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  const auto keep = static_cast<size_t>(std::clamp<int64_t>(k, 0, n));
  auto before = [&](int64_t a, int64_t b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
  };
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(keep), idx.end(),
                    before);
  idx.resize(keep);
  return idx;
}

Tensor topk_memory_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                             int64_t memory, int64_t top_k, float scale,
                             const std::vector<const KeyIndex*>* index) {
  if (top_k <= 0) fail("top-k memory attention: k must be positive, got ", top_k);
  const HostAttention a(q, k, v, mask, scale);
  const int64_t B = a.B, T = a.T, H = a.H, Dh = a.Dh, S = a.S, Hkv = a.Hkv;
  if (memory < 0 || memory > S) fail("top-k memory attention: memory ", memory, " of ", S, " keys");
  if (index) {
    if (static_cast<int64_t>(index->size()) != B * Hkv)
      fail("top-k memory attention: ", index->size(), " key indexes for ", B, " rows x ", Hkv,
           " heads");
    for (const KeyIndex* ix : *index)
      if (ix->size() != memory)
        fail("top-k memory attention: a key index holds ", ix->size(), " keys, the memory ",
             memory);
  }
  std::vector<float> out(static_cast<size_t>(B * T * H * Dh), 0.0f);
  std::vector<float> score(static_cast<size_t>(S));
  std::vector<int64_t> chosen, found(static_cast<size_t>(top_k));
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h) {
        const int64_t hk = h / a.group;
        chosen.clear();
        if (index) {
          (*index)[static_cast<size_t>(b * Hkv + hk)]->search(a.query(b, t, h), 1, top_k,
                                                              found.data());
          for (int64_t s : found)
            if (s >= 0) {
              score[static_cast<size_t>(s)] = a.score(b, t, h, s);
              chosen.push_back(s);
            }
        } else {
          for (int64_t s = 0; s < memory; ++s) score[static_cast<size_t>(s)] = a.score(b, t, h, s);
          chosen = top_k_indices(score.data(), memory, top_k);
        }
        for (int64_t s = memory; s < S; ++s) {
          score[static_cast<size_t>(s)] = a.score(b, t, h, s);
          chosen.push_back(s);
        }
        float mx = neg_inf;
        for (int64_t s : chosen) mx = std::max(mx, score[static_cast<size_t>(s)]);
        if (mx == neg_inf) continue;  // nothing to attend to: zeros, as ops::attention
        double sum = 0;
        std::vector<double> acc(static_cast<size_t>(Dh), 0.0);
        for (int64_t s : chosen) {
          const float sc = score[static_cast<size_t>(s)];
          if (sc == neg_inf) continue;
          const double w = std::exp(static_cast<double>(sc - mx));
          sum += w;
          const float* vv = a.value(b, s, hk);
          for (int64_t d = 0; d < Dh; ++d) acc[static_cast<size_t>(d)] += w * vv[d];
        }
        float* o = out.data() + ((b * T + t) * H + h) * Dh;
        for (int64_t d = 0; d < Dh; ++d)
          o[d] = static_cast<float>(acc[static_cast<size_t>(d)] / sum);
      }
  return a.output(out);
}

}  // namespace condense::eval
