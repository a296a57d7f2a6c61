#include "experiments/methods/ccm/batch.h"

#include <algorithm>
#include <utility>

#include "core/error.h"
#include "core/ops.h"
#include "experiments/methods/ccm/adapter.h"
#include "experiments/methods/ccm/mask.h"

namespace condense::ccm {

data::TokenBatch one_pass_batch(const Layout& l, const std::vector<Sequence>& rows,
                                int32_t pad_id) {
  data::TokenBatch b;
  b.rows = static_cast<int64_t>(rows.size());
  for (const Sequence& s : rows)
    b.T = std::max<int64_t>(b.T, static_cast<int64_t>(s.tokens.size()));
  const int64_t T = b.T;
  b.inputs.assign(b.rows * T, pad_id);
  b.targets.assign(b.rows * T, -100);
  b.positions.assign(b.rows * T, 0);
  b.mask.assign(b.rows * T * T, 0);
  b.lora_mask.assign(b.rows * T, 0);
  b.from_table.assign(b.rows * T, 0);
  b.embed_table = kTableName;
  for (int64_t r = 0; r < b.rows; ++r) {
    const std::vector<Token>& t = rows[r].tokens;
    const int64_t n = static_cast<int64_t>(t.size());
    const std::vector<int32_t> pos = skip_positions(t);
    const std::vector<int32_t> tgt = sequence_targets(rows[r]);
    const std::vector<uint8_t> m = sequence_mask(l.attn, l.sink, t);
    for (int64_t i = 0; i < T; ++i) {
      const int64_t at = r * T + i;
      if (i >= n) {
        b.mask[at * T + i] = 1;
        continue;
      }
      b.inputs[at] = t[i].id;
      b.targets[at] = tgt[i];
      b.positions[at] = pos[i];
      std::copy_n(m.begin() + i * n, n, b.mask.begin() + at * T);
      if (t[i].kind != Kind::text) {
        b.lora_mask[at] = 1;
        b.from_table[at] = 1;
        b.inputs[at] = static_cast<int32_t>(t[i].table_row(l.n_tok));
      }
    }
    const std::vector<data::KVMixTerm> terms = merge_terms(t, r);
    b.kv_mix.insert(b.kv_mix.end(), terms.begin(), terms.end());
  }
  return b;
}

data::BatchTensors one_pass_tensors(Tape& tape, const data::TokenBatch& b, const Var& table,
                                    Device device) {
  data::BatchTensors bt = data::to_tensors(b, device);
  const TableInputs in = std::exchange(bt.args.table_inputs, {});
  if (in.rows.defined()) {
    const std::vector<int32_t> ids = in.ids.to(Device::cpu).to_i32_vector();
    const int32_t top = *std::max_element(ids.begin(), ids.end());
    if (top >= table.dim(0))
      fail("ccm: a <COMP>/<SUM> token names table row ", top, " of a table of ", table.dim(0));
    bt.args.embed_rows = in.rows;
    bt.args.embed_values = ops::gather_rows(tape, table, in.ids);
  }
  return bt;
}

}  // namespace condense::ccm
