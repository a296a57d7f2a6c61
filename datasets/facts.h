// Long documents with facts early and questions late (issue 15, for AutoCompressor and
// RMT): a document is `segments` segments of `segment` tokens and an EOS. Its first
// segment states `facts` facts ("The code of Anna is 48.") after the BOS, then filler;
// the middle segments are filler; the last segment is filler, then a question per
// fact in another order, each the fact's sentence again ("The code of Anna is" ->
// "48"). The answer is a number drawn per document, so without the fact it cannot be
// guessed better than 1 / (max_number - min_number + 1). Names are distinct within a
// document, and so are numbers; held-out splits draw names from another pool than
// training, so a model cannot have learnt anything about a test name.
// Filler is a token stream cut at random places: real text (a books dataset's tokens)
// or, without one, a synthetic stream of simple sentences.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "datasets/token_dataset.h"

namespace condense::data {

class Tokenizer;

struct FactsOptions {
  uint64_t seed = 1;
  int64_t documents = 100;
  int64_t facts = 4;
  int64_t segment = 128;
  int64_t segments = 5;  // the document's tokens are segments × segment (+ EOS)
  int64_t min_number = 10, max_number = 99;
  bool heldout_names = false;  // names from the held-out pool (validation and test)
};

// Throws (one line) when the options are out of range: no document or fact, fewer
// than 2 segments, more facts than names or numbers.
void check_facts_options(const FactsOptions& o);

// The names a split draws from (train: the training pool; else the held-out one).
const std::vector<std::string>& facts_names(bool heldout);

// The synthetic filler stream's tokens (deterministic, about `tokens` long).
std::vector<int32_t> synthetic_filler(const Tokenizer& tok, int64_t tokens);

// The documents, kind "facts": one record of segments × segment + 1 tokens each;
// /spans/fact (a row per fact sentence), /spans/question (a question's prompt, without
// its answer) and /spans/answer (its answer tokens: what evaluation scores), in the
// same order: question row q asks about fact row q. /text/name, /text/answer per row;
// attributes facts_segment, facts_segments, facts_per_document, facts_seed.
// `filler` is the token stream filler is cut from (at least one segment long). Throws
// when the facts or questions do not fit a segment.
TokenDatasetContents facts_dataset(const FactsOptions& o, const Tokenizer& tok,
                                   std::span<const int32_t> filler);

}  // namespace condense::data
