// condense data synth-instruct --out DIR [--seed S] [--train N] [--valid N]
// The synthetic instructions of datasets/synth_instruct.h as Alpaca+ files in DIR:
// alpaca_plus_train.json and alpaca_plus_validation_{seen,unseen,human}.json, which
// `condense data instruct --prepare.train_json DIR/alpaca_plus_train.json
// --prepare.valid_dir DIR` tokenizes like the real Alpaca+. Files are written to a
// temporary name and renamed.
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "datasets/synth_instruct.h"
#include "experiments/cli.h"

namespace condense::cmd {

int data_synth_instruct(const cli::Args& args) {
  std::string out;
  uint64_t seed = 1;
  int64_t train = 20000, valid = 300;
  cli::po::options_description desc("data synth-instruct");
  desc.add_options()("out", cli::po::value(&out)->required(), "folder for the four JSON files")(
      "seed", cli::po::value(&seed)->default_value(seed), "generator seed")(
      "train", cli::po::value(&train)->default_value(train), "training examples")(
      "valid", cli::po::value(&valid)->default_value(valid), "examples per validation split");
  cli::po::variables_map vm;
  if (!cli::parse("data synth-instruct", desc, args, vm)) return 0;
  const std::pair<const char*, int64_t> splits[] = {
      {"train", train}, {"seen", valid}, {"unseen", valid}, {"human", valid}};
  if (train < 1 || valid < 1)
    fail("data synth-instruct: --", train < 1 ? "train" : "valid", " must be at least 1, got ",
         train < 1 ? train : valid);
  std::vector<std::vector<data::AlpacaRecord>> records;
  for (const auto& [name, n] : splits)
    records.push_back(data::synth_instructions({seed, n, data::parse_synth_split(name)}));
  std::filesystem::create_directories(out);
  for (size_t i = 0; i < records.size(); ++i) {
    nlohmann::json doc = nlohmann::json::array();
    for (const data::AlpacaRecord& r : records[i])
      doc.push_back({{"instruction", r.instruction},
                     {"input", r.input},
                     {"output", r.output},
                     {"source", r.source}});
    const std::string name =
        std::string(splits[i].first) == "train"
            ? "alpaca_plus_train.json"
            : "alpaca_plus_validation_" + std::string(splits[i].first) + ".json";
    const std::string path = (std::filesystem::path(out) / name).string();
    write_file_atomically(path, doc.dump(1) + "\n");
    std::cerr << "wrote " << path << ": " << records[i].size() << " records\n";
  }
  return 0;
}

}  // namespace condense::cmd
