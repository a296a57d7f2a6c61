// Quality against memory: the Pareto front of a set of scored points and an SVG plot
// of them (x = memory bytes on a log scale, y = quality), one panel per metric, each
// point labelled and the front drawn as a step line. Method-free: points are numbers
// and labels.
#pragma once
#include <string>
#include <vector>

namespace condense::eval {

struct PlotPoint {
  double x = 0;  // memory in bytes; 0 (reads nothing) is drawn left of the log axis
  double y = 0;  // quality
  std::string label;
};

// Bytes in SI units with 3 significant digits: "512 B", "1.5 kB", "20 MB".
std::string bytes_text(double bytes);

// Indices of the points no other point beats: none with x at most theirs and y at least
// as good (higher, or lower without `higher_is_better`), one of them strictly. Ordered
// by x; of points equal in both, the first.
std::vector<size_t> pareto_front(const std::vector<PlotPoint>& points, bool higher_is_better);

struct PlotPanel {
  std::string metric;  // the y axis
  bool higher_is_better = true;
  std::vector<PlotPoint> points;
};

// A standalone SVG document: `title`, then the panels side by side.
std::string pareto_svg(const std::string& title, const std::vector<PlotPanel>& panels);

}  // namespace condense::eval
