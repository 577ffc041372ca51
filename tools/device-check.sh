#!/usr/bin/env bash
# Everything the CUDA backend needs checked on the GPU machine, in one go, from a bundle built
# here (that machine has CUDA and python3 but none of Debian's libraries and no registry):
#
#   meson setup build-cuda -Dcuda=enabled -Dgui=disabled -Dwerror=true --buildtype=release
#   ninja -C build-cuda && ../shared/tools/device-bundle.sh build-cuda   # writes .device-bundle/
#   device run, carry [".device-bundle"]:  tools/device-check.sh [BUNDLE_DIR]
#
# Runs, printing everything: the 'cuda' test binary (CPU against CUDA op by op, 16-bit
# matrices and the three precisions, the device lens reduction, whole forwards, the sweep's
# jobs, decode), the command line CPU against CUDA (tests/test-cli-device.c: lens and patch
# over the two-hop prompt set), the other engine tests on a machine with a GPU, then
# bench-cuda (GPT-2 small, the 1B and 8B shapes; then the 1B shape in bf16 and tf32) and the
# patching benchmarks (one prompt; the two-hop prompt set together vs one at a time) and an
# 8B-shaped Q4_0 GGUF kept as stored (bench-large: open, lens, decode steps) on --device cuda. Exits non-zero when anything failed; says PASS or FAIL
# last. Each step has a time limit so one hang cannot eat the session's device time.
set -uo pipefail
cd "$(dirname "$0")/.."
bundle=${1:-.device-bundle}
[ -f "$bundle/env.sh" ] || { echo "device-check: no $bundle/env.sh (make it with ../shared/tools/device-bundle.sh)"; exit 2; }
# shellcheck source=/dev/null
source "$bundle/env.sh"
b=$bundle/build
status=0
step () { # step SECONDS NAME COMMAND...
  local limit=$1 name=$2; shift 2
  echo "=== $name"
  local t0=$SECONDS
  timeout "$limit" "$@"; local rc=$?
  echo "=== $name: exit $rc in $((SECONDS - t0)) s"
  [ $rc = 0 ] || status=1
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || echo "nvidia-smi failed"
step 240 test-cuda "$b/tests/test-cuda" --verbose > /tmp/device-check-cuda.log 2>&1
cat /tmp/device-check-cuda.log
grep -q '# SKIP no GPU' /tmp/device-check-cuda.log && { echo "device-check: the cuda tests saw no GPU"; status=1; }
step 120 test-cli-device "$b/tests/test-cli-device" --verbose
for t in forward precision lens patching decode engine-suffix; do
  step 120 "test-$t" "$b/tests/test-$t"
done
step 400 "bench-cuda gpt2,1b,8b" "$b/bench/bench-cuda" --shapes gpt2,1b,8b
step 120 "bench-cuda 1b bf16" "$b/bench/bench-cuda" --shapes 1b --precision bf16
step 120 "bench-cuda 1b tf32" "$b/bench/bench-cuda" --shapes 1b --precision tf32
step 120 "bench-patching --device cuda" "$b/bench/bench-patching" --device cuda
step 120 "bench-patch-set --device cuda" "$b/bench/bench-patch-set" --device cuda
step 150 "bench-large 8b q4_0 --device cuda" "$b/bench/bench-large" --device cuda 8b q4_0 /tmp/strata-8b-q4_0
echo "device-check: $([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
