// condense data facts --out DIR --tokenizer MODEL --train N --valid N --test N --seed S
// [--doc.tokens T] [--segment L] [--facts F] [--filler BOOKS.h5 [--filler.heldout H.h5]]:
// documents with facts early and questions late (datasets/facts.h), written as
// DIR/train.h5, DIR/valid.h5 and DIR/test.h5. Each split draws from its own stream of
// the seed; validation and test use the held-out names (and --filler.heldout's text).
#include <filesystem>
#include <iostream>

#include "core/error.h"
#include "datasets/facts.h"
#include "datasets/tokenizer.h"
#include "experiments/cmd_data.h"

namespace condense::cmd {
namespace {

// The filler stream: a books dataset's tokens without BOS/EOS, or the synthetic one.
std::vector<int32_t> filler_stream(const std::string& path, const data::Tokenizer& tok,
                                   int64_t synthetic_tokens) {
  if (path.empty()) return data::synthetic_filler(tok, synthetic_tokens);
  const data::TokenDataset set = data::TokenDataset::open(path, tok);
  std::vector<int32_t> out;
  for (int32_t id : set.tokens())
    if (id != tok.bos_id() && id != tok.eos_id()) out.push_back(id);
  if (out.empty()) fail("data facts: ", path, " has no tokens to cut filler from");
  return out;
}

}  // namespace

int data_facts(const cli::Args& args) {
  std::string out, tokenizer, filler, filler_heldout;
  int64_t counts[3] = {0, 0, 0}, doc_tokens = 640;
  data::FactsOptions o;
  cli::po::options_description desc("data facts");
  desc.add_options()("out", cli::po::value(&out)->required(),
                     "output folder: train.h5, valid.h5, test.h5")(
      "tokenizer", cli::po::value(&tokenizer)->required(), "SentencePiece .model")(
      "train", cli::po::value(&counts[0])->required(), "training documents")(
      "valid", cli::po::value(&counts[1])->required(), "validation documents")(
      "test", cli::po::value(&counts[2])->required(), "test documents")(
      "seed", cli::po::value(&o.seed)->default_value(1), "generator seed")(
      "doc.tokens", cli::po::value(&doc_tokens)->default_value(doc_tokens),
      "tokens of a document before its EOS: a multiple of --segment")(
      "segment", cli::po::value(&o.segment)->default_value(o.segment),
      "segment tokens: the facts fill the first segment, the questions end the last")(
      "facts", cli::po::value(&o.facts)->default_value(o.facts),
      "facts (and questions) per document")(
      "min_number", cli::po::value(&o.min_number)->default_value(o.min_number), "smallest answer")(
      "max_number", cli::po::value(&o.max_number)->default_value(o.max_number), "largest answer")(
      "filler", cli::po::value(&filler)->default_value(""),
      "books dataset (.h5, this tokenizer) whose text fills the documents; none: synthetic "
      "sentences")("filler.heldout", cli::po::value(&filler_heldout)->default_value(""),
                   "books dataset for the validation and test filler (default: --filler)");
  cli::po::variables_map vm;
  if (!cli::parse("data facts", desc, args, vm)) return 0;
  const char* splits[3] = {"train", "valid", "test"};
  for (int s = 0; s < 3; ++s)
    if (counts[s] < 1) fail("data facts: --", splits[s], " must be at least 1, got ", counts[s]);
  if (o.segment < 1 || doc_tokens % o.segment != 0)
    fail("data facts: --doc.tokens (", doc_tokens, ") must be a multiple of --segment (", o.segment,
         ")");
  o.segments = doc_tokens / o.segment;
  data::check_facts_options(o);
  if (filler_heldout.empty()) filler_heldout = filler;
  const data::Tokenizer tok = data::Tokenizer::load(tokenizer);
  const std::vector<int32_t> streams[2] = {filler_stream(filler, tok, 200000),
                                           filler_stream(filler_heldout, tok, 200000)};
  // Every split is made before any is written, so an error leaves nothing behind.
  std::vector<data::TokenDatasetContents> made;
  for (int s = 0; s < 3; ++s) {
    data::FactsOptions split = o;
    split.documents = counts[s];
    split.heldout_names = s > 0;
    split.seed = o.seed * 3 + static_cast<uint64_t>(s);  // one stream per split and seed
    made.push_back(data::facts_dataset(split, tok, streams[s > 0 ? 1 : 0]));
    made.back().info.split = splits[s];
    made.back().info.source = "generated: facts early, questions late (seed " +
                              std::to_string(o.seed) + ", filler " +
                              (s > 0 ? filler_heldout : filler) + ")";
    made.back().info.license =
        "generated text" + std::string(filler.empty() ? "" : " + the filler's");
  }
  std::filesystem::create_directories(out);
  for (int s = 0; s < 3; ++s) {
    const std::string path = out + "/" + splits[s] + ".h5";
    data::write_token_dataset(path, made[s]);
    std::cerr << "wrote " << path << ": " << made[s].offsets.size() - 1 << " documents, "
              << made[s].tokens.size() << " tokens\n";
  }
  return 0;
}

}  // namespace condense::cmd
