#include "experiments/methods/gist_batch.h"

#include <algorithm>

#include "core/error.h"

namespace condense::gist {

Batch pack(const std::vector<RowPlan>& rows, Condition c, int32_t pad_id, Device device) {
  if (rows.empty()) fail("gist: cannot pack an empty batch");
  Batch b;
  b.rows = static_cast<int64_t>(rows.size());
  b.M = static_cast<int64_t>(rows[0].prefix_keys.size());
  bool with_targets = false;
  for (const RowPlan& r : rows) {
    b.T = std::max(b.T, static_cast<int64_t>(r.ids.size()));
    if (static_cast<int64_t>(r.prefix_keys.size()) != b.M)
      fail("gist: rows of one batch must have the same number of cache columns");
    with_targets |= !r.targets.empty();
  }
  const int64_t B = b.rows, T = b.T, M = b.M, S = M + T;
  std::vector<int32_t> ids(static_cast<size_t>(B * T), pad_id), pos(ids.size(), 0);
  std::vector<int32_t> targets(with_targets ? ids.size() : 0, -100);
  std::vector<uint8_t> mask(static_cast<size_t>(B * T * S), 0);
  for (int64_t r = 0; r < B; ++r) {
    const RowPlan& row = rows[r];
    const int64_t n = static_cast<int64_t>(row.ids.size()), pad = T - n;
    for (int64_t t = 0; t < n; ++t) {
      const int64_t at = r * T + pad + t, i = row.start + t;
      ids[at] = row.ids[t];
      pos[at] = static_cast<int32_t>(i);
      if (!row.targets.empty()) targets[at] = row.targets[t];
      uint8_t* m = mask.data() + at * S;
      for (int64_t col = 0; col < M; ++col) {
        const int64_t j = row.prefix_keys[col];
        m[col] = j >= 0 && may_attend(c, i, j, row.gists);
      }
      for (int64_t u = 0; u <= t; ++u) m[M + pad + u] = may_attend(c, i, row.start + u, row.gists);
    }
    b.tokens += n;
    for (int32_t y : row.targets) b.targets_count += y != -100;
  }
  b.ids = Tensor::from_i32(ids, {B, T}, device);
  b.pos = Tensor::from_i32(pos, {B, T}, device);
  b.mask = Tensor::from_u8(mask, {B, T, S}, device);
  if (with_targets) b.targets = Tensor::from_i32(targets, {B, T}, device);
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

Batch training_batch(const Method& m, const std::vector<const Example*>& examples,
                     int64_t max_length, Device device) {
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
  return pack(rows, m.condition, m.pad_id, device);
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
