#!/bin/sh
# run-fuzz.sh [SECONDS] [WORKDIR] [STRATA_BIN]: build the libFuzzer targets standalone with
# clang and run each for SECONDS (default 20), seeded with the committed fixtures and, for the
# session reader, with sessions STRATA_BIN writes from tests/data models (without STRATA_BIN
# the session target is skipped). Exits non-zero when a target crashes, leaks or trips a
# sanitizer (libFuzzer's own exit status), or fails to build. FUZZ_TARGETS="session" (etc.)
# runs only those; FUZZ_FORK=N runs the session target in N processes that keep going after
# a crash (the long campaign). Crash inputs are kept in WORKDIR as TARGET-crash-* (leak-, timeout-).
set -eu
secs=${1:-20}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/strata-fuzz-XXXXXX")}
strata=${3:-}
targets=${FUZZ_TARGETS:-safetensors gguf tokenizer-json tokenizer-text session}
mkdir -p "$work"
cc=${CC_FUZZ:-clang}
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I$root/data -I$root/kernels"
libs=$(pkg-config --cflags --libs glib-2.0 json-glib-1.0 libcrypto)
tokenizer=""
for f in tokenizer tokenizer-bpe tokenizer-gpt2 tokenizer-hf tokenizer-hf-steps tokenizer-hf-decode \
         tokenizer-unigram tokenizer-unicode tokenizer-spm; do
  tokenizer="$tokenizer $root/data/strata-$f.c"
done
common="$root/data/strata-tensor.c $root/data/strata-data-error.c $root/kernels/strata-weights.c $root/kernels/strata-weights-device.c $root/kernels/strata-recipe.c \
  $root/kernels/strata-dtypes.c \
  $root/kernels/strata-status.c $root/kernels/strata-backend-memory.c"

build () { # name sources...
  name=$1; shift
  # shellcheck disable=SC2086
  "$cc" $flags -o "$work/$name" "$here/$name.c" "$@" $common $libs -lm
}
wants () { case " $targets " in *" $1 "*) return 0;; esac; return 1; }

if wants safetensors; then
  build fuzz-safetensors "$root/data/strata-safetensors.c"
  mkdir -p "$work/corpus-safetensors"
  cp "$root/tests/data/stories260K-hf/model.safetensors" "$work/corpus-safetensors/"
fi
if wants gguf; then
  # The GGUF target runs the model loader too, so it takes every data/ source but the HDF5 one
  # and the writers (of checkpoints and the two-hop dataset), which no loader calls.
  # shellcheck disable=SC2046
  build fuzz-gguf $(ls "$root"/data/strata-*.c | grep -v -e strata-h5.c -e strata-tensor.c -e strata-data-error.c \
    -e strata-hf-write.c -e strata-twohop-)
  mkdir -p "$work/corpus-gguf"
  # Every committed GGUF: F32, F16, BF16 and quantized tensors, every architecture row, the
  # SentencePiece and the byte-level BPE vocabularies (each gguf-vocab family).
  cp "$root/tests/data/stories260K-gguf/"*.gguf "$root/tests/data/gguf-quants/quants.gguf" \
    "$root/tests/data/gguf-arch/"*.gguf "$root/tests/data/gguf-vocab/"*.gguf "$work/corpus-gguf/"
fi
if wants tokenizer-json; then
  # shellcheck disable=SC2086
  build fuzz-tokenizer-json $tokenizer
  mkdir -p "$work/corpus-tokenizer-json"
  # tokenizer.json seeds, alone (the target's own texts) and with a text after a NUL
  text='Hi <|im_start|>user
I'"'"'m   caf\303\251 12345 \346\227\245\346\234\254 <s>[INST] x\t'
  for f in "$here"/tokenizer-seeds/*.json; do
    b=$(basename "$f" .json)
    cp "$f" "$work/corpus-tokenizer-json/$b"
    { cat "$f"; printf '\000'; printf "$text"; } >"$work/corpus-tokenizer-json/$b-text"
  done
fi
if wants tokenizer-text; then
  # shellcheck disable=SC2086
  build fuzz-tokenizer-text $tokenizer
  mkdir -p "$work/corpus-tokenizer-text"
  i=0
  for t in "The quick brown fox" "I'm here  12345" "<|im_start|>user
Hi<|im_end|>" "caf\303\251 \316\232\316\261\316\273\316\267 \346\227\245\346\234\254 \360\237\231\202"; do
    for k in 0 3 7 11 19; do
      { printf "\\$(printf '%03o' $k)"; printf "$t"; } >"$work/corpus-tokenizer-text/seed-$i-$k"
    done
    i=$((i + 1))
  done
fi
if wants session && [ -z "$strata" ]; then
  echo "fuzz-session: skipped (no STRATA_BIN to write its seed sessions)"
  targets=$(echo "$targets" | sed 's/session//')
fi
if wants session; then
  # The session reader, the series and the figures' normalisation: every kernels/, data/ and
  # probes/ source and the figure sources (a standalone build, so all are instrumented).
  printf '#define STRATA_VERSION "fuzz"\n#define STRATA_HAVE_CUDA 0\n#define STRATA_EXAMPLES_DIR "/nonexistent"\n' \
    >"$work/strata-config.h"
  session_libs=$(pkg-config --cflags --libs hdf5-serial openblas cairo pangocairo)
  # shellcheck disable=SC2046,SC2086
  "$cc" $flags -I"$work" -I"$root/probes" -I"$root/views" -o "$work/fuzz-session" "$here/fuzz-session.c" \
    $(ls "$root"/kernels/strata-*.c "$root"/data/strata-*.c "$root"/probes/strata-*.c "$root"/views/strata-figure*.c | \
      grep -v -e strata-figure-view.c) $libs $session_libs -lm
  "$cc" -O1 -o "$work/check-h5-checksums" "$here/check-h5-checksums.c" $(pkg-config --cflags --libs glib-2.0)
  # Seeds: sessions the CLI writes from tests/data models (lens with attention, patching with
  # a circuit, a two-hop set with candidates and aggregates, a series with patching).
  seeds="$work/seed-sessions"
  mkdir -p "$seeds" "$work/corpus-session"
  d="$root/tests/data"
  (head -n 2 "$d/twohop/prompts-trimmed.jsonl"; grep '"ood"' "$d/twohop/prompts-trimmed.jsonl" | head -n 1) >"$seeds/small.jsonl"
  "$strata" lens "$d/stories260K/stories260K.bin" --prompt "Once upon a time" --target " the" \
    --session "$seeds/lens.h5" >/dev/null
  "$strata" patch "$d/stories260K/stories260K.bin" --clean "Lily went to the park. She" \
    --corrupt "Tim went to the park. He" --target " She" --contrast " He" --site resid_pre --site head \
    --session "$seeds/patch.h5" >/dev/null
  "$strata" lens "$d/twohop/cot-3000" --prompts "$seeds/small.jsonl" --candidates-prefix '<e_' \
    --session "$seeds/twohop.h5" >/dev/null
  "$strata" series "$d/twohop-series/cot" --prompts "$seeds/small.jsonl" --patch --site resid_pre \
    --site head_at --view accuracy --session "$seeds/series.h5" >/dev/null
  cp "$seeds"/*.h5 "$work/corpus-session/"
  # The mutator's checksums are HDF5's own (else every mutation would die at a checksum).
  "$work/check-h5-checksums" "$seeds"/*.h5
fi

# A crash of the session target is Strata's unless its innermost frame (past the sanitizer's
# interceptors) is inside libhdf5: HDF5 1.10.8 decodes parts of a file it does not checksum
# (the global heap holding every variable-length string) and some object header messages
# without bounds, and Strata sees none of it before H5Aread/H5Dread/H5Aexists return
# (tests/fuzz/README.md). Those are listed and kept in WORKDIR/hdf5-internal; any other
# crash fails the run.
classify_session_crashes () {
  mine=0
  for f in "$work"/session-crash-* "$work"/session-leak-* "$work"/session-timeout-*; do
    [ -e "$f" ] || continue
    # A hang is replayed with a short timeout: libFuzzer then prints where it was.
    frame=$("$work/fuzz-session" -timeout=10 "$f" 2>&1 | grep -E '^ *#[0-9]+ ' | \
            grep -v -E ' in (__interceptor_|__asan|__sanitizer|__lsan|__ubsan|malloc|calloc|realloc|free|memcpy|memmove|strlen|fuzzer::)|libc\.so|sysdeps/' | \
            head -n 1)
    case "$frame" in
      *libhdf5*)
        mkdir -p "$work/hdf5-internal"
        mv "$f" "$work/hdf5-internal/"
        echo "fuzz-session: inside libhdf5 (kept in $work/hdf5-internal/$(basename "$f")):$frame" ;;
      *)
        echo "fuzz-session: CRASH IN STRATA ($f):$frame" >&2
        "$work/fuzz-session" "$f" 2>&1 | tail -n 40 >&2
        mine=1 ;;
    esac
  done
  return $mine
}

status=0
for t in $targets; do
  echo "fuzz-$t: ${secs}s"
  extra="-max_len=1300000"
  case $t in
    tokenizer-json) extra="-max_len=65536 -dict=$here/tokenizer-json.dict" ;;
    tokenizer-text) extra="-max_len=4096" ;;
  esac
  if [ "$t" = session ]; then
    # libhdf5 leaks metadata-cache blocks on some error paths (tests/lsan.supp). It also
    # asks malloc for sizes read from damaged headers (0x7000000000000 bytes); glibc says
    # NULL and HDF5 reports "memory allocation failed", which ASan must do too instead of
    # aborting (tests/fuzz/README.md).
    export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1"
    # In processes that keep going after a crash, so a crash inside libhdf5 does not end the
    # run; every crash is then classified (classify_session_crashes).
    extra="$extra -fork=${FUZZ_FORK:-1} -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -timeout=20"
  fi
  # shellcheck disable=SC2086
  rc=0
  (cd "$work" && STRATA_FUZZ_DATA="$root/tests/data/hf-pipeline" "./fuzz-$t" -max_total_time="$secs" -rss_limit_mb=4096 \
     -print_final_stats=1 -artifact_prefix="$t-" $extra "corpus-$t" 2>"fuzz-$t.log") || rc=$?
  # In fork mode libFuzzer exits with the status of the last job that crashed or hung, even
  # when told to go on: a session run that got to its end is judged by the classification
  # of its crashes below, not by that status.
  if [ "$t" = session ] && [ $rc != 0 ] && grep -q "^INFO: exiting: [0-9]* time:" "$work/fuzz-$t.log"; then
    rc=0
  fi
  if [ $rc != 0 ]; then
    echo "fuzz-$t FAILED; see $work/fuzz-$t.log (crash inputs in $work)" >&2
    tail -n 40 "$work/fuzz-$t.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units" "$work/fuzz-$t.log" || \
      grep -E "^#[0-9]+: .*(DONE|cov)" "$work/fuzz-$t.log" | tail -n 1 || true
  fi
  if [ "$t" = session ] && ! classify_session_crashes; then
    status=1
  fi
done
exit $status
