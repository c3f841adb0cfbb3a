#!/usr/bin/env bash
# Build the bundle's TensorRT engine on this device if missing, then profile it.
set -euo pipefail
BUNDLE=${1:-/bundle}
if [ ! -f "$BUNDLE/model.engine" ]; then
  bash "$BUNDLE/build_engine.sh"
fi
shift || true
exec edgekd profile "$BUNDLE" "$@"
