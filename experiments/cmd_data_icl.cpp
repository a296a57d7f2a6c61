// condense data icl --task sst2|agnews|trec|mr|subj|rte --input FILE... --tokenizer MODEL --out
// F.h5
#include "datasets/icl.h"
#include "datasets/tokenizer.h"
#include "experiments/cmd_data.h"

namespace condense::cmd {

int data_icl(const cli::Args& args) {
  data_cli::Common c;
  std::string task;
  std::vector<std::string> inputs;
  cli::po::options_description desc("data icl");
  desc.add_options()("task", cli::po::value(&task)->required(),
                     "sst2 | agnews | trec | mr | subj | rte")(
      "input", cli::po::value(&inputs)->multitoken()->required(),
      "the task's file(s); mr: rt-polarity.neg rt-polarity.pos; subj: plot.tok.gt9.5000 "
      "quote.tok.gt9.5000");
  data_cli::add_common(desc, c, "test", "", "research use");
  cli::po::variables_map vm;
  if (!cli::parse("data icl", desc, args, vm)) return 0;
  const data::Tokenizer tok = data::Tokenizer::load(c.tokenizer);
  if (c.source.empty())
    for (const std::string& in : inputs) c.source += (c.source.empty() ? task + ": " : ", ") + in;
  data::TokenDatasetContents contents = data::icl_dataset(data::read_icl(task, inputs), tok, c.out);
  data_cli::save(c, contents);
  return 0;
}

}  // namespace condense::cmd
