// Long documents: Project Gutenberg books (PG-19 style) and WikiText articles.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "datasets/documents.h"

namespace condense::data {

// The book between the "*** START OF THIS/THE PROJECT GUTENBERG EBOOK" line and the
// "*** END OF ..." line (the whole text when the markers are absent); the title
// from the header's "Title:" line, else the file name.
Document gutenberg_document(const std::string& path);

// WikiText articles: a new article starts at a " = Title = " line between two blank
// lines (section headings " = = ... = = " and wrapped " = ... = " text lines do
// not). Each article runs from the blank line before its heading up to the next
// one's, so the articles concatenate back to the whole text. A text without such
// headings is one document.
std::vector<Document> wikitext_articles(std::string_view text);

}  // namespace condense::data
