#include "experiments/methods/gist/options.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace condense::gist {

namespace po = cli::po;

void add_options(po::options_description& desc, Options& o) {
  desc.add_options()("gist.num_tokens", po::value(&o.num_tokens)->default_value(o.num_tokens),
                     "gist tokens k")("gist.condition",
                                      po::value(&o.condition)->default_value(o.condition),
                                      "gist | pos_control | neg_control")(
      "gist.cache", po::value(&o.cache)->default_value(o.cache),
      "evaluation: auto (gist caching for gist runs, none for the controls) | none | gist | "
      "prompt");
}

void read_run_method(const std::string& run_dir, int& num_tokens, std::string& condition) {
  const std::string path = (std::filesystem::path(run_dir) / "config.cfg").string();
  std::ifstream in(path);
  if (!in) fail(path, ": cannot open (is ", run_dir, " a gist run directory?)");
  po::options_description d;
  d.add_options()("gist.num_tokens", po::value(&num_tokens))("gist.condition",
                                                             po::value(&condition));
  po::variables_map vm;
  try {
    po::store(po::parse_config_file(in, d, true), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    fail(path, ": ", e.what());
  }
  if (!vm.count("gist.num_tokens") || !vm.count("gist.condition"))
    fail(path, ": no [gist] num_tokens / condition (not a gist run?)");
}

}  // namespace condense::gist
