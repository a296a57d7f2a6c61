// The communication layer alone, at any world size: the MPI collectives, the
// watchdog, the tensor-parallel comm ops on the tape (each checked forward and
// backward against what it must do), the vocab-parallel embedding and
// cross-entropy against the whole-vocabulary ops, and the process grid.
#include <gtest/gtest.h>

#include <random>

#include "core/model.h"
#include "core/ops.h"
#include "parallel/mpi_check.h"
#include "parallel/mpi_communicator.h"
#include "parallel/process_grid.h"
#include "parallel/tp_region.h"
#include "parallel/vocab_parallel.h"
#include "tests/mpi/mpi_test_util.h"

namespace condense::testing {
namespace {

using parallel::MpiCommunicator;
using parallel::ReduceOp;

class Comm : public ::testing::Test {
 protected:
  void SetUp() override {
    MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &mpi_));
    comm_ = std::make_unique<MpiCommunicator>(mpi_, "test", 60.0);
    rank_ = comm_->rank();
    n_ = comm_->size();
  }
  void TearDown() override {
    comm_.reset();
    MPI_Comm_free(&mpi_);
  }
  std::vector<float> random(int64_t count, uint64_t seed) const {
    std::mt19937 gen(static_cast<uint32_t>(seed));
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> v(static_cast<size_t>(count));
    for (float& x : v) x = d(gen);
    return v;
  }
  MPI_Comm mpi_ = MPI_COMM_NULL;
  std::unique_ptr<MpiCommunicator> comm_;
  int rank_ = 0, n_ = 1;
};

TEST_F(Comm, Collectives) {
  Tensor t = Tensor::from_f32({float(rank_ + 1), float(2 * (rank_ + 1))}, {2});
  comm_->all_reduce(t, ReduceOp::sum);
  const float s = n_ * (n_ + 1) / 2.0f;
  EXPECT_EQ(t.to_vector(), (std::vector<float>{s, 2 * s}));
  Tensor m = Tensor::from_f32({float(rank_), -float(rank_)}, {2});
  comm_->all_reduce(m, ReduceOp::max);
  EXPECT_EQ(m.to_vector(), (std::vector<float>{float(n_ - 1), 0.0f}));

  Tensor g = Tensor::empty({n_, 2});
  comm_->all_gather(g, Tensor::from_f32({float(rank_), rank_ + 0.5f}, {2}));
  for (int r = 0; r < n_; ++r) {
    EXPECT_EQ(g.to_vector()[2 * r], r);
    EXPECT_EQ(g.to_vector()[2 * r + 1], r + 0.5f);
  }

  std::vector<float> in(2 * n_);
  for (int i = 0; i < 2 * n_; ++i) in[i] = float((rank_ + 1) * (i + 1));
  Tensor rs = Tensor::empty({2});
  comm_->reduce_scatter(rs, Tensor::from_f32(in, {2 * n_}));
  for (int j = 0; j < 2; ++j) EXPECT_EQ(rs.to_vector()[j], s * float(2 * rank_ + j + 1));

  const int root = 1 % n_;
  Tensor red = Tensor::from_f32({float(rank_ + 1)}, {1});
  comm_->reduce(red, root);
  EXPECT_EQ(red.to_vector()[0], rank_ == root ? s : float(rank_ + 1));

  Tensor b = Tensor::from_i32({rank_, 7}, {2});
  comm_->broadcast(b, n_ - 1);
  EXPECT_EQ(b.to_i32_vector(), (std::vector<int32_t>{n_ - 1, 7}));

  // A ring of point-to-point messages, two tags, received in the other order.
  const int right = (rank_ + 1) % n_, left = (rank_ + n_ - 1) % n_;
  comm_->send(Tensor::from_i32({rank_}, {1}), right, 4);
  comm_->send(Tensor::from_u8({uint8_t(rank_ + 100)}, {1}), right, 5);
  Tensor a5 = Tensor::empty({1}, DType::u8), a4 = Tensor::empty({1}, DType::i32);
  comm_->recv(a5, left, 5);
  comm_->recv(a4, left, 4);
  comm_->wait_sends();
  EXPECT_EQ(a4.to_i32_vector()[0], left);
  EXPECT_EQ(a5.u8()[0], left + 100);

  std::vector<double> host{double(rank_), 1e17 + rank_};
  comm_->all_reduce_host(host, ReduceOp::max);
  EXPECT_EQ(host, (std::vector<double>{double(n_ - 1), 1e17 + n_ - 1}));

  EXPECT_EQ(comm_->stats().calls[int(parallel::CommKind::all_reduce)], 2);
  EXPECT_EQ(comm_->stats().bytes[int(parallel::CommKind::all_reduce)], 16);
  EXPECT_THROW(comm_->all_reduce(Tensor::zeros({2}, DType::bf16), ReduceOp::sum), Error);
}

TEST_F(Comm, WatchdogNamesTheSilentPeer) {
  MpiCommunicator impatient(mpi_, "test", 0.3);
  const int left = (rank_ + n_ - 1) % n_, right = (rank_ + 1) % n_;
  Tensor t = Tensor::empty({1});
  try {
    impatient.recv(t, left, 9);
    FAIL() << "a receive nobody answers returned";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("receive from world rank " + std::to_string(left)),
              std::string::npos)
        << e.what();
  }
  // Answer the abandoned receive so that no request is left open at the end, once
  // every rank has given up on it (an early answer would satisfy a late rank).
  MPI_CHECK(MPI_Barrier(mpi_));
  float one = 1.0f;
  MPI_CHECK(MPI_Send(&one, 1, MPI_FLOAT, right, 9, mpi_));
  MPI_CHECK(MPI_Barrier(mpi_));
}

TEST_F(Comm, CopyToAndReduceFromTensorParallelRegion) {
  const std::vector<float> x0 = random(6, 1), g = random(6, 10 + rank_);
  {
    Tape tape;
    Var x(Tensor::from_f32(x0, {2, 3}), true);
    Var y = parallel::copy_to_tp_region(tape, x, *comm_);
    EXPECT_EQ(y.value().to_vector(), x0);  // forward: identity
    tape.backward(y, Tensor::from_f32(g, {2, 3}));
    Tensor sum = Tensor::from_f32(g, {2, 3});
    comm_->all_reduce(sum, ReduceOp::sum);
    EXPECT_EQ(x.grad().to_vector(), sum.to_vector());  // backward: all-reduce
  }
  {
    Tape tape;
    const std::vector<float> mine = random(6, 20 + rank_);
    Var x(Tensor::from_f32(mine, {2, 3}), true);
    Var y = parallel::reduce_from_tp_region(tape, x, *comm_);
    Tensor sum = Tensor::from_f32(mine, {2, 3});
    comm_->all_reduce(sum, ReduceOp::sum);
    EXPECT_EQ(y.value().to_vector(), sum.to_vector());  // forward: all-reduce
    tape.backward(y, Tensor::from_f32(g, {2, 3}));
    EXPECT_EQ(x.grad().to_vector(), g);  // backward: identity
  }
}

TEST_F(Comm, GatherFromAndScatterToTensorParallelRegion) {
  // The whole [2, 3n] is the same everywhere; rank r holds columns [3r, 3r+3).
  const std::vector<float> whole = random(6 * n_, 3);
  auto block = [&](const std::vector<float>& w, int r) {
    std::vector<float> b;
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) b.push_back(w[i * 3 * n_ + 3 * r + j]);
    return b;
  };
  const std::vector<float> g_whole = random(6 * n_, 4);  // same upstream gradient everywhere
  {
    Tape tape;
    Var x(Tensor::from_f32(block(whole, rank_), {2, 3}), true);
    Var y = parallel::gather_from_tp_region(tape, x, *comm_);
    EXPECT_EQ(y.shape(), (Shape{2, 3 * n_}));
    EXPECT_EQ(y.value().to_vector(), whole);  // forward: all-gather
    tape.backward(y, Tensor::from_f32(g_whole, {2, 3 * n_}));
    EXPECT_EQ(x.grad().to_vector(), block(g_whole, rank_));  // backward: own slice
  }
  {
    Tape tape;
    Var x(Tensor::from_f32(whole, {2, 3 * n_}), true);
    Var y = parallel::scatter_to_tp_region(tape, x, *comm_);
    EXPECT_EQ(y.value().to_vector(), block(whole, rank_));  // forward: own slice
    tape.backward(y, Tensor::from_f32(block(g_whole, rank_), {2, 3}));
    EXPECT_EQ(x.grad().to_vector(), g_whole);  // backward: all-gather
  }
  // all_gather_shards inverts shard_tensor along any dimension.
  const Tensor full = Tensor::from_f32(random(4 * 2 * n_ * 3 * n_, 5), {4, 2 * n_, 3 * n_});
  for (int dim : {0, 1, 2}) {
    if (full.dim(dim) % n_) continue;
    const Tensor back =
        parallel::all_gather_shards(shard_tensor(full, dim, rank_, n_), dim, *comm_);
    EXPECT_EQ(back.shape(), full.shape());
    EXPECT_EQ(back.to_vector(), full.to_vector()) << "dim " << dim;
  }
}

TEST_F(Comm, VocabParallelEmbeddingEqualsTheWholeTable) {
  const int64_t V = 8 * n_, D = 4;
  const Tensor table = Tensor::from_f32(random(V * D, 6), {V, D});
  std::vector<int32_t> id;
  for (int64_t i = 0; i < 2 * V; ++i) id.push_back(static_cast<int32_t>((i * 5) % V));
  const Tensor ids = Tensor::from_i32(id, {2, V});
  const std::vector<float> g = random(2 * V * D, 7);

  Tape ref_tape;
  Var ref_table(table, true);
  Var ref = ops::embedding(ref_tape, ref_table, ids);
  ref_tape.backward(ref, Tensor::from_f32(g, ref.shape()));

  Tape tape;
  Var shard(shard_tensor(table, 0, rank_, n_), true);
  Var y = parallel::vocab_parallel_embedding(tape, shard, ids, V / n_ * rank_, *comm_);
  EXPECT_EQ(y.value().to_vector(), ref.value().to_vector());
  tape.backward(y, Tensor::from_f32(g, y.shape()));
  EXPECT_EQ(shard.grad().to_vector(), shard_tensor(ref_table.grad(), 0, rank_, n_).to_vector());
  EXPECT_THROW(parallel::vocab_parallel_embedding(
                   tape, shard, Tensor::from_i32({int32_t(V)}, {1, 1}), V / n_ * rank_, *comm_),
               Error);
}

TEST_F(Comm, VocabParallelCrossEntropyEqualsTheWholeVocabulary) {
  const int64_t V = 8 * n_, N = 7;
  const Tensor logits = Tensor::from_f32(random(N * V, 8), {N, V});
  std::vector<int32_t> t;
  for (int64_t i = 0; i < N; ++i) t.push_back(static_cast<int32_t>((i * 3 + 1) % V));
  t[2] = -100;  // an ignored row
  const Tensor targets = Tensor::from_i32(t, {N});

  Tape ref_tape;
  Var ref_logits(logits, true);
  Var ref = ops::cross_entropy(ref_tape, ref_logits, targets);
  ref_tape.backward(ref, 2.0f);

  Tape tape;
  Var shard(shard_tensor(logits, 1, rank_, n_), true);
  Var loss = parallel::vocab_parallel_cross_entropy(tape, shard, targets, V / n_ * rank_,
                                                    double(N - 1), *comm_);
  EXPECT_NEAR(loss.value().to_vector()[0], ref.value().to_vector()[0],
              1e-6 * ref.value().to_vector()[0]);
  tape.backward(loss, 2.0f);
  const std::vector<float> want = shard_tensor(ref_logits.grad(), 1, rank_, n_).to_vector();
  EXPECT_LT(relative_error(shard.grad().to_vector(), want), 1e-6);
}

TEST(Grid, RankOrderAndGroups) {
  const int n = world_size(), rank = world_rank();
  for (int tp = 1; tp <= n; ++tp) {
    for (int pp = 1; tp * pp <= n; ++pp) {
      if (n % (tp * pp)) continue;
      parallel::ProcessGrid grid(tp, pp);
      const int dp = n / (tp * pp);
      ASSERT_EQ(grid.dp_size(), dp);
      // tp fastest, then dp, then pp.
      EXPECT_EQ(grid.coords(), (parallel::GridCoords{rank % tp, rank / tp % dp, rank / (tp * dp)}));
      EXPECT_EQ(parallel::grid_rank(grid.coords(), tp, dp), rank);
      auto members = [&](MPI_Comm c, int size, int my_index) {
        int s = 0, r = 0;
        MPI_CHECK(MPI_Comm_size(c, &s));
        MPI_CHECK(MPI_Comm_rank(c, &r));
        EXPECT_EQ(s, size);
        EXPECT_EQ(r, my_index);
        std::vector<int> world(size);
        MPI_CHECK(MPI_Allgather(&rank, 1, MPI_INT, world.data(), 1, MPI_INT, c));
        return world;
      };
      const auto t = members(grid.tp_comm(), tp, grid.tp_rank());
      const auto d = members(grid.dp_comm(), dp, grid.dp_rank());
      const auto p = members(grid.pp_comm(), pp, grid.pp_rank());
      for (int i = 0; i < tp; ++i) EXPECT_EQ(t[i], rank - grid.tp_rank() + i);
      for (int i = 0; i < dp; ++i) EXPECT_EQ(d[i], rank + (i - grid.dp_rank()) * tp);
      for (int i = 0; i < pp; ++i) EXPECT_EQ(p[i], rank + (i - grid.pp_rank()) * tp * dp);
      const bool end_stage = pp > 1 && (grid.pp_rank() == 0 || grid.pp_rank() == pp - 1);
      EXPECT_EQ(grid.embedding_comm() != MPI_COMM_NULL, end_stage);
    }
  }
  // World sizes and models that do not divide give one-line errors naming the flag.
  try {
    parallel::ProcessGrid bad(n + 1, 1);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--tp " + std::to_string(n + 1)), std::string::npos);
  }
  if (n >= 2 && n % 2 == 0) {
    parallel::ProcessGrid grid(2, 1);
    LlamaConfig c;
    c.n_heads = 3;
    c.n_kv_heads = 3;
    c.dim = 48;
    EXPECT_THROW(grid.check_model(c), Error);
    LlamaConfig v;
    v.vocab_size = 511;
    try {
      grid.check_model(v);
      FAIL();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("vocab"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace condense::testing
