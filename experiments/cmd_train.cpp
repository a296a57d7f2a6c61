// condense train: language-model training on a token dataset, at one rank or on
// a dp × pp × tp grid of the ranks mpirun/srun started (--tp, --pp,
// --micro-batches, --zero1; see parallel/).
//   config -> model -> [forward -> loss -> backward] x grad_accum -> AdamW -> log/save
// A run directory holds config.cfg, metrics.jsonl and checkpoints; --resume
// continues from the newest checkpoint and reproduces the uninterrupted run
// exactly (weights, optimizer moments, step and data position are all saved).
// Checkpoints hold whole tensors, so a run may resume under another layout.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <vector>

#include "core/checkpoint.h"
#include "core/ops.h"
#include "datasets/packed_loader.h"
#include "datasets/token_dataset.h"
#include "datasets/tokenizer.h"
#include "experiments/device.h"
#include "experiments/flops.h"
#include "experiments/model_dir.h"
#include "experiments/run_dir.h"
#include "experiments/train_options.h"
#include "parallel/mpi_session.h"
#include "parallel/trainer.h"
#ifdef CONDENSE_HAVE_CUDA
#include "core/cuda/cuda_backend.h"
#endif

namespace condense::cmd {
namespace {

using Clock = std::chrono::steady_clock;

struct DeviceBatch {
  Tensor inputs, targets;
};

DeviceBatch to_device(const data::TokenBatch& b, Device device) {
  return {Tensor::from_i32(b.inputs, {b.rows, b.T}, device),
          Tensor::from_i32(b.targets, {b.rows, b.T}, device)};
}

// Everything the command line and config file say.
struct TrainSetup {
  LlamaConfig model;
  AdamWConfig optim;
  exp::TrainLoopOptions loop;
  exp::ParallelLayoutOptions layout;
  std::string train_path, valid_path, tokenizer_path, config_text;
};

// One optimizer step and the checkpoints, at one rank or on a grid of ranks; the
// loop in train_loop() drives either.
class Engine {
 public:
  virtual ~Engine() = default;
  // The rank that writes the run directory's files and prints progress.
  virtual bool root() const = 0;
  virtual int64_t num_params() = 0;
  virtual double flops_per_step(int64_t batch, int64_t seq) = 0;
  // Forward, backward and update over `batches` (this rank's rows of each global
  // batch); returns the step's loss (mean of the batches' means) and the gradient
  // norm before clipping.
  virtual std::pair<double, float> step(const std::vector<data::TokenBatch>& batches) = 0;
  virtual double eval_loss(const data::TokenBatch& batch) = 0;
  virtual float last_lr() const = 0;
  virtual void save(const std::string& path, const CheckpointMeta& meta) = 0;
  virtual CheckpointMeta load(const std::string& path, bool with_optimizer) = 0;
};

class OneRank : public Engine {
 public:
  OneRank(const TrainSetup& s, Device device)
      : model_(s.model, s.loop.seed, device), opt_(model_.params(), s.optim), device_(device) {}
  bool root() const override { return true; }
  int64_t num_params() override { return model_.num_params(); }
  double flops_per_step(int64_t batch, int64_t seq) override {
    return exp::train_flops_per_step(model_, batch, seq);
  }
  std::pair<double, float> step(const std::vector<data::TokenBatch>& batches) override {
    double loss_sum = 0;
    for (const data::TokenBatch& b : batches) {
      const DeviceBatch batch = to_device(b, device_);
      Tape tape;
      Var logits = model_.forward(tape, ForwardArgs::tokens(batch.inputs));
      Var loss = ops::cross_entropy(tape, logits, batch.targets);
      tape.backward(loss);
      loss_sum += loss.value().to_vector()[0];
    }
    const float norm = opt_.step(1.0f / static_cast<float>(batches.size()));
    opt_.zero_grad();
    return {loss_sum / static_cast<double>(batches.size()), norm};
  }
  double eval_loss(const data::TokenBatch& b) override {
    Tape no_grad(false);
    const DeviceBatch batch = to_device(b, device_);
    Var logits = model_.forward(no_grad, ForwardArgs::tokens(batch.inputs));
    return ops::cross_entropy(no_grad, logits, batch.targets).value().to_vector()[0];
  }
  float last_lr() const override { return opt_.last_lr(); }
  void save(const std::string& path, const CheckpointMeta& meta) override {
    save_checkpoint(path, model_, &opt_, meta);
  }
  CheckpointMeta load(const std::string& path, bool with_optimizer) override {
    return load_checkpoint(path, model_, with_optimizer ? &opt_ : nullptr);
  }

 private:
  Llama model_;
  AdamW opt_;
  Device device_;
};

class OnGrid : public Engine {
 public:
  OnGrid(const parallel::ProcessGrid& grid, const TrainSetup& s, Device device)
      : trainer_(grid, s.model, s.loop.seed, s.optim, options(s.layout), device) {}
  bool root() const override { return trainer_.grid().rank() == 0; }
  int64_t num_params() override { return trainer_.num_params(); }
  double flops_per_step(int64_t batch, int64_t seq) override {
    return exp::train_flops_per_step(trainer_.model().config(), trainer_.num_params(false), batch,
                                     seq);
  }
  std::pair<double, float> step(const std::vector<data::TokenBatch>& batches) override {
    const double loss = trainer_.forward_backward(batches);
    const float norm = trainer_.optimizer_step();
    trainer_.zero_grad();
    return {loss, norm};
  }
  double eval_loss(const data::TokenBatch& batch) override { return trainer_.eval_loss(batch); }
  float last_lr() const override { return trainer_.last_lr(); }
  void save(const std::string& path, const CheckpointMeta& meta) override {
    trainer_.save_checkpoint(path, meta);
  }
  CheckpointMeta load(const std::string& path, bool with_optimizer) override {
    return trainer_.load_checkpoint(path, with_optimizer);
  }

 private:
  static parallel::ParallelOptions options(const exp::ParallelLayoutOptions& l) {
    parallel::ParallelOptions o;
    o.micro_batches = l.micro_batches;
    o.zero1 = l.zero1;
    o.timeout_s = l.comm_timeout;
    return o;
  }
  parallel::ParallelTrainer trainer_;
};

// The training loop: every rank runs it; the root alone writes and prints.
// `dp_rank` of `dp_size` picks this rank's rows of each global batch.
int train_loop(const TrainSetup& s, const data::Tokenizer& tok, const data::TokenDataset& train_set,
               Engine& engine, int dp_rank, int dp_size) {
  const exp::TrainLoopOptions& t = s.loop;
  exp::RunDir run(t.run_dir, t.resume);
  data::PackedLoader loader(train_set, t.batch_size, t.seq_len, dp_rank, dp_size);
  int64_t step = 0, tokens_seen = 0;
  if (t.resume) {
    const std::string ckpt = run.latest_checkpoint();
    if (ckpt.empty()) fail("train --resume: run directory ", t.run_dir, " has no checkpoint");
    const CheckpointMeta meta = engine.load(ckpt, true);
    step = meta.step;
    tokens_seen = meta.tokens_seen;
    loader.set_position(meta.data_position);
    if (engine.root()) {
      run.truncate_metrics_after(step);
      std::cerr << "resuming " << t.run_dir << " at step " << step << " from " << ckpt << "\n";
    }
  } else {
    if (!t.init_from.empty()) {
      const std::string ckpt = std::filesystem::is_directory(t.init_from)
                                   ? exp::locate_model(t.init_from).checkpoint
                                   : t.init_from;
      engine.load(ckpt, false);
    }
    if (engine.root()) {
      run.write_config(s.config_text);
      std::filesystem::copy_file(s.tokenizer_path, t.run_dir + "/tokenizer.model",
                                 std::filesystem::copy_options::overwrite_existing);
    }
  }
  std::unique_ptr<data::TokenDataset> valid_set;
  if (!s.valid_path.empty())
    valid_set = std::make_unique<data::TokenDataset>(data::TokenDataset::open(s.valid_path, tok));

  const int64_t last = t.stop_at > 0 ? std::min(t.stop_at, t.steps) : t.steps;
  const int64_t tokens_per_step = t.batch_size * t.seq_len * t.grad_accum;
  const double step_flops = engine.flops_per_step(t.batch_size * t.grad_accum, t.seq_len);
  const int64_t params = engine.num_params();
  if (engine.root()) {
    std::cerr << "model: " << params << " parameters, " << s.model.n_layers << " layers, dim "
              << s.model.dim << ", vocab " << s.model.vocab_size << "; " << tokens_per_step
              << " tokens/step";
    if (dp_size > 1 || s.layout.requested())
      std::cerr << "; ranks dp " << dp_size << " x pp " << s.layout.pp << " x tp " << s.layout.tp;
    std::cerr << "\n";
  }
  auto save = [&](int64_t at) {
    CheckpointMeta meta{at, tokens_seen, loader.position(), "", s.config_text};
    engine.save(run.checkpoint_path(at), meta);
    if (engine.root()) run.prune_checkpoints(static_cast<int>(t.keep_checkpoints));
  };
  const auto start = Clock::now();
  auto window_start = start;
  int64_t window_steps = 0;
  while (step < last) {
    ++step;
    std::vector<data::TokenBatch> batches;
    for (int64_t micro = 0; micro < t.grad_accum; ++micro) batches.push_back(loader.next());
    const auto [loss, norm] = engine.step(batches);
    tokens_seen += tokens_per_step;
    ++window_steps;
    if (!std::isfinite(loss)) fail("train: loss became ", loss, " at step ", step);
    if (engine.root() && (step % t.log_every == 0 || step == last)) {
      const auto now = Clock::now();
      const double dt = std::chrono::duration<double>(now - window_start).count();
      const double tok_s = static_cast<double>(window_steps * tokens_per_step) / dt;
      const double eta = dt / window_steps * static_cast<double>(last - step);
      std::cerr << "step " << step << "/" << t.steps << " loss " << std::fixed
                << std::setprecision(4) << loss << " lr " << std::scientific << std::setprecision(2)
                << engine.last_lr() << std::defaultfloat << " tok/s " << static_cast<int64_t>(tok_s)
                << " eta " << exp::format_duration(eta) << "\n";
      run.log({{"step", step},
               {"loss", loss},
               {"lr", engine.last_lr()},
               {"grad_norm", norm},
               {"tokens", tokens_seen},
               {"tok_per_s", tok_s},
               {"gflops", step_flops * window_steps / dt / 1e9},
               {"elapsed_s", std::chrono::duration<double>(now - start).count()}});
      window_start = now;
      window_steps = 0;
    }
    if (valid_set && t.eval_every > 0 && (step % t.eval_every == 0 || step == last)) {
      data::PackedLoader vloader(*valid_set, t.batch_size, t.seq_len, dp_rank, dp_size);
      double sum = 0;
      for (int64_t b = 0; b < t.eval_batches; ++b) sum += engine.eval_loss(vloader.next());
      const double vl = sum / static_cast<double>(t.eval_batches);
      if (engine.root()) {
        std::cerr << "step " << step << " validation loss " << vl << " ppl " << std::exp(vl)
                  << "\n";
        run.log({{"step", step}, {"val_loss", vl}, {"val_ppl", std::exp(vl)}});
      }
    }
    if ((t.save_every > 0 && step % t.save_every == 0) || step == last) save(step);
  }
  if (engine.root())
    std::cerr << "done: step " << step << ", checkpoint " << run.latest_checkpoint() << "\n";
  return 0;
}

}  // namespace

int train(const cli::Args& args) {
  TrainSetup s;
  exp::TrainLoopOptions& t = s.loop;
  cli::po::options_description desc("train");
  exp::add_model_options(desc, s.model);
  exp::add_optim_options(desc, s.optim);
  exp::add_train_options(desc, t);
  exp::add_parallel_options(desc, s.layout);
  desc.add_options()("data.train", cli::po::value(&s.train_path)->required(), "training .h5")(
      "data.valid", cli::po::value(&s.valid_path)->default_value(""), "validation .h5")(
      "data.tokenizer", cli::po::value(&s.tokenizer_path)->required(), "SentencePiece .model");
  cli::po::variables_map vm;
  if (!cli::parse("train", desc, args, vm)) return 0;
  if (t.batch_size <= 0 || t.seq_len <= 0 || t.steps <= 0 || t.grad_accum <= 0)
    fail("train: batch_size, seq_len, steps and grad_accum must be positive");
  s.config_text = cli::to_config_text(vm);

  const data::Tokenizer tok = data::Tokenizer::load(s.tokenizer_path);
  const data::TokenDataset train_set = data::TokenDataset::open(s.train_path, tok);
  if (s.model.vocab_size == 0) s.model.vocab_size = tok.vocab_size();
  if (s.model.vocab_size < tok.vocab_size())
    fail("train: --model.vocab_size ", s.model.vocab_size, " is smaller than the tokenizer's ",
         tok.vocab_size());
  s.optim.total_steps = t.steps;

  if (!s.layout.requested() && !parallel::launched_as_several_ranks()) {
    OneRank engine(s, exp::parse_device(t.device));
    return train_loop(s, tok, train_set, engine, 0, 1);
  }
  parallel::MpiSession mpi;
  return parallel::run_or_abort_job([&] {
    parallel::ProcessGrid grid(s.layout.tp, s.layout.pp);
#ifdef CONDENSE_HAVE_CUDA
    // One GPU per rank on a node.
    if (t.device == "cuda") cuda::register_backend(grid.local_rank());
#endif
    OnGrid engine(grid, s, exp::parse_device(t.device));
    return train_loop(s, tok, train_set, engine, grid.dp_rank(), grid.dp_size());
  });
}

}  // namespace condense::cmd
