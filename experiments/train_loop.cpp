#include "experiments/train_loop.h"

#include <cmath>
#include <filesystem>
#include <iostream>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/fault.h"
#include "experiments/run_base.h"
#include "experiments/run_dir.h"
#include "experiments/train_engine.h"

namespace condense::exp {

int train(methods::Method& method, const TrainRun& r) {
  const TrainLoopOptions& t = r.loop;
  if (t.batch_size <= 0 || t.seq_len <= 0 || t.steps <= 0 || t.grad_accum <= 0)
    fail("train: batch_size, seq_len, steps and grad_accum must be positive");
  method.open(t, true);
  RunDir run(t.run_dir, t.resume);
  std::string resume_from;
  methods::ModelStart start;
  if (t.resume) {
    resume_from = run.latest_checkpoint();
    if (resume_from.empty())
      fail("train --resume: run directory ", t.run_dir, " has no checkpoint");
    start.config = read_checkpoint_config(resume_from);
  } else {
    start = method.model_start(r.model, t.init_from);
  }
  EngineSetup setup;
  setup.model = start.config;
  setup.seed = t.seed;
  setup.optim = r.optim;
  setup.optim.total_steps = t.steps;
  setup.layout = r.layout;
  setup.device = t.device;
  setup.extend = [&method](Llama& shard) { method.extend(shard); };

  return run_with_engine(setup, [&](Engine& engine, int dp_rank, int dp_size) {
    const bool root = engine.root();
    if (root && !method.describe_data().empty()) std::cerr << method.describe_data() << "\n";
    std::unique_ptr<methods::BatchSource> source = method.batches(dp_rank, dp_size);
    int64_t step = 0, tokens_seen = 0;
    if (t.resume) {
      const CheckpointMeta meta = engine.load(resume_from, true);
      step = meta.step;
      tokens_seen = meta.tokens_seen;
      source->set_position(meta.data_position);
      if (root) {
        run.truncate_metrics_after(step);
        std::cerr << "resuming " << t.run_dir << " at step " << step << " from " << resume_from
                  << "\n";
      }
    } else {
      if (start.weights) engine.set_weights(*start.weights);
      if (!start.checkpoint.empty()) engine.load(start.checkpoint, false);
      if (root) {
        run.write_config(r.config_text);
        write_run_base(t.run_dir, t.init_from, t.seed, start.config);
        std::filesystem::copy_file(method.tokenizer_path(), t.run_dir + "/tokenizer.model",
                                   std::filesystem::copy_options::overwrite_existing);
      }
    }
    start.weights.reset();

    // Every rank gathers the model; the root evaluates while the others wait.
    auto evaluate = [&](int64_t at) {
      if (method.tasks().empty() || method.evaluated(t.run_dir, at)) return;
      const Llama* model = engine.whole_model();
      if (root)
        for (const std::string& task : method.tasks()) {
          const std::string summary = method.evaluate(task, *model, at, t.run_dir, &run);
          std::cerr << "step " << at << " " << summary << "\n";
        }
      engine.wait_for_root();
    };

    const int64_t last = t.stop_at > 0 ? std::min(t.stop_at, t.steps) : t.steps;
    const double step_flops = method.step_flops(engine);
    const int64_t params = engine.num_params();
    if (root) {
      std::cerr << "model: " << params << " parameters, " << setup.model.n_layers << " layers, dim "
                << setup.model.dim << ", vocab " << setup.model.vocab_size
                << method.describe_model(setup.model);
      if (dp_size > 1 || r.layout.requested())
        std::cerr << "; ranks dp " << dp_size << " x pp " << r.layout.pp << " x tp " << r.layout.tp;
      std::cerr << "\n";
    }
    ProgressLog progress(run, t.steps, last);
    const int64_t eval_every = method.eval_every();
    while (step < last) {
      ++step;
      std::vector<data::TokenBatch> batches;
      int64_t step_tokens = 0;
      for (int64_t micro = 0; micro < t.grad_accum; ++micro)
        batches.push_back(source->next(step_tokens));
      const auto [step_loss, norm] = method.train_step(engine, batches);
      const double loss = fault::nan_at_step(step) ? std::nan("") : step_loss;
      tokens_seen += step_tokens;
      progress.add_step(step_tokens);
      if (!std::isfinite(loss)) fail("train: loss became ", loss, " at step ", step);
      if (root && (step % t.log_every == 0 || step == last))
        progress.report(step, loss, engine.last_lr(), norm, tokens_seen, step_flops);
      if (t.eval_every > 0 && (step % t.eval_every == 0 || step == last)) {
        const std::optional<double> vl = method.validation_loss(engine, dp_rank, dp_size);
        if (vl && root) {
          std::cerr << "step " << step << " validation loss " << *vl << " ppl " << std::exp(*vl)
                    << "\n";
          run.log({{"step", step}, {"val_loss", *vl}, {"val_ppl", std::exp(*vl)}});
        }
      }
      if ((t.save_every > 0 && step % t.save_every == 0) || step == last) {
        CheckpointMeta meta;
        meta.step = step;
        meta.tokens_seen = tokens_seen;
        meta.data_position = source->position();
        meta.config_text = r.config_text;
        engine.save(run.checkpoint_path(step), meta);
        if (root) run.prune_checkpoints(static_cast<int>(t.keep_checkpoints));
      }
      if (eval_every > 0 && step % eval_every == 0 && step < t.steps) evaluate(step);
    }
    if (step == t.steps) evaluate(step);
    if (root)
      std::cerr << "done: step " << step << ", checkpoint " << run.latest_checkpoint() << "\n";
    return 0;
  });
}

}  // namespace condense::exp
