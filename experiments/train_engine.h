// What a training command steps: one rank, or this rank's part of a dp × pp × tp
// grid of the ranks mpirun/srun started (parallel/). Commands write one training
// loop against Engine and run it either way; batches are data::TokenBatch (with
// positions, masks, K/V mixes and inputs from a method's embedding table where the
// method needs them), so any method whose batches fit that shape trains on the grid
// with the single-rank loss and gradients. A method whose step is several forward
// passes, some reading others' hidden states, writes it as a parallel::PassGraph
// (step_graph), which trains on every layout, pipelines included.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/checkpoint.h"
#include "core/model.h"
#include "core/optim.h"
#include "datasets/batch.h"
#include "experiments/train_options.h"
#include "parallel/pass_graph.h"

namespace condense::exp {

class Engine {
 public:
  virtual ~Engine() = default;
  // The rank that writes the run directory's files, prints progress and evaluates.
  virtual bool root() const = 0;
  virtual int64_t num_params() = 0;
  // The model trained (its config; the device its tensors live on).
  virtual const LlamaConfig& model_config() const = 0;
  virtual Device device() const = 0;
  virtual double flops_per_step(int64_t batch, int64_t seq) = 0;
  // Forward, backward and update over `batches` (this rank's rows of each global
  // batch); returns the step's loss (mean of the batches' means) and the gradient
  // norm before clipping.
  virtual std::pair<double, float> step(const std::vector<data::TokenBatch>& batches) = 0;
  // The same for a step `method` writes as a pass graph over this rank's rows
  // (parallel/pass_graph.h): the loss is the sum of every pass's target cross-entropies
  // over the targets of all ranks' graphs.
  virtual std::pair<double, float> step_graph(const std::string& method,
                                              const parallel::PassGraph& graph) = 0;
  // Independent chains of passes a step's graph should interleave (--micro-batches): on
  // a pipeline they fill the stages while a chain's hidden rows travel.
  virtual int micro_batches() const = 0;
  // Mean loss of one global batch (this rank's rows of it), no gradients.
  virtual double eval_loss(const data::TokenBatch& batch) = 0;
  virtual float last_lr() const = 0;
  // Every rank calls these three.
  virtual void save(const std::string& path, const CheckpointMeta& meta) = 0;
  virtual CheckpointMeta load(const std::string& path, bool with_optimizer) = 0;
  // Takes the weights of `full` (a whole model of the same config, on the CPU): every
  // parameter `full` has, by name; the others (a method's) keep their values.
  virtual void set_weights(const Llama& full) = 0;
  // The whole model with the current weights on the root, for evaluation (nullptr
  // elsewhere). Every rank calls it; the pointer lives until the next call.
  virtual const Llama* whole_model() = 0;
  // The other ranks wait (without a watchdog) until the root has called it too:
  // after work only the root does, such as generating for an evaluation.
  virtual void wait_for_root() = 0;
};

// How a command's training runs, from its options.
struct EngineSetup {
  LlamaConfig model;
  uint64_t seed = 1;
  AdamWConfig optim;
  ParallelLayoutOptions layout;
  std::string device = "cpu";
  // A method's changes to the model (add_param, add_lora, set_trainable), applied
  // before the optimizer is built, at one rank and on every shard of the grid.
  std::function<void(Llama& model)> extend;
};

// Runs body(engine, dp_rank, dp_size): at one rank when neither a layout option
// nor a launcher asks for more, else on the grid of the launched ranks (MPI for
// the length of the call; an error on any rank ends the whole job). dp_rank of
// dp_size picks this rank's rows of each global batch (data::shard_begin/end).
int run_with_engine(const EngineSetup& setup,
                    const std::function<int(Engine& engine, int dp_rank, int dp_size)>& body);

}  // namespace condense::exp
