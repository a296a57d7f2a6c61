#include "experiments/sweep_config.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <utility>

#include "core/error.h"

namespace condense::exp {
namespace {

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r") - a + 1);
}

bool is_method(const std::vector<std::string>& methods, const std::string& name) {
  return std::find(methods.begin(), methods.end(), name) != methods.end();
}

}  // namespace

std::string config_for_method(const std::string& text, const std::string& path,
                              const std::string& method, const std::vector<std::string>& methods) {
  // (section, key) -> value in first-seen order; a scoped entry overrides a common one.
  std::vector<std::pair<std::string, std::string>> order;
  std::map<std::pair<std::string, std::string>, std::pair<std::string, bool>> values;
  std::istringstream in(text);
  std::string section;
  bool keep = true, scoped = false;
  int line_no = 0;
  for (std::string raw; std::getline(in, raw);) {
    ++line_no;
    const std::string line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      const std::string name = trim(line.substr(1, line.size() - 2));
      const size_t colon = name.find(':');
      const std::string owner = colon == std::string::npos ? name : name.substr(0, colon);
      scoped = colon != std::string::npos;
      if (scoped && !is_method(methods, owner))
        fail(path, ":", line_no, ": section [", name, "] is scoped to ", owner,
             ", which is not a method");
      // A method's own section and its scoped ones belong to it; any other is common.
      keep = scoped || is_method(methods, owner) ? owner == method : true;
      section = scoped ? name.substr(colon + 1) : name;
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0)
      fail(path, ":", line_no, ": expected [section] or key = value, got '", line, "'");
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (section.empty() && key == "method") continue;  // the point's method is set below
    if (!keep) continue;
    const auto slot = std::make_pair(section, key);
    auto it = values.find(slot);
    if (it == values.end()) {
      order.push_back(slot);
      values[slot] = {value, scoped};
    } else if (scoped || !it->second.second) {
      it->second = {value, scoped};
    }
  }
  std::ostringstream out;
  out << "method = " << method << "\n";
  std::string current;
  std::vector<std::pair<std::string, std::string>> sorted = order;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& slot : sorted) {
    if (slot.first != current) {
      current = slot.first;
      out << "\n[" << current << "]\n";
    }
    out << slot.second << " = " << values.at(slot).first << "\n";
  }
  return out.str();
}

}  // namespace condense::exp
