#include "datasets/token_dataset.h"

#include "core/error.h"
#include "core/h5.h"
#include "core/atomic_file.h"
#include "datasets/tokenizer.h"

namespace condense::data {
namespace {

// The invariants every dataset file keeps; `where` names the file in errors.
void validate(const std::string& where, std::span<const int32_t> tokens,
              const std::vector<int64_t>& offsets,
              const std::map<std::string, std::vector<int64_t>>& spans, int64_t vocab_size) {
  const auto n_tokens = static_cast<int64_t>(tokens.size());
  if (offsets.empty() || offsets.front() != 0) fail(where, ": /offsets must start at 0");
  for (size_t i = 1; i < offsets.size(); ++i)
    if (offsets[i] < offsets[i - 1])
      fail(where, ": /offsets is not monotone at record ", i - 1, " (", offsets[i - 1], " > ",
           offsets[i], ")");
  if (offsets.back() != n_tokens)
    fail(where, ": /offsets ends at ", offsets.back(), " but /tokens has ", n_tokens, " ids");
  for (const auto& [field, rows] : spans) {
    if (rows.size() % 2) fail(where, ": /spans/", field, " is not [rows, 2]");
    for (size_t r = 0; r < rows.size(); r += 2)
      if (rows[r] < 0 || rows[r] > rows[r + 1] || rows[r + 1] > n_tokens)
        fail(where, ": /spans/", field, " row ", r / 2, " = [", rows[r], ", ", rows[r + 1],
             ") is outside the ", n_tokens, " tokens");
  }
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab_size)
      fail(where, ": token ", i, " has id ", tokens[i], ", outside the vocabulary of ", vocab_size);
}

}  // namespace

void write_token_dataset(const std::string& path, const TokenDatasetContents& c) {
  const DatasetInfo& info = c.info;
  if (info.tokenizer_sha256.empty() || info.vocab_size <= 0 || info.kind.empty())
    fail(path, ": dataset info needs kind, tokenizer_sha256 and vocab_size");
  validate(path, c.tokens, c.offsets, c.spans, info.vocab_size);
  write_atomically(path, [&](const std::string& tmp) {
    {
      h5::File f(tmp, h5::File::Mode::create);
      f.write("/tokens", {static_cast<int64_t>(c.tokens.size())}, c.tokens.data());
      f.write("/offsets", {static_cast<int64_t>(c.offsets.size())}, c.offsets.data());
      for (const auto& [field, rows] : c.spans)
        f.write("/spans/" + field, {static_cast<int64_t>(rows.size() / 2), 2}, rows.data());
      for (const auto& [field, values] : c.texts) f.write_strings("/text/" + field, values);
      for (const auto& [name, values] : c.int32s)
        f.write(name, {static_cast<int64_t>(values.size())}, values.data());
      for (const auto& [name, values] : c.int64s)
        f.write(name, {static_cast<int64_t>(values.size())}, values.data());
      f.set_attr("/", "format_version", info.format_version);
      f.set_attr("/", "kind", info.kind);
      f.set_attr("/", "tokenizer_sha256", info.tokenizer_sha256);
      f.set_attr("/", "vocab_size", info.vocab_size);
      f.set_attr("/", "source", info.source);
      f.set_attr("/", "license", info.license);
      f.set_attr("/", "split", info.split);
      for (const auto& [key, value] : c.attrs) f.set_attr("/", key, value);
      f.close();
    }
    // Read back what matters before the rename: a short write fails here, not later.
    h5::File check(tmp, h5::File::Mode::read);
    if (check.shape("/tokens") != std::vector<int64_t>{static_cast<int64_t>(c.tokens.size())})
      fail(path, ": /tokens did not read back");
  });
}

TokenDataset TokenDataset::open(const std::string& path, const Tokenizer& expected) {
  TokenDataset ds = open(path, expected.sha256());
  if (ds.info_.vocab_size != expected.vocab_size())
    fail("dataset ", path, " has vocab_size ", ds.info_.vocab_size, ", but the tokenizer ",
         expected.path(), " has ", expected.vocab_size());
  return ds;
}

TokenDataset TokenDataset::open(const std::string& path, const std::string& expected_sha256) {
  h5::File f(path, h5::File::Mode::read);
  TokenDataset ds;
  ds.path_ = path;
  DatasetInfo& info = ds.info_;
  info.format_version = f.attr_int("/", "format_version");
  if (info.format_version > kDatasetFormatVersion)
    fail(path, ": dataset format_version ", info.format_version,
         " is newer than this condense reads (", kDatasetFormatVersion, ")");
  info.tokenizer_sha256 = f.attr_string("/", "tokenizer_sha256");
  if (info.tokenizer_sha256 != expected_sha256)
    fail("dataset ", path, " was made with tokenizer sha256 ", info.tokenizer_sha256,
         ", but the tokenizer given is ", expected_sha256);
  info.kind = f.attr_string("/", "kind");
  info.vocab_size = f.attr_int("/", "vocab_size");
  info.source = f.attr_string("/", "source");
  info.license = f.attr_string("/", "license");
  info.split = f.attr_string("/", "split");
  ds.tokens_ = std::make_shared<const std::vector<int32_t>>(f.read_i32("/tokens"));
  ds.offsets_ = f.read_i64("/offsets");
  for (const std::string& field : f.children("/spans")) {
    const std::string name = "/spans/" + field;
    const std::vector<int64_t> shape = f.shape(name);
    if (shape.size() != 2 || shape[1] != 2) fail(path, ": ", name, " is not [rows, 2]");
    ds.spans_[field] = f.read_i64(name);
  }
  validate(path, *ds.tokens_, ds.offsets_, ds.spans_, info.vocab_size);
  return ds;
}

std::span<const int32_t> TokenDataset::record(int64_t i) const {
  if (i < 0 || i >= size()) fail(path_, ": record ", i, " out of range (", size(), " records)");
  return tokens().subspan(offsets_[i], offsets_[i + 1] - offsets_[i]);
}

int64_t TokenDataset::span_rows(const std::string& field) const {
  auto it = spans_.find(field);
  if (it == spans_.end()) fail(path_, ": no /spans/", field);
  return static_cast<int64_t>(it->second.size() / 2);
}

Span TokenDataset::span(const std::string& field, int64_t row) const {
  const int64_t rows = span_rows(field);
  if (row < 0 || row >= rows) fail(path_, ": /spans/", field, " row ", row, " out of range");
  const std::vector<int64_t>& s = spans_.at(field);
  return {s[2 * row], s[2 * row + 1]};
}

std::span<const int32_t> TokenDataset::span_tokens(const std::string& field, int64_t row) const {
  const Span s = span(field, row);
  return tokens().subspan(s.begin, s.end - s.begin);
}

std::vector<std::string> TokenDataset::texts(const std::string& field) const {
  return h5::File(path_, h5::File::Mode::read).read_strings("/text/" + field);
}

std::vector<int32_t> TokenDataset::int32s(const std::string& name) const {
  return h5::File(path_, h5::File::Mode::read).read_i32(name);
}

std::vector<int64_t> TokenDataset::int64s(const std::string& name) const {
  return h5::File(path_, h5::File::Mode::read).read_i64(name);
}

std::string TokenDataset::attr(const std::string& key) const {
  return h5::File(path_, h5::File::Mode::read).attr_string("/", key);
}

}  // namespace condense::data
