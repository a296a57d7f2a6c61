// condense gist train: fine-tunes (or trains from scratch) a LLaMA with gist tokens
// on Alpaca+ (METHODS.md §1), then evaluates it (gist eval).
//   config -> data (prepared by gist prepare) -> model (+1 vocab row for <GIST>)
//   -> [gist batch -> forward under the condition's mask -> completion loss -> backward]
//   x grad_accum -> AdamW -> log / save / evaluate
// Run directories, checkpoints and --resume work as in `condense train`: a resumed run
// continues from its newest checkpoint with the same weights, optimizer moments and
// data position, and an already finished run only completes a missing evaluation.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>

#include "core/checkpoint.h"
#include "core/ops.h"
#include "datasets/tokenizer.h"
#include "experiments/device.h"
#include "experiments/methods/gist_eval.h"
#include "experiments/methods/gist_sampler.h"
#include "experiments/model_dir.h"
#include "experiments/run_dir.h"

namespace condense::cmd {
namespace {

using Clock = std::chrono::steady_clock;

// The model to train: the run's own (resume), a pretrained one given one more vocab
// row for <GIST> (mean-initialised, METHODS.md §1.1), or a fresh one.
Llama build_model(const gist::Options& o, const exp::RunDir& run, int64_t gist_vocab) {
  if (o.train.resume) {
    const std::string ckpt = run.latest_checkpoint();
    if (ckpt.empty()) fail("gist train --resume: run directory ", run.path(), " has no checkpoint");
    return Llama(read_checkpoint_config(ckpt), o.train.seed);
  }
  if (!o.train.init_from.empty()) {
    const std::string ckpt = std::filesystem::is_directory(o.train.init_from)
                                 ? exp::locate_model(o.train.init_from).checkpoint
                                 : o.train.init_from;
    const LlamaConfig c = read_checkpoint_config(ckpt);
    if (c.vocab_size != gist_vocab - 1 && c.vocab_size != gist_vocab)
      fail("gist train: ", ckpt, " has vocab ", c.vocab_size, " but the tokenizer has ",
           gist_vocab - 1, " tokens");
    Llama model(c, o.train.seed);
    load_checkpoint(ckpt, model, nullptr);
    model.resize_vocab(gist_vocab);
    return model;
  }
  LlamaConfig c = o.model;
  if (c.vocab_size == 0) c.vocab_size = gist_vocab;
  if (c.vocab_size < gist_vocab)
    fail("gist train: --model.vocab_size ", c.vocab_size, " leaves no row for <GIST> (need ",
         gist_vocab, ")");
  return Llama(c, o.train.seed);
}

// Mean completion loss over the first `batches` batches of a split (fixed examples).
double validation_loss(const Llama& model, const gist::Method& m, const gist::Split& s,
                       int64_t batches, int64_t batch_size, int64_t max_length) {
  const std::vector<int64_t> idx = gist::trainable(s, m.layout, max_length);
  Tape no_grad(false);
  double sum = 0;
  int64_t n = 0;
  for (int64_t b = 0; b < batches && (b + 1) * batch_size <= int64_t(idx.size()); ++b, ++n) {
    std::vector<const gist::Example*> rows;
    for (int64_t r = 0; r < batch_size; ++r) rows.push_back(&s.examples[idx[b * batch_size + r]]);
    const gist::Batch batch = gist::training_batch(m, rows, max_length, model.device());
    ForwardArgs fa;
    fa.ids = batch.ids;
    fa.pos = batch.pos;
    fa.mask = batch.mask;
    sum += ops::cross_entropy(no_grad, model.forward(no_grad, fa), batch.targets)
               .value()
               .to_vector()[0];
  }
  return n ? sum / double(n) : std::nan("");
}

void log_eval(const exp::RunDir& run, int64_t step, const std::vector<gist::SplitScores>& scores) {
  nlohmann::json j = {{"step", step}};
  for (const gist::SplitScores& s : scores) {
    j[s.split + "_rouge1"] = 100 * s.rouge.rouge1;
    j[s.split + "_rouge2"] = 100 * s.rouge.rouge2;
    j[s.split + "_rougeL"] = 100 * s.rouge.rougeL;
    j[s.split + "_rougeLsum"] = 100 * s.rouge.rougeLsum;
  }
  run.log(j);
}

}  // namespace

int gist_train(const cli::Args& args) {
  gist::Options o;
  cli::po::options_description desc("gist train");
  gist::add_options(desc, o, true);
  cli::po::variables_map vm;
  if (!cli::parse("gist train", desc, args, vm)) return 0;
  const exp::TrainLoopOptions& t = o.train;
  if (t.batch_size <= 0 || t.seq_len <= 0 || t.steps <= 0 || t.grad_accum <= 0)
    fail("gist train: batch_size, seq_len, steps and grad_accum must be positive");
  if (o.num_tokens <= 0) fail("gist train: gist.num_tokens must be positive");
  const gist::Condition condition = gist::parse_condition(o.condition);
  const Device device = exp::parse_device(t.device);

  const gist::DataFiles files = gist::DataFiles::in(o.data_dir);
  const data::Tokenizer tok = data::Tokenizer::load(files.tokenizer);
  const gist::Template tmpl = gist::Template::make(tok);
  const gist::Method method{{o.num_tokens, tmpl.gist_id}, condition, tmpl.eos};
  const gist::CacheMode cache = gist::eval_cache_mode(o.eval.cache, method.condition);
  const gist::Split train_set = gist::load_split(files.train, tok, tmpl);
  // train.seq_len is the longest training sequence (gisting's max_length).
  const std::vector<int64_t> items = gist::trainable(train_set, method.layout, t.seq_len);
  std::vector<int64_t> lengths;
  for (int64_t i : items) {
    const gist::Example& e = train_set.examples[i];
    lengths.push_back(std::min<int64_t>(
        t.seq_len, method.layout.prompt_length(e) + static_cast<int64_t>(e.completion.size())));
  }
  std::cerr << "gist train: " << items.size() << " of " << train_set.examples.size()
            << " examples fit " << t.seq_len << " tokens; k=" << o.num_tokens << " condition "
            << o.condition << "\n";

  exp::RunDir run(t.run_dir, t.resume);
  Llama model = build_model(o, run, tmpl.gist_id + 1);
  AdamWConfig ocfg = o.optim;
  ocfg.total_steps = t.steps;
  AdamW opt(model.params(), ocfg);
  gist::BatchSampler sampler(items, lengths, t.batch_size, t.seed);
  int64_t step = 0, tokens_seen = 0;
  if (t.resume) {
    const std::string ckpt = run.latest_checkpoint();
    const CheckpointMeta meta = load_checkpoint(ckpt, model, &opt);
    step = meta.step;
    tokens_seen = meta.tokens_seen;
    sampler.set_position(meta.data_position);
    run.truncate_metrics_after(step);
    std::cerr << "resuming " << t.run_dir << " at step " << step << " from " << ckpt << "\n";
  } else {
    run.write_config(cli::to_config_text(vm));
    std::filesystem::copy_file(files.tokenizer, t.run_dir + "/tokenizer.model",
                               std::filesystem::copy_options::overwrite_existing);
  }
  if (device != Device::cpu) model.to(device);
  std::unique_ptr<gist::Split> valid;
  if (t.eval_every > 0 && std::filesystem::exists(files.eval[1]))
    valid = std::make_unique<gist::Split>(gist::load_split(files.eval[1], tok, tmpl));

  const std::string eval_dir = t.run_dir + "/eval";
  auto evaluate = [&](int64_t at) {
    if (std::filesystem::exists(gist::summary_json(eval_dir, at))) return;
    const auto scores = gist::evaluate(model, method, cache, tok, o.data_dir, o.eval, at, eval_dir);
    log_eval(run, at, scores);
    std::cerr << "step " << at << " " << gist::format_scores(scores) << "\n";
  };

  const int64_t last = t.stop_at > 0 ? std::min(t.stop_at, t.steps) : t.steps;
  std::cerr << "model: " << model.num_params() << " parameters, " << model.config().n_layers
            << " layers, dim " << model.config().dim << ", vocab " << model.config().vocab_size
            << " (<GIST> = " << tmpl.gist_id << ")\n";
  const auto start = Clock::now();
  auto window_start = start;
  int64_t window_steps = 0, window_tokens = 0;
  while (step < last) {
    ++step;
    double loss_sum = 0;
    for (int64_t micro = 0; micro < t.grad_accum; ++micro) {
      std::vector<const gist::Example*> rows;
      for (int64_t i : sampler.next()) rows.push_back(&train_set.examples[i]);
      const gist::Batch batch = gist::training_batch(method, rows, t.seq_len, device);
      Tape tape;
      ForwardArgs fa;
      fa.ids = batch.ids;
      fa.pos = batch.pos;
      fa.mask = batch.mask;
      Var loss = ops::cross_entropy(tape, model.forward(tape, fa), batch.targets);
      tape.backward(loss);
      loss_sum += loss.value().to_vector()[0];
      tokens_seen += batch.tokens;
      window_tokens += batch.tokens;
    }
    const float norm = opt.step(1.0f / static_cast<float>(t.grad_accum));
    opt.zero_grad();
    ++window_steps;
    const double loss = loss_sum / static_cast<double>(t.grad_accum);
    if (!std::isfinite(loss)) fail("gist train: loss became ", loss, " at step ", step);
    if (step % t.log_every == 0 || step == last) {
      const auto now = Clock::now();
      const double dt = std::chrono::duration<double>(now - window_start).count();
      const double eta = dt / window_steps * static_cast<double>(last - step);
      std::cerr << "step " << step << "/" << t.steps << " loss " << std::fixed
                << std::setprecision(4) << loss << " lr " << std::scientific << std::setprecision(2)
                << opt.last_lr() << std::defaultfloat << " tok/s "
                << static_cast<int64_t>(window_tokens / dt) << " eta " << exp::format_duration(eta)
                << "\n";
      run.log({{"step", step},
               {"loss", loss},
               {"lr", opt.last_lr()},
               {"grad_norm", norm},
               {"tokens", tokens_seen},
               {"tok_per_s", window_tokens / dt},
               {"elapsed_s", std::chrono::duration<double>(now - start).count()}});
      window_start = now;
      window_steps = window_tokens = 0;
    }
    if (valid && (step % t.eval_every == 0 || step == last)) {
      const double vl =
          validation_loss(model, method, *valid, t.eval_batches, t.batch_size, t.seq_len);
      std::cerr << "step " << step << " validation loss (unseen) " << vl << "\n";
      run.log({{"step", step}, {"val_loss", vl}});
    }
    if ((t.save_every > 0 && step % t.save_every == 0) || step == last) {
      CheckpointMeta meta{step, tokens_seen, sampler.position(), "", cli::to_config_text(vm)};
      save_checkpoint(run.checkpoint_path(step), model, &opt, meta);
      run.prune_checkpoints(static_cast<int>(t.keep_checkpoints));
    }
    if (o.eval.every > 0 && step % o.eval.every == 0 && step < t.steps) evaluate(step);
  }
  if (step == t.steps) evaluate(step);
  std::cerr << "done: step " << step << ", checkpoint " << run.latest_checkpoint() << "\n";
  return 0;
}

}  // namespace condense::cmd
