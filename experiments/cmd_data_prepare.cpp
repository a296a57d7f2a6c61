// condense data prepare --from DIR --out DIR --tokenizer MODEL
// Builds every dataset found under DIR (laid out like ../shared/data) and prints a table.
#include <chrono>
#include <cstdio>
#include <iostream>

#include "datasets/prepare.h"
#include "datasets/tokenizer.h"
#include "experiments/cmd_data.h"

namespace condense::cmd {

int data_prepare(const cli::Args& args) {
  data::PrepareOptions opt;
  std::string tokenizer, lengths;
  cli::po::options_description desc("data prepare");
  desc.add_options()("from", cli::po::value(&opt.from)->required(),
                     "input folder laid out like shared/data")(
      "out", cli::po::value(&opt.out)->required(), "output folder")(
      "tokenizer", cli::po::value(&tokenizer)->required(), "SentencePiece .model")(
      "passkey-lengths", cli::po::value(&lengths)->default_value("1024,2048,4096,8192,16384,32768"),
      "passkey prompt lengths in tokens")(
      "passkey-per-length", cli::po::value(&opt.passkey_per_length)->default_value(20),
      "passkey prompts per length");
  cli::po::variables_map vm;
  if (!cli::parse("data prepare", desc, args, vm)) return 0;
  opt.passkey_lengths = cli::parse_int_list("passkey-lengths", lengths, 1);
  const auto t0 = std::chrono::steady_clock::now();
  const data::Tokenizer tok = data::Tokenizer::load(tokenizer);
  const std::vector<data::PreparedDataset> done = data::prepare_datasets(tok, opt);
  int64_t records = 0, tokens = 0;
  std::printf("| dataset | records | tokens | seconds |\n| --- | ---: | ---: | ---: |\n");
  for (const data::PreparedDataset& d : done) {
    std::printf("| %s | %lld | %lld | %.1f |\n", d.name.c_str(), static_cast<long long>(d.records),
                static_cast<long long>(d.tokens), d.seconds);
    records += d.records;
    tokens += d.tokens;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("| total (%zu datasets) | %lld | %lld | %.1f |\n", done.size(),
              static_cast<long long>(records), static_cast<long long>(tokens), s);
  return 0;
}

}  // namespace condense::cmd
