// Reading the raw text inputs of the converters.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace condense::data {

// The whole file as UTF-8. A file that is not valid UTF-8 is read as ISO-8859-1
// (Latin-1), the encoding of the older corpora here (e.g. TREC's train.txt), so
// every stored string is valid UTF-8. Throws naming the path when unreadable.
std::string read_text_file(const std::string& path);

bool is_valid_utf8(std::string_view bytes);
std::string latin1_to_utf8(std::string_view bytes);

// The lines of `text` without their "\n" or "\r\n" ends; line i is line number i + 1.
// A final line end does not start an extra empty line.
std::vector<std::string_view> split_lines(std::string_view text);

// `text` without leading and trailing spaces, tabs, "\r" and "\n".
std::string_view trim(std::string_view text);

}  // namespace condense::data
