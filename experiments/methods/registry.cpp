#include "experiments/methods/registry.h"

#include "core/error.h"

namespace condense::methods {

#define CONDENSE_METHOD(name) std::unique_ptr<Method> make_##name();
#include "experiments/methods/registry.def"
#undef CONDENSE_METHOD

namespace {

struct Entry {
  const char* name;
  std::unique_ptr<Method> (*make)();
};

const std::vector<Entry>& table() {
  static const std::vector<Entry> entries = {
#define CONDENSE_METHOD(name) {#name, make_##name},
#include "experiments/methods/registry.def"
#undef CONDENSE_METHOD
  };
  return entries;
}

// The options of `m` in its own namespace ("gist.num_tokens"), not those of its data.
std::vector<std::string> own_options(Method& m) {
  cli::po::options_description d;
  m.add_options(d);
  const std::string prefix = std::string(m.name()) + ".";
  std::vector<std::string> out;
  for (const auto& o : d.options())
    if (o->long_name().rfind(prefix, 0) == 0) out.push_back(o->long_name());
  return out;
}

}  // namespace

std::vector<std::string> names() {
  std::vector<std::string> out;
  for (const Entry& e : table()) out.emplace_back(e.name);
  return out;
}

std::unique_ptr<Method> make(const std::string& name) {
  std::string known;
  for (const Entry& e : table()) {
    if (name == e.name) return e.make();
    known += (known.empty() ? "" : ", ") + std::string(e.name);
  }
  fail("unknown --method '", name, "' (known: ", known, ")");
}

std::string selected(const std::string& command, const cli::Args& args) {
  return cli::peek(command, args, "method", kDefaultMethod);
}

void add_method_options(cli::po::options_description& desc, const Method& selected) {
  std::string list;
  for (const std::string& n : names()) list += (list.empty() ? "" : " | ") + n;
  desc.add_options()("method", cli::po::value<std::string>()->default_value(selected.name()),
                     ("the method: " + list).c_str());
  for (const Entry& e : table()) {
    if (std::string(e.name) == selected.name()) continue;
    const std::unique_ptr<Method> other = e.make();
    for (const std::string& o : own_options(*other))
      desc.add_options()(o.c_str(), cli::po::value<std::string>(),
                         ("(method " + std::string(e.name) + ")").c_str());
  }
}

void check_foreign_options(const std::string& command, const cli::po::variables_map& vm,
                           const Method& selected) {
  for (const Entry& e : table()) {
    if (std::string(e.name) == selected.name()) continue;
    const std::unique_ptr<Method> other = e.make();
    for (const std::string& o : own_options(*other))
      if (vm.count(o))
        fail(command, ": option --", o, " belongs to method ", e.name, ", not to --method ",
             selected.name());
  }
}

}  // namespace condense::methods
