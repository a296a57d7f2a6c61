// Plain documents (books, articles, text files) as token datasets for language modelling.
#pragma once
#include <string>
#include <vector>

#include "datasets/token_dataset.h"

namespace condense::data {

class Tokenizer;

struct Document {
  std::string title;
  std::string text;
};

// One document per file (titled by its path), or with `per_line` one per non-empty
// line (titled path:line).
std::vector<Document> text_file_documents(const std::vector<std::string>& paths, bool per_line);

// One record per document: BOS + the document's ids. /spans/text covers the ids
// (they decode back to the text exactly); /text/title keeps the titles.
TokenDatasetContents documents_dataset(const std::vector<Document>& documents,
                                       const Tokenizer& tokenizer, const std::string& kind,
                                       const std::string& label);

}  // namespace condense::data
