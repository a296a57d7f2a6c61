// condense data recall --seed S --dialogues N --min_facts A --max_facts B --tokenizer MODEL
// --out F.h5: the synthetic multi-turn recall set of datasets/recall.h, in the
// dialogue format (one record per dialogue, /turn_offsets), for CCM.
// With --text_out F.txt instead of --tokenizer/--out: the same dialogues as text, a turn
// per line and a blank line after each dialogue (to train a tokenizer on).
#include <algorithm>
#include <string>

#include "core/atomic_file.h"
#include "datasets/recall.h"
#include "datasets/tokenizer.h"
#include "experiments/cmd_data.h"

namespace condense::cmd {
namespace {

void add_generator_options(cli::po::options_description& desc, data::RecallOptions& o) {
  desc.add_options()("seed", cli::po::value(&o.seed)->default_value(1),
                     "generator seed (the same seed gives the same dialogues)")(
      "dialogues", cli::po::value(&o.dialogues)->default_value(1000), "dialogues to generate")(
      "min_facts", cli::po::value(&o.min_facts)->default_value(1),
      "fewest fact turns of a dialogue")(
      "max_facts", cli::po::value(&o.max_facts)->default_value(16),
      "most fact turns of a dialogue (each drawn uniformly from [min_facts, max_facts])");
}

int write_text(const cli::Args& args) {
  data::RecallOptions o;
  std::string text_out;
  cli::po::options_description desc("data recall --text_out");
  add_generator_options(desc, o);
  desc.add_options()("text_out", cli::po::value(&text_out)->required(),
                     "write the dialogues as text here (a turn per line)");
  cli::po::variables_map vm;
  if (!cli::parse("data recall", desc, args, vm)) return 0;
  std::string text;
  for (const data::Dialogue& d : data::recall_dialogues(o)) {
    for (const std::string& t : d.turns) text += t + "\n";
    text += "\n";
  }
  write_file_atomically(text_out, text);
  return 0;
}

}  // namespace

int data_recall(const cli::Args& args) {
  if (std::any_of(args.begin(), args.end(),
                  [](const std::string& a) { return a.rfind("--text_out", 0) == 0; }))
    return write_text(args);
  data_cli::Common c;
  data::RecallOptions o;
  cli::po::options_description desc("data recall");
  add_generator_options(desc, o);
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
