// condense gist train: fine-tunes (or trains from scratch) a LLaMA with gist tokens
// on Alpaca+ (METHODS.md §1), then evaluates it (gist eval).
//   config -> data (prepared by gist prepare) -> model (+1 vocab row for <GIST>)
//   -> [gist batch -> forward under the condition's mask -> completion loss -> backward]
//   x grad_accum -> AdamW -> log / save / evaluate
// At one rank, or on a dp × pp × tp grid of the ranks mpirun/srun started (--tp,
// --pp, --micro-batches, --zero1, as `condense train`): every rank draws the same
// global batch and trains on its rows of it, positions and gist mask included, so
// the losses are the single-rank ones; rank 0 writes the run directory and runs the
// ROUGE evaluation on the gathered model while the others wait.
// Run directories, checkpoints and --resume work as in `condense train`: a resumed run
// continues from its newest checkpoint with the same weights, optimizer moments and
// data position (under any layout), and an already finished run only completes a
// missing evaluation.
#include <cmath>
#include <filesystem>
#include <iostream>

#include "datasets/tokenizer.h"
#include "experiments/methods/gist_eval.h"
#include "experiments/methods/gist_sampler.h"
#include "experiments/model_dir.h"
#include "experiments/run_dir.h"
#include "experiments/train_engine.h"

namespace condense::cmd {
namespace {

// The model to train: the run's own (resume), a pretrained one given more vocab rows
// (`pretrained`), or a fresh one. The vocabulary is --model.vocab_size when given
// (say, a multiple of --tp: tensor parallelism splits it), else the tokenizer's
// plus the row for <GIST>; rows a pretrained model lacks are set to the mean of its
// rows (METHODS.md §1.1).
LlamaConfig model_config(const gist::Options& o, const exp::RunDir& run, int64_t gist_vocab,
                         std::unique_ptr<Llama>& pretrained) {
  if (o.train.resume) {
    const std::string ckpt = run.latest_checkpoint();
    if (ckpt.empty()) fail("gist train --resume: run directory ", run.path(), " has no checkpoint");
    return read_checkpoint_config(ckpt);
  }
  const int64_t vocab = o.model.vocab_size > 0 ? o.model.vocab_size : gist_vocab;
  if (vocab < gist_vocab)
    fail("gist train: --model.vocab_size ", vocab, " leaves no row for <GIST> (need ", gist_vocab,
         ")");
  if (!o.train.init_from.empty()) {
    const std::string ckpt = exp::checkpoint_in(o.train.init_from);
    const int64_t V = read_checkpoint_config(ckpt).vocab_size;
    if (V < gist_vocab - 1 || V > vocab)
      fail("gist train: ", ckpt, " has vocab ", V, " but the tokenizer has ", gist_vocab - 1,
           " tokens and the model will have ", vocab);
    pretrained = std::make_unique<Llama>(exp::load_model(ckpt, Device::cpu));
    pretrained->resize_vocab(vocab);
    return pretrained->config();
  }
  LlamaConfig c = o.model;
  c.vocab_size = vocab;
  return c;
}

// This data-parallel rank's rows of the training batch of `examples`.
data::TokenBatch my_rows(const gist::Method& m, const std::vector<const gist::Example*>& examples,
                         int64_t max_length, int dp_rank, int dp_size, int64_t* tokens) {
  const gist::TrainingBatch b = gist::training_batch(m, examples, max_length);
  if (tokens) *tokens += b.tokens;
  return data::rows_of(b.rows, data::shard_begin(b.rows.rows, dp_rank, dp_size),
                       data::shard_end(b.rows.rows, dp_rank, dp_size));
}

// Mean completion loss over the first `batches` batches of a split (fixed examples).
double validation_loss(exp::Engine& engine, const gist::Method& m, const gist::Split& s,
                       int64_t batches, int64_t batch_size, int64_t max_length, int dp_rank,
                       int dp_size) {
  const std::vector<int64_t> idx = gist::trainable(s, m.layout, max_length);
  double sum = 0;
  int64_t n = 0;
  for (int64_t b = 0; b < batches && (b + 1) * batch_size <= int64_t(idx.size()); ++b, ++n) {
    std::vector<const gist::Example*> rows;
    for (int64_t r = 0; r < batch_size; ++r) rows.push_back(&s.examples[idx[b * batch_size + r]]);
    sum += engine.eval_loss(my_rows(m, rows, max_length, dp_rank, dp_size, nullptr));
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
  exp::ParallelLayoutOptions layout;
  exp::add_parallel_options(desc, layout);
  cli::po::variables_map vm;
  if (!cli::parse("gist train", desc, args, vm)) return 0;
  const exp::TrainLoopOptions& t = o.train;
  if (t.batch_size <= 0 || t.seq_len <= 0 || t.steps <= 0 || t.grad_accum <= 0)
    fail("gist train: batch_size, seq_len, steps and grad_accum must be positive");
  if (o.num_tokens <= 0) fail("gist train: gist.num_tokens must be positive");
  const gist::Condition condition = gist::parse_condition(o.condition);

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
  std::unique_ptr<gist::Split> valid;
  if (t.eval_every > 0 && std::filesystem::exists(files.eval[1]))
    valid = std::make_unique<gist::Split>(gist::load_split(files.eval[1], tok, tmpl));

  exp::RunDir run(t.run_dir, t.resume);
  std::unique_ptr<Llama> pretrained;
  exp::EngineSetup setup{model_config(o, run, tmpl.gist_id + 1, pretrained), t.seed, o.optim,
                         layout, t.device};
  setup.optim.total_steps = t.steps;

  return exp::run_with_engine(setup, [&](exp::Engine& engine, int dp_rank, int dp_size) {
    const bool root = engine.root();
    if (root)
      std::cerr << "gist train: " << items.size() << " of " << train_set.examples.size()
                << " examples fit " << t.seq_len << " tokens; k=" << o.num_tokens << " condition "
                << o.condition << "\n";
    gist::BatchSampler sampler(items, lengths, t.batch_size, t.seed);
    int64_t step = 0, tokens_seen = 0;
    if (t.resume) {
      const std::string ckpt = run.latest_checkpoint();
      const CheckpointMeta meta = engine.load(ckpt, true);
      step = meta.step;
      tokens_seen = meta.tokens_seen;
      sampler.set_position(meta.data_position);
      if (root) {
        run.truncate_metrics_after(step);
        std::cerr << "resuming " << t.run_dir << " at step " << step << " from " << ckpt << "\n";
      }
    } else {
      if (pretrained) engine.set_weights(*pretrained);
      if (root) {
        run.write_config(cli::to_config_text(vm));
        std::filesystem::copy_file(files.tokenizer, t.run_dir + "/tokenizer.model",
                                   std::filesystem::copy_options::overwrite_existing);
      }
    }
    pretrained.reset();

    const std::string eval_dir = t.run_dir + "/eval";
    auto evaluate = [&](int64_t at) {
      if (std::filesystem::exists(gist::summary_json(eval_dir, at))) return;
      const Llama* model = engine.whole_model();
      if (root) {
        const auto scores =
            gist::evaluate(*model, method, cache, tok, o.data_dir, o.eval, at, eval_dir);
        log_eval(run, at, scores);
        std::cerr << "step " << at << " " << gist::format_scores(scores) << "\n";
      }
      engine.wait_for_root();
    };

    const int64_t last = t.stop_at > 0 ? std::min(t.stop_at, t.steps) : t.steps;
    const int64_t params = engine.num_params();
    if (root) {
      std::cerr << "model: " << params << " parameters, " << setup.model.n_layers << " layers, dim "
                << setup.model.dim << ", vocab " << setup.model.vocab_size
                << " (<GIST> = " << tmpl.gist_id << ")";
      if (dp_size > 1 || layout.requested())
        std::cerr << "; ranks dp " << dp_size << " x pp " << layout.pp << " x tp " << layout.tp;
      std::cerr << "\n";
    }
    exp::ProgressLog progress(run, t.steps, last);
    while (step < last) {
      ++step;
      std::vector<data::TokenBatch> batches;
      int64_t step_tokens = 0;
      for (int64_t micro = 0; micro < t.grad_accum; ++micro) {
        std::vector<const gist::Example*> rows;
        for (int64_t i : sampler.next()) rows.push_back(&train_set.examples[i]);
        batches.push_back(my_rows(method, rows, t.seq_len, dp_rank, dp_size, &step_tokens));
      }
      const auto [loss, norm] = engine.step(batches);
      tokens_seen += step_tokens;
      progress.add_step(step_tokens);
      if (!std::isfinite(loss)) fail("gist train: loss became ", loss, " at step ", step);
      if (root && (step % t.log_every == 0 || step == last))
        progress.report(step, loss, engine.last_lr(), norm, tokens_seen);
      if (valid && (step % t.eval_every == 0 || step == last)) {
        const double vl = validation_loss(engine, method, *valid, t.eval_batches, t.batch_size,
                                          t.seq_len, dp_rank, dp_size);
        if (root) {
          std::cerr << "step " << step << " validation loss (unseen) " << vl << "\n";
          run.log({{"step", step}, {"val_loss", vl}});
        }
      }
      if ((t.save_every > 0 && step % t.save_every == 0) || step == last) {
        CheckpointMeta meta{step, tokens_seen, sampler.position(), "", cli::to_config_text(vm)};
        engine.save(run.checkpoint_path(step), meta);
        if (root) run.prune_checkpoints(static_cast<int>(t.keep_checkpoints));
      }
      if (o.eval.every > 0 && step % o.eval.every == 0 && step < t.steps) evaluate(step);
    }
    if (step == t.steps) evaluate(step);
    if (root)
      std::cerr << "done: step " << step << ", checkpoint " << run.latest_checkpoint() << "\n";
    return 0;
  });
}

}  // namespace condense::cmd
