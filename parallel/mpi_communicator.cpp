#include "parallel/mpi_communicator.h"

#include <climits>

#include "parallel/mpi_check.h"
#include "parallel/mpi_wait.h"

namespace condense::parallel {
namespace {

void check_host(const Tensor& t, const char* op) {
  if (!t.defined()) fail("MPI ", op, ": undefined tensor");
  if (t.device() != Device::cpu)
    fail("MPI ", op, ": tensor on ", device_name(t.device()),
         ", the MPI backend takes host tensors (the NCCL backend takes device ones)");
}

MPI_Datatype mpi_type(DType t, bool reducing, const char* op) {
  switch (t) {
    case DType::f32:
      return MPI_FLOAT;
    case DType::i32:
      return MPI_INT32_T;
    case DType::u8:
      return MPI_UINT8_T;
    case DType::bf16:
      // MPI has no bfloat16: its bits travel as 16-bit words but cannot be summed.
      if (reducing) fail("MPI ", op, ": cannot reduce bf16 tensors");
      return MPI_UINT16_T;
  }
  fail("MPI ", op, ": unknown dtype");
}

int mpi_count(int64_t n, const char* op) {
  if (n > INT_MAX) fail("MPI ", op, ": ", n, " elements exceed one MPI call (split the tensor)");
  return static_cast<int>(n);
}

MPI_Op mpi_op(ReduceOp op) {
  return op == ReduceOp::sum ? MPI_SUM : MPI_MAX;
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm, std::string name, double timeout_s)
    : Communicator(comm, std::move(name), timeout_s) {}

MpiCommunicator::~MpiCommunicator() {
  // Sends still in flight at destruction belong to a failed step; the job is
  // being aborted and MPI_Abort reclaims them, so they are only released here.
  for (PendingSend& s : sends_)
    if (s.request != MPI_REQUEST_NULL) MPI_Request_free(&s.request);
}

void MpiCommunicator::wait(MPI_Request& req, const std::string& what) {
  wait_or_timeout(req, timeout_s(), describe(what));
}

void MpiCommunicator::all_reduce(const Tensor& t, ReduceOp op) {
  check_host(t, "all_reduce");
  count(CommKind::all_reduce, t.nbytes());
  if (size() == 1) return;
  MPI_Request req;
  MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, t.raw(), mpi_count(t.numel(), "all_reduce"),
                           mpi_type(t.dtype(), true, "all_reduce"), mpi_op(op), mpi_comm(), &req));
  wait(req, "all-reduce");
}

void MpiCommunicator::all_gather(const Tensor& out, const Tensor& in) {
  check_host(out, "all_gather");
  check_host(in, "all_gather");
  if (out.numel() != in.numel() * size() || out.dtype() != in.dtype())
    fail("MPI all_gather: output ", shape_str(out.shape()), " is not ", size(), " x input ",
         shape_str(in.shape()));
  count(CommKind::all_gather, out.nbytes());
  const MPI_Datatype type = mpi_type(in.dtype(), false, "all_gather");
  const int n = mpi_count(in.numel(), "all_gather");
  MPI_Request req;
  MPI_CHECK(MPI_Iallgather(in.raw(), n, type, out.raw(), n, type, mpi_comm(), &req));
  wait(req, "all-gather");
}

void MpiCommunicator::reduce_scatter(const Tensor& out, const Tensor& in) {
  check_host(out, "reduce_scatter");
  check_host(in, "reduce_scatter");
  if (in.numel() != out.numel() * size() || out.dtype() != in.dtype())
    fail("MPI reduce_scatter: input ", shape_str(in.shape()), " is not ", size(), " x output ",
         shape_str(out.shape()));
  count(CommKind::reduce_scatter, in.nbytes());
  MPI_Request req;
  MPI_CHECK(MPI_Ireduce_scatter_block(in.raw(), out.raw(), mpi_count(out.numel(), "reduce_scatter"),
                                      mpi_type(in.dtype(), true, "reduce_scatter"), MPI_SUM,
                                      mpi_comm(), &req));
  wait(req, "reduce-scatter");
}

void MpiCommunicator::reduce(const Tensor& t, int root) {
  check_host(t, "reduce");
  count(CommKind::reduce, t.nbytes());
  if (size() == 1) return;
  MPI_Request req;
  const bool at_root = rank() == root;
  MPI_CHECK(MPI_Ireduce(at_root ? MPI_IN_PLACE : t.raw(), at_root ? t.raw() : nullptr,
                        mpi_count(t.numel(), "reduce"), mpi_type(t.dtype(), true, "reduce"),
                        MPI_SUM, root, mpi_comm(), &req));
  wait(req, "reduce onto world rank " + std::to_string(world_rank(root)));
}

void MpiCommunicator::broadcast(const Tensor& t, int root) {
  check_host(t, "broadcast");
  count(CommKind::broadcast, t.nbytes());
  if (size() == 1) return;
  MPI_Request req;
  MPI_CHECK(MPI_Ibcast(t.raw(), mpi_count(t.numel(), "broadcast"),
                       mpi_type(t.dtype(), false, "broadcast"), root, mpi_comm(), &req));
  wait(req, "broadcast from world rank " + std::to_string(world_rank(root)));
}

void MpiCommunicator::send(const Tensor& t, int peer, int tag) {
  check_host(t, "send");
  count(CommKind::send, t.nbytes());
  PendingSend s{MPI_REQUEST_NULL, t, peer};
  MPI_CHECK(MPI_Isend(t.raw(), mpi_count(t.numel(), "send"), mpi_type(t.dtype(), false, "send"),
                      peer, tag, mpi_comm(), &s.request));
  sends_.push_back(std::move(s));
}

void MpiCommunicator::recv(const Tensor& t, int peer, int tag) {
  check_host(t, "recv");
  count(CommKind::recv, t.nbytes());
  MPI_Request req;
  MPI_CHECK(MPI_Irecv(t.raw(), mpi_count(t.numel(), "recv"), mpi_type(t.dtype(), false, "recv"),
                      peer, tag, mpi_comm(), &req));
  wait(req, "receive from world rank " + std::to_string(world_rank(peer)));
}

void MpiCommunicator::wait_sends() {
  for (PendingSend& s : sends_)
    wait(s.request, "send to world rank " + std::to_string(world_rank(s.peer)));
  sends_.clear();
}

}  // namespace condense::parallel
