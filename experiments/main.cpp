// `condense`: one executable, many subcommands (see experiments/commands.cpp).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "core/error.h"
#include "experiments/cli.h"

namespace {

void usage() {
  std::cout << "usage: condense <command> [options]   (condense <command> --help for options)\n\n";
  for (const auto& c : condense::cli::commands())
    std::cout << "  " << c.words
              << std::string(20 - std::min<size_t>(19, std::strlen(c.words)), ' ') << c.help
              << "\n";
}

// Matches the longest command whose words prefix argv.
const condense::cli::Command* find(int argc, char** argv, int& consumed) {
  const condense::cli::Command* best = nullptr;
  for (const auto& c : condense::cli::commands()) {
    std::string words = c.words;
    int n = 0;
    size_t pos = 0;
    bool ok = true;
    while (pos < words.size()) {
      size_t end = words.find(' ', pos);
      if (end == std::string::npos) end = words.size();
      if (1 + n >= argc || words.substr(pos, end - pos) != argv[1 + n]) {
        ok = false;
        break;
      }
      ++n;
      pos = end + 1;
    }
    if (ok && n > consumed) {
      best = &c;
      consumed = n;
    }
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  int consumed = 0;
  const condense::cli::Command* cmd = find(argc, argv, consumed);
  if (!cmd) {
    std::cerr << "condense: error: unknown command '" << argv[1]
              << (argc > 2 && argv[2][0] != '-' ? std::string(" ") + argv[2] : "")
              << "' (condense --help lists the commands)\n";
    return 2;
  }
  try {
    return cmd->run(condense::cli::Args(argv + 1 + consumed, argv + argc));
  } catch (const condense::Error& e) {
    std::cerr << "condense: error: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "condense: error: " << cmd->words << ": " << e.what() << "\n";
  }
  // Ends without the exit handlers: after a failed write (a full disk) HDF5's own
  // handler crashes closing the file it could not flush, which would turn the one-line
  // error into a segmentation fault. Every file condense writes is complete (renamed
  // into place) or a temporary one by then, so nothing is lost.
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(1);
}
