// The vectorizable exp used by softmax, cross-entropy and SiLU on the CPU against
// libm's, in double: its error bound, the edges of the float range, and NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/cpu/vec_math.h"

namespace condense::cpu {
namespace {

TEST(ExpApprox, WithinTwoUlpOfExpOverTheNormalRange) {
  double worst = 0;
  float worst_x = 0;
  for (float x = -87.3f; x < 88.37f; x += 0.00137f) {
    const double want = std::exp(static_cast<double>(x));
    const double rel = std::fabs(exp_approx(x) - want) / want;
    if (rel > worst) worst = rel, worst_x = x;
  }
  EXPECT_LT(worst, 2.4e-7) << "at x = " << worst_x;  // 2 ulp of float
}

TEST(ExpApprox, ExactWhereSoftmaxNeedsIt) {
  EXPECT_EQ(exp_approx(0.0f), 1.0f);  // the row maximum contributes exactly 1
  EXPECT_EQ(exp_approx(-std::numeric_limits<float>::infinity()), 0.0f);  // masked scores
  EXPECT_EQ(exp_approx(-100.0f), 0.0f);                                  // below FLT_MIN
  EXPECT_EQ(exp_approx(100.0f), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(exp_approx(std::numeric_limits<float>::quiet_NaN())));
}

TEST(ExpApprox, VectorizedLoopMatchesScalarCalls) {
  float xs[1000], vec[1000];
  for (int i = 0; i < 1000; ++i) xs[i] = -50.0f + 0.1f * static_cast<float>(i);
#pragma omp simd
  for (int i = 0; i < 1000; ++i) vec[i] = exp_approx(xs[i]);
  for (int i = 0; i < 1000; ++i)
    EXPECT_NEAR(vec[i], std::exp(static_cast<double>(xs[i])), 2.4e-7 * vec[i]) << xs[i];
}

}  // namespace
}  // namespace condense::cpu
