#include "parallel/mpi_wait.h"

#include <sched.h>

#include <chrono>
#include <thread>

#include "parallel/mpi_check.h"

namespace condense::parallel {
namespace {

constexpr std::chrono::milliseconds kSpinFor{100};

}  // namespace

void wait_or_timeout(MPI_Request& request, double timeout_s, const std::string& what) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(timeout_s);
  for (;;) {
    int done = 0;
    MPI_CHECK(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    if (done) return;
    if (Clock::now() > deadline) {
      int rank = -1;
      MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
      fail("rank ", rank, ": no progress on ", what, " for ", timeout_s,
           " s (is a peer rank dead or stuck?)");
    }
    // Ranks may outnumber cores (tests run 4 ranks on 2): give the core to a rank
    // that has work instead of spinning; with a core each this returns at once. A
    // long wait (a peer doing work alone, such as evaluation) sleeps between polls,
    // leaving the core to that peer's threads.
    if (Clock::now() - start > kSpinFor)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    else
      sched_yield();
  }
}

int world_rank_of(MPI_Comm comm, int rank) {
  MPI_Group group, world;
  MPI_CHECK(MPI_Comm_group(comm, &group));
  MPI_CHECK(MPI_Comm_group(MPI_COMM_WORLD, &world));
  int out = MPI_UNDEFINED;
  MPI_CHECK(MPI_Group_translate_ranks(group, 1, &rank, world, &out));
  MPI_CHECK(MPI_Group_free(&group));
  MPI_CHECK(MPI_Group_free(&world));
  return out;
}

}  // namespace condense::parallel
