// The model a run started from, in run_dir/base.json, so that `condense report` can
// refuse to tabulate runs of different bases side by side. A fresh run writes it:
//   {"init_from": the --train.init_from path or "", "sha256": the hex digest of that
//    checkpoint file's bytes or "random", "seed": train.seed, "model": the model's
//    dimensions, "id": what two runs must share to have the same base}.
// The id is "sha256:<digest>" for a checkpoint start, and for a random start
// "random:" and the dimensions other than the vocabulary (a method's extra rows do not
// make another base; the seed is the run's own variance, not its base).
#pragma once
#include <cstdint>
#include <string>

#include "core/model.h"

namespace condense::exp {

std::string base_path(const std::string& run_dir);

// `init_from`: a checkpoint file or run directory (experiments/model_dir.h), or "".
void write_run_base(const std::string& run_dir, const std::string& init_from, uint64_t seed,
                    const LlamaConfig& model);

// The base id of run_dir, "unknown" when the run has no base.json (it predates them).
// A base.json without an id is a one-line error naming it.
std::string read_base_id(const std::string& run_dir);

}  // namespace condense::exp
