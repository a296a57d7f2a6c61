// Gisting's own options, [gist] in a config file:
//   num_tokens  k, the gist tokens between instruction and input
//   condition   gist | pos_control | neg_control (layout.h)
//   cache       what evaluation decodes against: auto (gist caching for the gist
//               condition, no cache for the controls) | none | gist | prompt (batch.h)
#pragma once
#include <string>

#include "experiments/cli.h"

namespace condense::gist {

struct Options {
  int num_tokens = 1;
  std::string condition = "gist";
  std::string cache = "auto";
};

void add_options(cli::po::options_description& desc, Options& o);

// The [gist] options a run was trained with, from its config.cfg.
void read_run_method(const std::string& run_dir, int& num_tokens, std::string& condition);

}  // namespace condense::gist
