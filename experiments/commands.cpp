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
int data_tokenizer(const cli::Args&);
int data_text(const cli::Args&);
int data_alpaca(const cli::Args&);
int data_dialogue(const cli::Args&);
int data_books(const cli::Args&);
int data_icl(const cli::Args&);
int data_icl_episodes(const cli::Args&);
int data_passkey(const cli::Args&);
int data_recall(const cli::Args&);
int data_facts(const cli::Args&);
int data_synth_instruct(const cli::Args&);
int data_instruct_dialogue(const cli::Args&);
int data_prepare(const cli::Args&);
int data_instruct(const cli::Args&);
int eval_method(const cli::Args&);
int bench_method(const cli::Args&);
int chat_method(const cli::Args&);
int sweep(const cli::Args&);
int report(const cli::Args&);
}  // namespace condense::cmd

namespace condense::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"train", "train with --method (gist | full | lm, the default: a language model)",
       cmd::train},
      {"eval", "score a run on a task of its method (--method M --task rouge)", cmd::eval_method},
      {"eval ppl", "perplexity of a model on a token dataset", cmd::eval_ppl},
      {"generate", "continue a prompt (greedy, temperature, top-p; KV cache)", cmd::generate},
      {"import llama2c", "convert a llama2.c checkpoint + tokenizer into a model dir",
       cmd::import_llama2c},
      {"bench train", "training throughput (tok/s, GFLOP/s) on a preset model", cmd::bench_train},
      {"eval rouge", "score an outputs CSV with ROUGE-1/2/L/Lsum", cmd::eval_rouge},
      {"data tokenizer", "train a SentencePiece BPE tokenizer on text files", cmd::data_tokenizer},
      {"data text", "tokenize text files into an HDF5 token dataset", cmd::data_text},
      {"data alpaca", "Alpaca+ JSON -> dataset (fields as text + token spans)", cmd::data_alpaca},
      {"data dialogue", "DailyDialog -> dataset (turns, act/emotion labels)", cmd::data_dialogue},
      {"data books", "books/articles -> long-document dataset", cmd::data_books},
      {"data icl", "classification sets (SST-2, AG News, TREC, MR, SUBJ, RTE)", cmd::data_icl},
      {"data icl-episodes", "k-shot ICL episodes as dialogues, with label options (CCM)",
       cmd::data_icl_episodes},
      {"data passkey", "FoT passkey prompts at given token lengths", cmd::data_passkey},
      {"data recall", "synthetic multi-turn recall dialogues (CCM)", cmd::data_recall},
      {"data facts", "long documents, facts early and questions late (AutoCompressor)",
       cmd::data_facts},
      {"data synth-instruct",
       "synthetic instructions whose output the instruction decides (gist), as Alpaca+ JSON",
       cmd::data_synth_instruct},
      {"data instruct-dialogue", "instruction records (Alpaca+ JSON) as dialogues, for CCM",
       cmd::data_instruct_dialogue},
      {"data prepare", "build every dataset from a shared/data-like folder", cmd::data_prepare},
      {"data instruct", "tokenizer + Alpaca+ instruction datasets (train, validation_*)",
       cmd::data_instruct},
      {"bench", "a method's benchmark (--method gist: FLOPs, time, KV memory of caching)",
       cmd::bench_method},
      {"chat", "talk to a trained run on stdin/stdout (--method ccm: compressed memory)",
       cmd::chat_method},
      {"sweep", "train + evaluate a grid over a method's options; the method's results table",
       cmd::sweep},
      {"report", "one table and plot per task from runs' results.jsonl (quality, memory, cost)",
       cmd::report},
  };
  return table;
}

}  // namespace condense::cli
