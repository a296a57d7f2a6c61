#include "datasets/records.h"

#include <cstdio>

#include "core/error.h"
#include "datasets/parallel_encode.h"
#include "datasets/tokenizer.h"

namespace condense::data {

RecordBuilder::RecordBuilder(std::vector<FieldSpec> fields, bool bos_per_record)
    : fields_(std::move(fields)), bos_(bos_per_record) {}

void RecordBuilder::add(size_t field, std::string text) {
  CONDENSE_ASSERT(field < fields_.size());
  texts_.push_back(std::move(text));
  field_of_.push_back(field);
}

void RecordBuilder::end_record() {
  record_begin_.push_back(texts_.size());
}

int64_t RecordBuilder::build(const Tokenizer& tokenizer, const std::string& label,
                             TokenDatasetContents& out) const {
  CONDENSE_ASSERT(record_begin_.back() == texts_.size(), "segments after the last record");
  const std::vector<std::vector<int32_t>> ids = encode_parallel(tokenizer, texts_, label);

  size_t total = 0;
  for (const auto& v : ids) total += v.size();
  out.info.tokenizer_sha256 = tokenizer.sha256();
  out.info.vocab_size = tokenizer.vocab_size();
  out.tokens.clear();
  out.tokens.reserve(total + (bos_ ? records() : 0));
  out.offsets.assign(1, 0);
  for (const FieldSpec& f : fields_) {
    out.spans[f.name].clear();
    if (f.store_text) out.texts[f.name].clear();
  }
  for (int64_t r = 0; r < records(); ++r) {
    if (bos_) out.tokens.push_back(tokenizer.bos_id());
    for (size_t s = record_begin_[r]; s < record_begin_[r + 1]; ++s) {
      const FieldSpec& f = fields_[field_of_[s]];
      std::vector<int64_t>& spans = out.spans[f.name];
      spans.push_back(static_cast<int64_t>(out.tokens.size()));
      out.tokens.insert(out.tokens.end(), ids[s].begin(), ids[s].end());
      spans.push_back(static_cast<int64_t>(out.tokens.size()));
      if (f.store_text) out.texts[f.name].push_back(texts_[s]);
    }
    out.offsets.push_back(static_cast<int64_t>(out.tokens.size()));
  }

  int64_t mismatches = 0;
#pragma omp parallel for schedule(dynamic, 64) reduction(+ : mismatches)
  for (size_t s = 0; s < texts_.size(); ++s) {
    try {
      mismatches += tokenizer.decode(ids[s]) != texts_[s];
    } catch (...) {  // ids just encoded always decode; count it rather than throw out of OpenMP
      ++mismatches;
    }
  }
  if (mismatches > 0)
    std::fprintf(stderr,
                 "warning: %s: %lld of %lld fields do not decode back to their text exactly "
                 "(does %s normalise text?)\n",
                 label.c_str(), static_cast<long long>(mismatches),
                 static_cast<long long>(texts_.size()), tokenizer.path().c_str());
  return mismatches;
}

}  // namespace condense::data
