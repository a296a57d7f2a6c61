// The MPI backend of Communicator: host (CPU) tensors, non-blocking MPI calls
// waited on under the watchdog.
#pragma once
#include <vector>

#include "parallel/communicator.h"

namespace condense::parallel {

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator(MPI_Comm comm, std::string name, double timeout_s);
  ~MpiCommunicator() override;

  void all_reduce(const Tensor& t, ReduceOp op) override;
  void all_gather(const Tensor& out, const Tensor& in) override;
  void reduce_scatter(const Tensor& out, const Tensor& in) override;
  void reduce(const Tensor& t, int root) override;
  void broadcast(const Tensor& t, int root) override;
  void send(const Tensor& t, int peer, int tag) override;
  void recv(const Tensor& t, int peer, int tag) override;
  void wait_sends() override;

 private:
  void wait(MPI_Request& req, const std::string& what);
  struct PendingSend {
    MPI_Request request;
    Tensor tensor;  // keeps the buffer alive until the send completes
    int peer;
  };
  std::vector<PendingSend> sends_;
};

}  // namespace condense::parallel
