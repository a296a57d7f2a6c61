// The table of `condense` subcommands. Each lives in its own cmd_*.cpp.
#include "experiments/cli.h"

namespace condense::cmd {
// Declared here, defined in experiments/cmd_*.cpp.
int train(const cli::Args&);
int eval_ppl(const cli::Args&);
int generate(const cli::Args&);
int import_llama2c(const cli::Args&);
int bench_train(const cli::Args&);
int eval_rouge(const cli::Args&);
}  // namespace condense::cmd

namespace condense::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"train", "train a model (run directory, metrics.jsonl, checkpoints; --resume)", cmd::train},
      {"eval ppl", "perplexity of a model on a token dataset", cmd::eval_ppl},
      {"generate", "continue a prompt (greedy, temperature, top-p; KV cache)", cmd::generate},
      {"import llama2c", "convert a llama2.c checkpoint + tokenizer into a model dir",
       cmd::import_llama2c},
      {"bench train", "training throughput (tok/s, GFLOP/s) on a preset model", cmd::bench_train},
      {"eval rouge", "score an outputs CSV with ROUGE-1/2/L/Lsum", cmd::eval_rouge},
  };
  return table;
}

}  // namespace condense::cli
