// condense data tokenizer --input FILE... --vocab-size N --out PREFIX
// condense data text --input FILE... --tokenizer MODEL --out FILE.h5 [--doc-per-line]
#include "experiments/cmd_data.h"

#include <iostream>

#include "core/error.h"
#include "datasets/documents.h"
#include "datasets/tokenizer.h"
#include "datasets/train_tokenizer.h"

namespace condense::cmd {

namespace data_cli {

void add_common(cli::po::options_description& desc, Common& c, const std::string& default_split,
                const std::string& default_source, const std::string& default_license) {
  desc.add_options()("tokenizer", cli::po::value(&c.tokenizer)->required(),
                     "SentencePiece .model to tokenize with")(
      "out", cli::po::value(&c.out)->required(), "output dataset (.h5)")(
      "split", cli::po::value(&c.split)->default_value(default_split), "split name to record")(
      "source", cli::po::value(&c.source)->default_value(default_source),
      "where the data came from (recorded in the file)")(
      "license", cli::po::value(&c.license)->default_value(default_license),
      "the data's license (recorded in the file)");
}

void save(const Common& c, data::TokenDatasetContents& contents) {
  contents.info.split = c.split;
  contents.info.source = c.source;
  contents.info.license = c.license;
  data::write_token_dataset(c.out, contents);
  std::cerr << "wrote " << c.out << ": " << contents.offsets.size() - 1 << " records, "
            << contents.tokens.size() << " tokens (" << contents.info.kind << ", split " << c.split
            << ")\n";
}

}  // namespace data_cli

int data_tokenizer(const cli::Args& args) {
  data::TokenizerTrainingOptions opt;
  cli::po::options_description desc("data tokenizer");
  desc.add_options()("input", cli::po::value(&opt.inputs)->multitoken()->required(),
                     "text files to train on")(
      "vocab-size", cli::po::value(&opt.vocab_size)->required(), "number of pieces")(
      "out", cli::po::value(&opt.model_prefix)->required(), "output prefix: writes PREFIX.model");
  cli::po::variables_map vm;
  if (!cli::parse("data tokenizer", desc, args, vm)) return 0;
  if (opt.vocab_size < 260)
    fail("data tokenizer: --vocab-size must be at least 260 (3 specials + 256 bytes + 1)");
  data::train_tokenizer(opt);
  std::cerr << "wrote " << opt.model_prefix << ".model (" << opt.vocab_size << " pieces)\n";
  return 0;
}

int data_text(const cli::Args& args) {
  data_cli::Common c;
  std::vector<std::string> inputs;
  cli::po::options_description desc("data text");
  desc.add_options()("input", cli::po::value(&inputs)->multitoken()->required(),
                     "text files, one document each")("doc-per-line", cli::po::bool_switch(),
                                                      "each non-empty line is a document");
  data_cli::add_common(desc, c, "train", "", "unspecified");
  cli::po::variables_map vm;
  if (!cli::parse("data text", desc, args, vm)) return 0;
  const data::Tokenizer tok = data::Tokenizer::load(c.tokenizer);
  if (c.source.empty())
    for (const std::string& in : inputs) c.source += (c.source.empty() ? "" : ", ") + in;
  const auto docs = data::text_file_documents(inputs, vm["doc-per-line"].as<bool>());
  data::TokenDatasetContents contents = data::documents_dataset(docs, tok, "text", c.out);
  data_cli::save(c, contents);
  return 0;
}

}  // namespace condense::cmd
