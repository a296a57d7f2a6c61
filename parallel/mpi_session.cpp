#include "parallel/mpi_session.h"

#include <mpi.h>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include "parallel/mpi_check.h"

namespace condense::parallel {

MpiSession::MpiSession() {
  int initialized = 0;
  MPI_CHECK(MPI_Initialized(&initialized));
  if (initialized) return;
  int provided = 0;
  MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
  owns_ = true;
  if (provided < MPI_THREAD_FUNNELED) fail("MPI: this MPI library cannot run with threads");
}

MpiSession::~MpiSession() {
  // Nothing to report to from a destructor: a failed finalise ends the process anyway.
  if (owns_) MPI_Finalize();
}

bool launched_as_several_ranks() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"}) {
    const char* v = std::getenv(var);
    if (v && std::atoi(v) > 1) return true;
  }
  return false;
}

int run_or_abort_job(const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    // Already failing: these calls' own errors could only be ignored.
    int rank = -1, size = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    std::cerr << "condense: error: rank " << rank << " of " << size << ": " << e.what()
              << std::endl;
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(1);  // MPI_Abort does not return; this is for an MPI that does
  }
}

}  // namespace condense::parallel
