#!/usr/bin/env bash
# Installs what condense needs, builds it, and runs the whole test suite (ctest):
# first the Release build, then the unit tests again under AddressSanitizer +
# UndefinedBehaviorSanitizer. Usage: bash tools/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache keys on paths relative to the checkout, so fresh clones hit the cache too.
export CCACHE_BASEDIR="$PWD"
bash tools/install-deps.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
jobs=$(nproc)

echo "== Release build and full test suite"
# One GPU architecture: no GPU runs here, the CUDA code is compiled and linked only.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCONDENSE_CUDA_ARCHS=90 >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== AddressSanitizer + UBSan build, unit tests"
# CUDA stays off here: the sanitizers instrument host code only.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONDENSE_SANITIZE=ON \
  -DCONDENSE_CUDA=OFF >/dev/null
cmake --build build-asan -j"$jobs" --target unit_tests
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -L unit -LE slow
