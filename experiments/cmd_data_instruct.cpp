// condense data instruct --data.dir DIR --prepare.train_json FILE --prepare.valid_dir DIR
// Builds the instruction data every method on the instruction task reads from data.dir
// (experiments/tasks/instruct.h): a SentencePiece tokenizer trained on the train JSON
// (or --prepare.tokenizer, e.g. an imported model's), train.h5 and
// validation_{seen,unseen,human}.h5. Files that exist are kept. Reads the [data] and
// [prepare] options of a shared experiment .cfg, ignoring the others.
#include "core/error.h"
#include "experiments/tasks/instruct.h"

namespace condense::cmd {

int data_instruct(const cli::Args& args) {
  instruct::PrepareOptions o;
  cli::po::options_description desc("data instruct");
  instruct::add_data_options(desc, o.out, o);
  cli::po::variables_map vm;
  if (!cli::parse("data instruct", desc, args, vm, true)) return 0;
  if (o.train_json.empty() || o.valid_dir.empty())
    fail("data instruct: --prepare.train_json and --prepare.valid_dir are required");
  instruct::prepare(o);
  return 0;
}

}  // namespace condense::cmd
