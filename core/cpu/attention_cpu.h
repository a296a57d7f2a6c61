// CPU attention over [B,T,H,Dh] queries and [B,S,Hkv,Dh] keys/values with an
// arbitrary mask (see core/backend.h for the contract).
#pragma once
#include "core/tensor.h"

namespace condense::cpu {

void attention_forward(const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k,
                       const Tensor& v, const Tensor& mask, float scale);
void attention_backward(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& dout,
                        const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                        const Tensor& lse, const Tensor& mask, float scale);

}  // namespace condense::cpu
