// `condense data prepare`: every dataset the four methods use, from a folder laid
// out like ../shared/data (or the samples in tests/data/datasets), in one go.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace condense::data {

class Tokenizer;

struct PrepareOptions {
  std::string from;  // input folder (shared/data layout); missing inputs are skipped
  std::string out;   // output folder; datasets go to <out>/<group>/<name>.h5
  std::vector<int64_t> passkey_lengths = {1024, 2048, 4096, 8192, 16384, 32768};
  int passkey_per_length = 20;
  uint32_t passkey_seed = 555;
};

struct PreparedDataset {
  std::string name;  // e.g. "icl/sst2_test"
  int64_t records = 0;
  int64_t tokens = 0;
  double seconds = 0;
  std::string source, license;
};

// Builds each dataset whose inputs exist under options.from, in a fixed order,
// printing one line per dataset on stderr; throws if none of the inputs exist.
std::vector<PreparedDataset> prepare_datasets(const Tokenizer& tokenizer,
                                              const PrepareOptions& options);

}  // namespace condense::data
