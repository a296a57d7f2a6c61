// The CUDA implementation of the op table (core/backend.h). The ops are defined
// one concern per file: gemm.cpp (cuBLAS), gather.cu, rmsnorm.cu, rope.cu,
// attention.cu, swiglu.cu, cross_entropy.cu, elementwise.cu, adamw.cu.
//
// dtypes: matrix products take f32, or bf16 inputs with an f32 or bf16 output
// (fp32 accumulation either way). Activation ops take f32 or bf16 for each
// float tensor independently (bf16 is storage only: all math is fp32), so a
// bf16 activation can meet an f32 master weight. Statistics (rstd, lse,
// losses), optimizer state and accumulated weight gradients (dw, embedding
// gradients) are f32.
#pragma once
#include <initializer_list>

#include "core/backend.h"

namespace condense::cuda {

class CudaBackend final : public Backend {
 public:
  const char* name() const override { return "cuda"; }

  void gather_rows(const Tensor& out, const Tensor& src, const Tensor& idx) override;
  void scatter_add_rows(const Tensor& dst, const Tensor& src, const Tensor& idx) override;
  void set_rows(const Tensor& dst, const Tensor& src, const Tensor& idx) override;

  void rmsnorm_forward(const Tensor& y, const Tensor& rstd, const Tensor& x, const Tensor& w,
                       float eps) override;
  void rmsnorm_backward(const Tensor& dx, const Tensor& dw, const Tensor& dy, const Tensor& x,
                        const Tensor& w, const Tensor& rstd) override;

  void rope(const Tensor& y, const Tensor& x, const Tensor& pos, float theta,
            bool inverse) override;

  void attention_forward(const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k,
                         const Tensor& v, const Tensor& mask, float scale) override;
  void attention_backward(const Tensor& dq, const Tensor& dk, const Tensor& dv, const Tensor& dout,
                          const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                          const Tensor& lse, const Tensor& mask, float scale) override;

  void swiglu_forward(const Tensor& y, const Tensor& gate, const Tensor& up) override;
  void swiglu_backward(const Tensor& dgate, const Tensor& dup, const Tensor& dy, const Tensor& gate,
                       const Tensor& up) override;

  void cross_entropy_forward(const Tensor& losses, const Tensor& lse, const Tensor& logits,
                             const Tensor& targets, int ignore_index) override;
  void cross_entropy_backward(const Tensor& dlogits, const Tensor& logits, const Tensor& lse,
                              const Tensor& targets, int ignore_index, float scale) override;

  void add(const Tensor& out, const Tensor& a, const Tensor& b) override;
  void axpy(const Tensor& y, float alpha, const Tensor& x) override;
  void scale(const Tensor& out, float alpha, const Tensor& x) override;
  void cast(const Tensor& out, const Tensor& x) override;
  void copy_blocks(const Tensor& dst, int64_t dst_off, int64_t dst_stride, const Tensor& src,
                   int64_t src_off, int64_t src_stride, int64_t block, int64_t n_blocks,
                   bool accumulate) override;
  double sum_squares(const Tensor& x) override;

  void adamw(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v, float lr,
             float beta1, float beta2, float eps, float weight_decay, int64_t step,
             float grad_scale) override;

 protected:
  void gemm_impl(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const Tensor& A, const Tensor& B, float beta, const Tensor& C) override;
};

// Argument checks shared by the ops; each throws condense::Error naming the op
// and the argument. `require` wants a defined cuda tensor of one of `dtypes`.
void require(const Tensor& t, const char* op, const char* what,
             std::initializer_list<DType> dtypes);
void require_numel(const Tensor& t, int64_t numel, const char* op, const char* what);

}  // namespace condense::cuda
