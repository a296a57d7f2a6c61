#include "datasets/books.h"

#include <filesystem>

#include "core/error.h"
#include "datasets/text_file.h"

namespace condense::data {
namespace {

bool starts_with_any(std::string_view line, std::initializer_list<std::string_view> prefixes) {
  for (std::string_view p : prefixes)
    if (line.substr(0, p.size()) == p) return true;
  return false;
}

// Start of the line that begins with one of `prefixes`, searching from `from`.
size_t find_line(std::string_view text, std::initializer_list<std::string_view> prefixes,
                 size_t from) {
  for (size_t pos = from; pos < text.size();) {
    if (starts_with_any(text.substr(pos), prefixes)) return pos;
    const size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return std::string_view::npos;
}

bool is_article_heading(std::string_view line) {
  return line.size() > 6 && line.substr(0, 3) == " = " && line[3] != '=' &&
         line.substr(line.size() - 3) == " = ";
}

}  // namespace

Document gutenberg_document(const std::string& path) {
  const std::string text = read_text_file(path);
  Document doc{std::filesystem::path(path).stem().string(), text};
  const size_t start = find_line(
      text,
      {"*** START OF THIS PROJECT GUTENBERG EBOOK", "*** START OF THE PROJECT GUTENBERG EBOOK"}, 0);
  if (start != std::string::npos) {
    const size_t title = find_line(std::string_view(text).substr(0, start), {"Title:"}, 0);
    if (title != std::string::npos) {
      const size_t end = text.find('\n', title);
      doc.title = std::string(trim(std::string_view(text).substr(title + 6, end - title - 6)));
    }
    const size_t body = text.find('\n', start);
    const size_t stop = find_line(
        text, {"*** END OF THIS PROJECT GUTENBERG EBOOK", "*** END OF THE PROJECT GUTENBERG EBOOK"},
        body);
    if (stop == std::string::npos) fail(path, ": START marker without an END marker");
    doc.text = text.substr(body + 1, stop - body - 1);
  }
  return doc;
}

std::vector<Document> wikitext_articles(std::string_view text) {
  const std::vector<std::string_view> lines = split_lines(text);
  auto blank = [&](size_t i) { return i < lines.size() && trim(lines[i]).empty(); };
  std::vector<size_t> starts;  // byte offsets where each article begins
  std::vector<std::string> titles;
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    if (!is_article_heading(lines[i]) || !blank(i - 1) || !blank(i + 1)) continue;
    starts.push_back(starts.empty() ? 0 : static_cast<size_t>(lines[i - 1].data() - text.data()));
    titles.emplace_back(trim(lines[i].substr(3, lines[i].size() - 6)));
  }
  if (starts.empty()) return {{"", std::string(text)}};
  std::vector<Document> docs;
  for (size_t k = 0; k < starts.size(); ++k) {
    const size_t end = k + 1 < starts.size() ? starts[k + 1] : text.size();
    docs.push_back({titles[k], std::string(text.substr(starts[k], end - starts[k]))});
  }
  return docs;
}

}  // namespace condense::data
