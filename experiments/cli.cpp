#include "experiments/cli.h"

#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/progress.h"

namespace condense::cli {
namespace {

std::string value_text(const boost::any& v) {
  if (v.type() == typeid(std::string)) return boost::any_cast<std::string>(v);
  if (v.type() == typeid(int)) return std::to_string(boost::any_cast<int>(v));
  if (v.type() == typeid(int64_t)) return std::to_string(boost::any_cast<int64_t>(v));
  if (v.type() == typeid(uint64_t)) return std::to_string(boost::any_cast<uint64_t>(v));
  if (v.type() == typeid(bool)) return boost::any_cast<bool>(v) ? "true" : "false";
  if (v.type() == typeid(float) || v.type() == typeid(double)) {
    std::ostringstream os;
    os.precision(9);
    if (v.type() == typeid(float))
      os << boost::any_cast<float>(v);
    else
      os << boost::any_cast<double>(v);
    return os.str();
  }
  if (v.type() == typeid(std::vector<int>)) {
    std::string s;
    for (int x : boost::any_cast<std::vector<int>>(v)) {
      if (!s.empty()) s += ",";
      s += std::to_string(x);
    }
    return s;
  }
  // The resolved config must replay the run: an option type it cannot write is a bug.
  fail("internal: the config writer does not know option type ", v.type().name());
}

// Rewrites Boost's messages into "<command>: option --x: what is wrong".
[[noreturn]] void rethrow(const std::string& command, const po::error& e) {
  if (auto* u = dynamic_cast<const po::unknown_option*>(&e))
    fail(command, ": unknown option ", u->get_option_name());
  if (auto* iv = dynamic_cast<const po::invalid_option_value*>(&e))
    fail(command, ": bad value for option ", iv->get_option_name(), ": ", iv->what());
  if (auto* bad = dynamic_cast<const po::validation_error*>(&e))
    fail(command, ": option ", bad->get_option_name(), ": ", bad->what());
  fail(command, ": ", e.what());
}

}  // namespace

bool parse(const std::string& command, po::options_description desc, const Args& args,
           po::variables_map& vm, bool ignore_unknown, const std::string& fallback_config,
           const po::positional_options_description* positional) {
  std::string config_path;
  bool quiet = false;
  desc.add_options()("help,h", "show this help")("config", po::value<std::string>(&config_path),
                                                 "INI-style file of options")(
      "quiet", po::bool_switch(&quiet), "no progress lines on stderr (they come every ~10 s)");
  try {
    po::command_line_parser parser(args);
    parser.options(desc);
    if (positional) parser.positional(*positional);
    if (ignore_unknown) parser.allow_unregistered();
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: condense " << command << " [options]\n" << desc << "\n";
      return false;
    }
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) fail(command, ": config file ", path, ": cannot open");
      try {
        // Values already set on the command line are kept (first store wins).
        po::store(po::parse_config_file(in, desc, ignore_unknown), vm);
      } catch (const po::error& e) {
        rethrow(command + ": config file " + path, e);
      }
    }
    if (!fallback_config.empty()) {
      std::istringstream in(fallback_config);
      po::store(po::parse_config_file(in, desc, true), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    rethrow(command, e);
  }
  if (quiet) Progress::set_quiet(true);
  return true;
}

std::string peek(const std::string& command, const Args& args, const std::string& name,
                 const std::string& fallback) {
  Args pre;
  for (const std::string& a : args)
    if (a != "--help" && a != "-h") pre.push_back(a);
  std::string value = fallback;
  po::options_description d;
  d.add_options()(name.c_str(), po::value(&value)->default_value(fallback), "");
  po::variables_map vm;
  parse(command, d, pre, vm, true);
  return value;
}

std::string to_config_text(const po::variables_map& vm) {
  // Group dotted keys into INI sections so the file reads back with --config.
  std::map<std::string, std::map<std::string, std::string>> sections;
  for (const auto& [key, val] : vm) {
    if (key == "help" || key == "config" || val.empty()) continue;
    auto dot = key.find('.');
    std::string section = dot == std::string::npos ? "" : key.substr(0, dot);
    std::string name = dot == std::string::npos ? key : key.substr(dot + 1);
    sections[section][name] = value_text(val.value());
  }
  std::ostringstream os;
  for (const auto& [section, kv] : sections) {
    if (!section.empty()) os << "\n[" << section << "]\n";
    for (const auto& [k, v] : kv) os << k << " = " << v << "\n";
  }
  return os.str();
}

std::vector<int64_t> parse_int_list(const std::string& option, const std::string& text,
                                    int64_t min) {
  const std::string bad = "bad value for option --" + option + ": ";
  std::vector<int64_t> out;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {  // not a number (or out of range): reported below
      used = 0;
    }
    if (used == 0 || used != item.size())
      fail(bad, "'", item, "' in '", text, "' is not an integer (expected a comma list)");
    if (v < min) fail(bad, v, " in '", text, "' must be at least ", min);
    out.push_back(v);
  }
  if (out.empty()) fail(bad, "the list is empty");
  return out;
}

}  // namespace condense::cli
