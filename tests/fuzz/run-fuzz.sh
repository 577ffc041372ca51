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
tokenizer=""
for f in tokenizer tokenizer-bpe tokenizer-gpt2 tokenizer-hf tokenizer-hf-steps tokenizer-hf-decode \
         tokenizer-unigram tokenizer-unicode tokenizer-spm; do
  tokenizer="$tokenizer $root/data/strata-$f.c"
done

build () { # name sources...
  name=$1; shift
  # shellcheck disable=SC2086
  "$cc" $flags -o "$work/$name" "$here/$name.c" "$@" $common $libs -lm
}
build fuzz-safetensors "$root/data/strata-safetensors.c"
# The GGUF target runs the model loader too, so it takes every data/ source but the HDF5 one.
# shellcheck disable=SC2046
build fuzz-gguf $(ls "$root"/data/strata-*.c | grep -v -e strata-h5.c -e strata-tensor.c -e strata-data-error.c)
# shellcheck disable=SC2086
build fuzz-tokenizer-json $tokenizer
# shellcheck disable=SC2086
build fuzz-tokenizer-text $tokenizer

mkdir -p "$work/corpus-safetensors" "$work/corpus-gguf" "$work/corpus-tokenizer-json" \
         "$work/corpus-tokenizer-text"
cp "$root/tests/data/stories260K-hf/model.safetensors" "$work/corpus-safetensors/"
# Every committed GGUF: F32, F16, BF16 and quantized tensors, every architecture row, the
# SentencePiece and the byte-level BPE vocabularies (each gguf-vocab family).
cp "$root/tests/data/stories260K-gguf/"*.gguf "$root/tests/data/gguf-quants/quants.gguf" \
  "$root/tests/data/gguf-arch/"*.gguf "$root/tests/data/gguf-vocab/"*.gguf "$work/corpus-gguf/"
# tokenizer.json seeds, alone (the target's own texts) and with a text after a NUL
text='Hi <|im_start|>user
I'"'"'m   caf\303\251 12345 \346\227\245\346\234\254 <s>[INST] x\t'
for f in "$here"/tokenizer-seeds/*.json; do
  b=$(basename "$f" .json)
  cp "$f" "$work/corpus-tokenizer-json/$b"
  { cat "$f"; printf '\000'; printf "$text"; } >"$work/corpus-tokenizer-json/$b-text"
done
i=0
for t in "The quick brown fox" "I'm here  12345" "<|im_start|>user
Hi<|im_end|>" "caf\303\251 \316\232\316\261\316\273\316\267 \346\227\245\346\234\254 \360\237\231\202"; do
  for k in 0 3 7 11 19; do
    { printf "\\$(printf '%03o' $k)"; printf "$t"; } >"$work/corpus-tokenizer-text/seed-$i-$k"
  done
  i=$((i + 1))
done

run () { # target max_len [extra flags]
  t=$1; len=$2; shift 2
  echo "$t: ${secs}s"
  if ! (cd "$work" && STRATA_FUZZ_DATA="$root/tests/data/hf-pipeline" "./$t" -max_total_time="$secs" \
        -max_len="$len" -rss_limit_mb=4096 -print_final_stats=1 "$@" "corpus-${t#fuzz-}" 2>"$t.log"); then
    echo "$t FAILED; see $work/$t.log (crash inputs in $work)" >&2
    tail -n 40 "$work/$t.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units" "$work/$t.log" || true
  fi
}
status=0
run fuzz-safetensors 1300000
run fuzz-gguf 1300000
run fuzz-tokenizer-json 65536 -dict="$here/tokenizer-json.dict"
run fuzz-tokenizer-text 4096
exit $status
