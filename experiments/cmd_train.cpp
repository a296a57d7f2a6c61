// condense train [--method NAME] [options]: trains with a method (experiments/methods/;
// without --method, language-model training on a token dataset), at one rank or on a
// dp × pp × tp grid of the ranks mpirun/srun started (--tp, --pp, --micro-batches,
// --zero1; see parallel/). The loop is experiments/train_loop.h.
#include "experiments/methods/registry.h"
#include "experiments/sweep_grid.h"
#include "experiments/train_loop.h"

namespace condense::cmd {

int train(const cli::Args& args) {
  const std::unique_ptr<methods::Method> method = methods::make(methods::selected("train", args));
  exp::TrainRun r;
  cli::po::options_description desc("train");
  methods::add_method_options(desc, *method);
  exp::add_model_options(desc, r.model);
  exp::add_optim_options(desc, r.optim);
  exp::add_train_options(desc, r.loop);
  exp::add_parallel_options(desc, r.layout);
  method->add_options(desc);
  exp::SweepOptions sweep;  // an experiment's .cfg holds them for the sweep; a run ignores them
  exp::add_sweep_options(desc, sweep);
  cli::po::variables_map vm;
  if (!cli::parse("train", desc, args, vm)) return 0;
  methods::check_foreign_options("train", vm, *method);
  r.config_text = cli::to_config_text(vm);
  return exp::train(*method, r);
}

}  // namespace condense::cmd
