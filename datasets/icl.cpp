#include "datasets/icl.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/h5.h"
#include "datasets/records.h"
#include "datasets/text_file.h"
#include "datasets/tokenizer.h"

namespace condense::data {
namespace {

std::string where(const std::string& path, size_t line_index) {
  return path + ":" + std::to_string(line_index + 1);
}

int32_t label_index(const std::vector<std::string>& names, std::string_view label,
                    const std::string& at) {
  const auto it = std::find(names.begin(), names.end(), label);
  if (it == names.end()) {
    std::string known;
    for (const std::string& n : names) known += (known.empty() ? "" : ", ") + n;
    fail(at, ": unknown label '", label, "' (expected one of ", known, ")");
  }
  return static_cast<int32_t>(it - names.begin());
}

void expect_inputs(const std::string& task, const std::vector<std::string>& inputs, size_t n) {
  if (inputs.size() != n)
    fail("data icl: task ", task, " takes ", n, " input file", n > 1 ? "s" : "", ", got ",
         inputs.size());
}

// "text<TAB>label" lines; the label string label_strings[i] is label i.
void read_tsv(const std::string& path, bool header, const std::vector<std::string>& label_strings,
              IclExamples& ex) {
  const std::string text = read_text_file(path);
  const std::vector<std::string_view> lines = split_lines(text);
  for (size_t i = header ? 1 : 0; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    const size_t tab = line.rfind('\t');
    if (tab == std::string_view::npos) fail(where(path, i), ": expected text<TAB>label");
    ex.values.push_back({std::string(line.substr(0, tab))});
    ex.labels.push_back(label_index(label_strings, line.substr(tab + 1), where(path, i)));
  }
}

void read_trec(const std::string& path, IclExamples& ex) {
  const std::string text = read_text_file(path);
  const std::vector<std::string_view> lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    const size_t space = line.find(' ');
    const size_t colon = line.find(':');
    if (space == std::string_view::npos || colon == std::string_view::npos || colon > space)
      fail(where(path, i), ": expected 'COARSE:fine question'");
    ex.labels.push_back(label_index(ex.label_names, line.substr(0, colon), where(path, i)));
    ex.fine_labels.emplace_back(line.substr(0, space));
    ex.values.push_back({std::string(line.substr(space + 1))});
  }
}

// One sentence per line; every line of file k has label k.
void read_line_files(const std::vector<std::string>& paths, IclExamples& ex) {
  for (size_t k = 0; k < paths.size(); ++k) {
    const std::string text = read_text_file(paths[k]);
    const std::vector<std::string_view> lines = split_lines(text);
    for (size_t i = 0; i < lines.size(); ++i) {
      if (trim(lines[i]).empty()) fail(where(paths[k], i), ": empty line");
      ex.values.push_back({std::string(lines[i])});
      ex.labels.push_back(static_cast<int32_t>(k));
    }
  }
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// Character references &#NNN; / &#xHH; (RTE-1 has &#163; for the pound sign).
bool append_char_ref(std::string& out, std::string_view name) {
  if (name.size() < 2 || name[0] != '#') return false;
  const bool hex = name[1] == 'x' || name[1] == 'X';
  const std::string_view digits = name.substr(hex ? 2 : 1);
  uint32_t cp = 0;
  const auto [ptr, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || digits.empty() || cp == 0 ||
      cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return false;
  append_utf8(out, cp);
  return true;
}

std::string xml_unescape(std::string_view s, const std::string& at) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    const size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) fail(at, ": unterminated XML entity");
    const std::string_view name = s.substr(i + 1, semi - i - 1);
    static const std::pair<std::string_view, char> kNamed[] = {
        {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    bool known = false;
    for (const auto& [entity, c] : kNamed)
      if (name == entity) {
        out += c;
        known = true;
      }
    if (!known && !append_char_ref(out, name)) fail(at, ": unknown XML entity &", name, ";");
    i = semi;
  }
  return out;
}

// The PASCAL RTE XML: <pair ... entailment="YES|NO" (RTE-1: value="TRUE|FALSE")>
// <t>premise</t> <h>hypothesis</h> </pair>.
void read_rte(const std::string& path, IclExamples& ex) {
  const std::string text = read_text_file(path);
  auto line_at = [&](size_t pos) {
    return where(path, static_cast<size_t>(std::count(text.begin(), text.begin() + pos, '\n')));
  };
  auto element = [&](std::string_view tag, size_t from, size_t limit) {
    const std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
    const size_t a = text.find(open, from);
    const size_t b = a == std::string::npos ? a : text.find(close, a);
    if (b == std::string::npos || b > limit) fail(line_at(from), ": pair without <", tag, ">");
    return xml_unescape(std::string_view(text).substr(a + open.size(), b - a - open.size()),
                        line_at(a));
  };
  for (size_t pos = 0; (pos = text.find("<pair", pos)) != std::string::npos;) {
    const size_t tag_end = text.find('>', pos);
    const size_t pair_end = text.find("</pair>", pos);
    if (tag_end == std::string::npos || pair_end == std::string::npos)
      fail(line_at(pos), ": unterminated <pair>");
    const std::string_view tag = std::string_view(text).substr(pos, tag_end - pos);
    std::string value;
    for (std::string_view attr : {"entailment=\"", "value=\""}) {
      const size_t a = tag.find(attr);
      if (a == std::string_view::npos) continue;
      const size_t b = tag.find('"', a + attr.size());
      value = std::string(tag.substr(a + attr.size(), b - a - attr.size()));
      break;
    }
    int32_t label;
    if (value == "YES" || value == "TRUE")
      label = 0;
    else if (value == "NO" || value == "FALSE")
      label = 1;
    else
      fail(line_at(pos), ": unknown label '", value, "' (expected YES/NO or TRUE/FALSE)");
    ex.values.push_back({element("t", tag_end, pair_end), element("h", tag_end, pair_end)});
    ex.labels.push_back(label);
    pos = pair_end;
  }
  if (ex.values.empty()) fail(path, ": no <pair> elements (not a PASCAL RTE file?)");
}

}  // namespace

const std::vector<std::string>& icl_tasks() {
  static const std::vector<std::string> tasks = {"sst2", "agnews", "trec", "mr", "subj", "rte"};
  return tasks;
}

IclExamples icl_schema(const std::string& task) {
  IclExamples ex;
  ex.task = task;
  if (task == "sst2") {
    ex.fields = {"sentence"};
    ex.label_names = {"negative", "positive"};
  } else if (task == "agnews") {
    ex.fields = {"text"};
    ex.label_names = {"World", "Sports", "Business", "Sci/Tech"};
  } else if (task == "trec") {
    ex.fields = {"question"};
    ex.label_names = {"ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"};
  } else if (task == "mr") {
    ex.fields = {"sentence"};
    ex.label_names = {"negative", "positive"};
  } else if (task == "subj") {
    ex.fields = {"sentence"};
    ex.label_names = {"objective", "subjective"};
  } else if (task == "rte") {
    ex.fields = {"premise", "hypothesis"};
    ex.label_names = {"entailment", "not_entailment"};
  } else {
    std::string known;
    for (const std::string& t : icl_tasks()) known += (known.empty() ? "" : ", ") + t;
    fail("data icl: unknown task '", task, "' (known: ", known, ")");
  }
  return ex;
}

IclExamples read_icl(const std::string& task, const std::vector<std::string>& inputs) {
  IclExamples ex = icl_schema(task);
  if (task == "sst2") {
    expect_inputs(task, inputs, 1);
    read_tsv(inputs[0], /*header=*/true, {"0", "1"}, ex);
  } else if (task == "agnews") {
    expect_inputs(task, inputs, 1);
    read_tsv(inputs[0], /*header=*/false, ex.label_names, ex);
  } else if (task == "trec") {
    expect_inputs(task, inputs, 1);
    read_trec(inputs[0], ex);
  } else if (task == "mr" || task == "subj") {
    expect_inputs(task, inputs, 2);
    read_line_files(inputs, ex);
  } else {  // rte
    expect_inputs(task, inputs, 1);
    read_rte(inputs[0], ex);
  }
  return ex;
}

IclExamples read_icl_dataset(const TokenDataset& set) {
  const std::string& path = set.path();
  if (set.info().kind != "icl")
    fail(path, ": a ", set.info().kind, " dataset, not a classification set (condense data icl)");
  const std::string task = set.attr("task");
  IclExamples ex = icl_schema(task);
  if (set.attr("label_names") != nlohmann::json(ex.label_names).dump())
    fail(path, ": label_names ", set.attr("label_names"), " are not task ", task, "'s");
  ex.labels = set.int32s("/labels");
  const auto n = static_cast<size_t>(set.size());
  std::vector<std::vector<std::string>> columns;
  for (const std::string& f : ex.fields) columns.push_back(set.texts(f));
  for (const std::vector<std::string>& c : columns)
    if (c.size() != n) fail(path, ": a text field does not have its ", n, " records");
  if (ex.labels.size() != n) fail(path, ": /labels does not have its ", n, " records");
  for (size_t i = 0; i < n; ++i) {
    if (ex.labels[i] < 0 || static_cast<size_t>(ex.labels[i]) >= ex.label_names.size())
      fail(path, ": record ", i, " has label ", ex.labels[i], ", not one of task ", task, "'s");
    std::vector<std::string> values;
    for (const std::vector<std::string>& c : columns) values.push_back(c[i]);
    ex.values.push_back(std::move(values));
  }
  if (h5::File(path, h5::File::Mode::read).exists("/text/fine_label"))
    ex.fine_labels = set.texts("fine_label");
  return ex;
}

TokenDatasetContents icl_dataset(const IclExamples& ex, const Tokenizer& tokenizer,
                                 const std::string& label) {
  std::vector<FieldSpec> fields;
  for (const std::string& f : ex.fields) fields.push_back({f});
  RecordBuilder builder(fields, /*bos_per_record=*/false);
  for (const std::vector<std::string>& values : ex.values) {
    for (size_t f = 0; f < values.size(); ++f) builder.add(f, values[f]);
    builder.end_record();
  }
  TokenDatasetContents out;
  builder.build(tokenizer, label, out);
  out.info.kind = "icl";
  out.int32s["/labels"] = ex.labels;
  if (!ex.fine_labels.empty()) out.texts["fine_label"] = ex.fine_labels;
  out.attrs["task"] = ex.task;
  out.attrs["label_names"] = nlohmann::json(ex.label_names).dump();
  return out;
}

}  // namespace condense::data
