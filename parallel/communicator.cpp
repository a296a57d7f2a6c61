#include "parallel/communicator.h"

#include "parallel/mpi_check.h"
#include "parallel/mpi_communicator.h"
#include "parallel/mpi_wait.h"
#ifdef CONDENSE_HAVE_NCCL
#include "parallel/nccl_communicator.h"
#endif

namespace condense::parallel {

int64_t CommStats::total_bytes() const {
  int64_t n = 0;
  for (int64_t b : bytes) n += b;
  return n;
}

const char* comm_kind_name(CommKind kind) {
  static const char* const names[kCommKinds] = {
      "all_reduce", "all_gather", "reduce_scatter", "reduce", "broadcast", "send", "recv", "host"};
  return names[static_cast<int>(kind)];
}

Communicator::Communicator(MPI_Comm comm, std::string name, double timeout_s)
    : comm_(comm), name_(std::move(name)), timeout_s_(timeout_s) {
  if (!(timeout_s > 0)) fail("communicator ", name_, ": the timeout must be positive");
  MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  MPI_CHECK(MPI_Comm_size(comm_, &size_));
  for (int r = 0; r < size_; ++r) world_ranks_.push_back(world_rank_of(comm_, r));
}

void Communicator::all_reduce_host(std::vector<double>& values, ReduceOp op) {
  count(CommKind::host, values.size() * sizeof(double));
  if (size_ == 1 || values.empty()) return;
  MPI_Request req;
  MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE,
                           op == ReduceOp::sum ? MPI_SUM : MPI_MAX, comm_, &req));
  wait_or_timeout(req, timeout_s_, describe("all-reduce of host values"));
}

double Communicator::all_reduce_host(double value, ReduceOp op) {
  std::vector<double> v{value};
  all_reduce_host(v, op);
  return v[0];
}

void Communicator::count(CommKind kind, size_t bytes) {
  if (size_ == 1) return;  // nothing leaves the rank
  ++stats_.calls[static_cast<int>(kind)];
  stats_.bytes[static_cast<int>(kind)] += static_cast<int64_t>(bytes);
}

std::unique_ptr<Communicator> make_communicator(MPI_Comm comm, const std::string& name,
                                                Device device, double timeout_s) {
  if (device == Device::cpu) return std::make_unique<MpiCommunicator>(comm, name, timeout_s);
#ifdef CONDENSE_HAVE_NCCL
  return std::make_unique<NcclCommunicator>(comm, name, timeout_s);
#else
  fail("parallel: tensors on ", device_name(device),
       " need the NCCL backend, and condense was built without NCCL");
#endif
}

std::string Communicator::describe(const std::string& what) const {
  return what + " in the " + name_ + " group";
}

}  // namespace condense::parallel
