#include "experiments/methods/autocompressor/generate.h"

#include "core/error.h"

namespace condense::autocompressor {

std::vector<LayerKV> softprompt_cache(const Llama& model, const Tensor& softprompt) {
  const int64_t B = softprompt.dim(0), m = softprompt.dim(1), D = model.config().dim;
  if (softprompt.shape() != Shape{B, m, D})
    fail("autocompressor: soft prompt ", shape_str(softprompt.shape()), ", expected [B,m,", D, "]");
  std::vector<int32_t> rows;
  for (int64_t i = 0; i < B * m; ++i) rows.push_back(static_cast<int32_t>(i));
  Tape no_grad(false);
  std::vector<LayerKV> kv;
  ForwardArgs args = ForwardArgs::tokens(
      Tensor::from_i32(std::vector<int32_t>(rows.size(), 0), {B, m}, model.device()));
  args.embed_rows = Tensor::from_i32(rows, {B * m}, model.device());
  args.embed_values = Var(softprompt.reshape({B * m, D}));
  args.kv_out = &kv;
  model.hidden(no_grad, args);
  for (LayerKV& l : kv) l.k_raw = Var();
  return kv;
}

eval::BatchGenerateResult generate_after_softprompt(
    const Llama& model, const Tensor& softprompt, const std::vector<std::vector<int32_t>>& prompts,
    int32_t pad_id, const eval::BatchGenerateConfig& cfg) {
  if (static_cast<int64_t>(prompts.size()) != softprompt.dim(0))
    fail("autocompressor: ", prompts.size(), " prompts for ", softprompt.dim(0), " soft prompts");
  const std::vector<LayerKV> cache = softprompt_cache(model, softprompt);
  const eval::PromptBatch batch = eval::causal_batch(
      prompts, std::vector<int64_t>(prompts.size(), softprompt.dim(1)), pad_id, model.device());
  return eval::generate_batch(model, &cache, batch, cfg);
}

}  // namespace condense::autocompressor
