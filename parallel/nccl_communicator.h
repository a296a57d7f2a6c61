// The NCCL backend of Communicator: device (CUDA) tensors. The communicator is
// created non-blocking (NCCL's asynchronous error handling): every call is
// followed by polling its stream and ncclCommGetAsyncError under the watchdog,
// and a timeout or an asynchronous error aborts the NCCL communicator (which
// frees the GPU from a collective that can never finish) before throwing. The
// unique id travels from group rank 0 by MPI. Collectives run on the CUDA
// backend's stream, in order with the kernels that produce and consume their
// tensors; sends run on a stream of their own so that a receive queued after a
// send is not stuck behind it. NCCL has no tags: messages between two ranks
// match in the order they are posted. tests/mpi/test_mpi_nccl.cpp exercises it
// where GPUs are present (one rank per GPU).
#pragma once
#include <cuda_runtime.h>
#include <nccl.h>

#include <vector>

#include "parallel/communicator.h"

namespace condense::parallel {

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(MPI_Comm comm, std::string name, double timeout_s);
  ~NcclCommunicator() override;

  void all_reduce(const Tensor& t, ReduceOp op) override;
  void all_gather(const Tensor& out, const Tensor& in) override;
  void reduce_scatter(const Tensor& out, const Tensor& in) override;
  void reduce(const Tensor& t, int root) override;
  void broadcast(const Tensor& t, int root) override;
  void send(const Tensor& t, int peer, int tag) override;
  void recv(const Tensor& t, int peer, int tag) override;
  void wait_sends() override;

 private:
  // Waits until NCCL has queued the last call (non-blocking communicators may
  // return ncclInProgress), then until `stream` is idle.
  void wait(cudaStream_t stream, const std::string& what);
  [[noreturn]] void abort_and_fail(const std::string& why);

  ncclComm_t comm_ = nullptr;
  cudaStream_t send_stream_ = nullptr;
  cudaEvent_t ready_ = nullptr;
  std::vector<Tensor> sending_;  // buffers kept alive until wait_sends()
};

}  // namespace condense::parallel
