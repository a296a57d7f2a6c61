// condense train: language-model training on a token dataset.
//   config -> model -> [forward -> loss -> backward] x grad_accum -> AdamW -> log/save
// A run directory holds config.cfg, metrics.jsonl and checkpoints; --resume
// continues from the newest checkpoint and reproduces the uninterrupted run
// exactly (weights, optimizer moments, step and data position are all saved).
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>

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

// Mean next-token loss over up to `batches` batches of a loader.
double mean_loss(const Llama& model, data::PackedLoader& loader, int64_t batches, Device device) {
  Tape no_grad(false);
  double sum = 0;
  for (int64_t b = 0; b < batches; ++b) {
    const DeviceBatch batch = to_device(loader.next(), device);
    Var logits = model.forward(no_grad, ForwardArgs::tokens(batch.inputs));
    sum += ops::cross_entropy(no_grad, logits, batch.targets).value().to_vector()[0];
  }
  return sum / static_cast<double>(batches);
}

}  // namespace

int train(const cli::Args& args) {
  LlamaConfig mcfg;
  AdamWConfig ocfg;
  exp::TrainLoopOptions t;
  std::string train_path, valid_path, tokenizer_path;
  cli::po::options_description desc("train");
  exp::add_model_options(desc, mcfg);
  exp::add_optim_options(desc, ocfg);
  exp::add_train_options(desc, t);
  desc.add_options()("data.train", cli::po::value(&train_path)->required(), "training .h5")(
      "data.valid", cli::po::value(&valid_path)->default_value(""), "validation .h5")(
      "data.tokenizer", cli::po::value(&tokenizer_path)->required(), "SentencePiece .model");
  cli::po::variables_map vm;
  if (!cli::parse("train", desc, args, vm)) return 0;
  if (t.batch_size <= 0 || t.seq_len <= 0 || t.steps <= 0 || t.grad_accum <= 0)
    fail("train: batch_size, seq_len, steps and grad_accum must be positive");
  const Device device = exp::parse_device(t.device);

  const data::Tokenizer tok = data::Tokenizer::load(tokenizer_path);
  const data::TokenDataset train_set = data::TokenDataset::open(train_path, tok);
  if (mcfg.vocab_size == 0) mcfg.vocab_size = tok.vocab_size();
  if (mcfg.vocab_size < tok.vocab_size())
    fail("train: --model.vocab_size ", mcfg.vocab_size, " is smaller than the tokenizer's ",
         tok.vocab_size());
  ocfg.total_steps = t.steps;

  exp::RunDir run(t.run_dir, t.resume);
  Llama model(mcfg, t.seed);
  AdamW opt(model.params(), ocfg);
  data::PackedLoader loader(train_set, t.batch_size, t.seq_len);
  int64_t step = 0, tokens_seen = 0;
  if (t.resume) {
    const std::string ckpt = run.latest_checkpoint();
    if (ckpt.empty()) fail("train --resume: run directory ", t.run_dir, " has no checkpoint");
    const CheckpointMeta meta = load_checkpoint(ckpt, model, &opt);
    step = meta.step;
    tokens_seen = meta.tokens_seen;
    loader.set_position(meta.data_position);
    run.truncate_metrics_after(step);
    std::cerr << "resuming " << t.run_dir << " at step " << step << " from " << ckpt << "\n";
  } else {
    if (!t.init_from.empty()) {
      const std::string ckpt = std::filesystem::is_directory(t.init_from)
                                   ? exp::locate_model(t.init_from).checkpoint
                                   : t.init_from;
      load_checkpoint(ckpt, model, nullptr);
    }
    run.write_config(cli::to_config_text(vm));
    std::filesystem::copy_file(tokenizer_path, t.run_dir + "/tokenizer.model",
                               std::filesystem::copy_options::overwrite_existing);
  }
  if (device != Device::cpu) model.to(device);
  std::unique_ptr<data::TokenDataset> valid_set;
  if (!valid_path.empty())
    valid_set = std::make_unique<data::TokenDataset>(data::TokenDataset::open(valid_path, tok));

  const int64_t last = t.stop_at > 0 ? std::min(t.stop_at, t.steps) : t.steps;
  const int64_t tokens_per_step = t.batch_size * t.seq_len * t.grad_accum;
  const double flops_per_step = exp::train_flops_per_step(model, t.batch_size * t.grad_accum,
                                                          t.seq_len);
  std::cerr << "model: " << model.num_params() << " parameters, " << mcfg.n_layers << " layers, dim "
            << mcfg.dim << ", vocab " << mcfg.vocab_size << "; " << tokens_per_step
            << " tokens/step\n";
  auto save = [&](int64_t at) {
    CheckpointMeta meta{at, tokens_seen, loader.position(), "", cli::to_config_text(vm)};
    save_checkpoint(run.checkpoint_path(at), model, &opt, meta);
    run.prune_checkpoints(static_cast<int>(t.keep_checkpoints));
  };
  const auto start = Clock::now();
  auto window_start = start;
  int64_t window_steps = 0;
  while (step < last) {
    ++step;
    double loss_sum = 0;
    for (int64_t micro = 0; micro < t.grad_accum; ++micro) {
      const DeviceBatch batch = to_device(loader.next(), device);
      Tape tape;
      Var logits = model.forward(tape, ForwardArgs::tokens(batch.inputs));
      Var loss = ops::cross_entropy(tape, logits, batch.targets);
      tape.backward(loss);
      loss_sum += loss.value().to_vector()[0];
    }
    const float norm = opt.step(1.0f / static_cast<float>(t.grad_accum));
    opt.zero_grad();
    tokens_seen += tokens_per_step;
    ++window_steps;
    const double loss = loss_sum / static_cast<double>(t.grad_accum);
    if (!std::isfinite(loss)) fail("train: loss became ", loss, " at step ", step);
    if (step % t.log_every == 0 || step == last) {
      const auto now = Clock::now();
      const double dt = std::chrono::duration<double>(now - window_start).count();
      const double tok_s = static_cast<double>(window_steps * tokens_per_step) / dt;
      const double eta = dt / window_steps * static_cast<double>(last - step);
      std::cerr << "step " << step << "/" << t.steps << " loss " << std::fixed
                << std::setprecision(4) << loss << " lr " << std::scientific
                << std::setprecision(2) << opt.last_lr() << std::defaultfloat << " tok/s "
                << static_cast<int64_t>(tok_s) << " eta " << exp::format_duration(eta) << "\n";
      run.log({{"step", step},
               {"loss", loss},
               {"lr", opt.last_lr()},
               {"grad_norm", norm},
               {"tokens", tokens_seen},
               {"tok_per_s", tok_s},
               {"gflops", flops_per_step * window_steps / dt / 1e9},
               {"elapsed_s", std::chrono::duration<double>(now - start).count()}});
      window_start = now;
      window_steps = 0;
    }
    if (valid_set && t.eval_every > 0 && (step % t.eval_every == 0 || step == last)) {
      data::PackedLoader vloader(*valid_set, t.batch_size, t.seq_len);
      const double vl = mean_loss(model, vloader, t.eval_batches, device);
      std::cerr << "step " << step << " validation loss " << vl << " ppl " << std::exp(vl) << "\n";
      run.log({{"step", step}, {"val_loss", vl}, {"val_ppl", std::exp(vl)}});
    }
    if ((t.save_every > 0 && step % t.save_every == 0) || step == last) save(step);
  }
  std::cerr << "done: step " << step << ", checkpoint " << run.latest_checkpoint() << "\n";
  return 0;
}

}  // namespace condense::cmd
