// Records made of text fields, tokenized field by field.
//
// Each field value (a "segment") is encoded on its own, so the ids in its span
// decode back to exactly its text: SentencePiece's decode drops the dummy-prefix
// space that encode adds in front of a text, which only round-trips when the span
// starts where an encode() started. A record's tokens are its segments' ids in
// order, after an optional BOS.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/token_dataset.h"

namespace condense::data {

class Tokenizer;

struct FieldSpec {
  std::string name;
  bool store_text = true;  // also keep the strings under /text/<name>
};

class RecordBuilder {
 public:
  RecordBuilder(std::vector<FieldSpec> fields, bool bos_per_record);

  // Appends a segment of field number `field` (index into the FieldSpec list) to the
  // current record; end_record() closes it (a record may have no segments).
  void add(size_t field, std::string text);
  void end_record();
  int64_t records() const { return static_cast<int64_t>(record_begin_.size()) - 1; }
  int64_t segments() const { return static_cast<int64_t>(texts_.size()); }

  // Tokenizes every segment (in parallel) and fills tokens, offsets, /spans/<field>
  // and /text/<field> of `out`, plus its tokenizer hash and vocab size. Returns the
  // number of segments whose ids do not decode back to their text exactly (0 with
  // an identity-normalising byte-fallback tokenizer such as LLaMA's).
  int64_t build(const Tokenizer& tokenizer, const std::string& label,
                TokenDatasetContents& out) const;

 private:
  std::vector<FieldSpec> fields_;
  bool bos_;
  std::vector<std::string> texts_;
  std::vector<size_t> field_of_;
  std::vector<size_t> record_begin_{0};  // segments [begin[i], begin[i+1]) are record i
};

}  // namespace condense::data
