#include "datasets/train_tokenizer.h"

#include <sentencepiece_trainer.h>

#include <filesystem>
#include <unordered_map>

#include "core/error.h"
#include "core/atomic_file.h"

namespace condense::data {

void train_tokenizer(const TokenizerTrainingOptions& options) {
  if (options.inputs.empty()) fail("data tokenizer: no input files");
  if (options.model_prefix.empty()) fail("data tokenizer: no output prefix");
  std::string inputs;
  for (const std::string& path : options.inputs) {
    if (!std::filesystem::is_regular_file(path)) fail(path, ": no such input file");
    // SentencePiece takes the inputs as one comma-separated flag.
    if (path.find(',') != std::string::npos)
      fail(path, ": input paths must not contain ',' (SentencePiece splits on it)");
    inputs += (inputs.empty() ? "" : ",") + path;
  }
  const std::unordered_map<std::string, std::string> args = {
      {"input", inputs},
      {"vocab_size", std::to_string(options.vocab_size)},
      {"model_type", "bpe"},
      {"byte_fallback", "true"},
      {"character_coverage", "1.0"},
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"add_dummy_prefix", "true"},
      {"split_digits", "true"},
      {"allow_whitespace_only_pieces", "true"},
      {"max_sentence_length", "16384"},
      // Every line, in file order, on one thread: the same corpus gives the same model.
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"num_threads", "1"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "-1"},
      {"minloglevel", "1"},
  };
  // The model comes back in memory (SentencePiece then requires no model_prefix), so
  // that it is written atomically.
  std::string model;
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, nullptr, &model);
  if (!status.ok()) fail("data tokenizer: SentencePiece training failed: ", status.ToString());
  write_file_atomically(options.model_prefix + ".model", model);
}

}  // namespace condense::data
