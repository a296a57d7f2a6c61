// SHA-256, the SentencePiece tokenizer, llama2.c vocabulary conversion, tokenizer training.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "core/sha256.h"
#include "datasets/train_tokenizer.h"
#include "test_data_util.h"

namespace condense {
namespace {

using data::Tokenizer;
using testing::TempDir;

TEST(Sha256, KnownVectors) {
  // FIPS 180-4 / NIST examples, plus lengths around the 55/56/64-byte padding edges.
  EXPECT_EQ(sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(sha256_hex(std::string(55, 'a')),
            "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(sha256_hex(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += std::to_string(i * 7919) + ",";
  Sha256 h;
  for (size_t pos = 0; pos < text.size(); pos += 37)
    h.update(std::string_view(text).substr(pos, 37));
  EXPECT_EQ(h.hex_digest(), sha256_hex(text));
}

TEST(Tokenizer, MissingOrBadModelNamesThePath) {
  TempDir dir;
  try {
    Tokenizer::load(dir.file("nope.model"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.file("nope.model")), std::string::npos) << e.what();
  }
  testing::write_file(dir.file("bad.model"), "this is not a protobuf\n");
  try {
    Tokenizer::load(dir.file("bad.model"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a SentencePiece model"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(dir.file("bad.model")), std::string::npos);
  }
}

TEST(Llama2cTokenizer, Tok512PiecesDecodeAsInTheBin) {
  const Tokenizer& tok = testing::tok512();
  EXPECT_EQ(tok.vocab_size(), 512);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_TRUE(tok.can_split_at_newlines());
  // From tok512.bin: 259 " t", 260 "he", 261 " a", 265 " the". Decoding drops the
  // dummy-prefix space of the first piece only.
  EXPECT_EQ(tok.decode(std::vector<int32_t>{260, 259, 260}), "he the");
  EXPECT_EQ(tok.decode(std::vector<int32_t>{1, 265, 261, 2}), "the a");
  // Byte pieces <0x0A> (id 3 + 10) and multi-byte UTF-8 reassemble.
  EXPECT_EQ(tok.decode(std::vector<int32_t>{260, 3 + 0x0A, 260}), "he\nhe");
}

TEST(Llama2cTokenizer, Tok512RoundTrips) {
  const Tokenizer& tok = testing::tok512();
  for (std::string text :
       {"Once upon a time", "Once upon a time, there was a little girl named Lily.",
        "  two leading spaces, trailing  ", "line\nbreaks\n\nand ünïcödé ✓", "", "\n"}) {
    auto ids = tok.encode(text, true, true);
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(ids.front(), 1);
    EXPECT_EQ(ids.back(), 2);
    EXPECT_EQ(tok.decode(ids), text);
  }
  // The stories260K tokenizer knows these words as whole pieces.
  EXPECT_LT(tok.encode("Once upon a time", false, false).size(), 10u);
}

TEST(Llama2cTokenizer, RejectsTruncatedBin) {
  TempDir dir;
  std::string bin = testing::slurp(testing::source_path("tests/data/tinyllamas/tok512.bin"));
  testing::write_file(dir.file("cut.bin"), bin.substr(0, bin.size() - 3));
  try {
    data::convert_llama2c_tokenizer(dir.file("cut.bin"), dir.file("cut.model"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.file("cut.bin")), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("cut.model")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("cut.model.tmp")));
}

constexpr const char* kLily = "Once upon a time, there was a little girl named Lily.";
const std::vector<int32_t> kLilyIds = {9038, 2501, 263,  931,  29892, 727,  471,
                                       263,  2217, 7826, 4257, 365,   2354, 29889};

TEST(LlamaTokenizer, EncodesTheKnownSentence) {
  SKIP_WITHOUT_SHARED("tokenizer/tokenizer.model");
  Tokenizer tok = Tokenizer::load(testing::shared_data("tokenizer/tokenizer.model"));
  EXPECT_EQ(tok.vocab_size(), 32000);
  EXPECT_EQ(tok.encode(kLily, false, false), kLilyIds);
  EXPECT_EQ(tok.decode(kLilyIds), kLily);
  EXPECT_EQ(tok.sha256(), sha256_file(testing::shared_data("tokenizer/tokenizer.model")));
  EXPECT_EQ(tok.sha256().substr(0, 8), "9e556afd");
}

TEST(LlamaTokenizer, ConvertedLlama2cBinEncodesLikeTheModel) {
  SKIP_WITHOUT_SHARED("tokenizer/tokenizer.bin");
  TempDir dir;
  data::convert_llama2c_tokenizer(testing::shared_data("tokenizer/tokenizer.bin"),
                                  dir.file("llama.model"));
  Tokenizer converted = Tokenizer::load(dir.file("llama.model"));
  Tokenizer original = Tokenizer::load(testing::shared_data("tokenizer/tokenizer.model"));
  EXPECT_EQ(converted.vocab_size(), 32000);
  EXPECT_EQ(converted.encode(kLily, false, false), kLilyIds);
  for (std::string text : {"Hello world!\n\tTabs, ünïcödé, 日本語 and emoji 🙂.",
                           "  x  y  ", "The pass key is 31415. Remember it."})
    EXPECT_EQ(converted.encode(text, true, false), original.encode(text, true, false)) << text;
}

TEST(TrainTokenizer, DeterministicByteFallbackRoundTrip) {
  TempDir dir;
  std::string corpus;
  for (int i = 0; i < 300; ++i)
    corpus += "Once upon a time, there was a little girl named Lily number " + std::to_string(i) +
              ". She liked to play in the park with her dog.\n";
  testing::write_file(dir.file("corpus.txt"), corpus);
  data::TokenizerTrainingOptions opt;
  opt.inputs = {dir.file("corpus.txt")};
  opt.vocab_size = 320;
  opt.model_prefix = dir.file("a");
  data::train_tokenizer(opt);
  opt.model_prefix = dir.file("b");
  data::train_tokenizer(opt);
  Tokenizer a = Tokenizer::load(dir.file("a.model"));
  Tokenizer b = Tokenizer::load(dir.file("b.model"));
  EXPECT_EQ(a.vocab_size(), 320);
  EXPECT_EQ(a.sha256(), b.sha256());
  // Unseen characters fall back to bytes; whitespace is kept as is.
  const std::string text = "  Lily   met Ωmega\n\nand 🙂 ";
  EXPECT_EQ(a.decode(a.encode(text, true, true)), text);
}

TEST(TrainTokenizer, TooLargeVocabIsAnError) {
  TempDir dir;
  testing::write_file(dir.file("corpus.txt"), "tiny corpus\n");
  data::TokenizerTrainingOptions opt;
  opt.inputs = {dir.file("corpus.txt")};
  opt.vocab_size = 5000;
  opt.model_prefix = dir.file("m");
  EXPECT_THROW(data::train_tokenizer(opt), Error);
  EXPECT_FALSE(std::filesystem::exists(dir.file("m.model")));
}

}  // namespace
}  // namespace condense
