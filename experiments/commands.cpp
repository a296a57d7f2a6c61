// The table of `condense` subcommands. Each lives in its own cmd_*.cpp.
#include "experiments/cli.h"

namespace condense::cmd {
// Declared here, defined in experiments/cmd_*.cpp.
}  // namespace condense::cmd

namespace condense::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
  };
  return table;
}

}  // namespace condense::cli
