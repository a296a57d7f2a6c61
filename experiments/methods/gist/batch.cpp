#include "experiments/methods/gist/batch.h"

#include <algorithm>

#include "core/error.h"

namespace condense::gist {

namespace {

// pack()'s rows on the host: ids, positions and targets [B,T], mask [B,T,M+T].
struct HostRows {
  int64_t B = 0, T = 0, M = 0;
  std::vector<int32_t> ids, pos, targets;  // targets empty unless the rows had targets
  std::vector<uint8_t> mask;
  int64_t tokens = 0;  // real (non-pad) tokens
};

HostRows pack_host(const std::vector<RowPlan>& rows, Condition c, int32_t pad_id) {
  if (rows.empty()) fail("gist: cannot pack an empty batch");
  HostRows h;
  h.B = static_cast<int64_t>(rows.size());
  h.M = static_cast<int64_t>(rows[0].prefix_keys.size());
  bool with_targets = false;
  for (const RowPlan& r : rows) {
    h.T = std::max(h.T, static_cast<int64_t>(r.ids.size()));
    if (static_cast<int64_t>(r.prefix_keys.size()) != h.M)
      fail("gist: rows of one batch must have the same number of cache columns");
    with_targets |= !r.targets.empty();
  }
  const int64_t T = h.T, M = h.M, S = M + T;
  h.ids.assign(static_cast<size_t>(h.B * T), pad_id);
  h.pos.assign(h.ids.size(), 0);
  if (with_targets) h.targets.assign(h.ids.size(), -100);
  h.mask.assign(static_cast<size_t>(h.B * T * S), 0);
  for (int64_t r = 0; r < h.B; ++r) {
    const RowPlan& row = rows[r];
    const int64_t n = static_cast<int64_t>(row.ids.size()), pad = T - n;
    for (int64_t t = 0; t < n; ++t) {
      const int64_t at = r * T + pad + t, i = row.start + t;
      h.ids[at] = row.ids[t];
      h.pos[at] = static_cast<int32_t>(i);
      if (!row.targets.empty()) h.targets[at] = row.targets[t];
      uint8_t* m = h.mask.data() + at * S;
      for (int64_t col = 0; col < M; ++col) {
        const int64_t j = row.prefix_keys[col];
        m[col] = j >= 0 && may_attend(c, i, j, row.gists);
      }
      for (int64_t u = 0; u <= t; ++u) m[M + pad + u] = may_attend(c, i, row.start + u, row.gists);
    }
    h.tokens += n;
  }
  return h;
}

}  // namespace

Batch pack(const std::vector<RowPlan>& rows, Condition c, int32_t pad_id, Device device) {
  const HostRows h = pack_host(rows, c, pad_id);
  Batch b;
  b.rows = h.B;
  b.T = h.T;
  b.M = h.M;
  b.ids = Tensor::from_i32(h.ids, {h.B, h.T}, device);
  b.pos = Tensor::from_i32(h.pos, {h.B, h.T}, device);
  b.mask = Tensor::from_u8(h.mask, {h.B, h.T, h.M + h.T}, device);
  if (!h.targets.empty()) b.targets = Tensor::from_i32(h.targets, {h.B, h.T}, device);
  return b;
}

CacheMode parse_cache_mode(const std::string& name) {
  if (name == "none") return CacheMode::none;
  if (name == "gist") return CacheMode::gist;
  if (name == "prompt") return CacheMode::prompt;
  fail("unknown cache mode '", name, "', expected none, gist or prompt");
}

const char* cache_mode_name(CacheMode m) {
  switch (m) {
    case CacheMode::none:
      return "none";
    case CacheMode::gist:
      return "gist";
    case CacheMode::prompt:
      return "prompt";
  }
  return "?";
}

namespace {

GistSpan span_of(const Method& m, const Example& e) {
  const int64_t f = Layout::first_gist(e);
  return {f, f + m.layout.num_tokens - 1};
}

// One row per example, ids(example) from position 0, without targets or a cache.
template <class Ids>
Batch rows_from_position_0(const Method& m, const std::vector<const Example*>& examples,
                           Device device, const Ids& ids) {
  std::vector<RowPlan> rows;
  for (const Example* e : examples) {
    RowPlan row;
    row.ids = ids(*e);
    row.gists = span_of(m, *e);
    rows.push_back(std::move(row));
  }
  return pack(rows, m.condition, m.pad_id, device);
}

}  // namespace

TrainingBatch training_batch(const Method& m, const std::vector<const Example*>& examples,
                             int64_t max_length) {
  std::vector<RowPlan> rows;
  for (const Example* e : examples) {
    std::vector<int32_t> seq = m.layout.prompt(*e);
    const int64_t prompt_len = static_cast<int64_t>(seq.size());
    seq.insert(seq.end(), e->completion.begin(), e->completion.end());
    if (static_cast<int64_t>(seq.size()) > max_length) seq.resize(static_cast<size_t>(max_length));
    if (static_cast<int64_t>(seq.size()) <= prompt_len)
      fail("gist: an example's prompt (", prompt_len, " tokens) leaves no completion within ",
           max_length, " tokens; filter such examples first");
    RowPlan row;
    row.ids.assign(seq.begin(), seq.end() - 1);
    row.gists = span_of(m, *e);
    row.targets.resize(row.ids.size());
    for (size_t t = 0; t < row.ids.size(); ++t)
      row.targets[t] = static_cast<int64_t>(t) + 1 >= prompt_len ? seq[t + 1] : -100;
    rows.push_back(std::move(row));
  }
  HostRows h = pack_host(rows, m.condition, m.pad_id);
  TrainingBatch out;
  out.rows.rows = h.B;
  out.rows.T = h.T;
  out.rows.inputs = std::move(h.ids);
  out.rows.targets = std::move(h.targets);
  out.rows.positions = std::move(h.pos);
  out.rows.mask = std::move(h.mask);  // [B,T,T]: training rows have no cache columns
  out.tokens = h.tokens;
  return out;
}

Batch prompt_batch(const Method& m, const std::vector<const Example*>& examples, Device device) {
  return rows_from_position_0(m, examples, device,
                              [&](const Example& e) { return m.layout.prompt(e); });
}

Batch instruction_batch(const Method& m, const std::vector<const Example*>& examples,
                        Device device) {
  return rows_from_position_0(m, examples, device,
                              [&](const Example& e) { return m.layout.instruction_and_gists(e); });
}

std::vector<int64_t> cache_columns(const Method& m, const Example& e, CacheMode mode,
                                   int64_t longest) {
  const int64_t f = Layout::first_gist(e), k = m.layout.num_tokens;
  std::vector<int64_t> cols;
  if (mode == CacheMode::gist) {
    for (int64_t c = 0; c < k; ++c) cols.push_back(f + c);
  } else if (mode == CacheMode::prompt) {
    // The instruction batch is left-padded to `longest`, and the cache keeps all of it.
    const int64_t pad = longest - (f + k);
    for (int64_t c = 0; c < longest; ++c) cols.push_back(c < pad ? -1 : c - pad);
  } else {
    fail("gist: cache_columns needs a cache mode (gist or prompt)");
  }
  return cols;
}

Batch suffix_batch(const Method& m, const std::vector<const Example*>& examples, CacheMode mode,
                   Device device) {
  int64_t longest = 0;  // the longest instruction ⊕ gists row: the instruction batch's width
  for (const Example* e : examples)
    longest = std::max(longest, Layout::first_gist(*e) + m.layout.num_tokens);
  std::vector<RowPlan> rows;
  for (const Example* e : examples) {
    RowPlan row;
    row.ids = e->suffix;
    row.start = Layout::first_gist(*e) + m.layout.num_tokens;
    row.gists = span_of(m, *e);
    row.prefix_keys = cache_columns(m, *e, mode, longest);
    rows.push_back(std::move(row));
  }
  return pack(rows, m.condition, m.pad_id, device);
}

}  // namespace condense::gist
