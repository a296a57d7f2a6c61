#include "core/model_shard.h"

#include "core/backend.h"

namespace condense {

Tensor shard_tensor(const Tensor& full, int dim, int rank, int size) {
  if (size == 1) return full;
  const int nd = full.ndim();
  const int d = dim < 0 ? dim + nd : dim;
  if (d < 0 || d >= nd || rank < 0 || rank >= size || full.dim(d) % size)
    fail("shard_tensor: cannot take block ", rank, " of ", size, " along dimension ", dim, " of ",
         shape_str(full.shape()));
  // The tensor seen as [outer, n, inner]; the shard is [outer, n/size, inner].
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < d; ++i) outer *= full.dim(i);
  for (int i = d + 1; i < nd; ++i) inner *= full.dim(i);
  const int64_t n = full.dim(d), block = n / size * inner;
  Shape shape = full.shape();
  shape[d] = n / size;
  Tensor out = Tensor::empty(shape, full.dtype(), full.device());
  backend_for(full.device())
      .copy_blocks(out, 0, block, full, rank * block, n * inner, block, outer, false);
  return out;
}

}  // namespace condense
