#include "parallel/process_grid.h"

#include "parallel/mpi_check.h"

namespace condense::parallel {

GridCoords grid_coords(int rank, int tp_size, int dp_size) {
  return {rank % tp_size, rank / tp_size % dp_size, rank / (tp_size * dp_size)};
}

int grid_rank(const GridCoords& c, int tp_size, int dp_size) {
  return c.tp + tp_size * (c.dp + dp_size * c.pp);
}

ProcessGrid::ProcessGrid(int tp_size, int pp_size) : tp_size_(tp_size), pp_size_(pp_size) {
  if (tp_size < 1 || pp_size < 1)
    fail("parallel layout: --tp ", tp_size, " and --pp ", pp_size, " must be at least 1");
  MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &world_));
  MPI_CHECK(MPI_Comm_set_errhandler(world_, MPI_ERRORS_RETURN));
  MPI_CHECK(MPI_Comm_rank(world_, &rank_));
  MPI_CHECK(MPI_Comm_size(world_, &size_));
  if (size_ % (tp_size * pp_size))
    fail("parallel layout: ", size_, " ranks cannot form groups of --tp ", tp_size, " x --pp ",
         pp_size, " (the number of ranks must be a multiple of ", tp_size * pp_size, ")");
  dp_size_ = size_ / (tp_size * pp_size);
  coords_ = grid_coords(rank_, tp_size_, dp_size_);
  const GridCoords& c = coords_;
  // Communicators made by MPI_Comm_split inherit world_'s error handler.
  MPI_CHECK(MPI_Comm_split(world_, c.dp + dp_size_ * c.pp, c.tp, &tp_));
  MPI_CHECK(MPI_Comm_split(world_, c.tp + tp_size_ * c.pp, c.dp, &dp_));
  MPI_CHECK(MPI_Comm_split(world_, c.tp + tp_size_ * c.dp, c.pp, &pp_));
  const bool end_stage = pp_size_ > 1 && (c.pp == 0 || c.pp == pp_size_ - 1);
  MPI_CHECK(MPI_Comm_split(world_, end_stage ? c.tp + tp_size_ * c.dp : MPI_UNDEFINED, c.pp,
                           &embedding_));
  MPI_Comm node;
  MPI_CHECK(MPI_Comm_split_type(world_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
  MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
  MPI_CHECK(MPI_Comm_free(&node));
}

ProcessGrid::~ProcessGrid() {
  // Return codes are ignored: a destructor must not throw, and this runs either at
  // a clean exit or while the job is already being aborted.
  for (MPI_Comm* c : {&embedding_, &pp_, &dp_, &tp_, &world_})
    if (*c != MPI_COMM_NULL) MPI_Comm_free(c);
}

void ProcessGrid::check_model(const LlamaConfig& m) const {
  auto divides = [](const char* flag, int n, const char* what, int64_t value) {
    if (value % n)
      fail("parallel layout: ", flag, " ", n, ": ", what, " ", value, " is not divisible by ", n);
  };
  divides("--tp", tp_size_, "model.n_heads", m.n_heads);
  divides("--tp", tp_size_, "model.n_kv_heads", m.n_kv_heads);
  divides("--tp", tp_size_, "model.ffn_dim", m.ffn_dim);
  divides("--tp", tp_size_, "the vocabulary (model.vocab_size)", m.vocab_size);
  divides("--pp", pp_size_, "model.n_layers", m.n_layers);
}

int64_t ProcessGrid::layer_begin(const LlamaConfig& m) const {
  return m.n_layers / pp_size_ * coords_.pp;
}

int64_t ProcessGrid::layer_end(const LlamaConfig& m) const {
  return m.n_layers / pp_size_ * (coords_.pp + 1);
}

}  // namespace condense::parallel
