#include "datasets/documents.h"

#include "datasets/records.h"
#include "datasets/text_file.h"
#include "datasets/tokenizer.h"

namespace condense::data {

std::vector<Document> text_file_documents(const std::vector<std::string>& paths, bool per_line) {
  std::vector<Document> docs;
  for (const std::string& path : paths) {
    std::string text = read_text_file(path);
    if (!per_line) {
      docs.push_back({path, std::move(text)});
      continue;
    }
    const std::vector<std::string_view> lines = split_lines(text);
    for (size_t i = 0; i < lines.size(); ++i)
      if (!trim(lines[i]).empty())
        docs.push_back({path + ":" + std::to_string(i + 1), std::string(lines[i])});
  }
  return docs;
}

TokenDatasetContents documents_dataset(const std::vector<Document>& documents,
                                       const Tokenizer& tokenizer, const std::string& kind,
                                       const std::string& label) {
  RecordBuilder builder({{"text", /*store_text=*/false}}, /*bos_per_record=*/true);
  TokenDatasetContents out;
  std::vector<std::string>& titles = out.texts["title"];
  for (const Document& d : documents) {
    builder.add(0, d.text);
    builder.end_record();
    titles.push_back(d.title);
  }
  builder.build(tokenizer, label, out);
  out.info.kind = kind;
  return out;
}

}  // namespace condense::data
