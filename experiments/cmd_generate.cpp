// condense generate --model DIR --prompt TEXT --max-new-tokens N --temperature T
// Writes the prompt and its continuation to stdout and nothing else.
#include <iostream>

#include "datasets/tokenizer.h"
#include "eval/generate.h"
#include "experiments/cli.h"
#include "experiments/device.h"
#include "experiments/model_dir.h"

namespace condense::cmd {

int generate(const cli::Args& args) {
  std::string model_dir, prompt, device_name = "cpu";
  eval::SamplingConfig cfg;
  bool no_stop = false;
  cli::po::options_description desc("generate");
  desc.add_options()("model", cli::po::value(&model_dir)->required(), "model or run directory")(
      "prompt", cli::po::value(&prompt)->default_value(""), "text to continue (empty: from BOS)")(
      "max-new-tokens", cli::po::value(&cfg.max_new_tokens)->default_value(128), "tokens to add")(
      "temperature", cli::po::value(&cfg.temperature)->default_value(0.0f), "0 = greedy")(
      "top-p", cli::po::value(&cfg.top_p)->default_value(0.9f), "nucleus mass when sampling")(
      "seed", cli::po::value(&cfg.seed)->default_value(0), "sampling seed")(
      "device", cli::po::value(&device_name)->default_value("cpu"), "cpu or cuda")(
      "no-stop", cli::po::bool_switch(&no_stop),
      "keep going past BOS/EOS: exactly --max-new-tokens tokens (for timing)");
  cli::po::variables_map vm;
  if (!cli::parse("generate", desc, args, vm)) return 0;
  if (cfg.max_new_tokens < 0) fail("generate: --max-new-tokens must be >= 0");
  const exp::ModelFiles files = exp::locate_model(model_dir);
  const data::Tokenizer tok = data::Tokenizer::load(files.tokenizer);
  const Llama model = exp::load_model(files.checkpoint, exp::parse_device(device_name));
  if (tok.vocab_size() > model.config().vocab_size)
    fail("tokenizer ", files.tokenizer, " has ", tok.vocab_size(),
         " tokens, more than the model's vocab ", model.config().vocab_size);
  std::vector<int32_t> ids = tok.encode(prompt, true, false);
  // llama2.c-trained models use BOS as the story separator; stop on it and on EOS.
  if (!no_stop) cfg.stop_ids = {tok.bos_id(), tok.eos_id()};
  std::vector<int32_t> fresh = eval::generate(model, ids, cfg);
  if (!no_stop && !fresh.empty() && (fresh.back() == tok.bos_id() || fresh.back() == tok.eos_id()))
    fresh.pop_back();
  ids.insert(ids.end(), fresh.begin(), fresh.end());
  std::cout << tok.decode(ids) << std::endl;
  return 0;
}

}  // namespace condense::cmd
