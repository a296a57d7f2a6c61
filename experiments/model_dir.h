// A model directory: `model.h5` (a checkpoint) + `tokenizer.model`. A training
// run directory also works: its newest `checkpoints/step_*.h5` is used.
#pragma once
#include <string>

#include "core/model.h"

namespace condense::exp {

struct ModelFiles {
  std::string checkpoint;
  std::string tokenizer;
};

ModelFiles locate_model(const std::string& dir);
// A checkpoint file as given, or a model / run directory's checkpoint (--train.init_from).
std::string checkpoint_in(const std::string& file_or_dir);
// Newest checkpoints/step_*.h5 under a run directory, or "" if none.
std::string latest_checkpoint(const std::string& run_dir);
// Builds the model the checkpoint describes and loads its weights.
Llama load_model(const std::string& checkpoint, Device device);

}  // namespace condense::exp
