// A trained CCM run opened for inference (condense chat): the newest checkpoint of
// the run directory with the layout of the run's own [ccm] options (the command line
// may override them), after the checks that must come before anything is loaded or
// written: the <COMP>/<SUM> table has the rows the layout reads (a merge layout reads
// n <SUM> rows that a concat run never had), and a base named with --train.init_from
// is the model the run's frozen parameters are (a conditional LoRA and table trained
// over one base mean nothing over another).
#pragma once
#include <memory>
#include <string>

#include "core/model.h"
#include "datasets/tokenizer.h"
#include "experiments/cli.h"
#include "experiments/methods/ccm/layout.h"

namespace condense::ccm {

struct RunOptions {
  std::string run_dir;
  std::string base;  // a model dir or checkpoint the run must be an adapter of ("": unchecked)
  std::string attn = "concat_recur";
  int64_t n_tok = 2;
  bool sink = false;
  int64_t lora_r = 8;  // the adapter's shape, as trained
  float lora_alpha = 16;
  bool train_base = false;  // the run trained the base, not a LoRA
  std::string device = "cpu";
};

// --run.dir, --train.init_from, --ccm.attn / n_tok / sink / lora_r / lora_alpha / train_base,
// --device.
void add_run_options(cli::po::options_description& desc, RunOptions& o);

// Fails unless `checkpoint` holds a <COMP>/<SUM> table of exactly the rows `l` reads.
void check_table(const std::string& checkpoint, const Layout& l);
// Fails unless every parameter of `base` (a model dir or checkpoint) is, bit for bit,
// the one in `checkpoint` (the <COMP>/<SUM> table aside: a run trains its own): the
// run was trained over that base.
void check_base(const std::string& checkpoint, const std::string& base);

struct OpenedRun {
  std::unique_ptr<Llama> model;  // the run's weights, the adapter and table included
  Layout layout;
  std::unique_ptr<data::Tokenizer> tokenizer;
};

// Parses `args` for `command` against `desc` (the command's own options) and the run
// options, the run's config.cfg [ccm] section filling in what they leave out; then
// checks and loads the run. Returns false on --help.
bool open_run(const std::string& command, const cli::Args& args, cli::po::options_description desc,
              RunOptions& o, OpenedRun& run);

// The layout of `attn`, `n_tok`, `sink` with the tokenizer's BOS, EOS and the dialogue
// separator "\nA:".
Layout dialogue_layout(const std::string& attn, int64_t n_tok, bool sink,
                       const data::Tokenizer& tok);

}  // namespace condense::ccm
