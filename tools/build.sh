#!/usr/bin/env bash
# Configures and builds condense into build/ (Release). Usage: tools/build.sh [extra cmake args]
# BUILD_TARGET=condense builds the binary alone (not the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache keys on paths relative to the checkout, so fresh clones hit the cache too.
export CCACHE_BASEDIR="$PWD"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)" ${BUILD_TARGET:+--target "$BUILD_TARGET"}
