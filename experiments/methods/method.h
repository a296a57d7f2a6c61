// The interface every training/compression method implements, so that one set of
// commands runs them all (`condense train|eval|bench|chat|sweep --method NAME`):
//   - options: the method's own, in its namespace (`--gist.num_tokens`), plus those of
//     its data and task;
//   - what it adds to the model: the model it starts from (extra vocabulary rows),
//     and, through extend(), parameters, LoRA and the frozen set of every shard;
//   - how records become batches (a BatchSource of data::TokenBatch, the shape the
//     training engines split into data-parallel shares and pipeline micro-batches);
//   - its training loss: train_step(), by default the engine's masked next-token loss
//     over the batches' targets;
//   - its inference on instruction records: compress(context) -> Memory, then
//     answer(memory, query), which the evaluation tasks call;
//   - its sweep grid, results table and benchmark.
// A method lives in experiments/methods/<name>/ and is registered with one line in
// experiments/methods/registry.def.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/model.h"
#include "datasets/batch.h"
#include "eval/batch_generate.h"
#include "experiments/cli.h"
#include "experiments/tasks/instruct.h"
#include "experiments/train_engine.h"
#include "experiments/train_options.h"

namespace condense::exp {
class RunDir;
}

namespace condense::methods {

// This rank's training batches, in an order a checkpoint can resume exactly.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // This rank's rows of the next global batch; adds the global batch's real tokens to `tokens`.
  virtual data::TokenBatch next(int64_t& tokens) = 0;
  // Batches served so far: all a checkpoint stores of the data order.
  virtual int64_t position() const = 0;
  virtual void set_position(int64_t batches_served) = 0;
};

// How a fresh run's model starts: `config`, with random weights, or with `weights` (a
// whole model the method derived from a pretrained one), or loaded from `checkpoint`.
struct ModelStart {
  LlamaConfig config;
  std::unique_ptr<Llama> weights;
  std::string checkpoint;
};

// The start of a method that reads the starting weights (to initialize what it adds):
// the model of checkpoint `init_from` with its weights, else `requested` (random weights)
// with the tokenizer's vocabulary when it sets none. A vocabulary smaller than the
// tokenizer's is a one-line error naming `method`.
ModelStart start_with_weights(const LlamaConfig& requested, const std::string& init_from,
                              int64_t tokenizer_vocab, const std::string& method);
// The token embedding a run that starts at `start` trains from: the loaded weights',
// else that of the random model `seed` gives (the one the engine builds).
Tensor start_embedding(const ModelStart& start, uint64_t seed);

// What a method keeps of a batch of contexts for its answers.
struct Memory {
  std::vector<LayerKV> kv;  // per layer [B,M,Hkv,Dh]: keys (after RoPE) and values; empty: none
};

using Records = std::vector<const instruct::Example*>;

class Method {
 public:
  virtual ~Method() = default;
  // The name --method takes, and the namespace of the method's options.
  virtual const char* name() const = 0;

  // ---- options and data
  // Registers the method's options and those of its data and tasks, bound to members.
  virtual void add_options(cli::po::options_description& desc) = 0;
  // After parsing: checks the options and opens the tokenizer; with `training`, also the
  // training (and validation) data that batches() and validation_loss() draw from.
  virtual void open(const exp::TrainLoopOptions& train, bool training) = 0;
  virtual std::string tokenizer_path() const = 0;
  // Before a sweep's runs: with `may_build`, builds what is missing of the data from the
  // sources the options name; either way fails unless the training data are there.
  virtual void prepare_data(bool /*may_build*/) {}

  // ---- training
  // The model of a fresh run: the [model] options plus what the method adds.
  virtual ModelStart model_start(const LlamaConfig& requested, const std::string& init_from) = 0;
  // Run on every fresh model shard before its optimizer is built: where a method adds its
  // parameters and LoRA pairs and freezes what it does not train.
  virtual void extend(Llama& /*shard*/) const {}
  // Extra words for the run's banner: a line about the data (printed first) and what the
  // model line should add.
  virtual std::string describe_data() const { return ""; }
  virtual std::string describe_model(const LlamaConfig& /*model*/) const { return ""; }
  virtual std::unique_ptr<BatchSource> batches(int dp_rank, int dp_size) = 0;
  // One optimizer step over this rank's `batches` (one per gradient-accumulation
  // micro-step): the step's loss and the gradient norm before clipping.
  virtual std::pair<double, float> train_step(exp::Engine& engine,
                                              const std::vector<data::TokenBatch>& batches) {
    return engine.step(batches);
  }
  // Model FLOPs of one step when every step has the same shape (0: it varies).
  virtual double step_flops(exp::Engine& /*engine*/) const { return 0; }
  // Mean validation loss (every rank calls it), or nothing without validation data.
  virtual std::optional<double> validation_loss(exp::Engine& /*engine*/, int /*dp_rank*/,
                                                int /*dp_size*/) {
    return std::nullopt;
  }

  // Fails unless `model` (from `checkpoint`) has what the method needs (its added rows).
  virtual void check_model(const LlamaConfig& /*model*/, const std::string& /*checkpoint*/) const {}

  // ---- evaluation: tasks a trained model is scored on (`condense eval --task`)
  virtual std::vector<std::string> tasks() const { return {}; }
  // Training evaluates every N steps (0: at the end only), when the method has tasks.
  virtual int64_t eval_every() const { return 0; }
  // Whether the run's evaluation at `step` is written already.
  virtual bool evaluated(const std::string& /*run_dir*/, int64_t /*step*/) const { return true; }
  // Scores `model` (the run's weights at `step`) on `task`, writes run_dir/eval/, logs to
  // `metrics` when given, and returns a one-line summary.
  virtual std::string evaluate(const std::string& task, const Llama& model, int64_t step,
                               const std::string& run_dir, const exp::RunDir* metrics);

  // ---- inference on instruction records (context = instruction, query = suffix)
  // Tokens of a record's whole uncached prompt (for batching prompts of similar length).
  virtual int64_t prompt_length(const instruct::Example& record) const;
  // Key/value entries per layer of the context (the instruction) that answering `record`
  // reads; by default all of its tokens, as an uncompressed prompt does.
  virtual int64_t memory_entries(const instruct::Example& record) const {
    return static_cast<int64_t>(record.instruction.size());
  }
  // The prompt as text (the x column of an outputs CSV).
  virtual std::string prompt_text(const std::string& instruction, const std::string& input) const;
  virtual Memory compress(const Llama& model, const Records& records) const;
  virtual eval::BatchGenerateResult answer(const Llama& model, const Memory& memory,
                                           const Records& records,
                                           const eval::BatchGenerateConfig& cfg) const;

  // ---- sweep and benchmark
  // The grid `condense sweep` runs without --sweep.grid (syntax in experiments/sweep_grid.h);
  // "": one run named after the method.
  virtual std::string default_grid() const { return ""; }
  // Writes the results table of the finished runs into sweep_dir; returns it as Markdown.
  virtual std::string sweep_table(const std::string& /*sweep_dir*/,
                                  const std::vector<std::string>& /*run_dirs*/) const {
    return "";
  }
  // `condense bench --method NAME` with the remaining arguments.
  virtual int bench(const cli::Args& args);
  // `condense chat --method NAME` with the remaining arguments: a dialogue on stdin/stdout.
  virtual int chat(const cli::Args& args);
};

}  // namespace condense::methods
