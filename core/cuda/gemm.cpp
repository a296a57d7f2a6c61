// Matrix products through cuBLAS. condense is row-major and cuBLAS column-major;
// a row-major [M,N] matrix is the column-major [N,M] matrix C^T, so we ask
// cuBLAS for C^T = op(B)^T op(A)^T: swap the operands and M with N, keep each
// operand's transpose flag and leading dimension as the row-major call has them.
#include "core/cuda/check.h"
#include "core/cuda/context.h"
#include "core/cuda/cuda_ops.h"

namespace condense::cuda {
namespace {

cudaDataType_t cuda_type(DType t) {
  return t == DType::bf16 ? CUDA_R_16BF : CUDA_R_32F;
}

int to_int(int64_t v, const char* what) {
  if (v < 0 || v > INT32_MAX) fail("cuda gemm: ", what, " = ", v, " does not fit cuBLAS's int");
  return static_cast<int>(v);
}

}  // namespace

void CudaBackend::gemm_impl(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                            const Tensor& A, const Tensor& B, float beta, const Tensor& C) {
  require(A, "gemm", "A", {DType::f32, DType::bf16});
  require(B, "gemm", "B", {DType::f32, DType::bf16});
  require(C, "gemm", "C", {DType::f32, DType::bf16});
  if (A.dtype() != B.dtype())
    fail("cuda gemm: A is ", dtype_name(A.dtype()), " but B is ", dtype_name(B.dtype()));
  if (A.dtype() == DType::f32 && C.dtype() != DType::f32)
    fail("cuda gemm: f32 inputs need an f32 output, got ", dtype_name(C.dtype()));
  if (A.numel() < M * K || B.numel() < K * N || C.numel() < M * N)
    fail("cuda gemm: operands ", shape_str(A.shape()), " ", shape_str(B.shape()), " ",
         shape_str(C.shape()), " too small for M=", M, " N=", N, " K=", K);
  if (M == 0 || N == 0) return;
  if (K == 0) {  // an empty sum: C = beta * C (cuBLAS rejects a zero leading dimension)
    const Tensor c = C.numel() == M * N ? C : C.reshape({C.numel()}).rows(0, M * N);
    if (beta == 0.0f)
      c.zero_();
    else
      scale(c, beta, c);
    return;
  }
  // CUBLAS_COMPUTE_32F is true fp32 for f32 operands (no TF32 unless asked for),
  // and fp32 accumulation of bf16 products on the tensor cores for bf16.
  CUBLAS_CHECK(cublasGemmEx(
      cublas(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, to_int(N, "N"),
      to_int(M, "M"), to_int(K, "K"), &alpha, B.raw(), cuda_type(B.dtype()),
      to_int(tb ? K : N, "ldb"), A.raw(), cuda_type(A.dtype()), to_int(ta ? M : K, "lda"), &beta,
      C.raw(), cuda_type(C.dtype()), to_int(N, "ldc"), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace condense::cuda
