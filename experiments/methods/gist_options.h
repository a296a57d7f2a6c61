// Options of the gist commands (`condense gist prepare|train|eval`, `condense sweep`).
// They share one option set, so that one .cfg file describes a whole experiment
// (data, model, training, evaluation, sweep grid) and every command reads it:
//   [gist]    num_tokens, condition
//   [data]    dir: the folder `gist prepare` fills (tokenizer.model, train.h5, validation_*.h5)
//   [prepare] train_json, valid_dir, tokenizer, vocab_size, max_train
//   [eval]    max_examples, batch_size, max_new_tokens, cache, every
//   [sweep]   dir, num_tokens, controls, list, only
// plus [model], [optim], [train], run.dir, device and resume of experiments/train_options.h.
#pragma once
#include <string>
#include <vector>

#include "experiments/cli.h"
#include "experiments/methods/gist_data.h"
#include "experiments/train_options.h"

namespace condense::gist {

struct EvalOptions {
  int64_t max_examples = 0;  // per split, after a seeded shuffle (0: all)
  int64_t batch_size = 16;
  int64_t max_new_tokens = 128;
  std::string cache = "auto";  // auto (gist for gist, none for the controls) | none | gist | prompt
  int64_t every = 0;           // ROUGE evaluation every N training steps (0: at the end only)
};

struct SweepOptions {
  std::string dir;
  std::string num_tokens = "1,2,5,10";               // k of the gist condition
  std::string controls = "pos_control,neg_control";  // run at k = 1
  bool list = false;                                 // print the grid points' names and stop
  std::string only;  // run this grid point alone, without the table (a SLURM array task)
};

struct Options {
  LlamaConfig model;
  AdamWConfig optim;
  exp::TrainLoopOptions train;
  int num_tokens = 1;
  std::string condition = "gist";
  std::string data_dir;
  PrepareOptions prepare;
  EvalOptions eval;
  SweepOptions sweep;
};

// Registers the options of the gist commands, bound to `o`; with_training adds
// [model], [optim], [train] and the run options (run.dir is then required).
void add_options(cli::po::options_description& desc, Options& o, bool with_training);

// "1,2,5,10" -> {1, 2, 5, 10}; fails naming `what` on anything but positive integers.
std::vector<int> parse_int_list(const std::string& text, const std::string& what);

// The [gist] options a run was trained with, from its config.cfg.
void read_run_method(const std::string& run_dir, int& num_tokens, std::string& condition);

}  // namespace condense::gist
