#include "experiments/methods/fot/passkey_task.h"

#include "core/progress.h"
#include "datasets/passkey.h"

namespace condense::fot {

std::vector<PasskeyResult> passkey_accuracy(const Llama& model, const data::Tokenizer& tokenizer,
                                            const MemoryOptions& memory,
                                            const std::vector<int64_t>& lengths, int per_length,
                                            uint32_t seed) {
  std::vector<PasskeyResult> out;
  Progress progress("fot: passkey", static_cast<int64_t>(lengths.size()) * per_length, "prompts");
  for (int64_t length : lengths) {
    PasskeyResult r;
    r.length = length;
    for (int i = 0; i < per_length; ++i) {
      const data::PasskeySample s =
          data::passkey_sample(tokenizer, length, seed + static_cast<uint32_t>(i));
      MemoryCache cache(model, memory);
      const std::vector<int32_t> got =
          cache.greedy(cache.prefill(s.prompt_ids), static_cast<int64_t>(s.answer_ids.size()));
      r.correct += got == s.answer_ids ? 1 : 0;
      ++r.total;
      progress.advance();
    }
    out.push_back(r);
  }
  return out;
}

}  // namespace condense::fot
