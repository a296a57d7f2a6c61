#include "experiments/methods/ccm/adapter.h"

#include <string>
#include <vector>

#include "core/error.h"

namespace condense::ccm {

Tensor comp_table_init(const Tensor& embedding, int64_t rows) {
  if (embedding.ndim() != 2)
    fail("ccm: the embedding must be [V,D], got ", shape_str(embedding.shape()));
  const int64_t V = embedding.dim(0), D = embedding.dim(1);
  if (rows < 1 || rows > V)
    fail("ccm: cannot initialise ", rows, " <COMP> rows from ", V, " embeddings");
  const std::vector<float> e = embedding.to(Device::cpu).to_vector();
  std::vector<float> out(static_cast<size_t>(rows * D), 0.0f);
  for (int64_t k = 0; k < rows; ++k) {
    std::vector<double> sum(static_cast<size_t>(D), 0.0);
    int64_t count = 0;
    for (int64_t v = k; v < V; v += rows, ++count)
      for (int64_t d = 0; d < D; ++d) sum[d] += e[v * D + d];
    for (int64_t d = 0; d < D; ++d)
      out[(rows - 1 - k) * D + d] = static_cast<float>(sum[d] / static_cast<double>(count));
  }
  return Tensor::from_f32(out, {rows, D});
}

void extend_model(Llama& shard, const Tensor& table_init, const AdapterOptions& o) {
  if (o.lora_r < 1) fail("ccm: --ccm.lora_r must be at least 1, got ", o.lora_r);
  if (!o.train_base)
    for (const Param& p : shard.params()) shard.set_trainable(p.name, false);
  ParamSpec table;
  table.name = kTableName;
  table.value = table_init;
  shard.add_param(table);
  if (o.train_base) return;
  LoraSpec lora;
  lora.targets = {"q_proj", "k_proj", "v_proj", "o_proj"};
  lora.rank = o.lora_r;
  lora.alpha = o.lora_alpha;
  lora.dropout = o.lora_dropout;
  lora.seed = o.seed;
  shard.add_lora(lora);
}

}  // namespace condense::ccm
