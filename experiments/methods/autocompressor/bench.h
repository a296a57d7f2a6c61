// condense bench --method autocompressor|rmt: bench.cpp (what compressing a context
// into σ costs, and answering with σ against the full context in the cache).
#pragma once
#include <string>

#include "experiments/cli.h"

namespace condense::autocompressor {

// `method` names the options (--<method>.kappa); `accumulate` is its default.
int bench(const cli::Args& args, const std::string& method, bool accumulate);

}  // namespace condense::autocompressor
