// The sweep grid (experiments/sweep_grid.h) and the method registry: gist's default
// grid is gisting's six runs in the paper's order, blocks are unions of products,
// and malformed grids or unknown methods are errors naming what is wrong.
#include <gtest/gtest.h>

#include "experiments/methods/registry.h"
#include "experiments/sweep_config.h"
#include "experiments/sweep_grid.h"
#include "tests/test_data_util.h"

namespace condense::testing {
namespace {

std::vector<std::string> names(const std::vector<exp::GridPoint>& points) {
  std::vector<std::string> out;
  for (const exp::GridPoint& p : points) out.push_back(p.name);
  return out;
}

TEST(MethodGrid, GistDefaultGridIsThePapersSixRuns) {
  const auto gist = methods::make("gist");
  const auto points = exp::parse_grid(gist->default_grid(), gist->name());
  EXPECT_EQ(names(points), (std::vector<std::string>{"gist-1", "gist-2", "gist-5", "gist-10",
                                                     "pos_control-1", "neg_control-1"}));
  using Options = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(points[3].options, (Options{{"gist.condition", "gist"}, {"gist.num_tokens", "10"}}));
  EXPECT_EQ(points[5].options,
            (Options{{"gist.condition", "neg_control"}, {"gist.num_tokens", "1"}}));
}

TEST(MethodGrid, BlocksAreUnionsOfProductsFirstFactorSlowest) {
  EXPECT_EQ(names(exp::parse_grid("a.x=1,2 a.y=p,q; a.x=3", "m")),
            (std::vector<std::string>{"1-p", "1-q", "2-p", "2-q", "3"}));
  // No grid: one run named after the method, without options.
  const auto one = exp::parse_grid("", "full");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].name, "full");
  EXPECT_TRUE(one[0].options.empty());
}

TEST(MethodGrid, MalformedGridsAndUnknownMethodsAreErrors) {
  EXPECT_NE(error_of([] { exp::parse_grid("a.x", "m"); }).find("'a.x'"), std::string::npos);
  EXPECT_NE(error_of([] { exp::parse_grid("a.x=1,,2", "m"); }).find("empty value"),
            std::string::npos);
  EXPECT_NE(error_of([] { exp::parse_grid("a.x=1; b.y=1", "m"); }).find("named '1'"),
            std::string::npos);
  EXPECT_NE(error_of([] { exp::parse_grid("a.x=1;;", "m"); }).find("empty block"),
            std::string::npos);
  const std::string unknown = error_of([] { methods::make("gisting"); });
  EXPECT_NE(unknown.find("'gisting'"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("lm, gist, full"), std::string::npos) << unknown;
}

}  // namespace
}  // namespace condense::testing

namespace condense::testing {
namespace {

// A multi-method sweep's config as one method sees it: scoped sections unscoped and
// winning over the common keys, other methods' sections dropped, the method set.
TEST(MethodGrid, ConfigForMethodScopesSections) {
  const std::string cfg =
      "method = gist\n# comment\n[train]\nsteps = 100\nbatch_size = 8\n"
      "[gist:train]\nsteps = 50\n[ccm:data]\ntrain = d.h5\n[data]\ndir = x\n"
      "[ccm]\nn_tok = 2\n[gist]\nnum_tokens = 1\n";
  const std::vector<std::string> methods = {"gist", "ccm", "full"};
  EXPECT_EQ(exp::config_for_method(cfg, "u.cfg", "gist", methods),
            "method = gist\n\n[data]\ndir = x\n\n[gist]\nnum_tokens = 1\n"
            "\n[train]\nsteps = 50\nbatch_size = 8\n");
  EXPECT_EQ(exp::config_for_method(cfg, "u.cfg", "ccm", methods),
            "method = ccm\n\n[ccm]\nn_tok = 2\n\n[data]\ntrain = d.h5\ndir = x\n"
            "\n[train]\nsteps = 100\nbatch_size = 8\n");
  EXPECT_EQ(error_of([&] { exp::config_for_method("[oops:data]\n", "u.cfg", "ccm", methods); }),
            "u.cfg:1: section [oops:data] is scoped to oops, which is not a method");
  EXPECT_EQ(error_of([&] { exp::config_for_method("[data]\nstray\n", "u.cfg", "ccm", methods); }),
            "u.cfg:2: expected [section] or key = value, got 'stray'");
}

}  // namespace
}  // namespace condense::testing
