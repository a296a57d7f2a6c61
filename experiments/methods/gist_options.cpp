#include "experiments/methods/gist_options.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace condense::gist {

namespace po = cli::po;

void add_options(po::options_description& desc, Options& o, bool with_training) {
  if (with_training) {
    exp::add_model_options(desc, o.model);
    exp::add_optim_options(desc, o.optim);
    exp::add_train_options(desc, o.train);
  }
  desc.add_options()("gist.num_tokens", po::value(&o.num_tokens)->default_value(o.num_tokens),
                     "gist tokens k")("gist.condition",
                                      po::value(&o.condition)->default_value(o.condition),
                                      "gist | pos_control | neg_control (METHODS.md §1.2)")(
      "data.dir", po::value(&o.data_dir)->required(),
      "prepared data folder (tokenizer.model, train.h5, validation_{seen,unseen,human}.h5)")(
      "prepare.train_json", po::value(&o.prepare.train_json)->default_value(""),
      "Alpaca+ train JSON for gist prepare")(
      "prepare.valid_dir", po::value(&o.prepare.valid_dir)->default_value(""),
      "folder of alpaca_plus_validation_{seen,unseen,human}.json")(
      "prepare.tokenizer", po::value(&o.prepare.tokenizer)->default_value(""),
      "use this SentencePiece model instead of training one")(
      "prepare.vocab_size", po::value(&o.prepare.vocab_size)->default_value(o.prepare.vocab_size),
      "pieces of the tokenizer trained on the train JSON")(
      "prepare.max_train", po::value(&o.prepare.max_train)->default_value(0),
      "keep only the first N train records (0: all)")(
      "eval.max_examples", po::value(&o.eval.max_examples)->default_value(o.eval.max_examples),
      "examples per split after a seeded shuffle (0: all)")(
      "eval.batch_size", po::value(&o.eval.batch_size)->default_value(o.eval.batch_size),
      "prompts decoded together")(
      "eval.max_new_tokens",
      po::value(&o.eval.max_new_tokens)->default_value(o.eval.max_new_tokens),
      "longest generated output")(
      "eval.cache", po::value(&o.eval.cache)->default_value(o.eval.cache),
      "auto (gist caching for gist runs, none for the controls) | none | gist | prompt")(
      "eval.every", po::value(&o.eval.every)->default_value(o.eval.every),
      "ROUGE evaluation every N training steps (0: at the end only)")(
      "sweep.dir", po::value(&o.sweep.dir)->default_value(""), "sweep directory")(
      "sweep.num_tokens", po::value(&o.sweep.num_tokens)->default_value(o.sweep.num_tokens),
      "gist token counts of the gist condition (comma-separated)")(
      "sweep.controls", po::value(&o.sweep.controls)->default_value(o.sweep.controls),
      "control conditions run at k = 1 (comma-separated, may be empty)")(
      "sweep.list", po::bool_switch(&o.sweep.list),
      "print the grid points' run names, one per line, and stop")(
      "sweep.only", po::value(&o.sweep.only)->default_value(""),
      "train and evaluate this grid point alone (a name --sweep.list prints), without preparing "
      "data or writing the table: one task of a SLURM array (slurm/gist_sweep.sh)");
}

std::vector<int> parse_int_list(const std::string& text, const std::string& what) {
  std::vector<int> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    size_t used = 0;
    int v = 0;
    try {
      v = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || v <= 0)
      fail(what, ": '", item, "' in '", text, "' is not a positive integer");
    out.push_back(v);
  }
  if (out.empty()) fail(what, ": empty list");
  return out;
}

void read_run_method(const std::string& run_dir, int& num_tokens, std::string& condition) {
  const std::string path = (std::filesystem::path(run_dir) / "config.cfg").string();
  std::ifstream in(path);
  if (!in) fail(path, ": cannot open (is ", run_dir, " a gist run directory?)");
  po::options_description d;
  d.add_options()("gist.num_tokens", po::value(&num_tokens))("gist.condition",
                                                             po::value(&condition));
  po::variables_map vm;
  try {
    po::store(po::parse_config_file(in, d, true), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    fail(path, ": ", e.what());
  }
  if (!vm.count("gist.num_tokens") || !vm.count("gist.condition"))
    fail(path, ": no [gist] num_tokens / condition (not a gist run?)");
}

}  // namespace condense::gist
