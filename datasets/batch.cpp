#include "datasets/batch.h"

#include <map>
#include <utility>

#include "core/error.h"

namespace condense::data {
namespace {

// Elements [begin * per_row, end * per_row) of `v`, or empty when `v` is.
template <typename T>
std::vector<T> row_range(const std::vector<T>& v, int64_t begin, int64_t end, int64_t per_row) {
  if (v.empty()) return {};
  return std::vector<T>(v.begin() + begin * per_row, v.begin() + end * per_row);
}

void check_sizes(const TokenBatch& b) {
  const auto n = static_cast<size_t>(b.rows * b.T);
  auto fits = [&](size_t size, size_t want) { return size == 0 || size == want; };
  if (b.inputs.size() != n || b.targets.size() != n || !fits(b.positions.size(), n) ||
      !fits(b.mask.size(), n * static_cast<size_t>(b.T)) || !fits(b.lora_mask.size(), n) ||
      !fits(b.from_table.size(), n))
    fail("token batch of ", b.rows, " x ", b.T,
         ": inputs/targets/positions/mask/lora_mask/from_table sizes ", b.inputs.size(), "/",
         b.targets.size(), "/", b.positions.size(), "/", b.mask.size(), "/", b.lora_mask.size(),
         "/", b.from_table.size(), " do not match");
  if (!b.from_table.empty() && b.embed_table.empty())
    fail("token batch: from_table marks inputs of a table, but embed_table names none");
}

// The table inputs of `b` (core's TableInputs); none when no token is marked.
TableInputs table_inputs(const TokenBatch& b, Device device) {
  std::vector<int32_t> rows, ids;
  for (size_t i = 0; i < b.from_table.size(); ++i)
    if (b.from_table[i]) {
      rows.push_back(static_cast<int32_t>(i));
      ids.push_back(b.inputs[i]);
    }
  if (rows.empty()) return {};
  const auto P = static_cast<int64_t>(rows.size());
  return {b.embed_table, Tensor::from_i32(rows, {P}, device), Tensor::from_i32(ids, {P}, device)};
}

}  // namespace

TokenBatch rows_of(const TokenBatch& b, int64_t begin, int64_t end) {
  if (begin < 0 || end < begin || end > b.rows)
    fail("batch rows [", begin, ", ", end, ") outside the batch's ", b.rows, " rows");
  TokenBatch out;
  out.rows = end - begin;
  out.T = b.T;
  out.inputs = row_range(b.inputs, begin, end, b.T);
  out.targets = row_range(b.targets, begin, end, b.T);
  out.positions = row_range(b.positions, begin, end, b.T);
  out.mask = row_range(b.mask, begin, end, b.T * b.T);
  out.lora_mask = row_range(b.lora_mask, begin, end, b.T);
  out.from_table = row_range(b.from_table, begin, end, b.T);
  out.embed_table = b.embed_table;
  for (KVMixTerm term : b.kv_mix)
    if (term.row >= begin && term.row < end) {
      term.row -= begin;
      out.kv_mix.push_back(term);
    }
  return out;
}

KVMix kv_mix_tensors(const std::vector<KVMixTerm>& terms, int64_t rows, int64_t T, Device device) {
  const int64_t N = rows * T;
  // Replaced row (flattened) -> its terms' weights by source row.
  std::map<int64_t, std::map<int64_t, float>> mix;
  for (const KVMixTerm& t : terms) {
    if (t.row < 0 || t.row >= rows || t.target < 0 || t.target >= T || t.source < 0 ||
        t.source >= T)
      fail("kv_mix term (row ", t.row, ", target ", t.target, ", source ", t.source,
           ") outside the batch of ", rows, " x ", T);
    mix[t.row * T + t.target][t.row * T + t.source] += t.weight;
  }
  const auto P = static_cast<int64_t>(mix.size());
  std::vector<int32_t> replaced;
  std::vector<float> weights(static_cast<size_t>(P * N), 0.0f);
  for (const auto& [row, sources] : mix) {
    for (const auto& [source, w] : sources)
      weights[static_cast<size_t>(static_cast<int64_t>(replaced.size()) * N + source)] = w;
    replaced.push_back(static_cast<int32_t>(row));
  }
  KVMix out;
  out.rows = Tensor::from_i32(replaced, {P}, device);
  out.weights = Tensor::from_f32(weights, {P, N}, device);
  return out;
}

BatchTensors to_tensors(const TokenBatch& b, Device device) {
  check_sizes(b);
  BatchTensors t;
  t.args = ForwardArgs::tokens(Tensor::from_i32(b.inputs, {b.rows, b.T}, device));
  if (!b.positions.empty()) t.args.pos = Tensor::from_i32(b.positions, {b.rows, b.T}, device);
  if (!b.mask.empty()) t.args.mask = Tensor::from_u8(b.mask, {b.rows, b.T, b.T}, device);
  if (!b.lora_mask.empty()) t.args.lora_mask = Tensor::from_u8(b.lora_mask, {b.rows, b.T}, device);
  if (!b.kv_mix.empty()) {
    t.kv_mix = std::make_shared<const KVMix>(kv_mix_tensors(b.kv_mix, b.rows, b.T, device));
    t.args.kv_mix = t.kv_mix.get();
  }
  t.args.table_inputs = table_inputs(b, device);
  t.targets = Tensor::from_i32(b.targets, {b.rows, b.T}, device);
  return t;
}

}  // namespace condense::data
