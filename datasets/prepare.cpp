#include "datasets/prepare.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "core/error.h"
#include "datasets/alpaca.h"
#include "datasets/books.h"
#include "datasets/dialogue.h"
#include "datasets/icl.h"
#include "datasets/passkey.h"
#include "datasets/text_file.h"
#include "datasets/token_dataset.h"
#include "datasets/tokenizer.h"

namespace condense::data {
namespace {

namespace fs = std::filesystem;

struct Job {
  std::string name;  // output path under options.out, without .h5
  std::string split, source, license;
  std::vector<std::string> inputs;  // all must exist for the job to run
  std::function<TokenDatasetContents()> build;
};

constexpr const char* kGisting = "jayelm/gisting@3be0d06 data/alpaca_plus/";
constexpr const char* kDailyDialog =
    "DailyDialog (Li et al. 2017), HoeYeungHo/DailyDialog@2dc9d0f ";
constexpr const char* kAlps = "forest-snow/alps@3c7ef2c data/";
constexpr const char* kNltk = "nltk/nltk_data@5db857e packages/corpora/";

std::vector<Job> jobs(const Tokenizer& tok, const PrepareOptions& o) {
  auto in = [&](const std::string& rel) { return (fs::path(o.from) / rel).string(); };
  std::vector<Job> js;

  // Alpaca+: the real train split when present, else the approximate Alpaca half.
  for (const char* split : {"validation_seen", "validation_unseen", "validation_human"}) {
    const std::string file = std::string("alpaca_plus_") + split + ".json";
    js.push_back({"alpaca_plus/" + std::string(split),
                  split,
                  "Alpaca+ (Mu et al. 2023), " + std::string(kGisting) + file,
                  "CC BY-NC 4.0",
                  {in("alpaca_plus/" + file)},
                  nullptr});
  }
  if (fs::exists(in("alpaca_plus/alpaca_plus_train.json"))) {
    js.push_back({"alpaca_plus/train",
                  "train",
                  "Alpaca+ (Mu et al. 2023), " + std::string(kGisting) + "alpaca_plus_train.json",
                  "CC BY-NC 4.0",
                  {in("alpaca_plus/alpaca_plus_train.json")},
                  nullptr});
  } else {
    js.push_back({"alpaca_plus/train_approx",
                  "train_approx",
                  "APPROXIMATE Alpaca half of the Alpaca+ train split (51,002 records; see "
                  "shared/data/README.md), from open-chinese/alpaca-chinese-dataset@44ce42a",
                  "CC BY-NC 4.0",
                  {in("alpaca_plus/partial/alpaca_part_of_train_APPROX.json")},
                  nullptr});
  }
  for (Job& j : js) {
    const std::string path = j.inputs[0], label = j.name;
    j.build = [&tok, path, label] { return alpaca_dataset(read_alpaca_json(path), tok, label); };
  }

  for (const char* split : {"train", "validation", "test"}) {
    const std::string dir = "dialogue/dailydialog/" + std::string(split) + "/";
    const std::string text = in(dir + "dialogues_" + split + ".txt");
    const std::string acts = in(dir + "dialogues_act_" + split + ".txt");
    const std::string emotions = in(dir + "dialogues_emotion_" + split + ".txt");
    const std::string name = "dialogue/dailydialog_" + std::string(split);
    js.push_back({name,
                  split,
                  kDailyDialog + std::string(split) + "/",
                  "CC BY-NC-SA 4.0",
                  {text, acts, emotions},
                  [&tok, text, acts, emotions, name] {
                    return dialogue_dataset(read_dailydialog(text, acts, emotions), tok, name);
                  }});
  }

  {
    std::vector<std::string> books;
    if (fs::is_directory(in("books/gutenberg")))
      for (const auto& e : fs::directory_iterator(in("books/gutenberg")))
        if (e.path().filename().string().rfind("pg", 0) == 0 && e.path().extension() == ".txt")
          books.push_back(e.path().string());
    std::sort(books.begin(), books.end());
    if (!books.empty())
      js.push_back({"books/gutenberg", "all",
                    "Project Gutenberg books via GITenberg (see shared/data/README.md), "
                    "header/footer removed",
                    "public domain (Project Gutenberg License text removed with the header)", books,
                    [&tok, books] {
                      std::vector<Document> docs;
                      for (const std::string& b : books) docs.push_back(gutenberg_document(b));
                      return documents_dataset(docs, tok, "books", "books/gutenberg");
                    }});
  }
  auto wikitext = [&](const std::string& rel, const std::string& name, const std::string& split,
                      const std::string& source) {
    const std::string path = in(rel);
    js.push_back({name,
                  split,
                  source,
                  "CC BY-SA 3.0 (and GFDL), from Wikipedia",
                  {path},
                  [&tok, path, name] {
                    return documents_dataset(wikitext_articles(read_text_file(path)), tok, "books",
                                             name);
                  }});
  };
  for (const char* split : {"train", "valid", "test"})
    wikitext("wikitext/wikitext-2-raw/wiki." + std::string(split) + ".raw",
             "books/wikitext2_raw_" + std::string(split), split,
             "WikiText-2 raw (Merity et al. 2016), one document per article");
  for (const char* split : {"train", "valid", "test"})
    wikitext("wikitext/wikitext-2/" + std::string(split) + ".txt",
             "books/wikitext2_" + std::string(split), split,
             "WikiText-2 tokenized (<unk>), pytorch/examples@77f55b9, one document per article");

  auto icl = [&](const std::string& task, const std::string& name, const std::string& split,
                 std::vector<std::string> files, const std::string& source,
                 const std::string& license) {
    for (std::string& f : files) f = in(f);
    js.push_back({name, split, source, license, files, [&tok, task, files, name] {
                    return icl_dataset(read_icl(task, files), tok, name);
                  }});
  };
  const std::string research = "research use (no formal license)";
  for (const char* split : {"train", "dev", "test"})
    icl("sst2", "icl/sst2_" + std::string(split), split,
        {"icl/sst2/" + std::string(split) + ".tsv"},
        "SST-2 (Socher et al. 2013), " + std::string(kAlps) + "SST-2/" + split + ".tsv" +
            (std::string(split) == "test" ? " (= GLUE SST-2 dev, labelled)" : ""),
        research);
  for (const char* split : {"dev", "test"})
    icl("agnews", "icl/agnews_" + std::string(split), split,
        {"icl/agnews/" + std::string(split) + ".tsv"},
        "AG News (Zhang et al. 2015), " + std::string(kAlps) + "agnews/" + split + ".tsv",
        research);
  for (const char* split : {"train", "test"})
    icl("trec", "icl/trec_" + std::string(split), split,
        {"icl/trec_qc/" + std::string(split) + ".txt"},
        "TREC QC (Li & Roth 2002), " + std::string(kNltk) + "qc.zip " + split + ".txt",
        "research data distributed with NLTK");
  icl("mr", "icl/mr", "all",
      {"icl/mr_sentence_polarity/rt-polarity.neg", "icl/mr_sentence_polarity/rt-polarity.pos"},
      "MR sentence polarity (Pang & Lee 2005), " + std::string(kNltk) + "sentence_polarity.zip",
      "CC BY 4.0");
  icl("subj", "icl/subj", "all", {"icl/subj/plot.tok.gt9.5000", "icl/subj/quote.tok.gt9.5000"},
      "SUBJ (Pang & Lee 2004), " + std::string(kNltk) + "subjectivity.zip", "CC BY 4.0");
  for (int k = 1; k <= 3; ++k)
    for (const char* split : {"dev", "test"}) {
      const std::string file = "rte" + std::to_string(k) + "_" + split;
      icl("rte", "icl/" + file, split, {"icl/rte_pascal/" + file + ".xml"},
          "PASCAL RTE-" + std::to_string(k) + ", " + std::string(kNltk) + "rte.zip",
          "research data distributed with NLTK");
    }

  PasskeyOptions p{o.passkey_lengths, o.passkey_per_length, o.passkey_seed};
  js.push_back({"passkey/passkey",
                "test",
                "generated: FoT passkey prompts (long_llama examples/utils/landmark_prompt.py)",
                "generated text (the generator follows Apache-2.0 landmark-attention code)",
                {},
                [&tok, p] { return passkey_dataset(tok, p); }});
  return js;
}

}  // namespace

std::vector<PreparedDataset> prepare_datasets(const Tokenizer& tok, const PrepareOptions& o) {
  if (!fs::is_directory(o.from)) fail(o.from, ": no such input folder");
  std::vector<Job> runnable;
  for (Job& j : jobs(tok, o)) {
    bool ok = true;
    for (const std::string& f : j.inputs) ok &= fs::exists(f);
    if (ok) runnable.push_back(std::move(j));
  }
  // The passkey job needs no input; it alone does not make a data folder.
  if (runnable.size() <= 1)
    fail(o.from,
         ": none of the known inputs found (expected the shared/data layout: "
         "alpaca_plus/, dialogue/, books/, wikitext/, icl/)");
  std::vector<PreparedDataset> done;
  for (size_t i = 0; i < runnable.size(); ++i) {
    const Job& j = runnable[i];
    const auto t0 = std::chrono::steady_clock::now();
    TokenDatasetContents c = j.build();
    c.info.split = j.split;
    c.info.source = j.source;
    c.info.license = j.license;
    write_token_dataset((fs::path(o.out) / (j.name + ".h5")).string(), c);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    done.push_back({j.name, static_cast<int64_t>(c.offsets.size()) - 1,
                    static_cast<int64_t>(c.tokens.size()), s, j.source, j.license});
    std::fprintf(stderr, "[%zu/%zu] %s.h5: %lld records, %lld tokens, %.1f s\n", i + 1,
                 runnable.size(), j.name.c_str(), static_cast<long long>(done.back().records),
                 static_cast<long long>(done.back().tokens), s);
  }
  return done;
}

}  // namespace condense::data
