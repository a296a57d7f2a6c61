// Options shared by every training command: [model], [optim], [train], [run].
// Each section maps to a struct; `add_*` registers the options with defaults.
#pragma once
#include <string>

#include "core/model.h"
#include "core/optim.h"
#include "experiments/cli.h"

namespace condense::exp {

struct TrainLoopOptions {
  int64_t batch_size = 8;
  int64_t seq_len = 128;
  int64_t steps = 100;
  int64_t grad_accum = 1;
  int64_t stop_at = 0;  // end this invocation after this step (0: run to `steps`)
  int64_t log_every = 10;
  int64_t save_every = 0;  // 0: only at the end
  int64_t keep_checkpoints = 2;
  int64_t eval_every = 0;
  int64_t eval_batches = 8;
  uint64_t seed = 1;
  std::string init_from;  // checkpoint (or model dir) to start from instead of random init
  std::string run_dir;
  std::string device = "cpu";
  bool resume = false;
};

// How a run spreads over the ranks mpirun/srun started (parallel/): tensor- and
// pipeline-parallel sizes; the rest of the ranks are data-parallel.
struct ParallelLayoutOptions {
  int tp = 1;
  int pp = 1;
  int micro_batches = 1;      // per batch and data-parallel rank (pipeline)
  bool zero1 = false;         // shard AdamW moments across data-parallel ranks
  double comm_timeout = 300;  // seconds a rank waits for another before ending the job
  // Whether any option asks for the parallel engine.
  bool requested() const { return tp > 1 || pp > 1 || micro_batches > 1 || zero1; }
};

void add_model_options(cli::po::options_description& desc, LlamaConfig& m);
void add_optim_options(cli::po::options_description& desc, AdamWConfig& o);
void add_train_options(cli::po::options_description& desc, TrainLoopOptions& t);
void add_parallel_options(cli::po::options_description& desc, ParallelLayoutOptions& p);

}  // namespace condense::exp
