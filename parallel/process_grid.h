// The dp × pp × tp grid of ranks over MPI_COMM_WORLD, in Megatron's order:
// tensor-parallel rank fastest, then data-parallel, then pipeline, so a
// tensor-parallel group (the chattiest: two all-reduces per layer) is made of
// neighbouring ranks, which a launcher places on one node. Each rank gets the
// communicators of its groups (MPI_Comm_split); dp = world size / (tp × pp).
#pragma once
#include <mpi.h>

#include "core/model.h"

namespace condense::parallel {

// A rank's place in the grid; pure arithmetic, so it is testable without MPI.
struct GridCoords {
  int tp = 0, dp = 0, pp = 0;
  bool operator==(const GridCoords&) const = default;
};
GridCoords grid_coords(int rank, int tp_size, int dp_size);
int grid_rank(const GridCoords& c, int tp_size, int dp_size);

class ProcessGrid {
 public:
  // Splits MPI_COMM_WORLD (duplicated, with errors returned to MPI_CHECK). A world
  // size that is not a multiple of tp × pp is an error naming both.
  ProcessGrid(int tp_size, int pp_size);
  ~ProcessGrid();
  ProcessGrid(const ProcessGrid&) = delete;
  ProcessGrid& operator=(const ProcessGrid&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int tp_size() const { return tp_size_; }
  int pp_size() const { return pp_size_; }
  int dp_size() const { return dp_size_; }
  const GridCoords& coords() const { return coords_; }
  int tp_rank() const { return coords_.tp; }
  int dp_rank() const { return coords_.dp; }
  int pp_rank() const { return coords_.pp; }
  // This rank's index among the ranks on its node (to pick its GPU).
  int local_rank() const { return local_rank_; }

  MPI_Comm world() const { return world_; }
  MPI_Comm tp_comm() const { return tp_; }  // same dp and pp
  MPI_Comm dp_comm() const { return dp_; }  // same tp and pp
  MPI_Comm pp_comm() const { return pp_; }  // same tp and dp; group rank = pipeline stage
  // The first and the last stage of this rank's pipeline (same tp and dp), which
  // both hold a tied embedding when pp > 1; MPI_COMM_NULL on middle stages or pp = 1.
  MPI_Comm embedding_comm() const { return embedding_; }

  // Throws a one-line error when `model` cannot be split over this grid (heads,
  // kv-heads, ffn dim or vocabulary by tp; layers by pp).
  void check_model(const LlamaConfig& model) const;
  // This rank's layers [begin, end): an equal share of the model's.
  int64_t layer_begin(const LlamaConfig& model) const;
  int64_t layer_end(const LlamaConfig& model) const;

 private:
  int rank_ = 0, size_ = 1;
  int tp_size_, pp_size_, dp_size_ = 1;
  GridCoords coords_;
  int local_rank_ = 0;
  MPI_Comm world_ = MPI_COMM_NULL, tp_ = MPI_COMM_NULL, dp_ = MPI_COMM_NULL;
  MPI_Comm pp_ = MPI_COMM_NULL, embedding_ = MPI_COMM_NULL;
};

}  // namespace condense::parallel
