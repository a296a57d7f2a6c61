// condense data alpaca --input FILE.json --tokenizer MODEL --out FILE.h5 [--split S]
#include "datasets/alpaca.h"
#include "datasets/tokenizer.h"
#include "experiments/cmd_data.h"

namespace condense::cmd {

int data_alpaca(const cli::Args& args) {
  data_cli::Common c;
  std::string input;
  cli::po::options_description desc("data alpaca");
  desc.add_options()("input", cli::po::value(&input)->required(),
                     "Alpaca+ JSON (alpaca_plus_{train,validation_*}.json)");
  data_cli::add_common(desc, c, "train", "", "CC BY-NC 4.0");
  cli::po::variables_map vm;
  if (!cli::parse("data alpaca", desc, args, vm)) return 0;
  const data::Tokenizer tok = data::Tokenizer::load(c.tokenizer);
  if (c.source.empty()) c.source = "Alpaca+ (Mu et al. 2023): " + input;
  data::TokenDatasetContents contents =
      data::alpaca_dataset(data::read_alpaca_json(input), tok, c.out);
  data_cli::save(c, contents);
  return 0;
}

}  // namespace condense::cmd
