// condense data passkey --lengths 1024,4096 --per-length N --seed S --tokenizer MODEL --out F.h5
#include "datasets/passkey.h"
#include "datasets/tokenizer.h"
#include "experiments/cmd_data.h"

namespace condense::cmd {

int data_passkey(const cli::Args& args) {
  data_cli::Common c;
  std::string lengths;
  data::PasskeyOptions opt;
  cli::po::options_description desc("data passkey");
  desc.add_options()("lengths", cli::po::value(&lengths)->required(),
                     "prompt lengths in tokens (BOS included), comma-separated")(
      "per-length", cli::po::value(&opt.per_length)->default_value(20), "prompts per length")(
      "seed", cli::po::value(&opt.seed)->default_value(555),
      "seed of the first prompt of each length (then seed+1, ...)");
  data_cli::add_common(desc, c, "test", "generated: FoT passkey prompts (METHODS.md 4.4)",
                       "generated text");
  cli::po::variables_map vm;
  if (!cli::parse("data passkey", desc, args, vm)) return 0;
  opt.lengths = cli::parse_int_list("lengths", lengths, 1);
  const data::Tokenizer tok = data::Tokenizer::load(c.tokenizer);
  data::TokenDatasetContents contents = data::passkey_dataset(tok, opt);
  data_cli::save(c, contents);
  return 0;
}

}  // namespace condense::cmd
