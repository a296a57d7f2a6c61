// Gist caching is exact (the check the gisting code leaves vacuous, done for real): on a real
// pretrained model (llama2.c's stories260K with a mean-initialised <GIST> row), the logits of the
// suffix and of every decoding step agree between the uncached prompt, the gist cache and the
// full-prompt cache within 1e-4 relative (fp32), and greedy decoding gives identical tokens, at
// batch 1 and at batch 8 with mixed lengths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/llama2c.h"
#include "core/ops.h"
#include "experiments/methods/gist/inference.h"
#include "tests/test_data_util.h"

namespace condense::gist {
namespace {

using testing::source_path;

struct Fixture {
  data::Tokenizer tok;
  Template tmpl;
  Llama model;
  std::vector<Example> examples;
};

const Fixture& fixture() {
  static const Fixture* f = [] {
    testing::TempDir dir;
    const std::string tok_path = dir.file("tok.model");
    data::convert_llama2c_tokenizer(source_path("tests/data/tinyllamas/tok512.bin"), tok_path);
    data::Tokenizer tok = data::Tokenizer::load(tok_path);
    Template tmpl = Template::make(tok);
    Llama model = read_llama2c_checkpoint(source_path("tests/data/tinyllamas/stories260K.bin"));
    model.resize_vocab(gist_token_id(tok) + 1);
    // Instructions of different lengths, with and without input.
    const std::vector<std::array<const char*, 2>> texts = {
        {"Tell a story about a cat.", ""},
        {"Write a sentence about the sun.", "The sun is big and yellow."},
        {"Say what Lily did next.", "Lily went to the park with her mom and saw a big red ball."},
        {"Continue.", "Once upon a time"},
        {"Describe the dog in one line.", ""},
        {"Finish the story about Tom and his toy car that he loved very much.", "Tom was sad."},
        {"Be kind.", "Ben had a ball."},
        {"Write about a bird who wanted to fly over the big hill near the house.", ""},
    };
    std::vector<Example> examples;
    for (const auto& [instruction, input] : texts)
      examples.push_back(make_example(tmpl, tok.encode(instruction, false, false),
                                      tok.encode(input, false, false), {}));
    return new Fixture{std::move(tok), std::move(tmpl), std::move(model), std::move(examples)};
  }();
  return *f;
}

// max |a - b| <= 1e-4 * max |b| over one row of logits.
void expect_close(const float* a, const float* b, int64_t V, const std::string& what) {
  float diff = 0, scale = 0;
  for (int64_t v = 0; v < V; ++v) {
    diff = std::max(diff, std::fabs(a[v] - b[v]));
    scale = std::max(scale, std::fabs(b[v]));
  }
  EXPECT_LE(diff, 1e-4f * scale) << what << ": max diff " << diff << " at scale " << scale;
}

// Logits of the suffix tokens of each row: [rows][suffix position][V].
std::vector<std::vector<std::vector<float>>> suffix_logits(const Llama& model, const Method& m,
                                                           const std::vector<const Example*>& ex,
                                                           CacheMode mode) {
  const Prepared p = prepare(model, m, ex, mode);
  Tape no_grad(false);
  const std::vector<float> all = model.forward(no_grad, p.forward_args()).value().to_vector();
  const int64_t T = p.batch.T, V = model.config().vocab_size;
  std::vector<std::vector<std::vector<float>>> out;
  for (size_t b = 0; b < ex.size(); ++b) {
    const int64_t n = static_cast<int64_t>(ex[b]->suffix.size());
    out.emplace_back();
    for (int64_t t = T - n; t < T; ++t) {
      const float* row = all.data() + (static_cast<int64_t>(b) * T + t) * V;
      out.back().emplace_back(row, row + V);
    }
  }
  return out;
}

void check_equivalent(Condition c, CacheMode mode, size_t batch) {
  const Fixture& f = fixture();
  for (int k : {1, 3}) {
    const Method m{{k, gist_token_id(f.tok)}, c, f.tmpl.eos};
    const int64_t V = f.model.config().vocab_size;
    eval::BatchGenerateConfig cfg;
    cfg.max_new_tokens = 24;
    cfg.stop_ids = {f.tmpl.eos};
    cfg.vocab_limit = f.tok.vocab_size();
    for (size_t begin = 0; begin < f.examples.size(); begin += batch) {
      std::vector<const Example*> ex;
      for (size_t i = begin; i < std::min(f.examples.size(), begin + batch); ++i)
        ex.push_back(&f.examples[i]);
      const std::string what = std::string(condition_name(c)) + " k=" + std::to_string(k) +
                               " cache=" + cache_mode_name(mode) + " batch " +
                               std::to_string(batch) + " from " + std::to_string(begin);
      const auto ref = suffix_logits(f.model, m, ex, CacheMode::none);
      const auto got = suffix_logits(f.model, m, ex, mode);
      for (size_t b = 0; b < ex.size(); ++b)
        for (size_t t = 0; t < ref[b].size(); ++t)
          expect_close(got[b][t].data(), ref[b][t].data(), V,
                       what + " row " + std::to_string(b) + " suffix " + std::to_string(t));

      const auto gen_ref = generate(f.model, m, ex, CacheMode::none, cfg, true);
      const auto gen = generate(f.model, m, ex, mode, cfg, true);
      for (size_t b = 0; b < ex.size(); ++b) {
        ASSERT_FALSE(gen_ref.tokens[b].empty());
        EXPECT_EQ(gen.tokens[b], gen_ref.tokens[b]) << what << " row " << b;
        for (size_t s = 0; s < std::min(gen.logits[b].size(), gen_ref.logits[b].size()); ++s)
          expect_close(gen.logits[b][s].data(), gen_ref.logits[b][s].data(), V,
                       what + " row " + std::to_string(b) + " step " + std::to_string(s));
      }
    }
  }
}

TEST(GistCache, GistCacheEqualsUncachedBatch1) {
  check_equivalent(Condition::gist, CacheMode::gist, 1);
}
TEST(GistCache, GistCacheEqualsUncachedBatch8) {
  check_equivalent(Condition::gist, CacheMode::gist, 8);
}
TEST(GistCache, PromptCacheEqualsUncachedBatch1) {
  check_equivalent(Condition::gist, CacheMode::prompt, 1);
}
TEST(GistCache, PromptCacheEqualsUncachedBatch8) {
  check_equivalent(Condition::gist, CacheMode::prompt, 8);
  check_equivalent(Condition::pos_control, CacheMode::prompt, 8);
}
TEST(GistCache, NegControlCachesNothingItCannotSee) {
  check_equivalent(Condition::neg_control, CacheMode::gist, 8);
}

// Padding does not change a row: the batch-of-8 outputs equal the one-at-a-time ones.
TEST(GistCache, BatchOf8EqualsOneAtATime) {
  const Fixture& f = fixture();
  const Method m{{2, gist_token_id(f.tok)}, Condition::gist, f.tmpl.eos};
  eval::BatchGenerateConfig cfg;
  cfg.max_new_tokens = 24;
  cfg.stop_ids = {f.tmpl.eos};
  cfg.vocab_limit = f.tok.vocab_size();
  std::vector<const Example*> all;
  for (const Example& e : f.examples) all.push_back(&e);
  const auto batched = generate(f.model, m, all, CacheMode::gist, cfg);
  for (size_t i = 0; i < all.size(); ++i)
    EXPECT_EQ(generate(f.model, m, {all[i]}, CacheMode::gist, cfg).tokens[0], batched.tokens[i])
        << "row " << i;
}

// The new vocabulary row is the mean of the others (embedding; stories260K ties lm_head).
TEST(GistCache, ResizedVocabRowIsTheMean) {
  Llama model = read_llama2c_checkpoint(source_path("tests/data/tinyllamas/stories260K.bin"));
  const int64_t V = model.config().vocab_size, D = model.config().dim;
  const std::vector<float> before =
      model.param("model.embed_tokens.weight").var.value().to_vector();
  model.resize_vocab(V + 1);
  EXPECT_EQ(model.config().vocab_size, V + 1);
  const Tensor& w = model.param("model.embed_tokens.weight").var.value();
  ASSERT_EQ(w.shape(), (Shape{V + 1, D}));
  const std::vector<float> after = w.to_vector();
  for (int64_t c = 0; c < D; ++c) {
    double mean = 0;
    for (int64_t r = 0; r < V; ++r) mean += before[r * D + c];
    EXPECT_NEAR(after[V * D + c], mean / V, 1e-6) << c;
    EXPECT_EQ(after[c], before[c]);
  }
}

}  // namespace
}  // namespace condense::gist
