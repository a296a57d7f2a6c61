// CSV files as RFC 4180 describes them: comma-separated fields, a field in double quotes may hold
// commas, line breaks and doubled quotes (""), the first record names the columns. This is the
// format of gisting's outputs-{step}-validation_{split}.csv (columns x, y_pred, y_true) and of
// the tables condense writes.
#pragma once
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace condense::eval {

struct CsvTable {
  std::string source;  // the file name (or what stands for it), for messages
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each as wide as the header
  std::vector<size_t> row_lines;               // line on which each row starts (1-based)

  // Index of the column named `name`; fails naming the source and its columns if absent.
  size_t column(std::string_view name) const;
};

// Parses CSV text. LF and CRLF line ends are both accepted, a UTF-8 byte-order mark is skipped,
// and empty lines are skipped (as pandas does). A malformed quote or a row whose width differs
// from the header's fails with "<source>:<line>: <what>".
CsvTable parse_csv(std::string_view text, const std::string& source);

// Reads and parses a CSV file; fails naming the file if it cannot be read.
CsvTable read_csv(const std::string& path);

// Writes header and rows with LF line ends, quoting only fields that hold a comma, a quote or a
// line break (as Python's csv module and pandas do by default).
void write_csv(std::ostream& out, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows);

// Writes a CSV file; fails naming the file if it cannot be written.
void write_csv(const std::string& path, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows);

}  // namespace condense::eval
