#include "experiments/methods/gist/inference.h"

#include "eval/kv_prefix.h"

namespace condense::gist {

eval::PromptBatch as_prompt(const Batch& b) {
  return {b.ids, b.pos, b.mask};
}

CacheMode eval_cache_mode(const std::string& name, Condition c) {
  if (name == "auto") return c == Condition::gist ? CacheMode::gist : CacheMode::none;
  return parse_cache_mode(name);
}

std::vector<LayerKV> compress(const Llama& model, const Method& m,
                              const std::vector<const Example*>& examples, CacheMode mode) {
  if (mode == CacheMode::none) return {};
  const Batch head = instruction_batch(m, examples, model.device());
  const int64_t keep = mode == CacheMode::gist ? m.layout.num_tokens : head.T;
  return eval::cache_last_columns(model, as_prompt(head), keep);
}

Batch query_batch(const Method& m, const std::vector<const Example*>& examples, CacheMode mode,
                  Device device) {
  return mode == CacheMode::none ? prompt_batch(m, examples, device)
                                 : suffix_batch(m, examples, mode, device);
}

Prepared prepare(const Llama& model, const Method& m, const std::vector<const Example*>& examples,
                 CacheMode mode) {
  Prepared p;
  p.prefix = compress(model, m, examples, mode);
  p.batch = query_batch(m, examples, mode, model.device());
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
