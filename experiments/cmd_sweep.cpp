// condense sweep --config EXPERIMENT.cfg --sweep.dir DIR [options...]
// The gisting grid (METHODS.md §1.6): gist with k in sweep.num_tokens, plus the
// controls in sweep.controls at k = 1, each trained and evaluated by `gist train`
// in DIR/<condition>-<k>. Data are prepared first if missing (gist prepare). A run
// whose evaluation at train.steps exists is skipped; a run with checkpoints is
// resumed from its newest one, so an interrupted sweep continues where it stopped.
// Ends with the table of gisting's rouge.csv (condition × k; seen/unseen/human
// ROUGE-L) in DIR/rouge.{csv,md} and a plot DIR/rouge.svg; stdout gets the Markdown.
// Every option except the sweep's own goes to the runs unchanged. --sweep.list and
// --sweep.only split the grid into jobs (slurm/gist_sweep.sh: one array task per
// point, then this command again for the table).
#include <filesystem>
#include <iostream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "experiments/methods/gist_options.h"
#include "experiments/methods/gist_report.h"
#include "experiments/model_dir.h"
#include "parallel/mpi_session.h"

namespace condense::cmd {

int gist_train(const cli::Args&);

namespace {

namespace fs = std::filesystem;

struct GridPoint {
  std::string condition;
  int num_tokens;
  std::string name() const { return condition + "-" + std::to_string(num_tokens); }
};

std::vector<GridPoint> grid(const gist::SweepOptions& s) {
  std::vector<GridPoint> points;
  for (int k : gist::parse_int_list(s.num_tokens, "sweep.num_tokens"))
    points.push_back({"gist", k});
  std::stringstream controls(s.controls);
  for (std::string c; std::getline(controls, c, ',');)
    if (!c.empty()) points.push_back({gist::condition_name(gist::parse_condition(c)), 1});
  return points;
}

// The sweep's arguments without the options it sets per run.
cli::Args forwarded(const cli::Args& args) {
  const std::vector<std::string> owned = {"--gist.num_tokens", "--gist.condition", "--run.dir",
                                          "--sweep.only"};
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

}  // namespace

int sweep(const cli::Args& args) {
  gist::Options o;
  int64_t steps = 0;
  cli::po::options_description desc("sweep (all other options go to every gist train run)");
  gist::add_options(desc, o, false);
  desc.add_options()("train.steps", cli::po::value(&steps)->required(), "steps of every run");
  cli::po::variables_map vm;
  if (!cli::parse("sweep", desc, args, vm, true)) return 0;
  const std::vector<GridPoint> points = grid(o.sweep);
  if (o.sweep.list) {
    for (const GridPoint& p : points) std::cout << p.name() << "\n";
    return 0;
  }
  if (o.sweep.dir.empty()) fail("sweep: --sweep.dir is required");
  if (parallel::launched_as_several_ranks())
    fail("sweep: runs its grid in one process; to train a run on several ranks, start ",
         "`condense gist train` under mpirun/srun (the sweep then skips or resumes it)");
  fs::create_directories(o.sweep.dir);

  const gist::DataFiles files = gist::DataFiles::in(o.data_dir);
  // A lone grid point runs beside others (array tasks): only the sweep prepares data.
  if (!o.prepare.train_json.empty() && o.sweep.only.empty()) {
    o.prepare.out = o.data_dir;
    gist::prepare(o.prepare);
  } else if (!fs::exists(files.train)) {
    fail("sweep: ", files.train, " is missing and no --prepare.train_json was given to build it");
  }

  if (!o.sweep.only.empty()) {
    bool known = false;
    for (const GridPoint& p : points) known |= p.name() == o.sweep.only;
    if (!known)
      fail("sweep: --sweep.only ", o.sweep.only, " is not a point of the grid (see --sweep.list)");
  }
  std::vector<gist::ResultRow> rows;
  for (size_t i = 0; i < points.size(); ++i) {
    const GridPoint& p = points[i];
    if (!o.sweep.only.empty() && p.name() != o.sweep.only) continue;
    const std::string dir = (fs::path(o.sweep.dir) / p.name()).string();
    const auto done = gist::read_run_result(dir);
    std::cerr << "sweep: [" << i + 1 << "/" << points.size() << "] " << p.name() << ": ";
    if (done && done->step == steps) {
      std::cerr << "finished, skipped\n";
      rows.push_back(*done);
      continue;
    }
    cli::Args run_args = forwarded(args);
    for (const std::string& a :
         {std::string("--gist.condition"), p.condition, std::string("--gist.num_tokens"),
          std::to_string(p.num_tokens), std::string("--run.dir"), dir})
      run_args.push_back(a);
    if (!exp::latest_checkpoint(dir).empty()) {
      run_args.push_back("--resume");
      std::cerr << "resuming from " << exp::latest_checkpoint(dir) << "\n";
    } else {
      std::cerr << "starting\n";
    }
    if (gist_train(run_args) != 0) fail("sweep: run ", dir, " failed");
    const auto result = gist::read_run_result(dir);
    if (!result) fail("sweep: run ", dir, " left no evaluation summary");
    rows.push_back(*result);
  }
  if (!o.sweep.only.empty()) return 0;

  gist::sort_rows(rows);
  const fs::path out(o.sweep.dir);
  gist::write_results_csv((out / "rouge.csv").string(), rows);
  const std::string md = gist::results_markdown(rows);
  write_file_atomically((out / "rouge.md").string(),
                        "ROUGE-L (x100) on the validation splits, greedy decoding (gist runs with "
                        "gist caching); unseen loss: mean completion cross-entropy on "
                        "validation_unseen.\n\n" +
                            md);
  gist::write_results_svg((out / "rouge.svg").string(), rows,
                          "ROUGE-L vs gist tokens (" + o.sweep.dir + ")");
  std::cerr << "sweep: wrote " << (out / "rouge.csv").string() << ", rouge.md, rouge.svg\n";
  std::cout << md;
  return 0;
}

}  // namespace condense::cmd
