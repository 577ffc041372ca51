#!/usr/bin/env bash
# Everything the CUDA backend needs checked on a machine with a GPU, in one go: a
# warnings-as-errors build with CUDA, the 'cuda' test suite (CPU against CUDA, op by op and
# whole forward passes), the whole suite (with tests/test-cli-device.c's CUDA branch), and
# bench-cuda, bench-forward and bench-patching on --device cuda. Prints everything; exits non-zero
# on the first failure. Usage: tools/device-check.sh [BUILD_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-device}
export PATH=/usr/local/cuda/bin:$PATH

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || echo "nvidia-smi failed"
if [ -f "$dir/build.ninja" ]; then
  meson configure "$dir" -Dcuda=enabled -Dwerror=true || exit 1
else
  meson setup "$dir" -Dcuda=enabled -Dwerror=true -Dbuildtype=debugoptimized || exit 1
fi
ninja -C "$dir" || exit 1
status=0
# -v: the per-op normalised errors and max |diff| lines are the point of the run.
meson test -C "$dir" --suite cuda --print-errorlogs --no-rebuild -v || status=1
grep -q '# SKIP no GPU' "$dir/meson-logs/testlog.txt" && { echo "cuda tests skipped: no GPU seen"; status=1; }
meson test -C "$dir" --no-suite cuda --no-suite fuzz --print-errorlogs --no-rebuild || status=1
"$dir/bench/bench-cuda" || status=1
# The command line's device choice end to end (tests/test-cli-device.c ran above with CUDA
# usable): the benchmarks on --device cuda, the patching one checking its sweep against the
# naive loop on the GPU.
"$dir/bench/bench-forward" --device cuda || status=1
"$dir/bench/bench-patching" --device cuda || status=1
echo "device-check: $([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
