// condense import llama2c --model FILE.bin --tokenizer TOK.bin --out DIR
#include <filesystem>
#include <iostream>

#include "core/checkpoint.h"
#include "core/llama2c.h"
#include "datasets/llama2c_tokenizer.h"
#include "datasets/tokenizer.h"
#include "experiments/cli.h"

namespace condense::cmd {

int import_llama2c(const cli::Args& args) {
  std::string model_path, tok_path, out_dir;
  cli::po::options_description desc("import llama2c");
  desc.add_options()("model", cli::po::value(&model_path)->required(), "llama2.c checkpoint .bin")(
      "tokenizer", cli::po::value(&tok_path)->required(), "llama2.c tokenizer .bin")(
      "out", cli::po::value(&out_dir)->required(), "output model directory");
  cli::po::variables_map vm;
  if (!cli::parse("import llama2c", desc, args, vm)) return 0;
  Llama model = read_llama2c_checkpoint(model_path);
  std::filesystem::create_directories(out_dir);
  const std::string tok_out = out_dir + "/tokenizer.model";
  data::convert_llama2c_tokenizer(tok_path, tok_out);
  const data::Tokenizer tok = data::Tokenizer::load(tok_out);
  if (tok.vocab_size() != model.config().vocab_size)
    fail(tok_path, ": tokenizer has ", tok.vocab_size(), " tokens but ", model_path, " has vocab ",
         model.config().vocab_size);
  CheckpointMeta meta;
  meta.config_text = "# imported from llama2.c: " + model_path + "\n";
  save_checkpoint(out_dir + "/model.h5", model, nullptr, meta);
  std::cerr << "imported " << model.num_params() << " parameters (" << model.config().n_layers
            << " layers, dim " << model.config().dim << ", vocab " << model.config().vocab_size
            << ") into " << out_dir << "\n";
  return 0;
}

}  // namespace condense::cmd
