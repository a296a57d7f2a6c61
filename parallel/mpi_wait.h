// The watchdog on every wait for another rank. MPI's blocking calls wait
// forever when a peer hangs or dies under a launcher that does not end the job
// (srun without --kill-on-bad-exit); here every operation is started
// non-blocking and polled until it completes or `timeout_s` passes, and then it
// throws naming the operation and the ranks, so the command can end the job.
#pragma once
#include <mpi.h>

#include <string>

namespace condense::parallel {

// Polls `request` to completion. `what` names the operation for the timeout's
// message ("receive from rank 3 in the pipeline group").
void wait_or_timeout(MPI_Request& request, double timeout_s, const std::string& what);

// Rank `rank` of `comm` as a rank of MPI_COMM_WORLD (for messages).
int world_rank_of(MPI_Comm comm, int rank);

}  // namespace condense::parallel
