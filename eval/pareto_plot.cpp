#include "eval/pareto_plot.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

namespace condense::eval {

std::string bytes_text(double b) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 999.5 && u < 4) b /= 1000, ++u;
  std::ostringstream os;
  os.precision(3);
  os << b << " " << units[u];
  return os.str();
}

std::vector<size_t> pareto_front(const std::vector<PlotPoint>& points, bool higher_is_better) {
  // Sorted by memory, and at equal memory the best first: a point is on the front when
  // it is strictly better than every point before it.
  const auto better = [&](double a, double b) { return higher_is_better ? a > b : a < b; };
  std::vector<size_t> order(points.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (points[a].x != points[b].x) return points[a].x < points[b].x;
    return better(points[a].y, points[b].y);
  });
  std::vector<size_t> front;
  for (size_t i : order)
    if (front.empty() || better(points[i].y, points[front.back()].y)) front.push_back(i);
  return front;
}

namespace {

// XML text: the labels are run and condition names.
std::string escaped(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

void draw_panel(std::ostringstream& svg, const PlotPanel& p, double x0, double y0, double w,
                double h) {
  svg << "<rect x=\"" << x0 << "\" y=\"" << y0 << "\" width=\"" << w << "\" height=\"" << h
      << "\" fill=\"none\" stroke=\"#444\"/>\n<text x=\"" << x0 + w / 2 << "\" y=\"" << y0 - 6
      << "\" text-anchor=\"middle\">" << escaped(p.metric) << " ("
      << (p.higher_is_better ? "higher" : "lower") << " is better)</text>\n";
  // x: decades from the smallest positive memory to the largest; zero memory sits in
  // a column of its own at the left edge.
  double lo = 0, hi = 0, ylo = 0, yhi = 0;
  bool any_x = false, has_zero = false;
  for (size_t i = 0; i < p.points.size(); ++i) {
    const PlotPoint& q = p.points[i];
    if (q.x > 0) {
      lo = any_x ? std::min(lo, q.x) : q.x;
      hi = any_x ? std::max(hi, q.x) : q.x;
      any_x = true;
    } else {
      has_zero = true;
    }
    ylo = i ? std::min(ylo, q.y) : q.y;
    yhi = i ? std::max(yhi, q.y) : q.y;
  }
  const double dlo = any_x ? std::floor(std::log10(lo)) : 0;
  const double dhi = any_x ? std::max(dlo + 1, std::ceil(std::log10(hi))) : 1;
  const double zero_w = has_zero ? 40 : 0, pad = 12;
  const double ax0 = x0 + zero_w + pad, aw = w - zero_w - 2 * pad;
  if (yhi - ylo < 1e-12) ylo -= 0.5, yhi += 0.5;
  const double ymargin = 0.08 * (yhi - ylo);
  ylo -= ymargin, yhi += ymargin;
  auto X = [&](double x) {
    return x > 0 ? ax0 + aw * (std::log10(x) - dlo) / (dhi - dlo) : x0 + pad + zero_w / 2 - 6;
  };
  auto Y = [&](double y) { return y0 + h - h * (y - ylo) / (yhi - ylo); };
  for (double d = dlo; d <= dhi + 1e-9; d += 1)
    svg << "<line x1=\"" << X(std::pow(10, d)) << "\" y1=\"" << y0 << "\" x2=\""
        << X(std::pow(10, d)) << "\" y2=\"" << y0 + h << "\" stroke=\"#ddd\"/><text x=\""
        << X(std::pow(10, d)) << "\" y=\"" << y0 + h + 16 << "\" text-anchor=\"middle\">"
        << bytes_text(std::pow(10, d)) << "</text>\n";
  if (has_zero)
    svg << "<text x=\"" << X(0) << "\" y=\"" << y0 + h + 16
        << "\" text-anchor=\"middle\">0</text>\n";
  for (int i = 0; i <= 4; ++i) {
    const double v = ylo + (yhi - ylo) * i / 4;
    std::ostringstream t;
    t.precision(3);
    t << v;
    svg << "<text x=\"" << x0 - 4 << "\" y=\"" << Y(v) + 4 << "\" text-anchor=\"end\">" << t.str()
        << "</text>\n";
  }
  svg << "<text x=\"" << x0 + w / 2 << "\" y=\"" << y0 + h + 34
      << "\" text-anchor=\"middle\">memory (bytes, log scale)</text>\n";
  // The front: a step line, each point's quality held until the next front point.
  const std::vector<size_t> front = pareto_front(p.points, p.higher_is_better);
  if (!front.empty()) {
    svg << "<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\" points=\"";
    for (size_t k = 0; k < front.size(); ++k) {
      const PlotPoint& q = p.points[front[k]];
      if (k) svg << X(q.x) << "," << Y(p.points[front[k - 1]].y) << " ";
      svg << X(q.x) << "," << Y(q.y) << " ";
    }
    svg << ax0 + aw << "," << Y(p.points[front.back()].y) << "\"/>\n";
  }
  for (size_t i = 0; i < p.points.size(); ++i) {
    const PlotPoint& q = p.points[i];
    const bool on_front = std::find(front.begin(), front.end(), i) != front.end();
    svg << "<circle cx=\"" << X(q.x) << "\" cy=\"" << Y(q.y) << "\" r=\"4\" fill=\""
        << (on_front ? "#d62728" : "#1f77b4") << "\"/><text x=\"" << X(q.x) + 6 << "\" y=\""
        << Y(q.y) - 6 << "\" font-size=\"10\">" << escaped(q.label) << "</text>\n";
  }
}

}  // namespace

std::string pareto_svg(const std::string& title, const std::vector<PlotPanel>& panels) {
  const double pw = 420, ph = 300, left = 60, top = 60, gap = 70, bottom = 50;
  const double n = static_cast<double>(std::max<size_t>(panels.size(), 1));
  const double width = left + n * pw + (n - 1) * gap + 30, height = top + ph + bottom;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"" << width / 2
      << "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">" << escaped(title)
      << " (red: the Pareto front)</text>\n";
  for (size_t i = 0; i < panels.size(); ++i)
    draw_panel(svg, panels[i], left + static_cast<double>(i) * (pw + gap), top, pw, ph);
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace condense::eval
