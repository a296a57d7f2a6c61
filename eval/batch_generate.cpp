#include "eval/batch_generate.h"

#include <algorithm>

#include "core/error.h"
#include "core/ops.h"

namespace condense::eval {
namespace {

// Rows `keep` of a [B, ...] tensor, on its device.
Tensor select_rows(const Tensor& x, const std::vector<int32_t>& keep) {
  Tape no_grad(false);
  const int64_t B = x.dim(0), rest = x.numel() / B;
  Shape shape = x.shape();
  shape[0] = static_cast<int64_t>(keep.size());
  const Tensor idx = Tensor::from_i32(keep, {shape[0]}, x.device());
  return ops::gather_rows(no_grad, Var(x.reshape({B, rest})), idx).value().reshape(shape);
}

}  // namespace

PromptBatch causal_batch(const std::vector<std::vector<int32_t>>& rows,
                         const std::vector<int64_t>& prefix_lengths, int32_t pad_id,
                         Device device) {
  const int64_t B = static_cast<int64_t>(rows.size());
  if (B == 0) fail("causal_batch: no rows");
  if (!prefix_lengths.empty() && static_cast<int64_t>(prefix_lengths.size()) != B)
    fail("causal_batch: ", prefix_lengths.size(), " prefix lengths for ", B, " rows");
  int64_t T = 0, M = 0;
  for (const auto& r : rows) T = std::max<int64_t>(T, static_cast<int64_t>(r.size()));
  for (int64_t p : prefix_lengths) M = std::max(M, p);
  const int64_t S = M + T;
  std::vector<int32_t> ids(static_cast<size_t>(B * T), pad_id), pos(ids.size(), 0);
  std::vector<uint8_t> mask(static_cast<size_t>(B * T * S), 0);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = static_cast<int64_t>(rows[b].size()), pad = T - n;
    const int64_t p = prefix_lengths.empty() ? 0 : prefix_lengths[b];
    for (int64_t t = 0; t < n; ++t) {
      const int64_t at = b * T + pad + t;
      ids[at] = rows[b][t];
      pos[at] = static_cast<int32_t>(p + t);
      uint8_t* m = mask.data() + at * S;
      std::fill(m + M - p, m + M, 1);                  // the row's real prefix columns
      std::fill(m + M + pad, m + M + pad + t + 1, 1);  // its tokens so far
    }
  }
  return {Tensor::from_i32(ids, {B, T}, device), Tensor::from_i32(pos, {B, T}, device),
          Tensor::from_u8(mask, {B, T, S}, device)};
}

BatchGenerateResult generate_batch(const Llama& model, const std::vector<LayerKV>* prefix,
                                   const PromptBatch& prompt, const BatchGenerateConfig& cfg,
                                   bool keep_logits) {
  const Device dev = model.device();
  const int64_t B = prompt.ids.dim(0), T = prompt.ids.dim(1), S0 = prompt.mask.dim(2);
  const int64_t M = S0 - T, V = model.config().vocab_size;
  const int64_t limit = cfg.vocab_limit > 0 ? std::min(cfg.vocab_limit, V) : V;
  const int64_t prefix_len =
      prefix && !prefix->empty() && (*prefix)[0].k.defined() ? (*prefix)[0].k.dim(1) : 0;
  if (prefix_len != M)
    fail("generate_batch: the mask has ", M, " prefix columns but the prefix holds ", prefix_len,
         " keys");
  BatchGenerateResult result;
  result.tokens.resize(static_cast<size_t>(B));
  if (keep_logits) result.logits.resize(static_cast<size_t>(B));
  if (cfg.max_new_tokens <= 0 || B == 0) return result;

  // Each row's visible cache columns: its last prompt token's mask row, carried forward.
  const Tensor host_mask = prompt.mask.to(Device::cpu);
  const std::vector<int32_t> host_pos = prompt.pos.to_i32_vector();
  std::vector<std::vector<uint8_t>> visible(static_cast<size_t>(B));
  std::vector<int32_t> next_pos(static_cast<size_t>(B)), active(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    const uint8_t* row = host_mask.u8() + ((b * T) + T - 1) * S0;
    visible[b].assign(row, row + S0);
    next_pos[b] = host_pos[b * T + T - 1] + 1;
    active[b] = static_cast<int32_t>(b);
  }
  // The last new token is returned, never run: it needs no position of its own.
  const int64_t last_pos =
      *std::max_element(next_pos.begin(), next_pos.end()) + cfg.max_new_tokens - 2;
  if (last_pos >= model.config().max_seq_len)
    fail("generate: --max-new-tokens ", cfg.max_new_tokens, " after prompts at positions up to ",
         last_pos - cfg.max_new_tokens + 1, " need position ", last_pos,
         ", beyond the model's max_seq_len ", model.config().max_seq_len);

  Tape no_grad(false);
  std::vector<LayerKV> cache, fresh;
  auto run = [&](const Tensor& ids, const Tensor& pos, const Tensor& mask) {
    ForwardArgs args;
    args.ids = ids;
    args.pos = pos;
    args.mask = mask;
    if (cfg.base_only) args.lora_mask = Tensor::zeros(ids.shape(), DType::u8, dev);
    args.prefix = cache.empty() ? prefix : &cache;
    args.kv_out = &fresh;
    Var h = model.hidden(no_grad, args);
    const int64_t t = ids.dim(1);
    std::vector<float> logits =
        model.logits(no_grad, ops::slice(no_grad, h, 1, t - 1, t)).value().to_vector();
    const std::vector<LayerKV>* before = args.prefix;
    std::vector<LayerKV> next(fresh.size());
    for (size_t l = 0; l < fresh.size(); ++l) {
      if (before && (*before)[l].k.defined() && (*before)[l].k.dim(1) > 0)
        next[l] = {ops::concat(no_grad, {(*before)[l].k, fresh[l].k}, 1),
                   ops::concat(no_grad, {(*before)[l].v, fresh[l].v}, 1)};
      else
        next[l] = fresh[l];
    }
    cache = std::move(next);
    return logits;
  };

  std::vector<float> logits = run(prompt.ids, prompt.pos, prompt.mask);
  for (;;) {
    const int64_t A = static_cast<int64_t>(active.size());
    std::vector<int32_t> keep, step_ids;
    for (int64_t a = 0; a < A; ++a) {
      const int32_t row = active[a];
      const float* l = logits.data() + a * V;
      const int32_t tok = static_cast<int32_t>(std::max_element(l, l + limit) - l);
      result.tokens[row].push_back(tok);
      if (keep_logits) result.logits[row].emplace_back(l, l + V);
      const bool stop =
          std::find(cfg.stop_ids.begin(), cfg.stop_ids.end(), tok) != cfg.stop_ids.end();
      if (!stop && static_cast<int64_t>(result.tokens[row].size()) < cfg.max_new_tokens) {
        keep.push_back(static_cast<int32_t>(a));
        step_ids.push_back(tok);
      }
    }
    if (keep.empty()) break;
    if (static_cast<int64_t>(keep.size()) < A) {
      for (LayerKV& kv : cache) {
        kv.k = Var(select_rows(kv.k.value(), keep));
        kv.v = Var(select_rows(kv.v.value(), keep));
      }
      std::vector<int32_t> new_active, new_pos;
      std::vector<std::vector<uint8_t>> new_visible;
      for (int32_t a : keep) {
        new_active.push_back(active[a]);
        new_pos.push_back(next_pos[a]);
        new_visible.push_back(std::move(visible[a]));
      }
      active = std::move(new_active);
      next_pos = std::move(new_pos);
      visible = std::move(new_visible);
    }
    const int64_t n = static_cast<int64_t>(active.size());
    const int64_t S = static_cast<int64_t>(visible[0].size()) + 1;
    std::vector<uint8_t> mask(static_cast<size_t>(n * S));
    for (int64_t a = 0; a < n; ++a) {
      visible[a].push_back(1);
      std::copy(visible[a].begin(), visible[a].end(), mask.begin() + a * S);
    }
    logits = run(Tensor::from_i32(step_ids, {n, 1}, dev), Tensor::from_i32(next_pos, {n, 1}, dev),
                 Tensor::from_u8(mask, {n, 1, S}, dev));
    for (int32_t& p : next_pos) ++p;
  }
  return result;
}

}  // namespace condense::eval
