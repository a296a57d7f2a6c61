// condense bench --method fot: bench.cpp.
#pragma once
#include "experiments/cli.h"

namespace condense::fot {
int bench(const cli::Args& args);
}
