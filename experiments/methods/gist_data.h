// Gisting's data: Alpaca+ token datasets (datasets/alpaca.h) turned into examples,
// and `condense gist prepare`, which builds a tokenizer and the four datasets
// (train, validation_{seen,unseen,human}) from the Alpaca+ JSON files.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/methods/gist_layout.h"

namespace condense::data {
class Tokenizer;
}

namespace condense::gist {

struct Split {
  std::string path;
  std::vector<Example> examples;
  std::vector<std::string> instruction, input, output;  // the fields' texts
};

// Reads an Alpaca dataset (kind "alpaca") made with `tokenizer`.
Split load_split(const std::string& path, const data::Tokenizer& tokenizer, const Template& t);

// Indices of the examples gisting trains on: those whose prompt leaves at least one
// completion token within max_length (longer sequences are cut from the right).
std::vector<int64_t> trainable(const Split& s, const Layout& layout, int64_t max_length);

inline const std::vector<std::string> kEvalSplits = {"seen", "unseen", "human"};

struct PrepareOptions {
  std::string train_json;  // Alpaca+ train JSON (or the approximate Alpaca half)
  std::string valid_dir;   // folder with alpaca_plus_validation_{seen,unseen,human}.json
  std::string out;         // output folder
  std::string tokenizer;   // an existing SentencePiece model; "" trains one on train_json
  int vocab_size = 2048;   // pieces of the trained tokenizer
  int64_t max_train = 0;   // keep only the first N train records (0: all)
};

// Where prepare() puts things under `out`.
struct DataFiles {
  std::string tokenizer, train;
  std::vector<std::string> eval;  // validation_{seen,unseen,human}.h5, in kEvalSplits order
  static DataFiles in(const std::string& out);
};

// Builds whatever of DataFiles::in(out) is missing (an existing file is kept, so an
// interrupted prepare resumes). Progress lines go to stderr.
DataFiles prepare(const PrepareOptions& options);

}  // namespace condense::gist
