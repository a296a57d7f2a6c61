// MPI_CHECK: every MPI call's return code is checked. The grid's communicators
// return errors (MPI_ERRORS_RETURN) instead of aborting inside MPI, so a failure
// becomes a condense::Error naming file:line, the call and MPI's own message, and
// the command ends the job with a line that says which rank failed and why.
#pragma once
#include <mpi.h>

#include <string>

#include "core/error.h"

namespace condense::parallel::detail {

inline void check_mpi(int code, const char* call, const char* file, int line) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) len = 0;
  fail(file, ":", line, ": ", call,
       " failed: ", len ? std::string(text, len) : "error code " + std::to_string(code));
}

}  // namespace condense::parallel::detail

#define MPI_CHECK(call) ::condense::parallel::detail::check_mpi((call), #call, __FILE__, __LINE__)
