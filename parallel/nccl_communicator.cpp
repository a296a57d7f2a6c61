#include "parallel/nccl_communicator.h"

#include <sched.h>

#include <chrono>

#include "core/cuda/check.h"
#include "core/cuda/context.h"
#include "parallel/mpi_check.h"
#include "parallel/mpi_wait.h"

namespace condense::parallel {
namespace {

void check_nccl(ncclResult_t r, const char* call, const char* file, int line) {
  // ncclInProgress: a non-blocking communicator accepted the call; wait() follows.
  if (r == ncclSuccess || r == ncclInProgress) return;
  fail(file, ":", line, ": ", call, " failed: ", ncclGetErrorString(r), ": ",
       ncclGetLastError(nullptr));
}

#define NCCL_CHECK(call) check_nccl((call), #call, __FILE__, __LINE__)

void check_device(const Tensor& t, const char* op) {
  if (!t.defined()) fail("NCCL ", op, ": undefined tensor");
  if (t.device() != Device::cuda)
    fail("NCCL ", op, ": tensor on ", device_name(t.device()),
         ", the NCCL backend takes device tensors (the MPI backend takes host ones)");
}

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::f32:
      return ncclFloat32;
    case DType::bf16:
      return ncclBfloat16;
    case DType::i32:
      return ncclInt32;
    case DType::u8:
      return ncclUint8;
  }
  fail("NCCL: unknown dtype");
}

size_t count_of(const Tensor& t) {
  return static_cast<size_t>(t.numel());
}

}  // namespace

NcclCommunicator::NcclCommunicator(MPI_Comm comm, std::string name, double timeout_s)
    : Communicator(comm, std::move(name), timeout_s) {
  ncclUniqueId id;
  if (rank() == 0) NCCL_CHECK(ncclGetUniqueId(&id));
  MPI_Request req;
  MPI_CHECK(MPI_Ibcast(&id, sizeof id, MPI_BYTE, 0, comm, &req));
  wait_or_timeout(req, timeout_s, describe("NCCL unique id broadcast"));
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  NCCL_CHECK(ncclCommInitRankConfig(&comm_, size(), id, rank(), &config));
  CUDA_CHECK(cudaStreamCreateWithFlags(&send_stream_, cudaStreamNonBlocking));
  CUDA_CHECK(cudaEventCreateWithFlags(&ready_, cudaEventDisableTiming));
  wait(cuda::stream(), "NCCL communicator set-up");
}

NcclCommunicator::~NcclCommunicator() {
  // Destructors cannot report: errors here would only hide the one being unwound.
  if (comm_) ncclCommDestroy(comm_);
  if (ready_) cudaEventDestroy(ready_);
  if (send_stream_) cudaStreamDestroy(send_stream_);
}

void NcclCommunicator::abort_and_fail(const std::string& why) {
  // Abort frees kernels waiting on a dead peer; its own result cannot be acted on.
  (void)ncclCommAbort(comm_);
  comm_ = nullptr;
  int rank = -1;
  MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  fail("rank ", rank, ": ", why);
}

void NcclCommunicator::wait(cudaStream_t stream, const std::string& what) {
  using Clock = std::chrono::steady_clock;
  if (!comm_) fail("NCCL ", what, ": the communicator was aborted");
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s());
  for (;;) {
    ncclResult_t async = ncclSuccess;
    NCCL_CHECK(ncclCommGetAsyncError(comm_, &async));
    if (async != ncclSuccess && async != ncclInProgress)
      abort_and_fail(describe(what) + ": " + ncclGetErrorString(async));
    if (async == ncclSuccess) {
      const cudaError_t q = cudaStreamQuery(stream);
      if (q == cudaSuccess) return;
      if (q != cudaErrorNotReady) CUDA_CHECK(q);
    }
    if (Clock::now() > deadline)
      abort_and_fail("no progress on " + describe(what) + " for " + std::to_string(timeout_s()) +
                     " s (is a peer rank dead or stuck?)");
    sched_yield();
  }
}

void NcclCommunicator::all_reduce(const Tensor& t, ReduceOp op) {
  check_device(t, "all_reduce");
  count(CommKind::all_reduce, t.nbytes());
  NCCL_CHECK(ncclAllReduce(t.raw(), t.raw(), count_of(t), nccl_type(t.dtype()),
                           op == ReduceOp::sum ? ncclSum : ncclMax, comm_, cuda::stream()));
  wait(cuda::stream(), "all-reduce");
}

void NcclCommunicator::all_gather(const Tensor& out, const Tensor& in) {
  check_device(out, "all_gather");
  check_device(in, "all_gather");
  if (out.numel() != in.numel() * size() || out.dtype() != in.dtype())
    fail("NCCL all_gather: output ", shape_str(out.shape()), " is not ", size(), " x input ",
         shape_str(in.shape()));
  count(CommKind::all_gather, out.nbytes());
  NCCL_CHECK(ncclAllGather(in.raw(), out.raw(), count_of(in), nccl_type(in.dtype()), comm_,
                           cuda::stream()));
  wait(cuda::stream(), "all-gather");
}

void NcclCommunicator::reduce_scatter(const Tensor& out, const Tensor& in) {
  check_device(out, "reduce_scatter");
  check_device(in, "reduce_scatter");
  if (in.numel() != out.numel() * size() || out.dtype() != in.dtype())
    fail("NCCL reduce_scatter: input ", shape_str(in.shape()), " is not ", size(), " x output ",
         shape_str(out.shape()));
  count(CommKind::reduce_scatter, in.nbytes());
  NCCL_CHECK(ncclReduceScatter(in.raw(), out.raw(), count_of(out), nccl_type(in.dtype()), ncclSum,
                               comm_, cuda::stream()));
  wait(cuda::stream(), "reduce-scatter");
}

void NcclCommunicator::reduce(const Tensor& t, int root) {
  check_device(t, "reduce");
  count(CommKind::reduce, t.nbytes());
  NCCL_CHECK(ncclReduce(t.raw(), t.raw(), count_of(t), nccl_type(t.dtype()), ncclSum, root, comm_,
                        cuda::stream()));
  wait(cuda::stream(), "reduce onto world rank " + std::to_string(world_rank(root)));
}

void NcclCommunicator::broadcast(const Tensor& t, int root) {
  check_device(t, "broadcast");
  count(CommKind::broadcast, t.nbytes());
  NCCL_CHECK(ncclBroadcast(t.raw(), t.raw(), count_of(t), nccl_type(t.dtype()), root, comm_,
                           cuda::stream()));
  wait(cuda::stream(), "broadcast from world rank " + std::to_string(world_rank(root)));
}

void NcclCommunicator::send(const Tensor& t, int peer, int /*tag*/) {
  check_device(t, "send");
  count(CommKind::send, t.nbytes());
  // The send stream starts once the compute stream has produced t.
  CUDA_CHECK(cudaEventRecord(ready_, cuda::stream()));
  CUDA_CHECK(cudaStreamWaitEvent(send_stream_, ready_, 0));
  NCCL_CHECK(ncclSend(t.raw(), count_of(t), nccl_type(t.dtype()), peer, comm_, send_stream_));
  sending_.push_back(t);
}

void NcclCommunicator::recv(const Tensor& t, int peer, int /*tag*/) {
  check_device(t, "recv");
  count(CommKind::recv, t.nbytes());
  NCCL_CHECK(ncclRecv(t.raw(), count_of(t), nccl_type(t.dtype()), peer, comm_, cuda::stream()));
  wait(cuda::stream(), "receive from world rank " + std::to_string(world_rank(peer)));
}

void NcclCommunicator::wait_sends() {
  wait(send_stream_, "sends");
  sending_.clear();
}

}  // namespace condense::parallel
