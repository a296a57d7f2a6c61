// The parallel training engine: one rank's part of a dp × pp × tp run. It holds
// the model shard of its pipeline stage (its tensor-parallel slice), runs the
// 1F1B schedule over the micro-batches of its data-parallel share of each
// batch, synchronises gradients (tied embeddings across the end stages, then
// data-parallel, bucketed, optionally ZeRO-1), clips by the global norm and
// updates with AdamW. Any layout gives the loss and gradients of one rank up to
// float rounding (tests/mpi), and checkpoints hold full logical tensors, so any
// layout loads any checkpoint.
//
// A method changes the model through a ModelExtension (its own parameters, LoRA
// pairs, frozen weights) and its batches through data::TokenBatch (masks, LoRA
// token mask, K/V mixes, inputs from its own embedding table, which the first
// stage embeds), or writes its step as a graph of passes, some reading others'
// hidden states (pass_graph.h): the engine itself knows no method. Frozen parameters have no
// gradient, no moments, no ZeRO-1 owner and no place in sync or the gradient norm.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/checkpoint.h"
#include "core/optim.h"
#include "datasets/batch.h"
#include "parallel/communicator.h"
#include "parallel/grad_sync.h"
#include "parallel/multi_pass.h"
#include "parallel/pass_graph.h"
#include "parallel/pipeline.h"
#include "parallel/process_grid.h"
#include "parallel/tp_region.h"

namespace condense::parallel {

struct ParallelOptions {
  int micro_batches = 1;  // per batch and data-parallel rank
  bool zero1 = false;
  size_t bucket_bytes = size_t{16} << 20;
  double timeout_s = 300;  // the watchdog on every wait for another rank
};

// A method's changes to a freshly built model: add_param, add_lora, set_trainable.
// The trainer applies it to its shard before building the optimizer and data-parallel
// sync, and to the whole models it assembles (checkpoints, evaluation), so it must
// give every model of a config the same parameters and flags, whatever its shard.
using ModelExtension = std::function<void(Llama& model)>;

// What gather() collects.
enum class Gathered { value, grad, adam_m, adam_v };

class ParallelTrainer {
 public:
  // Builds this rank's shard (initialised as the whole model would be from
  // `seed`), applies `extend` to it, and builds its optimizer over the trainable
  // parameters. Throws when the model does not split over `grid`.
  ParallelTrainer(const ProcessGrid& grid, const LlamaConfig& model, uint64_t seed,
                  const AdamWConfig& optim, const ParallelOptions& options,
                  Device device = Device::cpu, ModelExtension extend = {});
  ~ParallelTrainer();

  const ProcessGrid& grid() const { return grid_; }
  Llama& model() { return *model_; }

  // Forward and backward over `batches`: each is this data-parallel rank's rows of
  // one global batch (PackedLoader with rank = dp rank, world = dp). The loss is
  // the mean over each global batch's tokens, averaged over the batches (what
  // grad_accum does at one rank); gradients are summed over the grid so that they
  // are those of that loss. Returns the loss, on every rank.
  double forward_backward(const std::vector<data::TokenBatch>& batches);
  // Forward and backward of a step that `method` writes as a pass graph (see
  // parallel/pass_graph.h) over this data-parallel rank's rows: the loss is the sum of
  // every pass's target cross-entropies over the targets of all ranks' graphs;
  // gradients are synced as in forward_backward. Without a pipeline the passes run in
  // order on one tape; on a pipeline, through PipelineStage::run_graph.
  double forward_backward_graph(const std::string& method, const PassGraph& graph);
  // Clips by the norm of all gradients of the grid, updates, and returns the norm
  // (before clipping), on every rank.
  float optimizer_step();
  void zero_grad();
  // Mean loss of one global batch (this rank's rows of it), no gradients.
  double eval_loss(const data::TokenBatch& batch);

  // Parameters of the whole model, each shard's counted once; on every rank.
  int64_t num_params(bool include_embedding = true);

  float last_lr() const { return optimizer_->last_lr(); }
  int64_t steps_done() const { return optimizer_->steps_done(); }
  // The passes this stage ran in the last forward_backward, in order.
  const std::vector<TraceEvent>& trace() const { return trace_; }

  // Full logical tensors (name, value) of every parameter on world rank 0, empty
  // elsewhere; every rank must call it. Frozen parameters have a value only (no
  // gradient or moments).
  std::vector<std::pair<std::string, Tensor>> gather(Gathered what);
  // The whole model (extended, with this step's weights, on the CPU) on world rank
  // 0, nullptr elsewhere; every rank must call it.
  std::unique_ptr<Llama> gather_model();
  // Rank 0 writes the full model and optimizer state with core's save_checkpoint
  // (NAME.tmp, then renamed); every rank returns once it is in place.
  void save_checkpoint(const std::string& path, const CheckpointMeta& meta);
  // Every rank reads the checkpoint and keeps its shard (optimizer state too when
  // `with_optimizer`). The checkpoint may come from any layout.
  CheckpointMeta load_checkpoint(const std::string& path, bool with_optimizer);
  // Every rank keeps its shard of the weights of `full`, a whole model of this
  // config (on the CPU; a pretrained model, maybe changed by a method): each of
  // this shard's parameters that `full` has, by name; the others (a method's,
  // when `full` does not have them) keep their values.
  void set_weights(const Llama& full);

  Communicator& tp_comm() { return *tp_; }
  Communicator& dp_comm() { return *dp_; }
  Communicator& activations_comm() { return *activations_; }
  Communicator& gradients_comm() { return *gradients_; }

 private:
  std::vector<MicroBatch> split(const std::vector<data::TokenBatch>& batches, bool train);
  // Syncs the step's gradients: the tied embedding's copies, then data-parallel.
  void sync_gradients();
  // A whole model of this config on the CPU, extended as the shards are.
  std::unique_ptr<Llama> whole_model() const;
  // A tied lm_head on the last stage, a copy of the first stage's embedding.
  bool is_mirror(const Param& p) const;

  const ProcessGrid& grid_;
  LlamaConfig config_;
  AdamWConfig optim_config_;
  ParallelOptions options_;
  Device device_;
  ModelExtension extend_;
  // Pipeline groups duplicated per direction (and for checkpoint transfers).
  MPI_Comm activations_mpi_ = MPI_COMM_NULL, gradients_mpi_ = MPI_COMM_NULL;
  MPI_Comm transfer_mpi_ = MPI_COMM_NULL;
  std::unique_ptr<Communicator> tp_, dp_, activations_, gradients_, embedding_;
  std::unique_ptr<Communicator> world_, transfer_;  // host values and checkpoint tensors
  std::unique_ptr<TensorParallelRegion> region_;
  std::unique_ptr<Llama> model_;
  // The trainable parameters this rank updates and keeps moments of (copies: the
  // flags are those at construction, which GradientSync checks stay so).
  std::vector<Param> owned_;
  std::unique_ptr<AdamW> optimizer_;
  std::unique_ptr<GradientSync> sync_;
  std::unique_ptr<PipelineStage> stage_;
  std::vector<TraceEvent> trace_;
};

}  // namespace condense::parallel
