#!/usr/bin/env bash
# Installs every package condense needs to build, test and benchmark (Debian bookworm).
# Idempotent: packages already present are skipped by apt-get.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
PKGS=(build-essential cmake ccache pkg-config
      libopenblas-openmp-dev libhdf5-dev hdf5-tools
      libboost-program-options-dev libgtest-dev googletest
      libsentencepiece-dev sentencepiece nlohmann-json3-dev
      openmpi-bin libopenmpi-dev
      python3-torch python3-h5py python3-numpy
      libfaiss-dev slurm-wlm munge)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
