#include "experiments/sweep_grid.h"

#include <set>
#include <sstream>

#include "core/error.h"

namespace condense::exp {

void add_sweep_options(cli::po::options_description& desc, SweepOptions& o) {
  namespace po = cli::po;
  desc.add_options()("sweep.dir", po::value(&o.dir)->default_value(""), "sweep directory")(
      "sweep.grid", po::value(&o.grid)->default_value(""),
      "grid: blocks 'option=v1,v2 option=w1,...' separated by ';' (default: the method's)")(
      "sweep.list", po::bool_switch(&o.list),
      "print the grid points' run names, one per line, and stop")(
      "sweep.only", po::value(&o.only)->default_value(""),
      "train and evaluate this grid point alone (a name --sweep.list prints), without preparing "
      "data or writing the table: one task of a SLURM array (slurm/sweep.sh)")(
      "sweep.prepare", po::bool_switch(&o.prepare),
      "build the data the method can build from its sources, and stop (the job before the "
      "array)");
}

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, sep);) out.push_back(item);
  return out;
}

}  // namespace

std::vector<GridPoint> parse_grid(const std::string& grid, const std::string& single) {
  if (grid.find_first_not_of(" ;") == std::string::npos) return {{single, {}}};
  std::vector<GridPoint> points;
  for (const std::string& block : split(grid, ';')) {
    std::vector<GridPoint> product = {{"", {}}};
    std::istringstream factors(block);
    for (std::string factor; factors >> factor;) {
      const size_t eq = factor.find('=');
      if (eq == 0 || eq == std::string::npos || eq + 1 == factor.size())
        fail("sweep.grid: '", factor, "' is not option=value[,value...]");
      const std::string option = factor.substr(0, eq);
      std::vector<GridPoint> next;
      for (const GridPoint& p : product)
        for (const std::string& v : split(factor.substr(eq + 1), ',')) {
          if (v.empty()) fail("sweep.grid: empty value in '", factor, "'");
          GridPoint q = p;
          q.name += (q.name.empty() ? "" : "-") + v;
          q.options.emplace_back(option, v);
          next.push_back(std::move(q));
        }
      product = std::move(next);
    }
    if (product.size() == 1 && product[0].options.empty())
      fail("sweep.grid: empty block in '", grid, "'");
    points.insert(points.end(), product.begin(), product.end());
  }
  std::set<std::string> names;
  for (const GridPoint& p : points)
    if (!names.insert(p.name).second)
      fail("sweep.grid: two points are named '", p.name, "' in '", grid, "'");
  return points;
}

}  // namespace condense::exp
