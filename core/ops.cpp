#include "core/ops.h"

#include <cmath>

#include "core/backend.h"

namespace condense::ops {
namespace {

Backend& be(const Tensor& t) {
  return backend_for(t.device());
}

bool needs_grad(const Tape& tape, std::initializer_list<const Var*> inputs) {
  if (!tape.enabled()) return false;
  for (const Var* v : inputs)
    if (v->requires_grad()) return true;
  return false;
}

Var make_output(const Tape& tape, Tensor value, std::initializer_list<const Var*> inputs) {
  return Var(std::move(value), needs_grad(tape, inputs));
}

// Where a backward kernel that writes several gradients at once puts one: the input's
// gradient buffer, or a scratch buffer when that input needs none (one kernel path).
Tensor grad_target(const Var& v) {
  return v.requires_grad() ? v.grad_buffer()
                           : Tensor::zeros(v.shape(), DType::f32, v.value().device());
}

Tensor empty_like(const Tensor& t) {
  return Tensor::empty(t.shape(), t.dtype(), t.device());
}

Shape with_last(Shape s, int64_t last) {
  s.back() = last;
  return s;
}

int norm_dim(int dim, int ndim) {
  int d = dim < 0 ? dim + ndim : dim;
  if (d < 0 || d >= ndim) fail("dimension ", dim, " out of range for a ", ndim, "-d tensor");
  return d;
}

}  // namespace

Var embedding(Tape& tape, const Var& table, const Tensor& ids) {
  const int64_t D = table.dim(1);
  Shape out_shape = ids.shape();
  out_shape.push_back(D);
  Tensor out = Tensor::empty(out_shape, table.value().dtype(), table.value().device());
  be(out).gather_rows(out, table.value(), ids);
  Var y = make_output(tape, out, {&table});
  if (y.requires_grad())
    tape.record([table, ids, y] {
      if (y.grad().defined()) be(ids).scatter_add_rows(table.grad_buffer(), y.grad(), ids);
    });
  return y;
}

Var linear(Tape& tape, const Var& x, const Var& w) {
  const int64_t in = w.dim(1), out_f = w.dim(0);
  if (x.shape().back() != in)
    fail("linear: input ", shape_str(x.shape()), " does not match weight ", shape_str(w.shape()));
  const int64_t n = x.value().numel() / in;
  Tensor out = Tensor::empty(with_last(x.shape(), out_f), x.value().dtype(), x.value().device());
  be(out).gemm(false, true, n, out_f, in, 1.0f, x.value(), w.value(), 0.0f, out);
  Var y = make_output(tape, out, {&x, &w});
  if (y.requires_grad())
    tape.record([x, w, y, n, in, out_f] {
      const Tensor& g = y.grad();
      if (!g.defined()) return;
      if (x.requires_grad()) {
        const auto [dx, beta] = x.gemm_grad_target();
        be(g).gemm(false, false, n, in, out_f, 1.0f, g, w.value(), beta, dx);
      }
      if (w.requires_grad()) {
        const auto [dw, beta] = w.gemm_grad_target();
        be(g).gemm(true, false, out_f, in, n, 1.0f, g, x.value(), beta, dw);
      }
    });
  return y;
}

Var rmsnorm(Tape& tape, const Var& x, const Var& w, float eps) {
  const int64_t D = x.shape().back();
  if (w.value().numel() != D)
    fail("rmsnorm: weight ", shape_str(w.shape()), " does not match input ", shape_str(x.shape()));
  Tensor out = empty_like(x.value());
  Tensor rstd = Tensor::empty({x.value().numel() / D}, DType::f32, x.value().device());
  be(out).rmsnorm_forward(out, rstd, x.value(), w.value(), eps);
  Var y = make_output(tape, out, {&x, &w});
  if (y.requires_grad())
    tape.record([x, w, y, rstd] {
      if (!y.grad().defined()) return;
      be(rstd).rmsnorm_backward(grad_target(x), grad_target(w), y.grad(), x.value(), w.value(),
                                rstd);
    });
  return y;
}

Var rope(Tape& tape, const Var& x, const Tensor& pos, float theta) {
  if (x.value().ndim() != 4 || pos.shape() != Shape{x.dim(0), x.dim(1)})
    fail("rope: input ", shape_str(x.shape()), " with positions ", shape_str(pos.shape()),
         ", expected [B,T,H,Dh] and [B,T]");
  Tensor out = empty_like(x.value());
  be(out).rope(out, x.value(), pos, theta, false);
  Var y = make_output(tape, out, {&x});
  if (y.requires_grad())
    tape.record([x, y, pos, theta] {
      if (!y.grad().defined()) return;
      Tensor back = empty_like(y.grad());
      be(back).rope(back, y.grad(), pos, theta, true);
      be(back).axpy(x.grad_buffer(), 1.0f, back);
    });
  return y;
}

Var attention(Tape& tape, const Var& q, const Var& k, const Var& v, const Tensor& mask,
              float scale) {
  if (q.value().ndim() != 4 || k.value().ndim() != 4 || k.shape() != v.shape())
    fail("attention: q ", shape_str(q.shape()), ", k ", shape_str(k.shape()), ", v ",
         shape_str(v.shape()), " expected [B,T,H,Dh] and [B,S,Hkv,Dh]");
  Tensor out = empty_like(q.value());
  Tensor lse = Tensor::empty({q.dim(0), q.dim(2), q.dim(1)}, DType::f32, q.value().device());
  be(out).attention_forward(out, lse, q.value(), k.value(), v.value(), mask, scale);
  Var y = make_output(tape, out, {&q, &k, &v});
  if (y.requires_grad())
    tape.record([q, k, v, y, mask, lse, scale] {
      if (!y.grad().defined()) return;
      be(lse).attention_backward(grad_target(q), grad_target(k), grad_target(v), y.grad(),
                                 q.value(), k.value(), v.value(), y.value(), lse, mask, scale);
    });
  return y;
}

Var swiglu(Tape& tape, const Var& gate, const Var& up) {
  if (gate.shape() != up.shape())
    fail("swiglu: gate ", shape_str(gate.shape()), " and up ", shape_str(up.shape()), " differ");
  Tensor out = empty_like(gate.value());
  be(out).swiglu_forward(out, gate.value(), up.value());
  Var y = make_output(tape, out, {&gate, &up});
  if (y.requires_grad())
    tape.record([gate, up, y] {
      if (!y.grad().defined()) return;
      be(y.grad()).swiglu_backward(grad_target(gate), grad_target(up), y.grad(), gate.value(),
                                   up.value());
    });
  return y;
}

namespace {
void check_targets(const Tensor& logits, const Tensor& targets) {
  if (targets.numel() * logits.dim(-1) != logits.numel())
    fail("cross_entropy: logits ", shape_str(logits.shape()), " do not match targets ",
         shape_str(targets.shape()));
}
}  // namespace

Tensor cross_entropy_rows(const Tensor& logits, const Tensor& targets, int ignore_index) {
  check_targets(logits, targets);
  Tensor losses = Tensor::empty(targets.shape(), DType::f32, logits.device());
  Tensor lse = Tensor::empty(targets.shape(), DType::f32, logits.device());
  be(logits).cross_entropy_forward(losses, lse, logits, targets, ignore_index);
  return losses;
}

Var cross_entropy(Tape& tape, const Var& logits, const Tensor& targets, int ignore_index) {
  check_targets(logits.value(), targets);
  Tensor losses = Tensor::empty(targets.shape(), DType::f32, logits.value().device());
  Tensor lse = Tensor::empty(targets.shape(), DType::f32, logits.value().device());
  be(losses).cross_entropy_forward(losses, lse, logits.value(), targets, ignore_index);
  int64_t count = 0;
  for (int32_t t : targets.to_i32_vector()) count += t != ignore_index;
  double sum = 0;
  for (float l : losses.to_vector()) sum += l;
  const float scale = count ? 1.0f / static_cast<float>(count) : 0.0f;
  Tensor out = Tensor::from_f32({static_cast<float>(sum * scale)}, {1}, logits.value().device());
  Var y = make_output(tape, out, {&logits});
  if (y.requires_grad())
    tape.record([logits, y, targets, lse, ignore_index, scale] {
      if (!y.grad().defined()) return;
      const float g = y.grad().to_vector()[0];
      be(lse).cross_entropy_backward(logits.grad_buffer(), logits.value(), lse, targets,
                                     ignore_index, g * scale);
    });
  return y;
}

Var add(Tape& tape, const Var& a, const Var& b) {
  if (a.shape() != b.shape())
    fail("add: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()), " differ");
  Tensor out = empty_like(a.value());
  be(out).add(out, a.value(), b.value());
  Var y = make_output(tape, out, {&a, &b});
  if (y.requires_grad())
    tape.record([a, b, y] {
      if (!y.grad().defined()) return;
      if (a.requires_grad()) be(y.grad()).axpy(a.grad_buffer(), 1.0f, y.grad());
      if (b.requires_grad()) be(y.grad()).axpy(b.grad_buffer(), 1.0f, y.grad());
    });
  return y;
}

Var scale(Tape& tape, const Var& x, float alpha) {
  Tensor out = empty_like(x.value());
  be(out).scale(out, alpha, x.value());
  Var y = make_output(tape, out, {&x});
  if (y.requires_grad())
    tape.record([x, y, alpha] {
      if (y.grad().defined()) be(y.grad()).axpy(x.grad_buffer(), alpha, y.grad());
    });
  return y;
}

Var reshape(Tape& tape, const Var& x, const Shape& shape) {
  Var y = make_output(tape, x.value().reshape(shape), {&x});
  if (y.requires_grad())
    tape.record([x, y] {
      if (y.grad().defined()) be(y.grad()).axpy(x.grad_buffer(), 1.0f, y.grad().reshape(x.shape()));
    });
  return y;
}

namespace {
// A tensor seen as [outer, size(dim), inner].
struct Split3 {
  int64_t outer = 1, mid = 1, inner = 1;
};
Split3 split_at(const Shape& s, int d) {
  Split3 r;
  for (int i = 0; i < d; ++i) r.outer *= s[i];
  r.mid = s[d];
  for (size_t i = d + 1; i < s.size(); ++i) r.inner *= s[i];
  return r;
}
}  // namespace

Var concat(Tape& tape, const std::vector<Var>& xs, int dim) {
  if (xs.empty()) fail("concat: no inputs");
  const int d = norm_dim(dim, xs[0].value().ndim());
  Shape out_shape = xs[0].shape();
  out_shape[d] = 0;
  for (const Var& x : xs) {
    Shape s = x.shape();
    s[d] = 0;
    Shape ref = out_shape;
    ref[d] = 0;
    if (s != ref)
      fail("concat: shapes ", shape_str(xs[0].shape()), " and ", shape_str(x.shape()),
           " differ outside dimension ", dim);
    out_shape[d] += x.dim(d);
  }
  Tensor out = Tensor::empty(out_shape, xs[0].value().dtype(), xs[0].value().device());
  const Split3 o = split_at(out_shape, d);
  int64_t at = 0;
  bool any_grad = false;
  for (const Var& x : xs) {
    const Split3 s = split_at(x.shape(), d);
    be(out).copy_blocks(out, at * o.inner, o.mid * o.inner, x.value(), 0, s.mid * s.inner,
                        s.mid * s.inner, o.outer, false);
    at += s.mid;
    any_grad |= needs_grad(tape, {&x});
  }
  Var y(out, any_grad);
  if (any_grad)
    tape.record([xs, y, d, o] {
      if (!y.grad().defined()) return;
      int64_t at = 0;
      for (const Var& x : xs) {
        const Split3 s = split_at(x.shape(), d);
        if (x.requires_grad())
          be(y.grad()).copy_blocks(x.grad_buffer(), 0, s.mid * s.inner, y.grad(), at * o.inner,
                                   o.mid * o.inner, s.mid * s.inner, o.outer, true);
        at += s.mid;
      }
    });
  return y;
}

Var slice(Tape& tape, const Var& x, int dim, int64_t begin, int64_t end) {
  const int d = norm_dim(dim, x.value().ndim());
  if (begin < 0 || end > x.dim(d) || begin > end)
    fail("slice: [", begin, ",", end, ") out of range for dimension ", dim, " of ",
         shape_str(x.shape()));
  Shape out_shape = x.shape();
  out_shape[d] = end - begin;
  Tensor out = Tensor::empty(out_shape, x.value().dtype(), x.value().device());
  const Split3 s = split_at(x.shape(), d);
  const int64_t block = (end - begin) * s.inner;
  be(out).copy_blocks(out, 0, block, x.value(), begin * s.inner, s.mid * s.inner, block, s.outer,
                      false);
  Var y = make_output(tape, out, {&x});
  if (y.requires_grad())
    tape.record([x, y, s, begin, block] {
      if (y.grad().defined())
        be(y.grad()).copy_blocks(x.grad_buffer(), begin * s.inner, s.mid * s.inner, y.grad(), 0,
                                 block, block, s.outer, true);
    });
  return y;
}

Var gather_rows(Tape& tape, const Var& x, const Tensor& idx) {
  const int64_t D = x.shape().back();
  Tensor flat = x.value().reshape({x.value().numel() / D, D});
  Tensor out = Tensor::empty({idx.numel(), D}, x.value().dtype(), x.value().device());
  be(out).gather_rows(out, flat, idx);
  Var y = make_output(tape, out, {&x});
  if (y.requires_grad())
    tape.record([x, y, idx, D] {
      if (!y.grad().defined()) return;
      Tensor g = x.grad_buffer();
      be(g).scatter_add_rows(g.reshape({g.numel() / D, D}), y.grad(), idx);
    });
  return y;
}

Var replace_rows(Tape& tape, const Var& x, const Tensor& idx, const Var& values) {
  const int64_t D = x.shape().back();
  if (values.shape() != Shape{idx.numel(), D})
    fail("replace_rows: values ", shape_str(values.shape()), " expected ",
         shape_str({idx.numel(), D}));
  Tensor out = x.value().clone();
  be(out).set_rows(out.reshape({out.numel() / D, D}), values.value(), idx);
  Var y = make_output(tape, out, {&x, &values});
  if (y.requires_grad())
    tape.record([x, values, y, idx, D] {
      if (!y.grad().defined()) return;
      if (x.requires_grad()) {
        Tensor g = y.grad().clone();
        be(g).set_rows(g.reshape({g.numel() / D, D}), Tensor(), idx);
        be(g).axpy(x.grad_buffer(), 1.0f, g);
      }
      if (values.requires_grad()) {
        Tensor g = Tensor::empty(values.shape(), DType::f32, values.value().device());
        be(g).gather_rows(g, y.grad().reshape({y.grad().numel() / D, D}), idx);
        be(g).axpy(values.grad_buffer(), 1.0f, g);
      }
    });
  return y;
}

namespace {
// weights [P, N] (a constant) @ x [N, D] -> [P, D].
Var matmul_const(Tape& tape, const Tensor& weights, const Var& x) {
  const int64_t P = weights.dim(0), N = weights.dim(1), D = x.dim(1);
  Tensor out = Tensor::empty({P, D}, x.value().dtype(), x.value().device());
  be(out).gemm(false, false, P, D, N, 1.0f, weights, x.value(), 0.0f, out);
  Var y = make_output(tape, out, {&x});
  if (y.requires_grad())
    tape.record([x, y, weights, P, N, D] {
      if (!y.grad().defined()) return;
      const auto [dx, beta] = x.gemm_grad_target();
      be(dx).gemm(true, false, N, D, P, 1.0f, weights, y.grad(), beta, dx);
    });
  return y;
}
}  // namespace

Var mix_rows(Tape& tape, const Var& x, const Tensor& rows, const Tensor& weights) {
  const int64_t D = x.shape().back(), N = x.value().numel() / D;
  if (rows.dtype() != DType::i32 || rows.ndim() != 1 || weights.dtype() != DType::f32 ||
      weights.shape() != Shape{rows.numel(), N})
    fail("mix_rows: rows ", shape_str(rows.shape()), " ", dtype_name(rows.dtype()), " and weights ",
         shape_str(weights.shape()), " ", dtype_name(weights.dtype()), " do not fit ", N,
         " rows (expected [P] i32 and [P,", N, "] f32)");
  const Var flat = reshape(tape, x, {N, D});
  return reshape(tape, replace_rows(tape, flat, rows, matmul_const(tape, weights, flat)),
                 x.shape());
}

Var detach(const Var& x) {
  return Var(x.value(), false);
}

}  // namespace condense::ops
