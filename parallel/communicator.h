// A group of ranks and the collectives the parallel engine needs over it, with
// two backends: MPI for host tensors (parallel/mpi_communicator.h) and NCCL for
// device tensors (parallel/nccl_communicator.h). Tensors are contiguous; the
// ranks of a group call each collective in the same order with equal shapes.
// Every wait is under the watchdog of parallel/mpi_wait.h.
#pragma once
#include <mpi.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace condense::parallel {

enum class ReduceOp { sum, max };

// What a rank handed to its collectives: calls and payload bytes per kind (for the
// benchmark's bytes-per-step next to the analytic count).
enum class CommKind { all_reduce, all_gather, reduce_scatter, reduce, broadcast, send, recv, host };
inline constexpr int kCommKinds = 8;
struct CommStats {
  std::array<int64_t, kCommKinds> calls{};
  std::array<int64_t, kCommKinds> bytes{};
  int64_t total_bytes() const;
};
const char* comm_kind_name(CommKind kind);

class Communicator {
 public:
  // `comm` stays owned by the caller (the ProcessGrid); `name` appears in errors.
  Communicator(MPI_Comm comm, std::string name, double timeout_s);
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  const std::string& name() const { return name_; }
  MPI_Comm mpi_comm() const { return comm_; }
  // A rank of this group as a rank of MPI_COMM_WORLD (for messages).
  int world_rank(int group_rank) const { return world_ranks_.at(group_rank); }

  // t = op over the group's t (in place).
  virtual void all_reduce(const Tensor& t, ReduceOp op) = 0;
  // out [size*n, ...] = every rank's in [n, ...] in rank order along dimension 0.
  virtual void all_gather(const Tensor& out, const Tensor& in) = 0;
  // out [n, ...] = this rank's block of the sum over ranks of in [size*n, ...].
  virtual void reduce_scatter(const Tensor& out, const Tensor& in) = 0;
  // On `root`, t = sum over the group's t; elsewhere t is left as it was.
  virtual void reduce(const Tensor& t, int root) = 0;
  virtual void broadcast(const Tensor& t, int root) = 0;
  // Starts sending t to `peer` and returns; t (kept alive here) must not change
  // until wait_sends(). Sends and receives with one tag between two ranks match in
  // order.
  virtual void send(const Tensor& t, int peer, int tag) = 0;
  // Returns once t holds what `peer` sent with `tag`.
  virtual void recv(const Tensor& t, int peer, int tag) = 0;
  virtual void wait_sends() = 0;

  // Host values (losses, token counts, squared norms) reduced in double, whatever
  // the backend: values = op over the group, element by element.
  void all_reduce_host(std::vector<double>& values, ReduceOp op);
  double all_reduce_host(double value, ReduceOp op);

  const CommStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

 protected:
  void count(CommKind kind, size_t bytes);
  // "<what> in the <name> group" for the watchdog's messages.
  std::string describe(const std::string& what) const;
  double timeout_s() const { return timeout_s_; }

 private:
  MPI_Comm comm_;
  std::string name_;
  double timeout_s_;
  int rank_ = 0, size_ = 1;
  std::vector<int> world_ranks_;
  CommStats stats_;
};

// The backend for tensors on `device`: MPI for the CPU, NCCL for CUDA (an error
// when condense was built without NCCL).
std::unique_ptr<Communicator> make_communicator(MPI_Comm comm, const std::string& name,
                                                Device device, double timeout_s);

}  // namespace condense::parallel
