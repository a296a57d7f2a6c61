#include "experiments/methods/ccm/online.h"

#include <algorithm>

#include "core/error.h"
#include "core/ops.h"

namespace condense::ccm {
namespace {

int64_t entry_floats(const LlamaConfig& c) {
  return c.n_kv_heads * c.head_dim();
}

// Left-padded memory of `rows` of `mem` as a prefix [b, M, Hkv, Dh] per layer.
std::vector<LayerKV> prefix_of(const OnlineMemory& mem, const std::vector<size_t>& rows,
                               const LlamaConfig& c, Device device, int64_t& M) {
  M = 0;
  for (size_t r : rows) M = std::max(M, mem[r].entries);
  if (M == 0) return {};
  const int64_t E = entry_floats(c), b = static_cast<int64_t>(rows.size());
  std::vector<LayerKV> out(static_cast<size_t>(c.n_layers));
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    std::vector<float> k(static_cast<size_t>(b * M * E), 0.0f), v(k.size(), 0.0f);
    for (int64_t i = 0; i < b; ++i) {
      const RowMemory& m = mem[rows[i]];
      if (m.entries == 0) continue;
      const size_t at = static_cast<size_t>((i * M + M - m.entries) * E);
      std::copy(m.k[layer].begin(), m.k[layer].end(), k.begin() + at);
      std::copy(m.v[layer].begin(), m.v[layer].end(), v.begin() + at);
    }
    const Shape s{b, M, c.n_kv_heads, c.head_dim()};
    out[layer].k = Var(Tensor::from_f32(k, s, device));
    out[layer].v = Var(Tensor::from_f32(v, s, device));
  }
  return out;
}

// Left-padded rows of tokens after memory columns [M - entries, M) of each row.
struct Prompt {
  eval::PromptBatch batch;
  std::vector<int64_t> pad;  // left padding of each row
};

Prompt prompt_of(const OnlineMemory& mem, const std::vector<size_t>& rows,
                 const std::vector<std::vector<Token>>& tokens, int64_t M, int32_t pad_id,
                 Device device) {
  const int64_t b = static_cast<int64_t>(rows.size());
  int64_t T = 0;
  for (const auto& t : tokens) T = std::max<int64_t>(T, static_cast<int64_t>(t.size()));
  std::vector<int32_t> ids(static_cast<size_t>(b * T), pad_id), pos(ids.size(), 0);
  std::vector<uint8_t> mask(static_cast<size_t>(b * T * (M + T)), 0);
  Prompt p;
  for (int64_t i = 0; i < b; ++i) {
    const RowMemory& m = mem[rows[i]];
    const int64_t n = static_cast<int64_t>(tokens[i].size()), pad = T - n;
    p.pad.push_back(pad);
    const std::vector<int32_t> skip = skip_positions(tokens[i], m.offset);
    for (int64_t q = 0; q < n; ++q) {
      const int64_t at = i * T + pad + q;
      ids[at] = tokens[i][q].id;
      pos[at] = skip[q];
      uint8_t* row = mask.data() + at * (M + T);
      std::fill(row + M - m.entries, row + M, uint8_t{1});
      std::fill(row + M + pad, row + M + pad + q + 1, uint8_t{1});
    }
  }
  p.batch.ids = Tensor::from_i32(ids, {b, T}, device);
  p.batch.pos = Tensor::from_i32(pos, {b, T}, device);
  p.batch.mask = Tensor::from_u8(mask, {b, T, M + T}, device);
  return p;
}

std::vector<std::vector<Token>> as_text(const std::vector<std::vector<int32_t>>& rows) {
  std::vector<std::vector<Token>> out;
  for (const auto& r : rows) {
    std::vector<Token> t;
    for (int32_t id : r) t.push_back({Kind::text, id, 0});
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<size_t> all_rows(const OnlineMemory& mem) {
  std::vector<size_t> rows(mem.size());
  for (size_t r = 0; r < rows.size(); ++r) rows[r] = r;
  return rows;
}

}  // namespace

void compress(const Llama& model, const Tensor& table, const Layout& l, OnlineMemory& mem,
              const std::vector<const std::vector<int32_t>*>& contexts, int32_t pad_id) {
  check_layout(l);
  if (l.attn != Attn::concat_recur && l.attn != Attn::merge_recur)
    fail("ccm: online compression needs concat_recur or merge_recur, not ", attn_name(l.attn));
  if (contexts.size() != mem.size())
    fail("ccm: ", contexts.size(), " contexts for a memory of ", mem.size(), " rows");
  const LlamaConfig& c = model.config();
  const int64_t n = l.n_tok, E = entry_floats(c);
  std::vector<size_t> rows;
  std::vector<std::vector<Token>> tokens;
  for (size_t r = 0; r < mem.size(); ++r) {
    if (!contexts[r]) continue;
    rows.push_back(r);
    std::vector<Token> t;
    if (mem[r].steps == 0)
      t.push_back({Kind::text, l.bos, 0});
    else
      for (int32_t id : l.sep) t.push_back({Kind::text, id, 0});
    for (int32_t id : *contexts[r]) t.push_back({Kind::text, id, 0});
    for (int64_t s = 0; s < n; ++s) t.push_back({Kind::comp, 0, static_cast<int32_t>(s)});
    tokens.push_back(std::move(t));
  }
  if (rows.empty()) fail("ccm: compress without a context");
  int64_t M = 0;
  const std::vector<LayerKV> prefix = prefix_of(mem, rows, c, model.device(), M);
  const Prompt p = prompt_of(mem, rows, tokens, M, pad_id, model.device());
  const int64_t b = static_cast<int64_t>(rows.size()), T = p.batch.ids.dim(1);

  ForwardArgs args;
  args.ids = p.batch.ids;
  args.pos = p.batch.pos;
  args.mask = p.batch.mask;
  if (M > 0) args.prefix = &prefix;
  std::vector<int32_t> embed_rows, table_rows;
  std::vector<uint8_t> lora(static_cast<size_t>(b * T), 0);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t s = 0; s < n; ++s) {
      embed_rows.push_back(static_cast<int32_t>(i * T + T - n + s));
      table_rows.push_back(static_cast<int32_t>(s));
      lora[i * T + T - n + s] = 1;
    }
  Tape tape(false);
  args.embed_rows = Tensor::from_i32(embed_rows, {b * n}, model.device());
  args.embed_values = ops::gather_rows(tape, Var(table.to(model.device())),
                                       Tensor::from_i32(table_rows, {b * n}, model.device()));
  args.lora_mask = Tensor::from_u8(lora, {b, T}, model.device());
  std::vector<LayerKV> kv;
  args.kv_out = &kv;
  model.hidden(tape, args);

  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    const std::vector<float> k = kv[layer].k.value().to(Device::cpu).to_vector();
    const std::vector<float> v = kv[layer].v.value().to(Device::cpu).to_vector();
    for (int64_t i = 0; i < b; ++i) {
      RowMemory& m = mem[rows[i]];
      if (m.k.empty()) m.k.resize(c.n_layers), m.v.resize(c.n_layers);
      auto cols = [&](int64_t begin, int64_t end, std::vector<float>& dst,
                      const std::vector<float>& src) {
        dst.insert(dst.end(), src.begin() + (i * T + begin) * E, src.begin() + (i * T + end) * E);
      };
      std::vector<float> hk, hv;  // this step's <COMP> entries h(t)
      cols(T - n, T, hk, k);
      cols(T - n, T, hv, v);
      if (m.steps == 0 && l.sink) {  // BOS: the row's first real column
        cols(p.pad[i], p.pad[i] + 1, m.k[layer], k);
        cols(p.pad[i], p.pad[i] + 1, m.v[layer], v);
      }
      if (l.attn == Attn::concat_recur || m.steps == 0) {
        m.k[layer].insert(m.k[layer].end(), hk.begin(), hk.end());
        m.v[layer].insert(m.v[layer].end(), hv.begin(), hv.end());
        continue;
      }
      // Mem(t) = (1 - 1/t) Mem(t-1) + (1/t) h(t) over the last n entries.
      const float a = 1.0f / static_cast<float>(m.steps + 1);
      const size_t at = m.k[layer].size() - hk.size();
      for (size_t x = 0; x < hk.size(); ++x) {
        m.k[layer][at + x] = (1 - a) * m.k[layer][at + x] + a * hk[x];
        m.v[layer][at + x] = (1 - a) * m.v[layer][at + x] + a * hv[x];
      }
    }
  }
  for (int64_t i = 0; i < b; ++i) {
    RowMemory& m = mem[rows[i]];
    m.entries = static_cast<int64_t>(m.k[0].size()) / E;
    for (const Token& t : tokens[i]) m.offset += t.kind == Kind::text;
    ++m.steps;
  }
}

std::vector<int32_t> query_tokens(const Layout& l, const RowMemory& row,
                                  std::span<const int32_t> x) {
  std::vector<int32_t> out;
  if (row.steps == 0)
    out.push_back(l.bos);
  else
    out.assign(l.sep.begin(), l.sep.end());
  out.insert(out.end(), x.begin(), x.end());
  out.insert(out.end(), l.sep.begin(), l.sep.end());
  return out;
}

std::vector<LayerKV> memory_prefix(const OnlineMemory& mem, const LlamaConfig& c, Device device) {
  int64_t M = 0;
  return prefix_of(mem, all_rows(mem), c, device, M);
}

eval::PromptBatch memory_prompt(const OnlineMemory& mem,
                                const std::vector<std::vector<int32_t>>& rows, int32_t pad_id,
                                Device device) {
  if (rows.size() != mem.size()) fail("ccm: ", rows.size(), " rows for a memory of ", mem.size());
  int64_t M = 0;
  for (const RowMemory& m : mem) M = std::max(M, m.entries);
  return prompt_of(mem, all_rows(mem), as_text(rows), M, pad_id, device).batch;
}

Tensor forward_with_memory(const Llama& model, const OnlineMemory& mem,
                           const std::vector<std::vector<int32_t>>& rows, int32_t pad_id) {
  const std::vector<LayerKV> prefix = memory_prefix(mem, model.config(), model.device());
  const eval::PromptBatch p = memory_prompt(mem, rows, pad_id, model.device());
  ForwardArgs args;
  args.ids = p.ids;
  args.pos = p.pos;
  args.mask = p.mask;
  args.lora_mask = Tensor::zeros(p.ids.shape(), DType::u8, model.device());
  if (!prefix.empty()) args.prefix = &prefix;
  Tape tape(false);
  return model.forward(tape, args).value();
}

eval::BatchGenerateResult answer(const Llama& model, const OnlineMemory& mem,
                                 const std::vector<std::vector<int32_t>>& queries, int32_t pad_id,
                                 const eval::BatchGenerateConfig& cfg, bool keep_logits) {
  const std::vector<LayerKV> prefix = memory_prefix(mem, model.config(), model.device());
  const eval::PromptBatch p = memory_prompt(mem, queries, pad_id, model.device());
  eval::BatchGenerateConfig base_only = cfg;
  base_only.base_only = true;
  return eval::generate_batch(model, prefix.empty() ? nullptr : &prefix, p, base_only, keep_logits);
}

}  // namespace condense::ccm
