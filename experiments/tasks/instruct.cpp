#include "experiments/tasks/instruct.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "core/error.h"
#include "datasets/alpaca.h"
#include "datasets/token_dataset.h"
#include "datasets/tokenizer.h"
#include "datasets/train_tokenizer.h"

namespace condense::instruct {
namespace fs = std::filesystem;

Template Template::make(const data::Tokenizer& tokenizer) {
  Template t;
  t.bos = tokenizer.bos_id();
  t.eos = tokenizer.eos_id();
  if (t.bos < 0 || t.eos < 0) fail(tokenizer.path(), ": instruction data need BOS and EOS pieces");
  t.instruction_head = tokenizer.encode("Instruction:", false, false);
  // The rest continue a line, so no dummy-prefix space goes in front of them.
  t.context_end = tokenizer.encode_continuation("\n");
  t.input_head = tokenizer.encode_continuation("\nInput:");
  t.output_head = tokenizer.encode_continuation("\nOutput:");
  return t;
}

Example make_example(const Template& t, std::span<const int32_t> instruction,
                     std::span<const int32_t> input, std::span<const int32_t> output) {
  Example e;
  auto put = [](std::vector<int32_t>& dst, std::span<const int32_t> src) {
    dst.insert(dst.end(), src.begin(), src.end());
  };
  e.instruction.push_back(t.bos);
  put(e.instruction, t.instruction_head);
  put(e.instruction, instruction);
  put(e.instruction, t.context_end);
  if (!input.empty()) {
    put(e.suffix, t.input_head);
    put(e.suffix, input);
  }
  put(e.suffix, t.output_head);
  put(e.completion, output);
  e.completion.push_back(t.eos);
  return e;
}

Split load_split(const std::string& path, const data::Tokenizer& tokenizer, const Template& t) {
  const data::TokenDataset ds = data::TokenDataset::open(path, tokenizer);
  if (ds.info().kind != "alpaca")
    fail(path, ": expected an Alpaca dataset (condense data alpaca), got kind '", ds.info().kind,
         "'");
  Split s;
  s.path = path;
  s.instruction = ds.texts("instruction");
  s.input = ds.texts("input");
  s.output = ds.texts("output");
  const int64_t n = ds.span_rows("instruction");
  if (ds.span_rows("input") != n || ds.span_rows("output") != n ||
      static_cast<int64_t>(s.output.size()) != n)
    fail(path, ": instruction/input/output fields have different numbers of rows");
  s.examples.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    s.examples.push_back(make_example(t, ds.span_tokens("instruction", i),
                                      ds.span_tokens("input", i), ds.span_tokens("output", i)));
  return s;
}

void add_data_options(cli::po::options_description& desc, std::string& dir, PrepareOptions& o) {
  namespace po = cli::po;
  desc.add_options()(
      "data.dir", po::value(&dir)->required(),
      "prepared data folder (tokenizer.model, train.h5, validation_{seen,unseen,human}.h5)")(
      "prepare.train_json", po::value(&o.train_json)->default_value(""),
      "Alpaca+ train JSON for `data instruct` (and the sweep)")(
      "prepare.valid_dir", po::value(&o.valid_dir)->default_value(""),
      "folder of alpaca_plus_validation_{seen,unseen,human}.json")(
      "prepare.tokenizer", po::value(&o.tokenizer)->default_value(""),
      "use this SentencePiece model instead of training one")(
      "prepare.vocab_size", po::value(&o.vocab_size)->default_value(o.vocab_size),
      "pieces of the tokenizer trained on the train JSON")(
      "prepare.max_train", po::value(&o.max_train)->default_value(0),
      "keep only the first N train records (0: all)");
}

DataFiles DataFiles::in(const std::string& out) {
  DataFiles f;
  f.tokenizer = (fs::path(out) / "tokenizer.model").string();
  f.train = (fs::path(out) / "train.h5").string();
  for (const std::string& split : kEvalSplits)
    f.eval.push_back((fs::path(out) / ("validation_" + split + ".h5")).string());
  return f;
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One line per line of every field: SentencePiece trains on lines.
void write_tokenizer_corpus(const std::vector<data::AlpacaRecord>& records,
                            const std::string& path) {
  std::ofstream out(path);
  for (const data::AlpacaRecord& r : records)
    for (const std::string* field : {&r.instruction, &r.input, &r.output})
      if (!field->empty()) out << *field << "\n";
  if (!out) fail(path, ": cannot write the tokenizer corpus");
}

void build_dataset(const std::vector<data::AlpacaRecord>& records, const data::Tokenizer& tok,
                   const std::string& source, const std::string& split, const std::string& out) {
  const auto t0 = Clock::now();
  data::TokenDatasetContents c = data::alpaca_dataset(records, tok, out);
  c.info.split = split;
  c.info.source = source;
  c.info.license = "CC BY-NC 4.0";
  data::write_token_dataset(out, c);
  std::cerr << "data instruct: wrote " << out << " (" << records.size() << " records, "
            << c.tokens.size() << " tokens, " << seconds_since(t0) << " s)\n";
}

}  // namespace

DataFiles prepare(const PrepareOptions& o) {
  const DataFiles files = DataFiles::in(o.out);
  fs::create_directories(o.out);
  std::vector<data::AlpacaRecord> train;
  auto load_train = [&] {
    if (!train.empty()) return;
    train = data::read_alpaca_json(o.train_json);
    if (o.max_train > 0 && static_cast<int64_t>(train.size()) > o.max_train)
      train.resize(static_cast<size_t>(o.max_train));
  };
  std::string tokenizer = o.tokenizer;
  if (tokenizer.empty()) {
    tokenizer = files.tokenizer;
    if (!fs::exists(tokenizer)) {
      const auto t0 = Clock::now();
      load_train();
      const std::string corpus = (fs::path(o.out) / "tokenizer_corpus.txt").string();
      write_tokenizer_corpus(train, corpus);
      data::train_tokenizer({{corpus}, o.vocab_size, (fs::path(o.out) / "tokenizer").string()});
      fs::remove(corpus);
      std::cerr << "data instruct: trained " << tokenizer << " (" << o.vocab_size << " pieces, "
                << seconds_since(t0) << " s)\n";
    }
  } else if (!fs::exists(files.tokenizer) || !fs::equivalent(tokenizer, files.tokenizer)) {
    fs::copy_file(tokenizer, files.tokenizer, fs::copy_options::overwrite_existing);
  }
  const data::Tokenizer tok = data::Tokenizer::load(files.tokenizer);
  if (!fs::exists(files.train)) {
    load_train();
    build_dataset(train, tok, "Alpaca+ train: " + o.train_json, "train", files.train);
  }
  for (size_t i = 0; i < kEvalSplits.size(); ++i) {
    if (fs::exists(files.eval[i])) continue;
    const std::string json =
        (fs::path(o.valid_dir) / ("alpaca_plus_validation_" + kEvalSplits[i] + ".json")).string();
    build_dataset(data::read_alpaca_json(json), tok, "Alpaca+ (Mu et al. 2023): " + json,
                  "validation_" + kEvalSplits[i], files.eval[i]);
  }
  return files;
}

}  // namespace condense::instruct
