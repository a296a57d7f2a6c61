// The host-side view of an attention call that eval's inference-only attentions
// (chunked, top-k memory) share: q [B,T,H,Dh], k/v [B,S,Hkv,Dh] (grouped-query heads)
// and a mask [B,T,S] u8 or none (causal, keys' last T aligned with the queries), copied
// to host memory, with the scaled score of one query against one key.
#pragma once
#include <cstdint>
#include <limits>

#include "core/tensor.h"

namespace condense::eval {

struct HostAttention {
  HostAttention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& mask_in,
                float scale_in)
      : device(q_in.device()),
        q(q_in.to(Device::cpu)),
        k(k_in.to(Device::cpu)),
        v(v_in.to(Device::cpu)),
        mask(mask_in.defined() ? mask_in.to(Device::cpu) : Tensor()),
        B(q.dim(0)),
        T(q.dim(1)),
        H(q.dim(2)),
        Dh(q.dim(3)),
        S(k.dim(1)),
        Hkv(k.dim(2)),
        group(H / Hkv),
        scale(scale_in) {}

  const float* query(int64_t b, int64_t t, int64_t h) const {
    return q.f32() + ((b * T + t) * H + h) * Dh;
  }
  const float* value(int64_t b, int64_t s, int64_t hk) const {
    return v.f32() + ((b * S + s) * Hkv + hk) * Dh;
  }
  // Query (b, t) in head h against key s: the scaled dot product, −inf where masked.
  float score(int64_t b, int64_t t, int64_t h, int64_t s) const {
    const bool open = mask.defined() ? mask.u8()[(b * T + t) * S + s] != 0 : s <= S - T + t;
    if (!open) return -std::numeric_limits<float>::infinity();
    const float* qv = query(b, t, h);
    const float* kv = k.f32() + ((b * S + s) * Hkv + h / group) * Dh;
    double dot = 0;
    for (int64_t d = 0; d < Dh; ++d) dot += static_cast<double>(qv[d]) * kv[d];
    return static_cast<float>(dot * scale);
  }
  // The output [B,T,H,Dh] on the inputs' device.
  Tensor output(const std::vector<float>& out) const {
    return Tensor::from_f32(out, {B, T, H, Dh}).to(device);
  }

  const Device device;
  const Tensor q, k, v, mask;
  const int64_t B, T, H, Dh, S, Hkv, group;
  const float scale;
};

}  // namespace condense::eval
