// Checkpoints in HDF5, readable with h5py and no knowledge of condense:
//   /<param name>            one dataset per parameter, full logical shape
//   /optimizer/<param>/m, v  AdamW moments (same shapes)
//   /meta                    attributes: format_version, step, tokens_seen,
//                            data_position, rng_state, config (the run's config
//                            text) and the model config (vocab_size, dim, ...)
// Written to NAME.tmp and renamed, so a crash never leaves a half-written file
// under the real name; HDF5's Fletcher32 checksums catch flipped bytes.
#pragma once
#include <string>

#include "core/model.h"
#include "core/optim.h"

namespace condense {

struct CheckpointMeta {
  int64_t step = 0;
  int64_t tokens_seen = 0;
  int64_t data_position = 0;
  std::string rng_state;
  std::string config_text;
};

void save_checkpoint(const std::string& path, const Llama& model, const AdamW* optimizer,
                     const CheckpointMeta& meta);
// Reads the model config stored in a checkpoint.
LlamaConfig read_checkpoint_config(const std::string& path);
// Loads parameters (and optimizer state when `optimizer` is given) into `model`,
// whose config must equal the checkpoint's. Errors name the file and the tensor.
CheckpointMeta load_checkpoint(const std::string& path, Llama& model, AdamW* optimizer);

}  // namespace condense
