// The HDF5 token dataset of DESIGN.md ("Files on disk"):
//   /tokens   int32 [N]      every record's ids, concatenated
//   /offsets  int64 [n+1]    record i is tokens[offsets[i], offsets[i+1])
//   /spans/<field> int64 [rows, 2]  absolute [begin, end) token ranges of a field
//   /text/<field>  strings [rows]   the field's text, where eval or prompts need it
//   other int32/int64 datasets a kind needs (e.g. /labels, /turn_offsets)
//   root attributes: format_version, kind, tokenizer_sha256, vocab_size, source,
//   license, split (+ kind-specific ones such as label_names).
// Loading checks the tokenizer hash, so ids are never read with the wrong vocabulary.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace condense::data {

class Tokenizer;

inline constexpr int64_t kDatasetFormatVersion = 1;

struct DatasetInfo {
  std::string kind;  // text | alpaca | dialogue | books | icl | passkey
  std::string source;
  std::string license;
  std::string split;
  std::string tokenizer_sha256;
  int64_t vocab_size = 0;
  int64_t format_version = kDatasetFormatVersion;
};

// Everything a converter writes. Span rows are flattened [begin0, end0, begin1, ...].
struct TokenDatasetContents {
  DatasetInfo info;
  std::vector<int32_t> tokens;
  std::vector<int64_t> offsets{0};
  std::map<std::string, std::vector<int64_t>> spans;
  std::map<std::string, std::vector<std::string>> texts;
  std::map<std::string, std::vector<int32_t>> int32s;  // dataset path -> values
  std::map<std::string, std::vector<int64_t>> int64s;
  std::map<std::string, std::string> attrs;  // extra root string attributes
};

// Checks the contents (offsets monotone and ending at the token count, spans inside
// the tokens, ids below vocab_size), then writes PATH.tmp and renames it onto PATH.
// On any error nothing is left at PATH or PATH.tmp.
void write_token_dataset(const std::string& path, const TokenDatasetContents& contents);

struct Span {
  int64_t begin, end;
};

class TokenDataset {
 public:
  // Throws naming the file when it was made with another tokenizer, when a required
  // dataset or attribute is missing, or when offsets/spans/ids are inconsistent.
  static TokenDataset open(const std::string& path, const Tokenizer& expected);
  static TokenDataset open(const std::string& path, const std::string& expected_sha256);

  const std::string& path() const { return path_; }
  const DatasetInfo& info() const { return info_; }
  int64_t size() const { return static_cast<int64_t>(offsets_.size()) - 1; }
  int64_t num_tokens() const { return static_cast<int64_t>(tokens_->size()); }
  std::span<const int32_t> tokens() const { return *tokens_; }
  // The tokens, shared with loaders that outlive this object.
  std::shared_ptr<const std::vector<int32_t>> shared_tokens() const { return tokens_; }
  const std::vector<int64_t>& offsets() const { return offsets_; }
  std::span<const int32_t> record(int64_t i) const;

  bool has_spans(const std::string& field) const { return spans_.count(field) > 0; }
  int64_t span_rows(const std::string& field) const;
  Span span(const std::string& field, int64_t row) const;
  std::span<const int32_t> span_tokens(const std::string& field, int64_t row) const;

  // Read from the file on demand (they can be large and most users need none).
  std::vector<std::string> texts(const std::string& field) const;
  std::vector<int32_t> int32s(const std::string& name) const;
  std::vector<int64_t> int64s(const std::string& name) const;
  std::string attr(const std::string& key) const;

 private:
  std::string path_;
  DatasetInfo info_;
  std::shared_ptr<const std::vector<int32_t>> tokens_;
  std::vector<int64_t> offsets_;
  std::map<std::string, std::vector<int64_t>> spans_;
};

}  // namespace condense::data
