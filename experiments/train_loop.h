// The one training loop every method runs (`condense train --method NAME`):
//   method data -> model (the method's start) -> [method batches -> engine step] x steps
//   -> log / validation loss / save / the method's evaluation
// at one rank or on the dp × pp × tp grid of the launched ranks (experiments/train_engine.h).
// A run directory holds config.cfg, metrics.jsonl, checkpoints and tokenizer.model;
// --resume continues from the newest checkpoint with the same weights, optimizer
// moments, step and data position (under any layout) and reproduces the uninterrupted
// run exactly; an already finished run only completes a missing evaluation.
#pragma once
#include <string>

#include "core/model.h"
#include "core/optim.h"
#include "experiments/methods/method.h"
#include "experiments/train_options.h"

namespace condense::exp {

struct TrainRun {
  LlamaConfig model;  // the [model] options (a resumed run takes its checkpoint's)
  AdamWConfig optim;
  TrainLoopOptions loop;
  ParallelLayoutOptions layout;
  std::string config_text;  // the resolved options, for config.cfg and the checkpoints
};

// Opens `method`'s data and trains it as `run` says. Every rank calls it.
int train(methods::Method& method, const TrainRun& run);

}  // namespace condense::exp
