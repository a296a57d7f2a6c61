// A sweep's grid: `--sweep.grid` (or the method's default grid) as blocks separated by
// ';', each block factors `option=v1,v2,...` separated by spaces. The grid is the
// union of each block's cartesian product (the first factor varies slowest), and a
// point's run is named by its values joined with '-':
//   "gist.condition=gist gist.num_tokens=1,2; gist.condition=pos_control gist.num_tokens=1"
//   -> gist-1, gist-2, pos_control-1
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "experiments/cli.h"

namespace condense::exp {

struct SweepOptions {
  std::string dir;
  std::string grid;      // "" : the method's default grid
  bool list = false;     // print the grid points' names and stop
  std::string only;      // run this grid point alone, without the table (a SLURM array task)
  bool prepare = false;  // build the method's data and stop (the job before the array)
};

// [sweep] dir, grid, list, only, prepare.
void add_sweep_options(cli::po::options_description& desc, SweepOptions& o);

struct GridPoint {
  std::string name;
  std::vector<std::pair<std::string, std::string>> options;  // option (no dashes) -> value
};

// The points of `grid`; "" is one point named `single` without options. A malformed
// block, an empty value or two points of one name are one-line errors.
std::vector<GridPoint> parse_grid(const std::string& grid, const std::string& single);

}  // namespace condense::exp
