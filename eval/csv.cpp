#include "eval/csv.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"

namespace condense::eval {
namespace {

// Reads one record starting at `pos`, advancing `pos` past its line end and `line` past every
// line break it consumes (quoted fields may hold some).
std::vector<std::string> read_record(std::string_view text, size_t& pos, size_t& line,
                                     const std::string& source) {
  const size_t n = text.size();
  const auto at_line_end = [&](size_t p) {
    return p < n && (text[p] == '\n' || text.substr(p, 2) == "\r\n");
  };
  std::vector<std::string> fields;
  while (true) {
    std::string field;
    if (pos < n && text[pos] == '"') {
      const size_t opened_on = line;
      ++pos;
      while (true) {
        if (pos >= n) fail(source, ":", opened_on, ": quoted field is never closed");
        if (text[pos] == '"') {
          if (pos + 1 < n && text[pos + 1] == '"') {
            field += '"';
            pos += 2;
            continue;
          }
          ++pos;
          break;
        }
        if (text[pos] == '\n') ++line;
        field += text[pos++];
      }
      if (pos < n && text[pos] != ',' && !at_line_end(pos))
        fail(source, ":", line, ": unexpected character after a closing quote");
    } else {
      while (pos < n && text[pos] != ',' && !at_line_end(pos)) {
        if (text[pos] == '"') fail(source, ":", line, ": quote inside an unquoted field");
        field += text[pos++];
      }
    }
    fields.push_back(std::move(field));
    if (pos < n && text[pos] == ',') {
      ++pos;
      continue;
    }
    if (at_line_end(pos)) {
      pos += text[pos] == '\r' ? 2 : 1;
      ++line;
    }
    return fields;
  }
}

bool needs_quotes(const std::string& field, size_t row_width) {
  // A lone empty field is quoted so that its row is not an empty line, which readers skip.
  return field.find_first_of(",\"\r\n") != std::string::npos || (row_width == 1 && field.empty());
}

void write_record(std::ostream& out, const std::vector<std::string>& fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out << ',';
    const std::string& f = fields[i];
    if (!needs_quotes(f, fields.size())) {
      out << f;
      continue;
    }
    out << '"';
    for (char c : f) {
      if (c == '"') out << '"';
      out << c;
    }
    out << '"';
  }
  out << '\n';
}

}  // namespace

size_t CsvTable::column(std::string_view name) const {
  const auto it = std::find(header.begin(), header.end(), name);
  if (it != header.end()) return size_t(it - header.begin());
  std::string have;
  for (const std::string& h : header) have += (have.empty() ? "" : ", ") + h;
  fail(source, ": no column '", name, "' (columns: ", have, ")");
}

CsvTable parse_csv(std::string_view text, const std::string& source) {
  CsvTable table;
  table.source = source;
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  size_t pos = 0, line = 1;
  bool have_header = false;
  while (pos < text.size()) {
    if (text[pos] == '\n' || text.substr(pos, 2) == "\r\n") {  // empty line
      pos += text[pos] == '\r' ? 2 : 1;
      ++line;
      continue;
    }
    const size_t record_line = line;
    std::vector<std::string> fields = read_record(text, pos, line, source);
    if (!have_header) {
      for (size_t i = 0; i < fields.size(); ++i)
        if (std::find(fields.begin(), fields.begin() + i, fields[i]) != fields.begin() + i)
          fail(source, ":", record_line, ": column '", fields[i], "' appears twice");
      table.header = std::move(fields);
      have_header = true;
      continue;
    }
    if (fields.size() != table.header.size())
      fail(source, ":", record_line, ": row has ", fields.size(), " fields, the header has ",
           table.header.size());
    table.rows.push_back(std::move(fields));
    table.row_lines.push_back(record_line);
  }
  if (!have_header) fail(source, ": no header line (empty file)");
  return table;
}

CsvTable read_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open for reading");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail(path, ": read error");
  return parse_csv(text.str(), path);
}

void write_csv(std::ostream& out, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows) {
  write_record(out, header);
  for (const auto& row : rows) {
    CONDENSE_ASSERT(row.size() == header.size(), "CSV row has ", row.size(), " fields, header ",
                    header.size());
    write_record(out, row);
  }
}

void write_csv(const std::string& path, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows) {
  // Written aside and renamed, so a reader never sees half a file.
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) fail(tmp, ": cannot open for writing");
    write_csv(out, header, rows);
    out.close();
    if (!out) fail(tmp, ": write error");
  });
}

}  // namespace condense::eval
