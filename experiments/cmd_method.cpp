// The method commands besides train and sweep:
//   condense eval --method NAME --task TASK --run.dir RUN [options]
//     scores a run's newest checkpoint on one of the method's tasks (gist, full:
//     rouge on validation_{seen,unseen,human}); results go to RUN/eval and stdout ends
//     with the task's one-line summary (`seen_rougeL=<n> unseen_rougeL=<n> human_rougeL=<n>`).
//     The method's own options default to what the run was trained with (its config.cfg).
//   condense bench --method NAME [options]: the method's benchmark (gist: caching).
//   condense chat --method NAME [options]: an interactive dialogue on stdin/stdout (ccm).
#include <algorithm>
#include <iostream>

#include "core/checkpoint.h"
#include "core/error.h"
#include "experiments/device.h"
#include "experiments/methods/registry.h"
#include "experiments/model_dir.h"
#include "experiments/run_dir.h"
#include "experiments/sweep_grid.h"

namespace condense::cmd {

int eval_method(const cli::Args& args) {
  const std::unique_ptr<methods::Method> method = methods::make(methods::selected("eval", args));
  std::string task;
  // An experiment's .cfg describes training too: eval reads those options and ignores them.
  LlamaConfig model_options;
  AdamWConfig optim_options;
  exp::TrainLoopOptions loop;
  exp::SweepOptions sweep_options;
  cli::po::options_description desc("eval (--run.dir: the run, its newest checkpoint)");
  methods::add_method_options(desc, *method);
  desc.add_options()("task", cli::po::value(&task)->required(), "what to score the run on");
  exp::add_model_options(desc, model_options);
  exp::add_optim_options(desc, optim_options);
  exp::add_train_options(desc, loop);
  exp::add_sweep_options(desc, sweep_options);
  method->add_options(desc);
  // The run's own method options fill in what the command line and --config leave out.
  const std::string run_dir = cli::peek("eval", args, "run.dir", "");
  const exp::RunConfig rc =
      run_dir.empty() ? exp::RunConfig{} : exp::read_run_config(run_dir, method->name());
  cli::po::variables_map vm;
  if (!cli::parse("eval", desc, args, vm, false, rc.section)) return 0;
  methods::check_foreign_options("eval", vm, *method);
  const std::vector<std::string> tasks = method->tasks();
  if (std::find(tasks.begin(), tasks.end(), task) == tasks.end()) {
    std::string known;
    for (const std::string& t : tasks) known += (known.empty() ? "" : ", ") + t;
    fail("eval: method ", method->name(), " has no task '", task, "' (",
         known.empty() ? "it has none" : "it has: " + known, ")");
  }
  if (!rc.method.empty() && rc.method != method->name())
    fail("eval: ", run_dir, " was trained with --method ", rc.method, ", not ", method->name());
  method->open(loop, false);

  const exp::ModelFiles files = exp::locate_model(run_dir);
  const LlamaConfig config = read_checkpoint_config(files.checkpoint);
  // Before loading, so that a checkpoint the method cannot use is the method's error.
  method->check_model(config, files.checkpoint);
  Llama model(config, 0);
  method->extend(model);  // the method's parameters and LoRA, filled by the checkpoint
  const int64_t step = load_checkpoint(files.checkpoint, model, nullptr).step;
  const Device device = exp::parse_device(loop.device);
  if (device != Device::cpu) model.to(device);
  std::cout << method->evaluate(task, model, step, run_dir, nullptr) << std::endl;
  return 0;
}

int bench_method(const cli::Args& args) {
  const std::unique_ptr<methods::Method> method = methods::make(methods::selected("bench", args));
  return method->bench(args);
}

int chat_method(const cli::Args& args) {
  const std::unique_ptr<methods::Method> method = methods::make(methods::selected("chat", args));
  return method->chat(args);
}

}  // namespace condense::cmd
