// What the SLURM tests share: whether this machine can run a local SLURM at all, and
// trimming the one-line answers of squeue/sacct/scontrol.
#pragma once
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace condense::testing {

// Why the SLURM tests cannot run here ("" when they can): they start slurmctld/slurmd
// (and network namespaces) as root.
inline std::string slurm_unavailable() {
  if (geteuid() != 0 || std::system("command -v slurmctld >/dev/null 2>&1") != 0)
    return "needs root and slurm-wlm";
  return "";
}

inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace condense::testing
