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

// "1024,4096" -> {1024, 4096}; anything but positive integers is an error naming the option.
std::vector<int64_t> parse_lengths(const std::string& option, const std::string& text);

// Sets split/source/license, writes --out (atomically) and prints a summary line on stderr.
void save(const Common& c, data::TokenDatasetContents& contents);

}  // namespace condense::cmd::data_cli
