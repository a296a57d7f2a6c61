// The parallel engine's numbers on random tokens: throughput of one layout,
// the measured pipeline bubble, and bytes communicated per step next to the
// analytic count. Run under mpirun (bench/parallel/run.sh runs the set recorded
// in docs/PERFORMANCE.md); rank 0 prints one line of key=value pairs.
//
//   mpirun -n R bench_parallel [--tp N] [--pp M] [--micro-batches m] [--zero1]
//     [--segments S [--carry K]]
//     [--vocab V --dim D --layers L --heads H --ffn F --batch B --seq T]
//     [--steps S --warmup W]
//
// --segments S: the step is a recurrent pass graph (parallel/pass_graph.h) in place of
// plain micro-batches: each micro-batch's rows are a chain of S segments of T/S tokens,
// and segment s's first K (--carry, default 4) input embeddings are the final hidden
// states of segment s-1's last K tokens (with their gradient), as a recurrent
// compression method's summary vectors are. bubble_theory is then the graph's: passes
// go forward segment by segment over the m chains, and a chain's next segment waits
// for its previous one to leave the last stage, so a segment round takes max(m, p)
// slots on the first stage: 1 - S m / ((S-1) max(m,p) + m + p - 1).
//
// Times are medians over the timed steps. bubble: per stage, 1 - (time in its
// forward/backward passes) / (time of the pipeline schedule), averaged over stages. tp_bytes:
// payload bytes this rank handed to tensor-parallel collectives per step; analytic: (4L + 2) B T D
// floats of activations (forward: the embedding's and two all-reduces per layer; backward: two per
// layer and lm_head's input) plus 3 B T floats for the vocab-parallel loss (max; sum of exps with
// target logit), computed for pp = 1.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <string>

#include "bench/train_shape_options.h"
#include "parallel/mpi_check.h"
#include "parallel/mpi_session.h"
#include "parallel/trainer.h"

namespace condense::parallel {
namespace {

struct Args : bench::TrainShape {
  int tp = 1, pp = 1, micro = 1;
  bool zero1 = false;
  int64_t segments = 0, carry = 4;
};

// This rank's rows as `chains` chains of `segments` segments (see --segments).
PassGraph recurrent_graph(const data::TokenBatch& rows, int chains, int64_t segments,
                          int64_t carry) {
  const int64_t L = rows.T / segments;
  if (L <= carry) fail("bench_parallel: segments of ", L, " tokens cannot carry ", carry);
  PassGraph graph;
  std::vector<int> previous(chains, -1);
  for (int64_t s = 0; s < segments; ++s)
    for (int c = 0; c < chains; ++c) {
      const int64_t r0 = rows.rows * c / chains, r1 = rows.rows * (c + 1) / chains, b = r1 - r0;
      std::vector<int32_t> ids, targets, exports, exported, replaced;
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t t = s * L; t < (s + 1) * L; ++t) {
          ids.push_back(rows.inputs[r * rows.T + t]);
          targets.push_back(rows.targets[r * rows.T + t]);
        }
      for (int64_t r = 0; r < b; ++r)
        for (int64_t j = 0; j < carry; ++j) {
          exports.push_back(static_cast<int32_t>(r * L + L - carry + j));
          exported.push_back(static_cast<int32_t>(r * carry + j));
          replaced.push_back(static_cast<int32_t>(r * L + j));
        }
      GraphPass pass;
      pass.args = ForwardArgs::tokens(Tensor::from_i32(ids, {b, L}));
      pass.targets = Tensor::from_i32(targets, {b, L});
      if (s + 1 < segments) pass.exports = exports;
      if (s > 0) pass.inputs.push_back({previous[c], exported, replaced, false});
      previous[c] = static_cast<int>(graph.size());
      graph.push_back(std::move(pass));
    }
  return graph;
}

// The machine is shared: the median of the timed steps resists another
// process's burst better than the mean.
double median(std::vector<double> v) {
  if (v.empty()) fail("bench_parallel: no timed steps");
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--zero1") {
      a.zero1 = true;
      continue;
    }
    if (i + 1 >= argc) fail("bench_parallel: ", k, " needs a value");
    const int64_t v = std::atoll(argv[++i]);
    if (bench::set_train_shape_option(a, k, v)) continue;
    if (k == "--tp")
      a.tp = static_cast<int>(v);
    else if (k == "--pp")
      a.pp = static_cast<int>(v);
    else if (k == "--micro-batches")
      a.micro = static_cast<int>(v);
    else if (k == "--segments")
      a.segments = v;
    else if (k == "--carry")
      a.carry = v;
    else
      fail("bench_parallel: unknown option ", k);
  }
  return a;
}

int bench(int argc, char** argv) {
  const Args a = parse(argc, argv);
  ProcessGrid grid(a.tp, a.pp);
  ParallelOptions o;
  o.micro_batches = a.micro;
  o.zero1 = a.zero1;
  ParallelTrainer trainer(grid, a.model, 1, AdamWConfig{}, o);
  const int dp = grid.dp_size();
  std::mt19937 gen(0);
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(a.model.vocab_size - 1));
  std::vector<double> step_s, bubbles;
  int64_t tp_bytes = 0, dp_bytes = 0, pp_bytes = 0;
  for (int s = 0; s < a.warmup + a.steps; ++s) {
    data::TokenBatch global;
    global.rows = a.batch;
    global.T = a.seq;
    for (int64_t i = 0; i < a.batch * a.seq; ++i) global.inputs.push_back(tok(gen));
    for (int64_t i = 0; i < a.batch * a.seq; ++i) global.targets.push_back(tok(gen));
    data::TokenBatch mine;
    const int64_t r0 = data::shard_begin(a.batch, grid.dp_rank(), dp);
    const int64_t r1 = data::shard_end(a.batch, grid.dp_rank(), dp);
    mine.rows = r1 - r0;
    mine.T = a.seq;
    mine.inputs.assign(global.inputs.begin() + r0 * a.seq, global.inputs.begin() + r1 * a.seq);
    mine.targets.assign(global.targets.begin() + r0 * a.seq, global.targets.begin() + r1 * a.seq);
    for (Communicator* c : {&trainer.tp_comm(), &trainer.dp_comm(), &trainer.activations_comm(),
                            &trainer.gradients_comm()})
      c->reset_stats();
    // Steps start together, so that one step's time is the slowest rank's.
    MPI_CHECK(MPI_Barrier(grid.world()));
    const auto t0 = std::chrono::steady_clock::now();
    if (a.segments > 0)
      trainer.forward_backward_graph("bench", recurrent_graph(mine, a.micro, a.segments, a.carry));
    else
      trainer.forward_backward({mine});
    const auto t1 = std::chrono::steady_clock::now();
    trainer.optimizer_step();
    trainer.zero_grad();
    MPI_CHECK(MPI_Barrier(grid.world()));
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double schedule = std::chrono::duration<double>(t1 - t0).count();
    if (s < a.warmup) continue;
    step_s.push_back(dt);
    double busy = 0;
    for (const TraceEvent& e : trainer.trace()) busy += e.end_s - e.begin_s;
    double stage_bubble = 1.0 - busy / schedule;
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &stage_bubble, 1, MPI_DOUBLE, MPI_SUM, grid.world()));
    bubbles.push_back(stage_bubble / grid.size());
    tp_bytes = trainer.tp_comm().stats().total_bytes();
    dp_bytes = trainer.dp_comm().stats().total_bytes();
    pp_bytes = trainer.activations_comm().stats().total_bytes() +
               trainer.gradients_comm().stats().total_bytes();
  }
  if (grid.rank() == 0) {
    const LlamaConfig& c = a.model;
    const double tokens = static_cast<double>(a.batch * a.seq);
    const int64_t local_tokens = a.batch / dp * a.seq;
    const int64_t analytic =
        a.tp > 1 && a.pp == 1 ? ((4 * c.n_layers + 2) * local_tokens * c.dim + 3 * local_tokens) * 4
                              : 0;
    const int p = a.pp, m = a.micro;
    const double S = static_cast<double>(a.segments);
    const double theory = a.segments > 0 ? 1.0 - S * m / ((S - 1) * std::max(m, p) + m + p - 1)
                                         : static_cast<double>(p - 1) / (m + p - 1);
    const char* threads = std::getenv("OMP_NUM_THREADS");
    std::cout << "ranks=" << grid.size() << " threads=" << (threads ? threads : "?")
              << " tp=" << a.tp << " pp=" << a.pp << " dp=" << dp << " m=" << m
              << " zero1=" << a.zero1 << " segments=" << a.segments << " batch=" << a.batch << "x"
              << a.seq << " tok/s=" << tokens / median(step_s)
              << " step_ms=" << 1e3 * median(step_s) << " bubble=" << median(bubbles)
              << " bubble_theory=" << theory << " tp_bytes=" << tp_bytes
              << " tp_bytes_analytic=" << analytic << " dp_bytes=" << dp_bytes
              << " pp_bytes=" << pp_bytes << std::endl;
  }
  return 0;
}

}  // namespace
}  // namespace condense::parallel

int main(int argc, char** argv) {
  condense::parallel::MpiSession mpi;
  return condense::parallel::run_or_abort_job(
      [&] { return condense::parallel::bench(argc, argv); });
}
