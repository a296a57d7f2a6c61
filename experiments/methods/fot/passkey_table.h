// What a sweep builds from FoT's passkey evaluations (run_dir/eval/passkey-<step>.json,
// fot.cpp): sweep_dir/passkey.{csv,md}, one row per finished run from its newest
// evaluation, with the run's memory layers, crossbatch range and memory attention.
#pragma once
#include <string>
#include <vector>

namespace condense::fot {

// Writes the tables and returns the Markdown one; a run without an evaluation is an error.
std::string passkey_tables(const std::string& sweep_dir, const std::vector<std::string>& run_dirs);

}  // namespace condense::fot
