#!/bin/sh
# run-fuzz.sh [SECONDS] [WORKDIR]: build the libFuzzer targets standalone with clang and run
# each for SECONDS (default 20), seeded with the committed fixtures. Exits non-zero when a
# target crashes, leaks or trips a sanitizer (libFuzzer's own exit status), or fails to build.
set -eu
secs=${1:-20}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/strata-fuzz-XXXXXX")}
mkdir -p "$work"
cc=${CC_FUZZ:-clang}
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I$root/data -I$root/kernels"
libs=$(pkg-config --cflags --libs glib-2.0 json-glib-1.0 libcrypto)
common="$root/data/strata-tensor.c $root/data/strata-data-error.c $root/kernels/strata-weights.c $root/kernels/strata-recipe.c"

build () { # name sources...
  name=$1; shift
  # shellcheck disable=SC2086
  "$cc" $flags -o "$work/$name" "$here/$name.c" "$@" $common $libs -lm
}
build fuzz-safetensors "$root/data/strata-safetensors.c"
# The GGUF target runs the model loader too, so it takes every data/ source but the HDF5 one.
# shellcheck disable=SC2046
build fuzz-gguf $(ls "$root"/data/strata-*.c | grep -v -e strata-h5.c -e strata-tensor.c -e strata-data-error.c)

mkdir -p "$work/corpus-safetensors" "$work/corpus-gguf"
cp "$root/tests/data/stories260K-hf/model.safetensors" "$work/corpus-safetensors/"
# Every committed GGUF: F32, F16, BF16 and quantized tensors, every architecture row.
cp "$root/tests/data/stories260K-gguf/"*.gguf "$root/tests/data/gguf-quants/quants.gguf" \
  "$root/tests/data/gguf-arch/"*.gguf "$work/corpus-gguf/"

status=0
for t in safetensors gguf; do
  echo "fuzz-$t: ${secs}s"
  if ! (cd "$work" && "./fuzz-$t" -max_total_time="$secs" -max_len=1300000 -rss_limit_mb=4096 \
        -print_final_stats=1 "corpus-$t" 2>"fuzz-$t.log"); then
    echo "fuzz-$t FAILED; see $work/fuzz-$t.log (crash inputs in $work)" >&2
    tail -n 40 "$work/fuzz-$t.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units" "$work/fuzz-$t.log" || true
  fi
done
exit $status
