// Gradients against central finite differences, shared by the op and model tests.
// The probe loss is L = sum_i w_i * y_i with fixed random weights w, accumulated in
// float64; each input element is nudged by +-h and (L(x+h) - L(x-h)) / 2h compared
// with the analytic gradient. Ops run in f32, so h and the tolerance are set for f32
// forward noise (a wrong gradient is off by O(1), far outside it).
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "core/ops.h"

namespace condense::testing {

inline Tensor randn(const Shape& s, std::mt19937& g, float std = 1.0f) {
  std::normal_distribution<float> d(0.0f, std);
  std::vector<float> v(static_cast<size_t>(numel_of(s)));
  for (float& x : v) x = d(g);
  return Tensor::from_f32(v, s);
}

using Fn = std::function<Var(Tape&, const std::vector<Var>&)>;

inline double probe(const Fn& fn, const std::vector<Var>& in, const std::vector<float>& w) {
  Tape tape(false);
  std::vector<float> y = fn(tape, in).value().to_vector();
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) s += static_cast<double>(w[i]) * y[i];
  return s;
}

// Checks d(probe)/d(input) for every input flagged in `check`.
inline void gradcheck(const Fn& fn, std::vector<Tensor> inputs, std::vector<bool> check,
                      double h = 1e-2, double rtol = 2e-2, double atol = 2e-3) {
  std::mt19937 g(7);
  std::vector<Var> vars;
  for (size_t i = 0; i < inputs.size(); ++i) vars.emplace_back(inputs[i], check[i]);
  Tape tape(true);
  Var y = fn(tape, vars);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> w(static_cast<size_t>(y.value().numel()));
  for (float& x : w) x = d(g);
  // Analytic: seed dL/dy = w through a weighted sum written as a linear op on the tape.
  Var wv(Tensor::from_f32(w, {y.value().numel(), 1}));
  Var flat = ops::reshape(tape, y, {1, y.value().numel()});
  Var loss = ops::linear(tape, flat, ops::detach(ops::reshape(tape, wv, {1, y.value().numel()})));
  tape.backward(ops::reshape(tape, loss, {1}));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!check[i]) continue;
    ASSERT_TRUE(vars[i].grad().defined()) << "input " << i << " got no gradient";
    std::vector<float> analytic = vars[i].grad().to_vector();
    float* x = inputs[i].f32();
    for (int64_t j = 0; j < inputs[i].numel(); ++j) {
      const float orig = x[j];
      x[j] = orig + static_cast<float>(h);
      const double up = probe(fn, vars, w);
      x[j] = orig - static_cast<float>(h);
      const double down = probe(fn, vars, w);
      x[j] = orig;
      const double numeric = (up - down) / (2 * h);
      EXPECT_NEAR(analytic[j], numeric, atol + rtol * std::abs(numeric))
          << "input " << i << " element " << j;
    }
  }
}

// Gradients a backward pass left in `vars` against central differences of the scalar
// `loss` (re-evaluated with each nudged element), for every `stride`-th element.
// Returns how many elements were compared.
inline int check_against_differences(const std::function<double()>& loss,
                                     const std::vector<std::pair<std::string, Var>>& vars,
                                     int64_t stride, double h = 1e-2, double rtol = 2e-2,
                                     double atol = 2e-4) {
  int checked = 0;
  for (const auto& [name, var] : vars) {
    EXPECT_TRUE(var.grad().defined()) << name << " got no gradient";
    if (!var.grad().defined()) continue;
    const std::vector<float> analytic = var.grad().to_vector();
    float* x = var.value().f32();
    for (int64_t j = 0; j < var.value().numel(); j += stride) {
      const float orig = x[j];
      x[j] = orig + static_cast<float>(h);
      const double up = loss();
      x[j] = orig - static_cast<float>(h);
      const double down = loss();
      x[j] = orig;
      const double numeric = (up - down) / (2 * h);
      EXPECT_NEAR(analytic[j], numeric, atol + rtol * std::abs(numeric))
          << name << " element " << j;
      ++checked;
    }
  }
  return checked;
}

}  // namespace condense::testing
