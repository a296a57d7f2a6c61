#include "eval/topk_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"

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

Tensor topk_memory_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                             const Tensor& mask_in, int64_t memory, int64_t top_k, float scale,
                             const std::vector<const KeyIndex*>* index) {
  if (top_k <= 0) fail("top-k memory attention: k must be positive, got ", top_k);
  const Device dev = q_in.device();
  const Tensor q = q_in.to(Device::cpu), k = k_in.to(Device::cpu), v = v_in.to(Device::cpu);
  const Tensor mask = mask_in.defined() ? mask_in.to(Device::cpu) : Tensor();
  const int64_t B = q.dim(0), T = q.dim(1), H = q.dim(2), Dh = q.dim(3);
  const int64_t S = k.dim(1), Hkv = k.dim(2), group = H / Hkv;
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
  const float* qp = q.f32();
  const float* kp = k.f32();
  const float* vp = v.f32();
  const uint8_t* mp = mask.defined() ? mask.u8() : nullptr;
  std::vector<float> out(static_cast<size_t>(B * T * H * Dh), 0.0f);
  std::vector<float> score(static_cast<size_t>(S));
  std::vector<int64_t> chosen, found(static_cast<size_t>(top_k));
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h) {
        const float* qv = qp + ((b * T + t) * H + h) * Dh;
        const int64_t hk = h / group;
        auto score_of = [&](int64_t s) {
          const bool open = mp ? mp[(b * T + t) * S + s] != 0 : s <= S - T + t;
          if (!open) return neg_inf;
          const float* kv = kp + ((b * S + s) * Hkv + hk) * Dh;
          double dot = 0;
          for (int64_t d = 0; d < Dh; ++d) dot += static_cast<double>(qv[d]) * kv[d];
          return static_cast<float>(dot * scale);
        };
        chosen.clear();
        if (index) {
          (*index)[static_cast<size_t>(b * Hkv + hk)]->search(qv, 1, top_k, found.data());
          for (int64_t s : found)
            if (s >= 0) {
              score[static_cast<size_t>(s)] = score_of(s);
              chosen.push_back(s);
            }
        } else {
          for (int64_t s = 0; s < memory; ++s) score[static_cast<size_t>(s)] = score_of(s);
          chosen = top_k_indices(score.data(), memory, top_k);
        }
        for (int64_t s = memory; s < S; ++s) {
          score[static_cast<size_t>(s)] = score_of(s);
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
          const float* vv = vp + ((b * S + s) * Hkv + hk) * Dh;
          for (int64_t d = 0; d < Dh; ++d) acc[static_cast<size_t>(d)] += w * vv[d];
        }
        float* o = out.data() + ((b * T + t) * H + h) * Dh;
        for (int64_t d = 0; d < Dh; ++d)
          o[d] = static_cast<float>(acc[static_cast<size_t>(d)] / sum);
      }
  return Tensor::from_f32(out, {B, T, H, Dh}).to(dev);
}

}  // namespace condense::eval
