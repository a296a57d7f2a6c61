#include "experiments/train_engine.h"

#include <mpi.h>

#include "core/ops.h"
#include "experiments/device.h"
#include "experiments/flops.h"
#include "parallel/mpi_check.h"
#include "parallel/mpi_session.h"
#include "parallel/mpi_wait.h"
#include "parallel/trainer.h"
#ifdef CONDENSE_HAVE_CUDA
#include "core/cuda/cuda_backend.h"
#endif

namespace condense::exp {
namespace {

// `model` after the method's changes: what the optimizer is built over.
Llama& extended(Llama& model, const EngineSetup& s) {
  if (s.extend) s.extend(model);
  return model;
}

class OneRank : public Engine {
 public:
  OneRank(const EngineSetup& s, Device device)
      : model_(s.model, s.seed, device),
        opt_(extended(model_, s).params(), s.optim),
        device_(device) {}
  bool root() const override { return true; }
  int64_t num_params() override { return model_.num_params(); }
  const LlamaConfig& model_config() const override { return model_.config(); }
  Device device() const override { return device_; }
  double flops_per_step(int64_t batch, int64_t seq) override {
    return train_flops_per_step(model_, batch, seq);
  }
  std::pair<double, float> step(const std::vector<data::TokenBatch>& batches) override {
    double loss_sum = 0;
    for (const data::TokenBatch& b : batches) {
      data::BatchTensors batch = data::to_tensors(b, device_);
      batch.args.training = true;
      Tape tape;
      Var loss = ops::cross_entropy(tape, model_.forward(tape, batch.args), batch.targets);
      tape.backward(loss);
      loss_sum += loss.value().to_vector()[0];
    }
    const float norm = opt_.step(1.0f / static_cast<float>(batches.size()));
    opt_.zero_grad();
    return {loss_sum / static_cast<double>(batches.size()), norm};
  }
  std::pair<double, float> step_graph(const std::string& method,
                                      const parallel::PassGraph& graph) override {
    Tape tape;
    parallel::PassContext ctx(model_, tape, nullptr);
    parallel::sequential_step(graph)(ctx);
    const double loss =
        parallel::backward_mean(ctx, static_cast<double>(ctx.total().targets), method);
    const float norm = opt_.step();
    opt_.zero_grad();
    return {loss, norm};
  }
  int micro_batches() const override { return 1; }
  double eval_loss(const data::TokenBatch& b) override {
    Tape no_grad(false);
    const data::BatchTensors batch = data::to_tensors(b, device_);
    Var logits = model_.forward(no_grad, batch.args);
    return ops::cross_entropy(no_grad, logits, batch.targets).value().to_vector()[0];
  }
  float last_lr() const override { return opt_.last_lr(); }
  void save(const std::string& path, const CheckpointMeta& meta) override {
    save_checkpoint(path, model_, &opt_, meta);
  }
  CheckpointMeta load(const std::string& path, bool with_optimizer) override {
    return load_checkpoint(path, model_, with_optimizer ? &opt_ : nullptr);
  }
  void set_weights(const Llama& full) override {
    if (!(full.config() == model_.config())) fail("set_weights from a model of another config");
    for (const Param& from : full.params()) {
      Param* p = model_.find_param(from.name);
      if (!p) continue;
      if (from.var.shape() != p->var.shape())
        fail("set_weights: ", from.name, " is ", shape_str(from.var.shape()), ", the model's ",
             shape_str(p->var.shape()));
      p->var.set_value(from.var.value().to(device_));
    }
  }
  const Llama* whole_model() override { return &model_; }
  void wait_for_root() override {}

 private:
  Llama model_;
  AdamW opt_;
  Device device_;
};

// Work only the root does (evaluation) may take far longer than a collective's
// watchdog allows; the root is busy then, not stuck.
constexpr double kRootWorkTimeoutS = 24 * 3600;

class OnGrid : public Engine {
 public:
  OnGrid(const parallel::ProcessGrid& grid, const EngineSetup& s, Device device)
      : trainer_(grid, s.model, s.seed, s.optim, options(s.layout), device, s.extend),
        config_(s.model),
        device_(device),
        micro_batches_(s.layout.micro_batches) {}
  bool root() const override { return trainer_.grid().rank() == 0; }
  int64_t num_params() override { return trainer_.num_params(); }
  const LlamaConfig& model_config() const override { return config_; }
  Device device() const override { return device_; }
  double flops_per_step(int64_t batch, int64_t seq) override {
    return train_flops_per_step(trainer_.model().config(), trainer_.num_params(false), batch, seq);
  }
  std::pair<double, float> step(const std::vector<data::TokenBatch>& batches) override {
    const double loss = trainer_.forward_backward(batches);
    const float norm = trainer_.optimizer_step();
    trainer_.zero_grad();
    return {loss, norm};
  }
  std::pair<double, float> step_graph(const std::string& method,
                                      const parallel::PassGraph& graph) override {
    const double loss = trainer_.forward_backward_graph(method, graph);
    const float norm = trainer_.optimizer_step();
    trainer_.zero_grad();
    return {loss, norm};
  }
  int micro_batches() const override { return micro_batches_; }
  double eval_loss(const data::TokenBatch& batch) override { return trainer_.eval_loss(batch); }
  float last_lr() const override { return trainer_.last_lr(); }
  void save(const std::string& path, const CheckpointMeta& meta) override {
    trainer_.save_checkpoint(path, meta);
  }
  CheckpointMeta load(const std::string& path, bool with_optimizer) override {
    return trainer_.load_checkpoint(path, with_optimizer);
  }
  void set_weights(const Llama& full) override { trainer_.set_weights(full); }
  const Llama* whole_model() override {
    whole_ = trainer_.gather_model();
    if (whole_ && device_ != Device::cpu) whole_->to(device_);
    return whole_.get();
  }
  void wait_for_root() override {
    MPI_Request request;
    MPI_CHECK(MPI_Ibarrier(trainer_.grid().world(), &request));
    parallel::wait_or_timeout(request, kRootWorkTimeoutS, "waiting for rank 0 to evaluate");
  }

 private:
  static parallel::ParallelOptions options(const ParallelLayoutOptions& l) {
    parallel::ParallelOptions o;
    o.micro_batches = l.micro_batches;
    o.zero1 = l.zero1;
    o.timeout_s = l.comm_timeout;
    return o;
  }
  parallel::ParallelTrainer trainer_;
  LlamaConfig config_;
  Device device_;
  int micro_batches_;
  std::unique_ptr<Llama> whole_;
};

}  // namespace

int run_with_engine(const EngineSetup& setup,
                    const std::function<int(Engine& engine, int dp_rank, int dp_size)>& body) {
  if (!setup.layout.requested() && !parallel::launched_as_several_ranks()) {
    OneRank engine(setup, parse_device(setup.device));
    return body(engine, 0, 1);
  }
  parallel::MpiSession mpi;
  return parallel::run_or_abort_job([&] {
    parallel::ProcessGrid grid(setup.layout.tp, setup.layout.pp);
#ifdef CONDENSE_HAVE_CUDA
    // One GPU per rank on a node.
    if (setup.device == "cuda") cuda::register_backend(grid.local_rank());
#endif
    OnGrid engine(grid, setup, parse_device(setup.device));
    return body(engine, grid.dp_rank(), grid.dp_size());
  });
}

}  // namespace condense::exp
