// Progress lines through the binary: a long command reports on stderr (here at every
// step, CONDENSE_PROGRESS_SECONDS=0), --quiet silences it, and every command's --help
// lists --quiet.
#include <gtest/gtest.h>

#include "tests/cli_test_util.h"

namespace condense::testing {
namespace {

TEST(ProgressCli, GenerateReportsTokensUnlessQuiet) {
  TempDir dir;
  const std::string model = dir.file("m");
  ASSERT_EQ(import_stories260k(model, dir.path()).exit_code, 0);
  const std::string cmd = "CONDENSE_PROGRESS_SECONDS=0 " + shell_quote(CONDENSE_BINARY) +
                          " generate --model " + shell_quote(model) + " --max-new-tokens 20";
  CommandResult r = run_shell(cmd, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("generate: 10/20 tokens (50%), "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" elapsed, eta "), std::string::npos) << r.err;
  r = run_shell(cmd + " --quiet", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("generate: "), std::string::npos) << r.err;
}

TEST(ProgressCli, EveryCommandsHelpListsQuiet) {
  TempDir dir;
  for (const std::vector<std::string>& cmd :
       std::vector<std::vector<std::string>>{{"train"},
                                             {"eval"},
                                             {"sweep"},
                                             {"generate"},
                                             {"bench", "--method", "ccm"},
                                             {"data", "text"},
                                             {"data", "icl-episodes"}}) {
    std::vector<std::string> args = cmd;
    args.push_back("--help");
    const CommandResult r = run_condense(args, dir.path());
    EXPECT_EQ(r.exit_code, 0) << cmd[0] << ": " << r.err;
    EXPECT_NE(r.out.find("--quiet"), std::string::npos) << cmd[0] << ":\n" << r.out;
  }
}

}  // namespace
}  // namespace condense::testing
