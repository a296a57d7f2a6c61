// condense data books --input FILE... --format gutenberg|wikitext|plain --tokenizer MODEL --out
// F.h5
#include "core/error.h"
#include "datasets/books.h"
#include "datasets/text_file.h"
#include "datasets/tokenizer.h"
#include "experiments/cmd_data.h"

namespace condense::cmd {

int data_books(const cli::Args& args) {
  data_cli::Common c;
  std::vector<std::string> inputs;
  std::string format;
  cli::po::options_description desc("data books");
  desc.add_options()("input", cli::po::value(&inputs)->multitoken()->required(), "text files")(
      "format", cli::po::value(&format)->default_value("gutenberg"),
      "gutenberg (one book per file, header/footer removed), wikitext (one document per "
      "article) or plain (one document per file)");
  data_cli::add_common(desc, c, "train", "", "unspecified");
  cli::po::variables_map vm;
  if (!cli::parse("data books", desc, args, vm)) return 0;
  if (format != "gutenberg" && format != "wikitext" && format != "plain")
    fail("data books: --format must be gutenberg, wikitext or plain, not '", format, "'");
  const data::Tokenizer tok = data::Tokenizer::load(c.tokenizer);
  std::vector<data::Document> docs;
  for (const std::string& in : inputs) {
    c.source += (c.source.empty() ? "" : ", ") + in;
    if (format == "gutenberg") {
      docs.push_back(data::gutenberg_document(in));
    } else if (format == "wikitext") {
      for (data::Document& d : data::wikitext_articles(data::read_text_file(in)))
        docs.push_back(std::move(d));
    } else {
      docs.push_back({in, data::read_text_file(in)});
    }
  }
  data::TokenDatasetContents contents = data::documents_dataset(docs, tok, "books", c.out);
  data_cli::save(c, contents);
  return 0;
}

}  // namespace condense::cmd
