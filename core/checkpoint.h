// Checkpoints in HDF5, readable with h5py and no knowledge of condense:
//   /<param name>            one dataset per parameter, full logical shape
//   /optimizer/<param>/m, v  AdamW moments (same shapes), trainable parameters only
//   /meta                    attributes: format_version, step, optimizer_step,
//                            tokens_seen, data_position, rng_state, config (the
//                            run's config text) and the model config (vocab_size,
//                            dim, ...)
// Parameters a method adds (core/model.h ParamSpec, LoRA pairs) are parameters like
// the others: one dataset each under their own name.
//
// A checkpoint of a run that trains on top of a frozen base may leave the frozen
// parameters out (CheckpointMeta::base_checkpoint set): it then holds only the
// trainable parameters, and /meta records base_checkpoint (the base file's absolute
// path) and base_sha256 (the SHA-256 of its bytes). Loading reads the missing
// parameters from the base after checking its hash, so a changed or swapped base
// is an error naming both files, never a silent mix. A base may itself refer to a
// base. Without base_checkpoint, a checkpoint holds everything.
//
// Written to NAME.tmp and renamed, so a crash never leaves a half-written file
// under the real name; HDF5's Fletcher32 checksums catch flipped bytes.
#pragma once
#include <map>
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
  // Non-empty: the checkpoint the frozen parameters come from (see above).
  std::string base_checkpoint;
};

void save_checkpoint(const std::string& path, const Llama& model, const AdamW* optimizer,
                     const CheckpointMeta& meta);
// Reads the model config stored in a checkpoint.
LlamaConfig read_checkpoint_config(const std::string& path);

// Everything a checkpoint stands for, as full logical host tensors: what a loader
// for any layout slices its shards from.
struct CheckpointContents {
  LlamaConfig config;
  CheckpointMeta meta;
  // Every parameter, those left to the base included (read from it, hash checked).
  std::map<std::string, Tensor> params;
  // AdamW moments by parameter name, when read with the optimizer and present.
  std::map<std::string, AdamState> optimizer;
  int64_t optimizer_step = 0;
};
CheckpointContents read_checkpoint(const std::string& path, bool with_optimizer);

// Loads parameters (and optimizer state when `optimizer` is given) into `model`,
// whose config must equal the checkpoint's. Errors name the file and the tensor.
CheckpointMeta load_checkpoint(const std::string& path, Llama& model, AdamW* optimizer);

}  // namespace condense
