#include "experiments/methods/fot/crossbatch.h"

#include <algorithm>
#include <memory>

#include "core/error.h"

namespace condense::fot {

void check_shape(const CrossbatchShape& s) {
  if (s.pack < 1) fail("fot: --fot.pack must be at least 1, got ", s.pack);
  if (s.batch % s.pack != 0)
    fail("fot: --fot.pack ", s.pack, " does not divide the batch of ", s.batch, " entries");
  if (s.range < 0 || s.range >= s.batch)
    fail("fot: the crossbatch range ", s.range, " must be in [0, ", s.batch,
         ") (below the batch of ", s.batch, " entries)");
}

std::vector<int64_t> visible_ranges(const CrossbatchShape& s) {
  check_shape(s);
  const int64_t slots = s.range + 1;  // the entry itself and `range` others
  const int64_t step =
      (slots + std::max<int64_t>(s.pack - 1, 1) - 1) / std::max<int64_t>(s.pack - 1, 1);
  std::vector<int64_t> out;
  for (int64_t i = 0; i < s.batch; ++i) {
    int64_t seen = slots;
    if (s.pack > 1 && s.stepping) seen = std::min((i % s.pack) * step + 1, slots);
    out.push_back(std::min(seen, i + 1) - 1);
  }
  return out;
}

CrossbatchHooks crossbatch_hooks(const CrossbatchShape& s, int64_t T,
                                 const std::vector<int64_t>& memory_layers, int64_t n_layers,
                                 Device device) {
  const std::vector<int64_t> seen = visible_ranges(s);
  CrossbatchHooks h;
  h.gather.resize(static_cast<size_t>(n_layers));
  h.mask.resize(static_cast<size_t>(n_layers));
  if (s.range == 0) return h;
  const int64_t B = s.batch, S = s.range * T, K = S + T;
  std::vector<int32_t> rows(static_cast<size_t>(B * S));
  std::vector<uint8_t> mask(static_cast<size_t>(B * T * K), 0);
  for (int64_t i = 0; i < B; ++i) {
    for (int64_t j = 1; j <= s.range; ++j) {
      const int64_t src = ((i - j) % B + B) % B;  // wrapped slots are masked below
      for (int64_t t = 0; t < T; ++t)
        rows[static_cast<size_t>(i * S + (j - 1) * T + t)] = static_cast<int32_t>(src * T + t);
    }
    for (int64_t q = 0; q < T; ++q) {
      uint8_t* m = mask.data() + (i * T + q) * K;
      std::fill(m, m + seen[static_cast<size_t>(i)] * T, uint8_t{1});
      std::fill(m + S, m + S + q + 1, uint8_t{1});
    }
  }
  const Tensor row_t = Tensor::from_i32(rows, {B * S}, device);
  const Tensor pos_t = Tensor::from_i32(std::vector<int32_t>(rows.size(), 0), {B, S}, device);
  const Tensor mask_t = Tensor::from_u8(mask, {B, T, K}, device);
  for (int64_t l : memory_layers) {
    if (l < 0 || l >= n_layers)
      fail("fot: memory layer ", l, " is out of range: the model has layers 0..", n_layers - 1);
    h.gather[static_cast<size_t>(l)] = {row_t, pos_t};
    h.mask[static_cast<size_t>(l)] = mask_t;
  }
  return h;
}

parallel::PassGraph crossbatch_graph(const std::vector<data::TokenBatch>& batches, int64_t pack,
                                     int64_t range, bool stepping,
                                     const std::vector<int64_t>& memory_layers, int64_t n_layers,
                                     Device device) {
  parallel::PassGraph graph;
  for (const data::TokenBatch& b : batches) {
    if (b.rows == 0) continue;
    data::BatchTensors bt = data::to_tensors(b, device);
    auto hooks = std::make_shared<CrossbatchHooks>(
        crossbatch_hooks({b.rows, pack, memory_layers.empty() ? 0 : range, stepping}, b.T,
                         memory_layers, n_layers, device));
    parallel::GraphPass pass;
    pass.args = std::move(bt.args);
    pass.args.row_gather = &hooks->gather;
    pass.args.layer_mask = &hooks->mask;
    pass.targets = bt.targets.to(Device::cpu);
    pass.keep = std::move(hooks);
    graph.push_back(std::move(pass));
  }
  return graph;
}

}  // namespace condense::fot
