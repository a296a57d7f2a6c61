// condense data dialogue --input dialogues_S.txt [--acts F --emotions F] --tokenizer MODEL --out
// F.h5
#include "datasets/dialogue.h"
#include "datasets/tokenizer.h"
#include "experiments/cmd_data.h"

namespace condense::cmd {

int data_dialogue(const cli::Args& args) {
  data_cli::Common c;
  std::string input, acts, emotions;
  cli::po::options_description desc("data dialogue");
  desc.add_options()("input", cli::po::value(&input)->required(),
                     "DailyDialog dialogues_<split>.txt (turns ended by __eou__)")(
      "acts", cli::po::value(&acts)->default_value(""), "dialogues_act_<split>.txt (optional)")(
      "emotions", cli::po::value(&emotions)->default_value(""),
      "dialogues_emotion_<split>.txt (optional)");
  data_cli::add_common(desc, c, "validation", "", "CC BY-NC-SA 4.0");
  cli::po::variables_map vm;
  if (!cli::parse("data dialogue", desc, args, vm)) return 0;
  const data::Tokenizer tok = data::Tokenizer::load(c.tokenizer);
  if (c.source.empty()) c.source = "DailyDialog (Li et al. 2017): " + input;
  data::TokenDatasetContents contents =
      data::dialogue_dataset(data::read_dailydialog(input, acts, emotions), tok, c.out);
  data_cli::save(c, contents);
  return 0;
}

}  // namespace condense::cmd
