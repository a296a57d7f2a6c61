// condense gist eval --run.dir RUN --data.dir DATA [--eval.*]
// Evaluates a gist run's newest checkpoint on validation_{seen,unseen,human}
// (METHODS.md §1.7): greedy generation (with gist caching for gist runs unless
// --eval.cache says otherwise), ROUGE, outputs CSVs and summary JSON under RUN/eval.
// The run's gist.num_tokens and gist.condition come from its config.cfg unless given.
// stdout ends with one line `seen_rougeL=<n> unseen_rougeL=<n> human_rougeL=<n>`.
#include <iostream>

#include "core/checkpoint.h"
#include "datasets/tokenizer.h"
#include "experiments/device.h"
#include "experiments/methods/gist_eval.h"
#include "experiments/model_dir.h"

namespace condense::cmd {

int gist_eval(const cli::Args& args) {
  gist::Options o;
  cli::po::options_description desc("gist eval");
  gist::add_options(desc, o, true);
  cli::po::variables_map vm;
  if (!cli::parse("gist eval", desc, args, vm)) return 0;
  int k = 0;
  std::string condition;
  gist::read_run_method(o.train.run_dir, k, condition);
  if (vm["gist.num_tokens"].defaulted()) o.num_tokens = k;
  if (vm["gist.condition"].defaulted()) o.condition = condition;

  const exp::ModelFiles files = exp::locate_model(o.train.run_dir);
  const data::Tokenizer tok = data::Tokenizer::load(files.tokenizer);
  const gist::Template tmpl = gist::Template::make(tok);
  const gist::Method method{
      {o.num_tokens, tmpl.gist_id}, gist::parse_condition(o.condition), tmpl.eos};
  Llama model(read_checkpoint_config(files.checkpoint), 0);
  const int64_t step = load_checkpoint(files.checkpoint, model, nullptr).step;
  const Device device = exp::parse_device(o.train.device);
  if (device != Device::cpu) model.to(device);
  if (model.config().vocab_size <= tmpl.gist_id)
    fail("gist eval: ", files.checkpoint, " has no <GIST> row (vocab ", model.config().vocab_size,
         ", tokenizer ", tok.vocab_size(), ")");
  const auto scores =
      gist::evaluate(model, method, gist::eval_cache_mode(o.eval.cache, method.condition), tok,
                     o.data_dir, o.eval, step, o.train.run_dir + "/eval");
  std::cout << gist::format_scores(scores) << std::endl;
  return 0;
}

}  // namespace condense::cmd
