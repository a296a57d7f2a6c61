// SentencePiece tokenizer: LLaMA's tokenizer.model, one converted from llama2.c,
// or one trained with `condense data tokenizer`.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace condense::data {

class Tokenizer {
 public:
  // Throws naming the path when the file is missing or is not a SentencePiece model.
  static Tokenizer load(const std::string& model_path);

  // Ids of `text`, optionally wrapped in BOS/EOS. Thread-safe.
  std::vector<int32_t> encode(std::string_view text, bool bos, bool eos) const;
  // Ids of `text` as it continues a document that was cut right after a '\n': the
  // same ids that encoding the whole document gives for this part, because no
  // dummy-prefix space is added in front (see can_split_at_newlines()).
  std::vector<int32_t> encode_continuation(std::string_view text) const;
  std::string decode(std::span<const int32_t> ids) const;

  int vocab_size() const;
  int bos_id() const;
  int eos_id() const;
  // Hex SHA-256 of the .model file's bytes: what datasets record and check.
  const std::string& sha256() const;
  const std::string& path() const;
  // True when encoding a text in pieces cut after each '\n' (first piece with
  // encode(), the rest with encode_continuation()) gives exactly the ids of the
  // whole: no vocabulary piece contains '\n', so no merge can cross a line end.
  bool can_split_at_newlines() const;

 private:
  struct Impl;
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace condense::data
