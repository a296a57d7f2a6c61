#include "experiments/methods/gist_inference.h"

#include "eval/gist_cache.h"

namespace condense::gist {

eval::PromptBatch as_prompt(const Batch& b) {
  return {b.ids, b.pos, b.mask};
}

Prepared prepare(const Llama& model, const Method& m, const std::vector<const Example*>& examples,
                 CacheMode mode) {
  const Device dev = model.device();
  Prepared p;
  if (mode == CacheMode::none) {
    p.batch = prompt_batch(m, examples, dev);
  } else {
    const Batch head = instruction_batch(m, examples, dev);
    const int64_t keep = mode == CacheMode::gist ? m.layout.num_tokens : head.T;
    p.prefix = eval::cache_last_columns(model, as_prompt(head), keep);
    p.batch = suffix_batch(m, examples, mode, dev);
  }
  p.prompt = as_prompt(p.batch);
  return p;
}

ForwardArgs Prepared::forward_args() const {
  ForwardArgs fa;
  fa.ids = prompt.ids;
  fa.pos = prompt.pos;
  fa.mask = prompt.mask;
  fa.prefix = prefix.empty() ? nullptr : &prefix;
  return fa;
}

eval::BatchGenerateResult generate(const Llama& model, const Method& m,
                                   const std::vector<const Example*>& examples, CacheMode mode,
                                   const eval::BatchGenerateConfig& cfg, bool keep_logits) {
  const Prepared p = prepare(model, m, examples, mode);
  return eval::generate_batch(model, p.prefix.empty() ? nullptr : &p.prefix, p.prompt, cfg,
                              keep_logits);
}

}  // namespace condense::gist
