// condense gist prepare --data.dir DIR --prepare.train_json FILE --prepare.valid_dir DIR
// Builds what the gist commands read from data.dir: a SentencePiece tokenizer trained
// on the train JSON (or --prepare.tokenizer, e.g. an imported model's), train.h5 and
// validation_{seen,unseen,human}.h5 (Alpaca datasets, datasets/alpaca.h). Files that
// exist are kept. Reads the gist options of a shared experiment .cfg, ignoring others.
#include "experiments/methods/gist_data.h"
#include "experiments/methods/gist_options.h"

namespace condense::cmd {

int gist_prepare(const cli::Args& args) {
  gist::Options o;
  cli::po::options_description desc("gist prepare");
  gist::add_options(desc, o, false);
  cli::po::variables_map vm;
  if (!cli::parse("gist prepare", desc, args, vm, true)) return 0;
  if (o.prepare.train_json.empty() || o.prepare.valid_dir.empty())
    fail("gist prepare: --prepare.train_json and --prepare.valid_dir are required");
  o.prepare.out = o.data_dir;
  gist::prepare(o.prepare);
  return 0;
}

}  // namespace condense::cmd
