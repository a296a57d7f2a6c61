// The converters of issue 5: record counts, exact round trips of every field's span,
// and one-line errors for malformed inputs.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "datasets/alpaca.h"
#include "datasets/books.h"
#include "datasets/dialogue.h"
#include "datasets/icl.h"
#include "datasets/instruct_dialogue.h"
#include "datasets/text_file.h"
#include "test_data_util.h"

namespace condense {
namespace {

using data::TokenDatasetContents;
using data::Tokenizer;
using testing::error_of;

std::string sample(const std::string& rel) {
  return testing::source_path("tests/data/datasets/" + rel);
}

std::vector<int32_t> span_ids(const TokenDatasetContents& c, const std::string& field, size_t row) {
  const std::vector<int64_t>& s = c.spans.at(field);
  return std::vector<int32_t>(c.tokens.begin() + s[2 * row], c.tokens.begin() + s[2 * row + 1]);
}

// Every row of every span field decodes to its stored text; records are the fields
// back to back.
void expect_exact_fields(const TokenDatasetContents& c, const Tokenizer& tok,
                         const std::vector<std::string>& fields) {
  for (const std::string& f : fields) {
    const std::vector<std::string>& texts = c.texts.at(f);
    ASSERT_EQ(c.spans.at(f).size(), 2 * texts.size()) << f;
    for (size_t r = 0; r < texts.size(); ++r)
      ASSERT_EQ(tok.decode(span_ids(c, f, r)), texts[r]) << f << " row " << r;
  }
}

void check_alpaca_file(const std::string& path, size_t want, const Tokenizer& tok) {
  const std::vector<data::AlpacaRecord> records = data::read_alpaca_json(path);
  ASSERT_EQ(records.size(), want) << path;
  const TokenDatasetContents c = data::alpaca_dataset(records, tok, "test");
  ASSERT_EQ(c.offsets.size(), want + 1);
  expect_exact_fields(c, tok, {"instruction", "input", "output"});
  for (size_t i = 0; i < want; ++i) {
    EXPECT_EQ(c.texts.at("instruction")[i], records[i].instruction);
    EXPECT_EQ(c.texts.at("input")[i], records[i].input);
    EXPECT_EQ(c.texts.at("output")[i], records[i].output);
    EXPECT_EQ(c.texts.at("source")[i], records[i].source);
    EXPECT_EQ(c.spans.at("instruction")[2 * i], c.offsets[i]);
    EXPECT_EQ(c.spans.at("output")[2 * i + 1], c.offsets[i + 1]);
  }
}

TEST(Alpaca, AllValidationRecordsRoundTrip) {
  const Tokenizer& tok = testing::tok512();
  check_alpaca_file(sample("alpaca_plus/alpaca_plus_validation_seen.json"), 1000, tok);
  check_alpaca_file(sample("alpaca_plus/alpaca_plus_validation_unseen.json"), 1000, tok);
  check_alpaca_file(sample("alpaca_plus/alpaca_plus_validation_human.json"), 252, tok);
  // The parsed fields equal an independent JSON parse of the file.
  const auto json = nlohmann::json::parse(
      testing::slurp(sample("alpaca_plus/alpaca_plus_validation_human.json")));
  const auto records =
      data::read_alpaca_json(sample("alpaca_plus/alpaca_plus_validation_human.json"));
  int with_input = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].output, json[i]["output"].get<std::string>());
    EXPECT_EQ(records[i].source, "self_instruct");
    with_input += !records[i].input.empty();
  }
  EXPECT_EQ(with_input, 208);  // METHODS.md 1.9
}

TEST(Alpaca, ValidationRoundTripsWithLlamaTokenizer) {
  SKIP_WITHOUT_SHARED("tokenizer/tokenizer.model");
  const Tokenizer tok = Tokenizer::load(testing::shared_data("tokenizer/tokenizer.model"));
  check_alpaca_file(sample("alpaca_plus/alpaca_plus_validation_human.json"), 252, tok);
  check_alpaca_file(sample("alpaca_plus/alpaca_plus_validation_seen.json"), 1000, tok);
}

TEST(Alpaca, MalformedJsonNamesFileAndLine) {
  testing::TempDir dir;
  const std::string path = dir.file("a.json");
  testing::write_file(
      path, "[\n{\"instruction\": \"x\", \"input\": \"\", \"output\": \"y\"},\n{oops}\n]");
  const std::string bad_json = error_of([&] { data::read_alpaca_json(path); });
  EXPECT_EQ(bad_json.rfind(path + ":3: bad JSON", 0), 0u) << bad_json;
  EXPECT_EQ(bad_json.find('\n'), std::string::npos);
  testing::write_file(path,
                      "[{\"instruction\": \"x\", \"input\": \"\", \"output\": \"y\"},\n\n"
                      " {\"instruction\": \"x\", \"input\": \"\"}]");
  EXPECT_EQ(error_of([&] { data::read_alpaca_json(path); }),
            path + ":3: record 1 has no \"output\" field");
  testing::write_file(path, "[{\"instruction\": 5, \"input\": \"\", \"output\": \"y\"}]");
  EXPECT_EQ(error_of([&] { data::read_alpaca_json(path); }),
            path + ":1: record 0: \"instruction\" is not a string");
}

TEST(Dialogue, SampleTurnsLabelsAndRoundTrip) {
  const Tokenizer& tok = testing::tok512();
  const std::string d = sample("dialogue/dailydialog/validation/");
  const auto dialogues =
      data::read_dailydialog(d + "dialogues_validation.txt", d + "dialogues_act_validation.txt",
                             d + "dialogues_emotion_validation.txt");
  ASSERT_EQ(dialogues.size(), 300u);
  EXPECT_EQ(dialogues[0].turns[0], "Good morning , sir . Is there a bank near here ?");
  EXPECT_EQ(dialogues[0].acts, (std::vector<int32_t>{2, 1, 3, 2, 1, 2, 1}));
  const TokenDatasetContents c = data::dialogue_dataset(dialogues, tok, "test");
  expect_exact_fields(c, tok, {"turn"});
  const std::vector<int64_t>& to = c.int64s.at("/turn_offsets");
  ASSERT_EQ(to.size(), 301u);
  EXPECT_EQ(c.int32s.at("/labels/act").size(), static_cast<size_t>(to.back()));
  EXPECT_EQ(c.int32s.at("/labels/emotion").size(), static_cast<size_t>(to.back()));
  for (size_t i = 0; i < dialogues.size(); ++i) {
    ASSERT_EQ(to[i + 1] - to[i], static_cast<int64_t>(dialogues[i].turns.size()));
    EXPECT_EQ(c.spans.at("turn")[2 * to[i]], c.offsets[i]);  // a dialogue starts at its first turn
    EXPECT_EQ(c.spans.at("turn")[2 * to[i + 1] - 1], c.offsets[i + 1]);
  }
}

// Instruction records as one-context dialogues (for CCM): the three turns word the
// instruction methods' prompt, every record of the real Alpaca+ sample converts and round
// trips, and a record without a target is a one-line error naming it.
TEST(Dialogue, InstructionRecordsAsDialogues) {
  data::AlpacaRecord with_input{"Sort the list.", "b a", "a b", "synth"};
  data::AlpacaRecord without_input{"Name a colour.", "", "red", "synth"};
  const auto d = data::instruct_dialogues({with_input, without_input});
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].turns,
            (std::vector<std::string>{"Instruction: Sort the list.", "Input: b a\nOutput:", "a b"}));
  EXPECT_EQ(d[1].turns, (std::vector<std::string>{"Instruction: Name a colour.", "Output:", "red"}));

  const auto records = data::read_alpaca_json(sample("alpaca_plus/alpaca_plus_validation_seen.json"));
  const TokenDatasetContents c =
      data::dialogue_dataset(data::instruct_dialogues(records), testing::tok512(), "test");
  expect_exact_fields(c, testing::tok512(), {"turn"});
  EXPECT_EQ(c.int64s.at("/turn_offsets").back(), static_cast<int64_t>(3 * records.size()));

  without_input.output = "";
  EXPECT_EQ(error_of([&] { data::instruct_dialogues({with_input, without_input}); }),
            "instruction record 1: output is empty; a dialogue needs a context turn and a target");
}

TEST(Dialogue, FullValidationCounts) {
  SKIP_WITHOUT_SHARED("dialogue/dailydialog/validation/dialogues_validation.txt");
  const std::string d = testing::shared_data("dialogue/dailydialog/validation/");
  const auto dialogues =
      data::read_dailydialog(d + "dialogues_validation.txt", d + "dialogues_act_validation.txt",
                             d + "dialogues_emotion_validation.txt");
  size_t turns = 0;
  for (const auto& x : dialogues) turns += x.turns.size();
  EXPECT_EQ(dialogues.size(), 1000u);
  EXPECT_EQ(turns, 8069u);
}

TEST(Dialogue, MalformedInputsNameFileAndLine) {
  testing::TempDir dir;
  const std::string text = dir.file("d.txt"), acts = dir.file("a.txt");
  testing::write_file(text, "Hi . __eou__ Hello ! __eou__\nNo end marker here\n");
  EXPECT_EQ(error_of([&] { data::read_dailydialog(text, "", ""); }),
            text + ":2: no turn ended by __eou__");
  testing::write_file(text, "Hi . __eou__ Hello ! __eou__\nA __eou__ B __eou__ C __eou__\n");
  testing::write_file(acts, "2 1\n1 9 1\n");
  EXPECT_EQ(error_of([&] { data::read_dailydialog(text, acts, ""); }),
            acts + ":2: unknown label '9' (expected 1..4)");
  testing::write_file(acts, "2 1\n1 1\n");
  EXPECT_EQ(error_of([&] { data::read_dailydialog(text, acts, ""); }),
            acts + ":2: 2 labels for a dialogue of 3 turns");
}

TEST(Books, GutenbergBodyBetweenMarkers) {
  const Tokenizer& tok = testing::tok512();
  const std::string path = sample("books/gutenberg/pg98_a_tale_of_two_cities.txt");
  const data::Document doc = data::gutenberg_document(path);
  EXPECT_EQ(doc.title, "A Tale of Two Cities");
  const std::string raw = testing::slurp(path);
  const size_t start = raw.find("\n", raw.find("*** START OF THIS PROJECT GUTENBERG EBOOK")) + 1;
  const size_t end = raw.find("*** END OF THIS PROJECT GUTENBERG EBOOK");
  EXPECT_EQ(doc.text, raw.substr(start, end - start));
  EXPECT_EQ(doc.text.find("*** START"), std::string::npos);
  EXPECT_EQ(doc.text.find("*** END"), std::string::npos);
  const TokenDatasetContents c = data::documents_dataset({doc}, tok, "books", "test");
  EXPECT_EQ(c.tokens[0], tok.bos_id());
  EXPECT_EQ(c.spans.at("text")[0], 1);
  EXPECT_EQ(tok.decode(span_ids(c, "text", 0)), doc.text);
  EXPECT_EQ(c.texts.at("title")[0], "A Tale of Two Cities");
}

TEST(Books, GutenbergWithoutEndMarkerIsAnError) {
  testing::TempDir dir;
  testing::write_file(dir.file("b.txt"),
                      "Title: X\n*** START OF THIS PROJECT GUTENBERG EBOOK X ***\nbody\n");
  EXPECT_THROW(data::gutenberg_document(dir.file("b.txt")), Error);
  testing::write_file(dir.file("plain.txt"), "no markers\n");
  EXPECT_EQ(data::gutenberg_document(dir.file("plain.txt")).text, "no markers\n");
}

TEST(Books, WikitextArticles) {
  const Tokenizer& tok = testing::tok512();
  const std::string raw = testing::slurp(sample("wikitext/wikitext-2-raw/wiki.test.raw"));
  const auto docs = data::wikitext_articles(raw);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].title, "Robert Boulter");
  EXPECT_EQ(docs[1].title, "Du Fu");
  std::string joined;
  for (const auto& d : docs) joined += d.text;
  EXPECT_EQ(joined, raw);
  const TokenDatasetContents c = data::documents_dataset(docs, tok, "books", "test");
  for (size_t i = 0; i < docs.size(); ++i)
    EXPECT_EQ(tok.decode(span_ids(c, "text", i)), docs[i].text);
}

TEST(Books, WikitextFullArticleCounts) {
  SKIP_WITHOUT_SHARED("wikitext/wikitext-2-raw/wiki.test.raw");
  for (const char* f :
       {"wikitext-2-raw/wiki.test.raw", "wikitext-2/test.txt", "wikitext-2/valid.txt"})
    EXPECT_EQ(data::wikitext_articles(
                  data::read_text_file(testing::shared_data(std::string("wikitext/") + f)))
                  .size(),
              60u)
        << f;
}

void check_icl(const std::string& task, const std::vector<std::string>& inputs, size_t want,
               const std::vector<size_t>& per_label) {
  const Tokenizer& tok = testing::tok512();
  const data::IclExamples ex = data::read_icl(task, inputs);
  ASSERT_EQ(ex.values.size(), want) << task;
  std::vector<size_t> counts(ex.label_names.size());
  for (int32_t l : ex.labels) ++counts.at(static_cast<size_t>(l));
  if (!per_label.empty()) {
    EXPECT_EQ(counts, per_label) << task;
  }
  const TokenDatasetContents c = data::icl_dataset(ex, tok, task);
  expect_exact_fields(c, tok, ex.fields);
  EXPECT_EQ(c.int32s.at("/labels"), ex.labels);
  EXPECT_EQ(nlohmann::json::parse(c.attrs.at("label_names")).get<std::vector<std::string>>(),
            ex.label_names);
}

TEST(Icl, ShippedSetsCountsAndRoundTrip) {
  check_icl("sst2", {sample("icl/sst2/test.tsv")}, 872, {428, 444});
  check_icl("trec", {sample("icl/trec_qc/test.txt")}, 500, {9, 138, 94, 65, 81, 113});
  check_icl("trec", {sample("icl/trec_qc/train.txt")}, 200, {});  // Latin-1 input
  check_icl("agnews", {sample("icl/agnews/test.tsv")}, 300, {});
  check_icl("mr",
            {sample("icl/mr_sentence_polarity/rt-polarity.neg"),
             sample("icl/mr_sentence_polarity/rt-polarity.pos")},
            300, {150, 150});
  check_icl("subj", {sample("icl/subj/plot.tok.gt9.5000"), sample("icl/subj/quote.tok.gt9.5000")},
            300, {150, 150});
  check_icl("rte", {sample("icl/rte_pascal/rte1_dev.xml")}, 150, {});
  check_icl("rte", {sample("icl/rte_pascal/rte3_dev.xml")}, 150, {});
  const data::IclExamples trec = data::read_icl("trec", {sample("icl/trec_qc/test.txt")});
  EXPECT_EQ(trec.fine_labels[0], "NUM:dist");
  EXPECT_EQ(trec.values[0][0], "How far is it from Denver to Aspen ?");
}

TEST(Icl, FullSetCounts) {
  SKIP_WITHOUT_SHARED("icl/agnews/test.tsv");
  const auto agnews = data::read_icl("agnews", {testing::shared_data("icl/agnews/test.tsv")});
  EXPECT_EQ(agnews.values.size(), 7600u);
  for (const auto& [file, n] : std::vector<std::pair<std::string, size_t>>{
           {"rte1_dev", 567}, {"rte1_test", 800}, {"rte2_dev", 400}, {"rte3_test", 800}})
    EXPECT_EQ(data::read_icl("rte", {testing::shared_data("icl/rte_pascal/" + file + ".xml")})
                  .values.size(),
              n);
}

TEST(Icl, RteEntitiesAndMultiLineText) {
  testing::TempDir dir;
  testing::write_file(
      dir.file("r.xml"),
      "<entailment-corpus>\n<pair id=\"1\" value=\"TRUE\" task=\"IR\">\n"
      "\t<t>Costs &#163;5 &amp; rose\nover two lines</t>\n"
      "\t<h>It&apos;s &lt;b&gt; &#x263A;</h>\n</pair>\n"
      "<pair id=\"2\" entailment=\"NO\"><t>a</t><h>b</h></pair>\n</entailment-corpus>\n");
  const data::IclExamples ex = data::read_icl("rte", {dir.file("r.xml")});
  ASSERT_EQ(ex.values.size(), 2u);
  EXPECT_EQ(ex.values[0][0],
            "Costs \xc2\xa3"
            "5 & rose\nover two lines");
  EXPECT_EQ(ex.values[0][1], "It's <b> \xe2\x98\xba");
  EXPECT_EQ(ex.labels, (std::vector<int32_t>{0, 1}));
}

TEST(Icl, UnknownLabelNamesFileAndLine) {
  testing::TempDir dir;
  testing::write_file(dir.file("s.tsv"), "sentence\tlabel\ngood .\t1\nodd .\t2\n");
  EXPECT_EQ(error_of([&] { data::read_icl("sst2", {dir.file("s.tsv")}); }),
            dir.file("s.tsv") + ":3: unknown label '2' (expected one of 0, 1)");
  testing::write_file(dir.file("t.txt"), "NUM:dist How far ?\nXYZ:abc What ?\n");
  EXPECT_EQ(error_of([&] { data::read_icl("trec", {dir.file("t.txt")}); }),
            dir.file("t.txt") +
                ":2: unknown label 'XYZ' (expected one of ABBR, DESC, ENTY, HUM, LOC, NUM)");
  testing::write_file(dir.file("a.tsv"), "text without a tab\n");
  EXPECT_EQ(error_of([&] { data::read_icl("agnews", {dir.file("a.tsv")}); }),
            dir.file("a.tsv") + ":1: expected text<TAB>label");
  EXPECT_THROW(data::read_icl("nope", {}), Error);
  EXPECT_THROW(data::read_icl("mr", {dir.file("a.tsv")}), Error);  // mr takes two files
}

}  // namespace
}  // namespace condense
