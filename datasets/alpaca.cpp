#include "datasets/alpaca.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "datasets/records.h"
#include "datasets/text_file.h"
#include "datasets/tokenizer.h"

namespace condense::data {
namespace {

int64_t line_of(const std::string& text, size_t byte) {
  byte = std::min(byte, text.size());
  return 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(byte), '\n');
}

// Byte offset where each element of the top-level JSON array starts, so that an
// error in record i can name its line. Assumes the text already parsed as JSON.
std::vector<size_t> array_element_starts(const std::string& text) {
  std::vector<size_t> starts;
  int depth = 0;
  bool in_string = false, expect_element = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (depth == 1 && expect_element) {
      starts.push_back(i);
      expect_element = false;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{')
      expect_element = ++depth == 1;
    else if (c == ']' || c == '}')
      --depth;
    else if (c == ',' && depth == 1)
      expect_element = true;
  }
  return starts;
}

}  // namespace

std::vector<AlpacaRecord> read_alpaca_json(const std::string& path) {
  const std::string text = read_text_file(path);
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(path, ":", line_of(text, e.byte == 0 ? 0 : e.byte - 1), ": bad JSON (", e.what(), ")");
  }
  if (!doc.is_array()) fail(path, ":1: expected a JSON array of records");
  const std::vector<size_t> starts = array_element_starts(text);
  std::vector<AlpacaRecord> records;
  records.reserve(doc.size());
  for (size_t i = 0; i < doc.size(); ++i) {
    const nlohmann::json& r = doc[i];
    auto where = [&] {
      return path + ":" + std::to_string(line_of(text, i < starts.size() ? starts[i] : 0)) +
             ": record " + std::to_string(i);
    };
    if (!r.is_object()) fail(where(), " is not a JSON object");
    auto field = [&](const char* key, bool required) -> std::string {
      auto it = r.find(key);
      if (it == r.end()) {
        if (required) fail(where(), " has no \"", key, "\" field");
        return {};
      }
      if (!it->is_string()) fail(where(), ": \"", key, "\" is not a string");
      return it->get<std::string>();
    };
    records.push_back({field("instruction", true), field("input", true), field("output", true),
                       field("source", false)});
  }
  return records;
}

TokenDatasetContents alpaca_dataset(const std::vector<AlpacaRecord>& records,
                                    const Tokenizer& tokenizer, const std::string& label) {
  enum { kInstruction, kInput, kOutput };
  RecordBuilder builder({{"instruction"}, {"input"}, {"output"}}, /*bos_per_record=*/false);
  TokenDatasetContents out;
  std::vector<std::string>& sources = out.texts["source"];
  for (const AlpacaRecord& r : records) {
    builder.add(kInstruction, r.instruction);
    builder.add(kInput, r.input);
    builder.add(kOutput, r.output);
    builder.end_record();
    sources.push_back(r.source);
  }
  builder.build(tokenizer, label, out);
  out.info.kind = "alpaca";
  return out;
}

}  // namespace condense::data
