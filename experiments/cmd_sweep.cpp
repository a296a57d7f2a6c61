// condense sweep --config EXPERIMENT.cfg [--method NAME] --sweep.dir DIR [options...]
// Trains and evaluates every point of a grid over the method's options (--sweep.grid,
// else the method's default grid; experiments/sweep_grid.h), each as `condense train`
// in DIR/<point name>. Data are prepared first where the method can build them. A run
// whose evaluation at train.steps exists is skipped; a run with checkpoints is resumed
// from its newest one, so an interrupted sweep continues where it stopped. Ends with
// the method's results table in DIR (gist: rouge.{csv,md,svg}, the paper's table);
// stdout gets its Markdown. Every option except the sweep's own goes to the runs
// unchanged. --sweep.list and --sweep.only split the grid into jobs
// (slurm/sweep.sh: --sweep.prepare first, one array task per point, then this command
// again for the table).
// A grid may also vary the method itself (`method=gist gist.num_tokens=1,5; method=full`):
// such a point trains with that --method, its other factors are options of that method,
// and the sweep ends with each method's table over its own runs (DIR/tables/<method>/).
// Each point then trains with DIR/configs/<point>.cfg, the sweep's config as its method
// sees it: method-scoped sections ([ccm:data], [gist:train]) and each method's own
// section go to that method's runs only (experiments/sweep_config.h). Such a sweep
// builds no data: each method's must exist.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "experiments/methods/registry.h"
#include "experiments/model_dir.h"
#include "experiments/run_dir.h"
#include "experiments/sweep_config.h"
#include "experiments/sweep_grid.h"
#include "experiments/train_options.h"
#include "parallel/mpi_session.h"

namespace condense::cmd {

int train(const cli::Args&);

namespace {

namespace fs = std::filesystem;

// The sweep's arguments without the options it sets per run.
cli::Args forwarded(const cli::Args& args, const exp::GridPoint& point, bool over_methods) {
  std::vector<std::string> owned = {"--run.dir", "--sweep.only"};
  if (over_methods) owned.insert(owned.end(), {"--config", "--method"});
  for (const auto& [option, value] : point.options) owned.push_back("--" + option);
  cli::Args out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--resume") continue;
    bool skip = false;
    for (const std::string& o : owned) {
      if (a == o) {
        skip = true;
        ++i;  // and its value
      } else if (a.rfind(o + "=", 0) == 0) {
        skip = true;
      }
    }
    if (!skip) out.push_back(a);
  }
  return out;
}

// The method a grid point trains: its `method` factor, else the sweep's.
std::string point_method(const exp::GridPoint& p, const std::string& sweep_method) {
  for (const auto& [option, value] : p.options)
    if (option == "method") return value;
  return sweep_method;
}

// What a grid point may vary for `method`: its own options and the training ones.
bool is_run_option(const std::string& method, const std::string& option) {
  if (option == "method") return true;
  cli::po::options_description run_options;
  const std::unique_ptr<methods::Method> scratch = methods::make(method);
  scratch->add_options(run_options);
  LlamaConfig model;
  AdamWConfig optim;
  exp::TrainLoopOptions loop;
  exp::ParallelLayoutOptions layout;
  exp::add_model_options(run_options, model);
  exp::add_optim_options(run_options, optim);
  exp::add_train_options(run_options, loop);
  exp::add_parallel_options(run_options, layout);
  return run_options.find_nothrow(option, false) != nullptr;
}

// Whether a grid has a `method=` factor.
bool varies_method(const std::string& grid) {
  for (const exp::GridPoint& p : exp::parse_grid(grid, "-"))
    for (const auto& [option, value] : p.options)
      if (option == "method") return true;
  return false;
}

// Method `name` with the options a run of it gets: the command line without --config,
// and `config_text` (the config as the method sees it) for the rest.
std::unique_ptr<methods::Method> parsed_method(const std::string& name, const cli::Args& args,
                                               const std::string& config_text) {
  std::unique_ptr<methods::Method> m = methods::make(name);
  cli::po::options_description desc;
  m->add_options(desc);
  cli::Args rest;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config") ++i;
    else if (args[i].rfind("--config=", 0) != 0) rest.push_back(args[i]);
  }
  cli::po::variables_map vm;
  cli::parse("sweep (method " + name + ")", desc, rest, vm, true, config_text);
  return m;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("sweep: config file ", path, ": cannot open");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

int sweep(const cli::Args& args) {
  // A grid over methods parses only the sweep's own options here: each run reads the
  // config written for its method (experiments/sweep_config.h).
  const bool over_methods = varies_method(cli::peek("sweep", args, "sweep.grid", ""));
  std::unique_ptr<methods::Method> method;
  exp::SweepOptions o;
  int64_t steps = 0;
  cli::po::options_description desc("sweep (all other options go to every run)");
  if (!over_methods) {
    method = methods::make(methods::selected("sweep", args));
    methods::add_method_options(desc, *method);
    method->add_options(desc);
  }
  exp::add_sweep_options(desc, o);
  desc.add_options()("train.steps", cli::po::value(&steps)->required(), "steps of every run");
  cli::po::variables_map vm;
  if (!cli::parse("sweep", desc, args, vm, true)) return 0;
  if (method) methods::check_foreign_options("sweep", vm, *method);
  const std::string own = method ? method->name() : "";
  const std::vector<exp::GridPoint> points =
      exp::parse_grid(o.grid.empty() ? method->default_grid() : o.grid, own);
  // A grid varies what a run takes: its method, the method's own options and the
  // training ones.
  std::set<std::string> grid_methods;
  for (const exp::GridPoint& p : points) {
    const std::string name = point_method(p, own);
    if (name.empty())
      fail("sweep: grid point ", p.name, " names no method; in a grid over methods every ",
           "block has a method= factor");
    grid_methods.insert(name);
    for (const auto& [option, value] : p.options)
      if (!is_run_option(name, option))
        fail("sweep: --sweep.grid option ", option, " is not an option of --method ", name,
             " or of training");
  }
  if (o.list) {
    for (const exp::GridPoint& p : points) std::cout << p.name << "\n";
    return 0;
  }
  if (o.dir.empty()) fail("sweep: --sweep.dir is required");
  if (parallel::launched_as_several_ranks())
    fail("sweep: runs its grid in one process; to train a run on several ranks, start ",
         "`condense train` under mpirun/srun (the sweep then skips or resumes it)");
  if (!o.only.empty()) {
    bool known = false;
    for (const exp::GridPoint& p : points) known |= p.name == o.only;
    if (!known)
      fail("sweep: --sweep.only ", o.only, " is not a point of the grid (see --sweep.list)");
  }
  if (o.prepare && !o.only.empty())
    fail("sweep: --sweep.prepare and --sweep.only exclude each other");
  fs::create_directories(o.dir);
  // A lone grid point runs beside others (array tasks): only the whole sweep builds data.
  if (method) method->prepare_data(o.only.empty());
  if (o.prepare) {
    if (!method) std::cerr << "sweep: a grid over methods builds no data; each method's must exist\n";
    return 0;
  }
  const std::string config_path =
      over_methods && vm.count("config") ? vm["config"].as<std::string>() : "";
  const std::string config_text = config_path.empty() ? "" : read_text(config_path);
  // Each point's method, with the options its runs get, answers whether a run is finished
  // and writes the table: the sweep's own method, or one per method of the grid.
  std::map<std::string, std::unique_ptr<methods::Method>> point_methods;
  for (const std::string& name : grid_methods)
    point_methods[name] =
        method ? std::move(method)
               : parsed_method(name, args,
                               config_text.empty()
                                   ? ""
                                   : exp::config_for_method(config_text, config_path, name,
                                                            methods::names()));

  std::map<std::string, std::vector<std::string>> run_dirs;  // per method, in grid order
  for (size_t i = 0; i < points.size(); ++i) {
    const exp::GridPoint& p = points[i];
    if (!o.only.empty() && p.name != o.only) continue;
    const std::string dir = (fs::path(o.dir) / p.name).string();
    const std::string name = point_method(p, own);
    const methods::Method& m = *point_methods.at(name);
    run_dirs[name].push_back(dir);
    std::cerr << "sweep: [" << i + 1 << "/" << points.size() << "] " << p.name << ": ";
    // Finished: trained to train.steps, and evaluated there where the method evaluates.
    const bool trained = m.tasks().empty()
                             ? fs::path(exp::latest_checkpoint(dir)).filename() ==
                                   fs::path(exp::checkpoint_path(dir, steps)).filename()
                             : m.evaluated(dir, steps);
    if (trained) {
      std::cerr << "finished, skipped\n";
      continue;
    }
    cli::Args run_args = forwarded(args, p, over_methods);
    // (The point's method= factor below gives the run its --method.)
    if (!config_text.empty()) {
      const std::string cfg = (fs::path(o.dir) / "configs" / (p.name + ".cfg")).string();
      write_file_atomically(
          cfg, exp::config_for_method(config_text, config_path, name, methods::names()));
      run_args.insert(run_args.end(), {"--config", cfg});
    }
    for (const auto& [option, value] : p.options) {
      run_args.push_back("--" + option);
      run_args.push_back(value);
    }
    run_args.push_back("--run.dir");
    run_args.push_back(dir);
    if (!exp::latest_checkpoint(dir).empty()) {
      run_args.push_back("--resume");
      std::cerr << "resuming from " << exp::latest_checkpoint(dir) << "\n";
    } else {
      std::cerr << "starting\n";
    }
    if (train(run_args) != 0) fail("sweep: run ", dir, " failed");
  }
  if (!o.only.empty()) return 0;
  // With several methods, each writes its table into tables/<method>/ (their file names
  // may be the same).
  for (const auto& [name, dirs] : run_dirs) {
    const std::string table_dir =
        run_dirs.size() == 1 ? o.dir : (fs::path(o.dir) / "tables" / name).string();
    fs::create_directories(table_dir);
    const std::string md = point_methods.at(name)->sweep_table(table_dir, dirs);
    if (md.empty()) continue;
    std::cerr << "sweep: wrote the results table of method " << name << " in " << table_dir
              << "\n";
    std::cout << md;
  }
  return 0;
}

}  // namespace condense::cmd
