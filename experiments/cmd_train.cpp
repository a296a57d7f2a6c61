// condense train: language-model training on a token dataset, at one rank or on
// a dp × pp × tp grid of the ranks mpirun/srun started (--tp, --pp,
// --micro-batches, --zero1; see parallel/).
//   config -> model -> [forward -> loss -> backward] x grad_accum -> AdamW -> log/save
// A run directory holds config.cfg, metrics.jsonl and checkpoints; --resume
// continues from the newest checkpoint and reproduces the uninterrupted run
// exactly (weights, optimizer moments, step and data position are all saved).
// Checkpoints hold whole tensors, so a run may resume under another layout.
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <vector>

#include "datasets/packed_loader.h"
#include "datasets/token_dataset.h"
#include "datasets/tokenizer.h"
#include "experiments/model_dir.h"
#include "experiments/run_dir.h"
#include "experiments/train_engine.h"

namespace condense::cmd {
namespace {

// Everything the command line and config file say.
struct TrainSetup {
  LlamaConfig model;
  AdamWConfig optim;
  exp::TrainLoopOptions loop;
  exp::ParallelLayoutOptions layout;
  std::string train_path, valid_path, tokenizer_path, config_text;
};

// The training loop: every rank runs it; the root alone writes and prints.
// `dp_rank` of `dp_size` picks this rank's rows of each global batch.
int train_loop(const TrainSetup& s, const data::Tokenizer& tok, const data::TokenDataset& train_set,
               exp::Engine& engine, int dp_rank, int dp_size) {
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
    if (!t.init_from.empty()) engine.load(exp::checkpoint_in(t.init_from), false);
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
  exp::ProgressLog progress(run, t.steps, last);
  while (step < last) {
    ++step;
    std::vector<data::TokenBatch> batches;
    for (int64_t micro = 0; micro < t.grad_accum; ++micro) batches.push_back(loader.next());
    const auto [loss, norm] = engine.step(batches);
    tokens_seen += tokens_per_step;
    progress.add_step(tokens_per_step);
    if (!std::isfinite(loss)) fail("train: loss became ", loss, " at step ", step);
    if (engine.root() && (step % t.log_every == 0 || step == last))
      progress.report(step, loss, engine.last_lr(), norm, tokens_seen, step_flops);
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

  exp::EngineSetup setup{s.model, t.seed, s.optim, s.layout, t.device};
  return exp::run_with_engine(setup, [&](exp::Engine& engine, int dp_rank, int dp_size) {
    return train_loop(s, tok, train_set, engine, dp_rank, dp_size);
  });
}

}  // namespace condense::cmd
