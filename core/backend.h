// The op table: every kernel condense runs, as forward/backward pairs with the
// same argument order. One implementation per device (core/cpu, core/cuda);
// core/ops.cpp (autograd) calls them through backend_for(tensor.device()).
//
// Shape letters: B batch, T query tokens, S key tokens (memory + local),
// D model dim, H heads, Hkv kv-heads, Dh head dim, F ff dim, V vocab, N rows.
// Unless said otherwise, outputs are overwritten and "accumulate" outputs are
// added to (gradients accumulate across uses of a tensor).
#pragma once
#include <atomic>

#include "core/tensor.h"

namespace condense {

// Work done through a backend since its counters were last reset: tests count the
// matrix products a step runs (a frozen weight must cost no gradient GEMM).
struct BackendStats {
  int64_t gemm_calls = 0;
  int64_t gemm_multiply_adds = 0;  // sum of M*N*K
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // C[M,N] = alpha * op(A) @ op(B) + beta * C, row-major. op(A) is A[M,K], or A[K,M]
  // transposed when trans_a; op(B) is B[K,N], or B[N,K] transposed when trans_b.
  // Counted in stats(), then run by the device's gemm_impl.
  void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
            const Tensor& A, const Tensor& B, float beta, const Tensor& C) {
    gemm_calls_.fetch_add(1, std::memory_order_relaxed);
    gemm_multiply_adds_.fetch_add(M * N * K, std::memory_order_relaxed);
    gemm_impl(trans_a, trans_b, M, N, K, alpha, A, B, beta, C);
  }
  BackendStats stats() const { return {gemm_calls_.load(), gemm_multiply_adds_.load()}; }
  void reset_stats() {
    gemm_calls_ = 0;
    gemm_multiply_adds_ = 0;
  }

  // out[i,:] = src[idx[i],:]. src [R,D], idx [N] i32, out [N,D]. (Embedding lookup.)
  virtual void gather_rows(const Tensor& out, const Tensor& src, const Tensor& idx) = 0;
  // dst[idx[i],:] += src[i,:]. (Embedding backward; idx may repeat.)
  virtual void scatter_add_rows(const Tensor& dst, const Tensor& src, const Tensor& idx) = 0;
  // dst[idx[i],:] = src[i,:], or 0 when src is undefined.
  virtual void set_rows(const Tensor& dst, const Tensor& src, const Tensor& idx) = 0;

  // y = x * rstd * w, rstd[N] = 1/sqrt(mean(x^2) + eps). x, y [N,D], w [D].
  virtual void rmsnorm_forward(const Tensor& y, const Tensor& rstd, const Tensor& x,
                               const Tensor& w, float eps) = 0;
  // dx (accumulate), dw (accumulate) from dy.
  virtual void rmsnorm_backward(const Tensor& dx, const Tensor& dw, const Tensor& dy,
                                const Tensor& x, const Tensor& w, const Tensor& rstd) = 0;

  // Rotary embedding, Hugging Face layout (rotate_half: pairs (i, i+Dh/2)).
  // x, y [B,T,H,Dh], pos [B,T] i32. inverse=true rotates by -angle (the backward).
  virtual void rope(const Tensor& y, const Tensor& x, const Tensor& pos, float theta,
                    bool inverse) = 0;

  // Attention with grouped-query heads (head h uses kv-head h / (H/Hkv)).
  // q [B,T,H,Dh], k/v [B,S,Hkv,Dh], mask [B,T,S] u8 (1 = may attend) or undefined
  // meaning causal with the keys' last T aligned to the queries (S >= T).
  // out [B,T,H,Dh]; lse [B,H,T] the log-sum-exp of each row (-inf if fully masked,
  // whose output is 0).
  virtual void attention_forward(const Tensor& out, const Tensor& lse, const Tensor& q,
                                 const Tensor& k, const Tensor& v, const Tensor& mask,
                                 float scale) = 0;
  // dq, dk, dv accumulate.
  virtual void attention_backward(const Tensor& dq, const Tensor& dk, const Tensor& dv,
                                  const Tensor& dout, const Tensor& q, const Tensor& k,
                                  const Tensor& v, const Tensor& out, const Tensor& lse,
                                  const Tensor& mask, float scale) = 0;

  // y = silu(gate) * up, all [N,F].
  virtual void swiglu_forward(const Tensor& y, const Tensor& gate, const Tensor& up) = 0;
  // dgate, dup accumulate.
  virtual void swiglu_backward(const Tensor& dgate, const Tensor& dup, const Tensor& dy,
                               const Tensor& gate, const Tensor& up) = 0;

  // Per-row softmax cross-entropy. logits [N,V], targets [N] i32; rows whose target
  // is ignore_index get loss 0. losses [N], lse [N].
  virtual void cross_entropy_forward(const Tensor& losses, const Tensor& lse, const Tensor& logits,
                                     const Tensor& targets, int ignore_index) = 0;
  // dlogits (accumulate) += scale * (softmax - onehot) on non-ignored rows.
  virtual void cross_entropy_backward(const Tensor& dlogits, const Tensor& logits,
                                      const Tensor& lse, const Tensor& targets, int ignore_index,
                                      float scale) = 0;

  // Elementwise, any shape with equal numel.
  virtual void add(const Tensor& out, const Tensor& a, const Tensor& b) = 0;
  // y += alpha * x
  virtual void axpy(const Tensor& y, float alpha, const Tensor& x) = 0;
  // out = alpha * x
  virtual void scale(const Tensor& out, float alpha, const Tensor& x) = 0;
  // Element conversion between f32 and bf16 (same numel).
  virtual void cast(const Tensor& out, const Tensor& x) = 0;

  // Strided block copy: for b in [0,n_blocks): dst[dst_off + b*dst_stride + i] (+)=
  // src[src_off + b*src_stride + i], i < block. Offsets/strides in elements.
  // Concat, slice and their backwards are all this.
  virtual void copy_blocks(const Tensor& dst, int64_t dst_off, int64_t dst_stride,
                           const Tensor& src, int64_t src_off, int64_t src_stride, int64_t block,
                           int64_t n_blocks, bool accumulate) = 0;

  // Sum of squares of all elements (for global-norm clipping), in double.
  virtual double sum_squares(const Tensor& x) = 0;

  // One AdamW step (decoupled weight decay) on f32 param with f32 m, v.
  // grad is multiplied by grad_scale first (clipping / accumulation).
  virtual void adamw(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                     float lr, float beta1, float beta2, float eps, float weight_decay,
                     int64_t step, float grad_scale) = 0;

 protected:
  virtual void gemm_impl(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                         const Tensor& A, const Tensor& B, float beta, const Tensor& C) = 0;

 private:
  std::atomic<int64_t> gemm_calls_{0}, gemm_multiply_adds_{0};
};

// The backend for a device. CUDA is available only when built with CONDENSE_CUDA
// and a GPU is present; asking for it otherwise is an Error saying so.
Backend& backend_for(Device device);
void set_backend(Device device, Backend* backend);
bool device_available(Device device);

}  // namespace condense
