// MPI for the length of a command, and how a failing rank ends the job.
#pragma once
#include <functional>

namespace condense::parallel {

// Initialises MPI (unless a test harness already did) and finalises it at scope
// exit. OpenMP threads never call MPI, so MPI_THREAD_FUNNELED is enough.
class MpiSession {
 public:
  MpiSession();
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

 private:
  bool owns_ = false;
};

// True when a launcher (mpirun, srun) started this process as one of several, so
// a command without --tp/--pp still joins the others (data parallelism).
bool launched_as_several_ranks();

// Runs `body`. An exception on any rank prints "condense: error: rank R of N: ..."
// and calls MPI_Abort, so the launcher ends every rank at once rather than leaving
// the others blocked in a collective the failed rank will never join.
int run_or_abort_job(const std::function<int()>& body);

}  // namespace condense::parallel
