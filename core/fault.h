// Fault injection, read from environment variables that only tests set (README
// "Progress", tests/test_faults.cpp); unset, every call here is a cheap no-op.
//   CONDENSE_FAULT_KILL=SUBSTR:N  the N-th write point (from 1) of a file whose path
//       contains SUBSTR kills the process with SIGKILL, as a crash or `kill -9` would.
//       Write points of one write_atomically(): the start (before the temporary file
//       exists), the temporary file created (empty), each HDF5 dataset written and each
//       64 KiB of a plain file, the end of the write (before the rename) and just after
//       the rename.
//   CONDENSE_FAULT_NAN_STEP=K  training reads a NaN loss at step K.
#pragma once
#include <cstdint>
#include <string>

namespace condense::fault {

// A point in the writing of `path` (a final or a temporary path).
void write_point(const std::string& path);

// Whether training should see a NaN loss at `step`.
bool nan_at_step(int64_t step);

}  // namespace condense::fault
