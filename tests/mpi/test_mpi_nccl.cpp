// The NCCL backend on the GPUs at hand, one rank per GPU (run with as many
// ranks as the node has GPUs; CTest runs one): the collectives on device
// tensors, and a few training steps of the parallel engine on the GPU against
// the same steps on the CPU. Skipped, with the reason, without NCCL or a GPU.
#include <gtest/gtest.h>

#include "core/backend.h"
#include "parallel/mpi_check.h"
#include "parallel/trainer.h"
#include "tests/mpi/mpi_test_util.h"
#ifdef CONDENSE_HAVE_NCCL
#include "core/cuda/cuda_backend.h"
#include "parallel/nccl_communicator.h"
#endif

namespace condense::testing {
namespace {

class Nccl : public ::testing::Test {
 protected:
  void SetUp() override {
#ifdef CONDENSE_HAVE_NCCL
    parallel::ProcessGrid node(1, 1);
    cuda::register_backend(node.local_rank());
    if (!device_available(Device::cuda)) GTEST_SKIP() << "no CUDA device: no GPU found";
#else
    GTEST_SKIP() << "condense was built without NCCL";
#endif
  }
};

TEST_F(Nccl, CollectivesOnDeviceTensors) {
#ifdef CONDENSE_HAVE_NCCL
  MPI_Comm dup;
  MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &dup));
  {
    parallel::NcclCommunicator c(dup, "nccl test", 60.0);
    const int n = c.size(), r = c.rank();
    Tensor t = Tensor::from_f32({float(r + 1), -float(r)}, {2}, Device::cuda);
    c.all_reduce(t, parallel::ReduceOp::sum);
    EXPECT_EQ(t.to_vector(), (std::vector<float>{n * (n + 1) / 2.0f, -n * (n - 1) / 2.0f}));
    Tensor m = Tensor::from_f32({float(r)}, {1}, Device::cuda);
    c.all_reduce(m, parallel::ReduceOp::max);
    EXPECT_EQ(m.to_vector()[0], float(n - 1));
    Tensor g = Tensor::empty({n, 2}, DType::f32, Device::cuda);
    c.all_gather(g, Tensor::from_f32({float(r), 0.5f}, {2}, Device::cuda));
    for (int k = 0; k < n; ++k) EXPECT_EQ(g.to_vector()[2 * k], float(k));
    std::vector<float> in(n, float(r + 1));
    Tensor rs = Tensor::empty({1}, DType::f32, Device::cuda);
    c.reduce_scatter(rs, Tensor::from_f32(in, {n}, Device::cuda));
    EXPECT_EQ(rs.to_vector()[0], n * (n + 1) / 2.0f);
    Tensor b = Tensor::from_i32({r}, {1}, Device::cuda);
    c.broadcast(b, n - 1);
    EXPECT_EQ(b.to_i32_vector()[0], n - 1);
    Tensor red = Tensor::from_f32({1.0f}, {1}, Device::cuda);
    c.reduce(red, 0);
    if (r == 0) {
      EXPECT_EQ(red.to_vector()[0], float(n));
    }
    if (n > 1) {
      const int right = (r + 1) % n, left = (r + n - 1) % n;
      c.send(Tensor::from_f32({float(r)}, {1}, Device::cuda), right, 0);
      Tensor got = Tensor::empty({1}, DType::f32, Device::cuda);
      c.recv(got, left, 0);
      c.wait_sends();
      EXPECT_EQ(got.to_vector()[0], float(left));
    }
    EXPECT_THROW(c.all_reduce(Tensor::zeros({1}), parallel::ReduceOp::sum), Error);
  }
  MPI_CHECK(MPI_Comm_free(&dup));
#endif
}

TEST_F(Nccl, EngineOnTheGpuMatchesTheCpu) {
#ifdef CONDENSE_HAVE_NCCL
  LlamaConfig cfg;
  cfg.vocab_size = 96;
  cfg.dim = 32;
  cfg.n_layers = 2;
  cfg.n_heads = 4;
  cfg.n_kv_heads = 2;
  cfg.ffn_dim = 64;
  AdamWConfig o;
  o.lr = 1e-3f;
  // All ranks data-parallel: one GPU each.
  parallel::ProcessGrid grid(1, 1);
  parallel::ParallelTrainer gpu(grid, cfg, 7, o, {}, Device::cuda);
  parallel::ParallelTrainer cpu(grid, cfg, 7, o, {}, Device::cpu);
  const int dp = grid.dp_size();
  for (int step = 1; step <= 3; ++step) {
    const data::TokenBatch global = random_batch(8, 16, cfg.vocab_size, step);
    const data::TokenBatch mine = rows_of(global, data::shard_begin(8, grid.dp_rank(), dp),
                                          data::shard_end(8, grid.dp_rank(), dp));
    const double lg = gpu.forward_backward({mine}), lc = cpu.forward_backward({mine});
    EXPECT_NEAR(lg, lc, 1e-4 * lc) << "step " << step;
    EXPECT_NEAR(gpu.optimizer_step(), cpu.optimizer_step(), 1e-3) << "step " << step;
    gpu.zero_grad();
    cpu.zero_grad();
  }
#endif
}

}  // namespace
}  // namespace condense::testing
