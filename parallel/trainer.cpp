#include "parallel/trainer.h"

#include <algorithm>
#include <cmath>

#include "core/backend.h"
#include "parallel/mpi_check.h"
#include "parallel/mpi_communicator.h"

namespace condense::parallel {
namespace {

constexpr int kIgnoreIndex = -100;

}  // namespace

ParallelTrainer::ParallelTrainer(const ProcessGrid& grid, const LlamaConfig& model, uint64_t seed,
                                 const AdamWConfig& optim, const ParallelOptions& options,
                                 Device device, ModelExtension extend)
    : grid_(grid),
      config_(model),
      optim_config_(optim),
      options_(options),
      device_(device),
      extend_(std::move(extend)) {
  grid_.check_model(config_);
  if (options_.micro_batches < 1)
    fail("--micro-batches ", options_.micro_batches, " must be at least 1");
  const double t = options_.timeout_s;
  MPI_CHECK(MPI_Comm_dup(grid_.pp_comm(), &activations_mpi_));
  MPI_CHECK(MPI_Comm_dup(grid_.pp_comm(), &gradients_mpi_));
  MPI_CHECK(MPI_Comm_dup(grid_.pp_comm(), &transfer_mpi_));
  tp_ = make_communicator(grid_.tp_comm(), "tensor-parallel", device_, t);
  dp_ = make_communicator(grid_.dp_comm(), "data-parallel", device_, t);
  activations_ = make_communicator(activations_mpi_, "pipeline (activations)", device_, t);
  gradients_ = make_communicator(gradients_mpi_, "pipeline (gradients)", device_, t);
  if (grid_.embedding_comm() != MPI_COMM_NULL && config_.tie_embeddings)
    embedding_ = make_communicator(grid_.embedding_comm(), "tied-embedding", device_, t);
  world_ = std::make_unique<MpiCommunicator>(grid_.world(), "world", t);
  transfer_ = std::make_unique<MpiCommunicator>(transfer_mpi_, "pipeline (checkpoint)", t);

  ModelShard shard;
  shard.tp_rank = grid_.tp_rank();
  shard.tp_size = grid_.tp_size();
  shard.layer_begin = grid_.layer_begin(config_);
  shard.layer_end = grid_.layer_end(config_);
  if (grid_.tp_size() > 1) {
    region_ = std::make_unique<TensorParallelRegion>(*tp_);
    shard.tp = region_.get();
  }
  model_ = std::make_unique<Llama>(config_, seed, device_, shard);
  // The method's parameters and frozen set first: the sync's ownership and the
  // optimizer's state cover exactly the trainable parameters of the final model.
  if (extend_) extend_(*model_);
  sync_ =
      std::make_unique<GradientSync>(model_->params(), *dp_, options_.bucket_bytes, options_.zero1);
  for (size_t i = 0; i < model_->params().size(); ++i)
    if (sync_->owns(i)) owned_.push_back(model_->params()[i]);
  optimizer_ = std::make_unique<AdamW>(owned_, optim_config_);
  stage_ = std::make_unique<PipelineStage>(*model_, grid_.pp_rank(), grid_.pp_size(), *activations_,
                                           *gradients_, *tp_);
}

ParallelTrainer::~ParallelTrainer() {
  // Communicators first: they use the duplicated MPI communicators freed below.
  stage_.reset();
  tp_.reset();
  dp_.reset();
  activations_.reset();
  gradients_.reset();
  embedding_.reset();
  world_.reset();
  transfer_.reset();
  for (MPI_Comm* c : {&activations_mpi_, &gradients_mpi_, &transfer_mpi_})
    if (*c != MPI_COMM_NULL) MPI_Comm_free(c);  // no throwing from a destructor
}

bool ParallelTrainer::is_mirror(const Param& p) const {
  return config_.tie_embeddings && grid_.pp_size() > 1 && grid_.pp_rank() == grid_.pp_size() - 1 &&
         p.name == "model.embed_tokens.weight";
}

std::unique_ptr<Llama> ParallelTrainer::whole_model() const {
  auto full = std::make_unique<Llama>(config_, 0);
  if (extend_) extend_(*full);
  return full;
}

std::vector<MicroBatch> ParallelTrainer::split(const std::vector<data::TokenBatch>& batches,
                                               bool train) {
  if (batches.empty()) fail("parallel step: no batches");
  // Each global batch's loss is a mean over its tokens: count them over the
  // data-parallel group so that every micro-batch divides by the same number.
  std::vector<double> tokens;
  for (const data::TokenBatch& b : batches) {
    int64_t n = 0;
    for (int32_t t : b.targets) n += t != kIgnoreIndex;
    tokens.push_back(static_cast<double>(n));
  }
  dp_->all_reduce_host(tokens, ReduceOp::sum);
  const int m = options_.micro_batches;
  std::vector<MicroBatch> out;
  for (size_t k = 0; k < batches.size(); ++k) {
    const data::TokenBatch& b = batches[k];
    if (b.rows < m)
      fail("--micro-batches ", m, ": a data-parallel rank has only ", b.rows,
           " rows of each batch (train.batch_size / data-parallel size)");
    for (int j = 0; j < m; ++j) {
      data::BatchTensors t =
          data::to_tensors(data::rows_of(b, b.rows * j / m, b.rows * (j + 1) / m), device_);
      MicroBatch mb;
      mb.args = std::move(t.args);
      mb.args.training = train;
      mb.targets = std::move(t.targets);
      mb.kv_mix = std::move(t.kv_mix);
      // A batch without a single target carries no loss; 1 avoids dividing by 0.
      mb.denominator = std::max(tokens[k], 1.0) * static_cast<double>(batches.size());
      out.push_back(std::move(mb));
    }
  }
  return out;
}

void ParallelTrainer::sync_gradients() {
  if (embedding_) {
    // The tied embedding's two copies (first and last stage) each saw part of its
    // gradient: both need the sum to stay equal after the update.
    for (Param& p : model_->params())
      if (p.name == "model.embed_tokens.weight" && p.trainable)
        embedding_->all_reduce(p.var.grad_buffer(), ReduceOp::sum);
  }
  sync_->reduce_gradients();
}

double ParallelTrainer::forward_backward(const std::vector<data::TokenBatch>& batches) {
  const std::vector<MicroBatch> micro = split(batches, true);
  trace_.clear();
  const double local =
      stage_->run(one_f_one_b(grid_.pp_rank(), grid_.pp_size(), static_cast<int>(micro.size())),
                  micro, true, &trace_);
  sync_gradients();
  const bool reports = grid_.pp_rank() == grid_.pp_size() - 1 && grid_.tp_rank() == 0;
  return world_->all_reduce_host(reports ? local : 0.0, ReduceOp::sum);
}

double ParallelTrainer::forward_backward_graph(const std::string& method, const PassGraph& graph) {
  trace_.clear();
  const double targets =
      dp_->all_reduce_host(static_cast<double>(graph_targets(graph)), ReduceOp::sum);
  double local = 0;
  bool reports = grid_.tp_rank() == 0;  // every tensor-parallel rank holds the same loss
  if (grid_.pp_size() > 1) {
    local = stage_->run_graph(graph, targets, &trace_);
    reports = reports && grid_.pp_rank() == grid_.pp_size() - 1;
  } else {
    Tape tape;
    PassContext ctx(*model_, tape, grid_.tp_size() > 1 ? tp_.get() : nullptr);
    sequential_step(graph)(ctx);
    local = backward_mean(ctx, targets, method);
  }
  sync_gradients();
  return world_->all_reduce_host(reports ? local : 0.0, ReduceOp::sum);
}

float ParallelTrainer::optimizer_step() {
  // Each gradient element is counted once over the grid: replicated tensors (norm
  // gains) by tensor-parallel rank 0, data-parallel copies by their owner (rank 0
  // without ZeRO-1), a tied embedding by its first stage.
  double squares = 0;
  const std::vector<Param>& params = model_->params();
  for (size_t i = 0; i < params.size(); ++i) {
    const Param& p = params[i];
    if (!p.trainable || !p.var.grad().defined() || is_mirror(p)) continue;
    if (p.tp_dim < 0 && grid_.tp_rank() != 0) continue;
    if (sync_->zero1() ? !sync_->owns(i) : grid_.dp_rank() != 0) continue;
    squares += backend_for(p.var.grad().device()).sum_squares(p.var.grad());
  }
  const double norm = std::sqrt(world_->all_reduce_host(squares, ReduceOp::sum));
  optimizer_->step(1.0f, norm);
  sync_->broadcast_values();
  return static_cast<float>(norm);
}

int64_t ParallelTrainer::num_params(bool include_embedding) {
  double n = 0;
  if (grid_.dp_rank() == 0)
    for (const Param& p : model_->params()) {
      if (is_mirror(p) || (p.tp_dim < 0 && grid_.tp_rank() != 0)) continue;
      if (include_embedding || p.name != "model.embed_tokens.weight")
        n += static_cast<double>(p.var.value().numel());
    }
  return static_cast<int64_t>(world_->all_reduce_host(n, ReduceOp::sum));
}

void ParallelTrainer::zero_grad() {
  for (Param& p : model_->params()) p.var.zero_grad();
}

double ParallelTrainer::eval_loss(const data::TokenBatch& batch) {
  const std::vector<MicroBatch> micro = split({batch}, false);
  const double local =
      stage_->run(forward_only(static_cast<int>(micro.size())), micro, false, nullptr);
  const bool reports = grid_.pp_rank() == grid_.pp_size() - 1 && grid_.tp_rank() == 0;
  return world_->all_reduce_host(reports ? local : 0.0, ReduceOp::sum);
}

}  // namespace condense::parallel
