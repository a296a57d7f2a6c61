// condense data instruct-dialogue --json alpaca_plus_S.json --tokenizer MODEL --out F.h5
// Instruction records as one-context dialogues (datasets/instruct_dialogue.h), the
// dialogue format CCM reads: CCM is then trained and scored on the gist task's data.
// --split names the instruction split (train, validation_seen, ...): CCM's result records
// on validation_S count for the task instruct_S, as gist's on that split do.
#include <nlohmann/json.hpp>

#include "datasets/instruct_dialogue.h"
#include "datasets/tokenizer.h"
#include "experiments/cmd_data.h"

namespace condense::cmd {

int data_instruct_dialogue(const cli::Args& args) {
  data_cli::Common c;
  std::string json;
  cli::po::options_description desc("data instruct-dialogue");
  desc.add_options()("json", cli::po::value(&json)->required(),
                     "Alpaca+ JSON (alpaca_plus_*.json, e.g. from `condense data synth-instruct`)");
  data_cli::add_common(desc, c, "train", "", "as the JSON's");
  cli::po::variables_map vm;
  if (!cli::parse("data instruct-dialogue", desc, args, vm)) return 0;
  const data::Tokenizer tok = data::Tokenizer::load(c.tokenizer);
  if (c.source.empty()) c.source = "instruction records as dialogues: " + json;
  data::TokenDatasetContents contents =
      data::dialogue_dataset(data::instruct_dialogues(data::read_alpaca_json(json)), tok, c.out);
  // Turns join as the instruction methods' prompt lines do; a report puts CCM's scores
  // on this split beside gist's (experiments/tasks/instruct_method.cpp names them so).
  contents.attrs["separator"] = nlohmann::json("\n").dump();
  const std::string prefix = "validation_";  // the split names instruct_<split> tasks use
  contents.attrs["result_task"] =
      "instruct_" + (c.split.rfind(prefix, 0) == 0 ? c.split.substr(prefix.size()) : c.split);
  data_cli::save(c, contents);
  return 0;
}

}  // namespace condense::cmd
