#include "datasets/batch.h"

#include "core/error.h"

namespace condense::data {
namespace {

// Elements [begin * per_row, end * per_row) of `v`, or empty when `v` is.
template <typename T>
std::vector<T> row_range(const std::vector<T>& v, int64_t begin, int64_t end, int64_t per_row) {
  if (v.empty()) return {};
  return std::vector<T>(v.begin() + begin * per_row, v.begin() + end * per_row);
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
  return out;
}

BatchTensors to_tensors(const TokenBatch& b, Device device) {
  const auto n = static_cast<size_t>(b.rows * b.T);
  if (b.inputs.size() != n || b.targets.size() != n ||
      (!b.positions.empty() && b.positions.size() != n) ||
      (!b.mask.empty() && b.mask.size() != n * static_cast<size_t>(b.T)))
    fail("token batch of ", b.rows, " x ", b.T, ": inputs/targets/positions/mask sizes ",
         b.inputs.size(), "/", b.targets.size(), "/", b.positions.size(), "/", b.mask.size(),
         " do not match");
  BatchTensors t;
  t.args = ForwardArgs::tokens(Tensor::from_i32(b.inputs, {b.rows, b.T}, device));
  if (!b.positions.empty()) t.args.pos = Tensor::from_i32(b.positions, {b.rows, b.T}, device);
  if (!b.mask.empty()) t.args.mask = Tensor::from_u8(b.mask, {b.rows, b.T, b.T}, device);
  t.targets = Tensor::from_i32(b.targets, {b.rows, b.T}, device);
  return t;
}

}  // namespace condense::data
