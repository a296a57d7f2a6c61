// The commands CCM adds besides train, eval and sweep (the Method's chat and bench).
#pragma once
#include "experiments/cli.h"

namespace condense::ccm {

// condense chat --method ccm --run.dir RUN: chat.cpp.
int chat(const cli::Args& args);
// condense bench --method ccm: bench.cpp.
int bench(const cli::Args& args);

}  // namespace condense::ccm
