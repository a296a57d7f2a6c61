// What CCM adds to a frozen base model (METHODS.md §2.1, §2.5): a separate trainable
// <COMP>/<SUM> embedding table and a conditional LoRA on q, k, v, o that applies only
// at those tokens (ForwardArgs::lora_mask), so every other token is computed by the
// frozen base. The lm_head is not grown.
#pragma once
#include <cstdint>

#include "core/model.h"

namespace condense::ccm {

inline constexpr const char* kTableName = "ccm.comp_embed.weight";

struct AdapterOptions {
  int64_t lora_r = 8;
  float lora_alpha = 16;
  float lora_dropout = 0;
  uint64_t seed = 1;
  // Train every base weight and add no LoRA: the full-context fine-tune that CCM's base
  // gets first (METHODS.md §2.5 step 1, there a LoRA merged into the base).
  bool train_base = false;
};

// The table's initial value [rows, D] from the base embedding [V, D]: row rows-1-k is
// the mean of every rows-th embedding row from k (E[k::rows]), as the reference does.
Tensor comp_table_init(const Tensor& embedding, int64_t rows);

// Adds the table (first stage, replicated) and the LoRA pairs to this shard and
// freezes everything else (with train_base: only adds the table).
void extend_model(Llama& shard, const Tensor& table_init, const AdapterOptions& o);

}  // namespace condense::ccm
