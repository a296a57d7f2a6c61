// Instruction data (Alpaca+): the records every method on the instruction task trains
// and is evaluated on, and `condense data instruct`, which builds a tokenizer and the
// four datasets (train, validation_{seen,unseen,human}) from the Alpaca+ JSON files.
//
// A record is cut where a compression method puts its compressed context:
//
//   BOS "Instruction: {instruction}\n" | "\nInput: {input}\nOutput:" | "{output}" EOS
//   \_________ context ______________/   \__________ query __________/   \_ completion _/
//
// ("\nInput: {input}" is left out when the input is empty). A method may put tokens of
// its own between context and query (gist tokens). Only the completion is a target.
//
// Each piece is tokenized on its own: the fixed template strings once, the fields as
// the Alpaca dataset stored them (each encoded alone, datasets/alpaca.h). The prompt
// is the concatenation of the pieces, so the query's ids are the same whether the
// context is cached, compressed or run in full (no re-tokenize-and-strip trick is
// needed to make the token boundaries agree).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "experiments/cli.h"

namespace condense::data {
class Tokenizer;
}

namespace condense::instruct {

// The template's fixed strings, tokenized once for a tokenizer.
struct Template {
  int32_t bos = 1, eos = 2;
  std::vector<int32_t> instruction_head;  // "Instruction:" (the field brings its leading space)
  std::vector<int32_t> context_end;       // "\n" after the instruction
  std::vector<int32_t> input_head;        // "\nInput:"
  std::vector<int32_t> output_head;       // "\nOutput:"

  static Template make(const data::Tokenizer& tokenizer);
};

// One record, cut into context, query and completion.
struct Example {
  std::vector<int32_t> instruction;  // BOS "Instruction: ..." "\n": the context
  std::vector<int32_t> suffix;       // "\nInput: ..." "\nOutput:": the query
  std::vector<int32_t> completion;   // output ids + EOS: the targets
};

// Assembles an example from the field ids (each as encode() gave it, with the
// tokenizer's dummy-prefix space, which plays the space after "Instruction:" etc.).
Example make_example(const Template& t, std::span<const int32_t> instruction,
                     std::span<const int32_t> input, std::span<const int32_t> output);

struct Split {
  std::string path;
  std::vector<Example> examples;
  std::vector<std::string> instruction, input, output;  // the fields' texts
};

// Reads an Alpaca dataset (kind "alpaca") made with `tokenizer`.
Split load_split(const std::string& path, const data::Tokenizer& tokenizer, const Template& t);

// Indices of the examples a method trains on: those whose prompt (prompt_length tokens
// under the method's layout) leaves at least one completion token within max_length
// (longer sequences are cut from the right).
template <class PromptLength>
std::vector<int64_t> trainable(const Split& s, const PromptLength& prompt_length,
                               int64_t max_length) {
  std::vector<int64_t> keep;
  for (size_t i = 0; i < s.examples.size(); ++i)
    if (prompt_length(s.examples[i]) < max_length) keep.push_back(static_cast<int64_t>(i));
  return keep;
}

inline const std::vector<std::string> kEvalSplits = {"seen", "unseen", "human"};

struct PrepareOptions {
  std::string train_json;  // Alpaca+ train JSON (or the approximate Alpaca half)
  std::string valid_dir;   // folder with alpaca_plus_validation_{seen,unseen,human}.json
  std::string out;         // output folder
  std::string tokenizer;   // an existing SentencePiece model; "" trains one on train_json
  int vocab_size = 2048;   // pieces of the trained tokenizer
  int64_t max_train = 0;   // keep only the first N train records (0: all)
};

// [data] dir (the prepared folder) and [prepare] train_json, valid_dir, tokenizer,
// vocab_size, max_train.
void add_data_options(cli::po::options_description& desc, std::string& dir, PrepareOptions& o);

// Where prepare() puts things under `out`.
struct DataFiles {
  std::string tokenizer, train;
  std::vector<std::string> eval;  // validation_{seen,unseen,human}.h5, in kEvalSplits order
  static DataFiles in(const std::string& out);
};

// Builds whatever of DataFiles::in(out) is missing (an existing file is kept, so an
// interrupted prepare resumes). Progress lines go to stderr.
DataFiles prepare(const PrepareOptions& options);

}  // namespace condense::instruct
