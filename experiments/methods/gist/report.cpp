#include "experiments/methods/gist/report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "eval/csv.h"
#include "experiments/cli.h"
#include "experiments/tasks/instruct.h"

namespace condense::gist {
namespace fs = std::filesystem;
using instruct::kEvalSplits;

std::optional<ResultRow> read_run_result(const std::string& run_dir) {
  const fs::path dir = fs::path(run_dir) / "eval";
  if (!fs::is_directory(dir)) return std::nullopt;
  fs::path newest;
  int64_t newest_step = -1;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("summary-", 0) != 0 || e.path().extension() != ".json") continue;
    const int64_t step = std::stoll(name.substr(8, name.size() - 13));
    if (step > newest_step) {
      newest_step = step;
      newest = e.path();
    }
  }
  if (newest_step < 0) return std::nullopt;
  std::ifstream in(newest);
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) fail(newest.string(), ": not valid JSON");
  ResultRow r;
  r.condition = j.at("condition").get<std::string>();
  r.num_tokens = j.at("num_tokens").get<int>();
  r.step = j.at("step").get<int64_t>();
  if (j.contains("splits"))
    for (const auto& [split, s] : j.at("splits").items()) {
      r.rougeL[split] = s.at("rougeL");
      if (s.contains("exact_match")) r.exact_match[split] = s.at("exact_match");
    }
  const fs::path config = fs::path(run_dir) / "config.cfg";
  if (fs::exists(config))
    r.seed = std::stoll(cli::peek("sweep", {"--config", config.string()}, "train.seed", "0"));
  std::ifstream metrics(fs::path(run_dir) / "metrics.jsonl");
  for (std::string line; std::getline(metrics, line);) {
    const nlohmann::json m = nlohmann::json::parse(line, nullptr, false);
    if (!m.is_discarded() && m.contains("val_loss") && m.value("step", int64_t{-1}) == r.step &&
        m["val_loss"].is_number())
      r.val_loss = m["val_loss"].get<double>();
  }
  return r;
}

void sort_rows(std::vector<ResultRow>& rows) {
  auto rank = [](const std::string& c) { return c == "pos_control" ? 0 : c == "gist" ? 1 : 2; };
  std::stable_sort(rows.begin(), rows.end(), [&](const ResultRow& a, const ResultRow& b) {
    return std::make_tuple(rank(a.condition), a.num_tokens, a.seed) <
           std::make_tuple(rank(b.condition), b.num_tokens, b.seed);
  });
}

MeanSe mean_se(const std::vector<double>& values) {
  MeanSe m;
  m.n = static_cast<int64_t>(values.size());
  if (values.empty()) return m;
  for (double v : values) m.mean += v / static_cast<double>(m.n);
  if (m.n > 1) {
    double ss = 0;
    for (double v : values) ss += (v - m.mean) * (v - m.mean);
    m.se = std::sqrt(ss / static_cast<double>(m.n - 1) / static_cast<double>(m.n));
  }
  return m;
}

namespace {

std::string fixed(double v, int digits) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

std::string cell(const std::map<std::string, double>& by_split, const std::string& split,
                 int digits) {
  auto it = by_split.find(split);
  return it == by_split.end() ? "" : fixed(it->second, digits);
}

// "mean ± se" (the ± part only with two or more values); "" for none.
std::string cell(const MeanSe& m, int digits) {
  if (m.n == 0) return "";
  return fixed(m.mean, digits) + (m.n > 1 ? " ± " + fixed(m.se, digits) : "");
}

// The runs of one condition × k (rows sorted, so a group is consecutive).
std::vector<std::vector<const ResultRow*>> groups(const std::vector<ResultRow>& rows) {
  std::vector<std::vector<const ResultRow*>> out;
  for (const ResultRow& r : rows) {
    if (out.empty() || out.back().front()->condition != r.condition ||
        out.back().front()->num_tokens != r.num_tokens)
      out.emplace_back();
    out.back().push_back(&r);
  }
  return out;
}

using Metric = std::map<std::string, double> ResultRow::*;

MeanSe over_seeds(const std::vector<const ResultRow*>& runs, Metric metric,
                  const std::string& split) {
  std::vector<double> v;
  for (const ResultRow* r : runs) {
    auto it = (r->*metric).find(split);
    if (it != (r->*metric).end()) v.push_back(it->second);
  }
  return mean_se(v);
}

// The paired difference `runs` − `base` over the seeds both have, "Δ ± se (ratio%)",
// with ratio = the runs' mean over those seeds / the base's mean over them.
std::string paired_cell(const std::vector<const ResultRow*>& runs,
                        const std::vector<const ResultRow*>& base, Metric metric,
                        const std::string& split) {
  std::vector<double> diff, mine, theirs;
  for (const ResultRow* r : runs)
    for (const ResultRow* b : base) {
      auto x = (r->*metric).find(split), y = (b->*metric).find(split);
      if (b->seed != r->seed || x == (r->*metric).end() || y == (b->*metric).end()) continue;
      diff.push_back(x->second - y->second);
      mine.push_back(x->second);
      theirs.push_back(y->second);
    }
  if (diff.empty()) return "";
  const double base_mean = mean_se(theirs).mean;
  std::string c = cell(mean_se(diff), 2);
  c = (c[0] == '-' ? "" : "+") + c;
  if (base_mean > 0) c += " (" + fixed(100 * mean_se(mine).mean / base_mean, 0) + "%)";
  return c;
}

}  // namespace

void write_results_csv(const std::string& path, const std::vector<ResultRow>& rows) {
  std::vector<std::vector<std::string>> body;
  for (const ResultRow& r : rows) {
    std::vector<std::string> line = {r.condition, std::to_string(r.num_tokens),
                                     std::to_string(r.step)};
    for (const std::string& s : kEvalSplits) line.push_back(cell(r.rougeL, s, 4));
    line.push_back(std::to_string(r.seed));
    for (const std::string& s : kEvalSplits) line.push_back(cell(r.exact_match, s, 4));
    body.push_back(line);
  }
  eval::write_csv(path,
                  {"condition", "num_gist_tokens", "steps", "seen", "unseen", "human", "seed",
                   "exact_match_seen", "exact_match_unseen", "exact_match_human"},
                  body);
}

std::string results_markdown(const std::vector<ResultRow>& rows) {
  const bool with_loss =
      std::any_of(rows.begin(), rows.end(), [](const ResultRow& r) { return r.val_loss; });
  const bool with_em = std::any_of(rows.begin(), rows.end(),
                                   [](const ResultRow& r) { return !r.exact_match.empty(); });
  struct Column {
    Metric metric;
    std::string split, title;
  };
  std::vector<Column> columns;
  if (with_em)
    for (const std::string& s : kEvalSplits)
      columns.push_back({&ResultRow::exact_match, s, "EM " + s});
  for (const std::string& s : kEvalSplits)
    columns.push_back({&ResultRow::rougeL, s, with_em ? "ROUGE-L " + s : s});
  const auto by_condition = groups(rows);
  std::ostringstream os;
  os << "| condition | k | seeds | steps |";
  for (const Column& c : columns) os << " " << c.title << " |";
  os << (with_loss ? " unseen loss |" : "") << "\n|---|---:|---:|---:|";
  for (size_t i = 0; i < columns.size(); ++i) os << "---:|";
  os << (with_loss ? "---:|" : "") << "\n";
  const std::vector<const ResultRow*>* pos = nullptr;
  for (const auto& g : by_condition) {
    const ResultRow& r = *g.front();
    if (r.condition == "pos_control") pos = &g;
    os << "| " << r.condition << " | " << r.num_tokens << " | " << g.size() << " | " << r.step;
    for (const Column& c : columns) os << " | " << cell(over_seeds(g, c.metric, c.split), 2);
    if (with_loss) {
      std::vector<double> losses;
      for (const ResultRow* x : g)
        if (x->val_loss) losses.push_back(*x->val_loss);
      os << " | " << cell(mean_se(losses), 4);
    }
    os << " |\n";
  }
  if (pos && by_condition.size() > 1) {
    os << "\nDifference to pos_control, paired by seed (± standard error over seeds; in "
          "brackets the condition's mean as % of pos_control's):\n\n| condition | k |";
    for (const Column& c : columns) os << " " << c.title << " |";
    os << "\n|---|---:|";
    for (size_t i = 0; i < columns.size(); ++i) os << "---:|";
    os << "\n";
    for (const auto& g : by_condition) {
      if (&g == pos) continue;
      os << "| " << g.front()->condition << " | " << g.front()->num_tokens;
      for (const Column& c : columns) os << " | " << paired_cell(g, *pos, c.metric, c.split);
      os << " |\n";
    }
  }
  return os.str();
}

void write_results_svg(const std::string& path, const std::vector<ResultRow>& runs,
                       const std::string& title) {
  // One point per condition × k: the mean ROUGE-L over its seeds.
  std::vector<ResultRow> sorted = runs, rows;
  sort_rows(sorted);
  for (const auto& g : groups(sorted)) {
    ResultRow mean = *g.front();
    for (auto& [split, v] : mean.rougeL) v = over_seeds(g, &ResultRow::rougeL, split).mean;
    rows.push_back(mean);
  }
  // Layout: one panel per split; x = the gist k values at even spacing, y = ROUGE-L.
  const double pw = 260, ph = 200, left = 50, top = 60, gap = 40, bottom = 40;
  const double width = left + 3 * pw + 2 * gap + 20, height = top + ph + bottom;
  std::vector<int> ks;
  double ymax = 5;
  for (const ResultRow& r : rows) {
    if (r.condition == "gist") ks.push_back(r.num_tokens);
    for (const auto& [s, v] : r.rougeL) ymax = std::max(ymax, v);
  }
  std::sort(ks.begin(), ks.end());
  ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
  if (ks.empty()) ks.push_back(1);
  const double step = ymax > 40 ? 10 : ymax > 20 ? 5 : ymax > 8 ? 2 : 1;
  ymax = std::ceil(ymax * 1.05 / step) * step;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << width / 2 << "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">"
      << title << "</text>\n";
  const struct {
    const char* condition;
    const char* color;
    const char* dash;
    const char* label;
  } styles[] = {{"gist", "#1f77b4", "", "gist (k on the x axis)"},
                {"pos_control", "#2ca02c", "6,4", "pos_control (k=1)"},
                {"neg_control", "#d62728", "2,3", "neg_control (k=1)"}};
  for (int i = 0; i < 3; ++i) {  // legend
    const double x = left + i * 230;
    svg << "<line x1=\"" << x << "\" y1=\"38\" x2=\"" << x + 30 << "\" y2=\"38\" stroke=\""
        << styles[i].color << "\" stroke-width=\"2\" stroke-dasharray=\"" << styles[i].dash
        << "\"/><text x=\"" << x + 36 << "\" y=\"42\">" << styles[i].label << "</text>\n";
  }
  for (size_t p = 0; p < kEvalSplits.size(); ++p) {
    const std::string& split = kEvalSplits[p];
    const double x0 = left + static_cast<double>(p) * (pw + gap), y0 = top;
    auto X = [&](size_t i) {
      return ks.size() == 1 ? x0 + pw / 2 : x0 + 20 + (pw - 40) * double(i) / double(ks.size() - 1);
    };
    auto Y = [&](double v) { return y0 + ph - ph * v / ymax; };
    svg << "<rect x=\"" << x0 << "\" y=\"" << y0 << "\" width=\"" << pw << "\" height=\"" << ph
        << "\" fill=\"none\" stroke=\"#444\"/>\n"
        << "<text x=\"" << x0 + pw / 2 << "\" y=\"" << y0 - 4 << "\" text-anchor=\"middle\">"
        << split << "</text>\n";
    for (double v = 0; v <= ymax + 1e-9; v += step)
      svg << "<line x1=\"" << x0 << "\" y1=\"" << Y(v) << "\" x2=\"" << x0 + pw << "\" y2=\""
          << Y(v) << "\" stroke=\"#ddd\"/><text x=\"" << x0 - 4 << "\" y=\"" << Y(v) + 4
          << "\" text-anchor=\"end\">" << v << "</text>\n";
    for (size_t i = 0; i < ks.size(); ++i)
      svg << "<text x=\"" << X(i) << "\" y=\"" << y0 + ph + 16 << "\" text-anchor=\"middle\">"
          << ks[i] << "</text>\n";
    svg << "<text x=\"" << x0 + pw / 2 << "\" y=\"" << y0 + ph + 32
        << "\" text-anchor=\"middle\">gist tokens k</text>\n";
    if (p == 0)
      svg << "<text transform=\"translate(14," << y0 + ph / 2
          << ") rotate(-90)\" text-anchor=\"middle\">ROUGE-L</text>\n";
    for (const auto& st : styles) {
      std::vector<std::pair<double, double>> pts;
      for (const ResultRow& r : rows) {
        auto it = r.rougeL.find(split);
        if (r.condition != st.condition || it == r.rougeL.end()) continue;
        if (r.condition == "gist") {
          const size_t i = std::find(ks.begin(), ks.end(), r.num_tokens) - ks.begin();
          pts.push_back({X(i), Y(it->second)});
        } else {  // a control is one number: a line across the panel
          pts.push_back({x0, Y(it->second)});
          pts.push_back({x0 + pw, Y(it->second)});
        }
      }
      std::sort(pts.begin(), pts.end());
      if (pts.empty()) continue;
      svg << "<polyline fill=\"none\" stroke=\"" << st.color
          << "\" stroke-width=\"2\" stroke-dasharray=\"" << st.dash << "\" points=\"";
      for (const auto& [x, y] : pts) svg << x << "," << y << " ";
      svg << "\"/>\n";
      if (std::string(st.condition) == "gist")
        for (const auto& [x, y] : pts)
          svg << "<circle cx=\"" << x << "\" cy=\"" << y << "\" r=\"3\" fill=\"" << st.color
              << "\"/>\n";
    }
  }
  svg << "</svg>\n";
  write_file_atomically(path, svg.str());
}

}  // namespace condense::gist
