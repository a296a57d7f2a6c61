#include "parallel/tp_region.h"

#include "core/backend.h"
#include "parallel/vocab_parallel.h"

namespace condense::parallel {
namespace {

Backend& be(const Tensor& t) {
  return backend_for(t.device());
}

bool records(const Tape& tape, const Var& x) {
  return tape.enabled() && x.requires_grad();
}

// `t` seen as [outer, n, inner] around dimension `dim`.
struct Around {
  int64_t outer = 1, n = 1, inner = 1;
};
Around around(const Shape& s, int dim) {
  const int d = dim < 0 ? dim + static_cast<int>(s.size()) : dim;
  Around a;
  for (int i = 0; i < d; ++i) a.outer *= s[i];
  a.n = s.at(d);
  for (size_t i = d + 1; i < s.size(); ++i) a.inner *= s[i];
  return a;
}

}  // namespace

Tensor all_gather_shards(const Tensor& shard, int dim, Communicator& comm) {
  if (comm.size() == 1) return shard;
  const int size = comm.size();
  Shape stacked = shard.shape();
  stacked.insert(stacked.begin(), size);
  Tensor gathered = Tensor::empty(stacked, shard.dtype(), shard.device());
  comm.all_gather(gathered, shard);
  const Around a = around(shard.shape(), dim);
  Shape full = shard.shape();
  const int d = dim < 0 ? dim + shard.ndim() : dim;
  full[d] *= size;
  Tensor out = Tensor::empty(full, shard.dtype(), shard.device());
  const int64_t block = a.n * a.inner;
  for (int r = 0; r < size; ++r)
    be(out).copy_blocks(out, r * block, block * size, gathered, r * shard.numel(), block, block,
                        a.outer, false);
  return out;
}

Var copy_to_tp_region(Tape& tape, const Var& x, Communicator& comm) {
  // The value is shared, not copied: tape values are never written after creation.
  Var y(x.value(), records(tape, x));
  if (y.requires_grad())
    tape.record([x, y, &comm] {
      if (!y.grad().defined()) return;
      Tensor g = y.grad().clone();
      comm.all_reduce(g, ReduceOp::sum);
      be(g).axpy(x.grad_buffer(), 1.0f, g);
    });
  return y;
}

Var reduce_from_tp_region(Tape& tape, const Var& x, Communicator& comm) {
  Tensor sum = x.value().clone();
  comm.all_reduce(sum, ReduceOp::sum);
  Var y(sum, records(tape, x));
  if (y.requires_grad())
    tape.record([x, y] {
      if (y.grad().defined()) be(y.grad()).axpy(x.grad_buffer(), 1.0f, y.grad());
    });
  return y;
}

Var gather_from_tp_region(Tape& tape, const Var& x, Communicator& comm) {
  Var y(all_gather_shards(x.value(), -1, comm), records(tape, x));
  if (y.requires_grad())
    tape.record([x, y, &comm] {
      if (!y.grad().defined()) return;
      const int64_t n = x.dim(-1), rows = x.value().numel() / n;
      be(y.grad()).copy_blocks(x.grad_buffer(), 0, n, y.grad(), comm.rank() * n, n * comm.size(), n,
                               rows, true);
    });
  return y;
}

Var scatter_to_tp_region(Tape& tape, const Var& x, Communicator& comm) {
  const int64_t full = x.dim(-1);
  if (full % comm.size())
    fail("scatter_to_tp_region: last dimension of ", shape_str(x.shape()), " is not divisible by ",
         comm.size(), " ranks");
  Var y(shard_tensor(x.value(), -1, comm.rank(), comm.size()), records(tape, x));
  if (y.requires_grad())
    tape.record([x, y, &comm] {
      if (!y.grad().defined()) return;
      // Every rank needs the others' gradient blocks to complete its own input's.
      const Tensor whole = all_gather_shards(y.grad(), -1, comm);
      be(whole).axpy(x.grad_buffer(), 1.0f, whole);
    });
  return y;
}

Var TensorParallelRegion::copy_to_tp_region(Tape& tape, const Var& x) const {
  return parallel::copy_to_tp_region(tape, x, *comm_);
}

Var TensorParallelRegion::reduce_from_tp_region(Tape& tape, const Var& x) const {
  return parallel::reduce_from_tp_region(tape, x, *comm_);
}

Var TensorParallelRegion::vocab_parallel_embedding(Tape& tape, const Var& table, const Tensor& ids,
                                                   int64_t vocab_begin) const {
  return parallel::vocab_parallel_embedding(tape, table, ids, vocab_begin, *comm_);
}

}  // namespace condense::parallel
