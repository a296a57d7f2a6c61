#include "datasets/parallel_encode.h"

#include <omp.h>

#include <atomic>
#include <cstdio>
#include <exception>
#include <string_view>

#include "core/progress.h"
#include "datasets/tokenizer.h"

namespace condense::data {
namespace {

constexpr size_t kChunkBytes = 64 << 10;

struct Chunk {
  size_t text;
  size_t begin, end;
};

// Pieces of ~kChunkBytes, each ending right after a '\n' (or at the text's end).
std::vector<Chunk> make_chunks(std::span<const std::string> texts, bool can_split) {
  std::vector<Chunk> chunks;
  for (size_t t = 0; t < texts.size(); ++t) {
    const std::string& s = texts[t];
    size_t begin = 0;
    do {
      size_t end = s.size();
      if (can_split && s.size() - begin > kChunkBytes) {
        const size_t nl = s.find('\n', begin + kChunkBytes);
        if (nl != std::string::npos) end = nl + 1;
      }
      chunks.push_back({t, begin, end});
      begin = end;
    } while (begin < s.size());
  }
  return chunks;
}

}  // namespace

std::vector<std::vector<int32_t>> encode_parallel(const Tokenizer& tokenizer,
                                                  std::span<const std::string> texts,
                                                  const std::string& label) {
  const std::vector<Chunk> chunks = make_chunks(texts, tokenizer.can_split_at_newlines());
  size_t total = 0;
  for (const std::string& s : texts) total += s.size();
  Progress progress("tokenizing " + label, static_cast<int64_t>(total), "bytes");

  std::vector<std::vector<int32_t>> ids(chunks.size());
  std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t c = 0; c < chunks.size(); ++c) {
    const Chunk& k = chunks[c];
    try {
      const std::string_view piece =
          std::string_view(texts[k.text]).substr(k.begin, k.end - k.begin);
      ids[c] = k.begin == 0 ? tokenizer.encode(piece, false, false)
                            : tokenizer.encode_continuation(piece);
    } catch (...) {
#pragma omp critical(condense_encode_error)
      if (!error) error = std::current_exception();
    }
#pragma omp critical(condense_encode_progress)
    progress.advance(static_cast<int64_t>(k.end - k.begin));
  }
  if (error) std::rethrow_exception(error);

  // Chunks of one text are adjacent and in order: append them.
  std::vector<std::vector<int32_t>> out(texts.size());
  for (size_t c = 0; c < chunks.size(); ++c) {
    std::vector<int32_t>& dst = out[chunks[c].text];
    if (dst.empty()) {
      dst = std::move(ids[c]);
    } else {
      dst.insert(dst.end(), ids[c].begin(), ids[c].end());
    }
  }
  return out;
}

}  // namespace condense::data
