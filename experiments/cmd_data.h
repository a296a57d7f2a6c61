// Options and output shared by the `condense data ...` converters.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/token_dataset.h"
#include "experiments/cli.h"

namespace condense::cmd::data_cli {

// --tokenizer, --out, --split, --source, --license.
struct Common {
  std::string tokenizer, out, split, source, license;
};
void add_common(cli::po::options_description& desc, Common& c, const std::string& default_split,
                const std::string& default_source, const std::string& default_license);

// Sets split/source/license, writes --out (atomically) and prints a summary line on stderr.
void save(const Common& c, data::TokenDatasetContents& contents);

}  // namespace condense::cmd::data_cli
