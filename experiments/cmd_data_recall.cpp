// condense data recall --seed S --dialogues N --min_facts A --max_facts B --tokenizer MODEL
// --out F.h5: the synthetic multi-turn recall set of datasets/recall.h, in the
// dialogue format (one record per dialogue, /turn_offsets), for CCM.
#include "datasets/recall.h"
#include "datasets/tokenizer.h"
#include "experiments/cmd_data.h"

namespace condense::cmd {

int data_recall(const cli::Args& args) {
  data_cli::Common c;
  data::RecallOptions o;
  cli::po::options_description desc("data recall");
  desc.add_options()("seed", cli::po::value(&o.seed)->default_value(1),
                     "generator seed (the same seed gives the same dialogues)")(
      "dialogues", cli::po::value(&o.dialogues)->default_value(1000), "dialogues to generate")(
      "min_facts", cli::po::value(&o.min_facts)->default_value(1),
      "fewest fact turns of a dialogue")(
      "max_facts", cli::po::value(&o.max_facts)->default_value(16),
      "most fact turns of a dialogue (each drawn uniformly from [min_facts, max_facts])");
  data_cli::add_common(desc, c, "train", "", "generated text");
  cli::po::variables_map vm;
  if (!cli::parse("data recall", desc, args, vm)) return 0;
  data::check_recall_options(o);
  const data::Tokenizer tok = data::Tokenizer::load(c.tokenizer);
  if (c.source.empty())
    c.source = "generated: synthetic multi-turn recall (seed " + std::to_string(o.seed) + ")";
  data::TokenDatasetContents contents = data::recall_dataset(o, tok, c.out);
  data_cli::save(c, contents);
  return 0;
}

}  // namespace condense::cmd
