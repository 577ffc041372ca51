#!/usr/bin/env bash
# test-session-model.sh STRATA MODEL_DIR: a session saved by `strata lens|patch --session`
# exports every figure after its model is deleted, names the top-k tokens from the session
# alone, and `strata export` / `strata session-info` say plainly when the checkpoint at the
# saved path is present but not the one the session was made with.
set -u -o pipefail
STRATA=${1:?}; MODEL_DIR=${2:?}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/strata-session-model.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
n=0
ok () { n=$((n + 1)); echo "ok $n - $*"; }
fail () { echo "not ok - $*"; exit 1; }
svg_desc () { /usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
print(" ".join(e.text or "" for e in r.iter() if e.tag.split("}")[-1] in ("title", "desc")))' "$1"; }

cp -r "$MODEL_DIR" "$TMP/model"
M="$TMP/model/stories260K.bin"
CLEAN="Lily went to the park. She"; CORRUPT="Tim went to the park. He"
"$STRATA" lens "$M" --prompt "$CLEAN" --target " She" --session "$TMP/lens.h5" --figure "$TMP/live.svg" --layer 5 2>"$TMP/err" \
  || fail "strata lens --session --figure: $(cat "$TMP/err")"
"$STRATA" patch "$M" --clean "$CLEAN" --corrupt "$CORRUPT" --target " She" --contrast " He" --session "$TMP/patch.h5" 2>"$TMP/err" \
  || fail "strata patch --session: $(cat "$TMP/err")"
svg_desc "$TMP/live.svg" >"$TMP/live.txt"
ok "lens and patch sessions written from a model in a temporary folder"

rm -rf "$TMP/model"
for view in lens curves patch circuit attention; do
  env -u DISPLAY -u WAYLAND_DISPLAY "$STRATA" export "$TMP/patch.h5" --figure "$TMP/$view.svg" --view "$view" 2>"$TMP/err" \
    || fail "export --view $view without the model: $(cat "$TMP/err")"
  [ -s "$TMP/err" ] && fail "export --view $view printed: $(cat "$TMP/err")"
done
ok "every figure of the patch session exports with the model deleted"

# The top-1 token at layer 5 of the last position (" saw") is neither in the prompt nor a
# target: only the session's token table can name it.
"$STRATA" export "$TMP/lens.h5" --figure "$TMP/lens.svg" --layer 5 2>"$TMP/err" || fail "export lens: $(cat "$TMP/err")"
svg_desc "$TMP/lens.svg" >"$TMP/saved.txt"
grep -q "·saw" "$TMP/saved.txt" || fail "the exported lens figure does not name the top-1 token ·saw: $(cat "$TMP/saved.txt")"
grep -q "#[0-9]" "$TMP/saved.txt" && fail "the exported lens figure names tokens as #id: $(cat "$TMP/saved.txt")"
cmp -s "$TMP/live.txt" "$TMP/saved.txt" || fail "the figure from the session differs in words from the live one"
ok "without the model, the lens figure names its top-k tokens as the live run did"

"$STRATA" export "$TMP/patch.h5" --figure "$TMP/p.svg" --view patch 2>/dev/null
svg_desc "$TMP/p.svg" | grep -q "logit(“·She”) − logit(“·He”)" || fail "the patch caption does not name the contrast token"
ok "the patching caption names target and contrast from the session"

"$STRATA" session-info "$TMP/lens.h5" >"$TMP/out" 2>"$TMP/err" || fail "session-info: $(cat "$TMP/err")"
grep -q "checkpoint not found" "$TMP/out" || fail "session-info does not say the checkpoint is missing"
ok "session-info says the checkpoint is missing"

# A different checkpoint at the saved path: both commands warn, naming the two hashes.
mkdir -p "$TMP/model"
cp "$MODEL_DIR"/* "$TMP/model/"
printf '\1' | dd of="$M" bs=1 seek=100 conv=notrunc status=none
"$STRATA" export "$TMP/lens.h5" --figure "$TMP/changed.svg" 2>"$TMP/err" || fail "export with a changed model failed"
grep -q "has changed since this session was saved" "$TMP/err" || fail "export does not warn: $(cat "$TMP/err")"
grep -q "sha256" "$TMP/err" || fail "the warning does not give the hashes"
"$STRATA" session-info "$TMP/lens.h5" >/dev/null 2>"$TMP/err" || fail "session-info with a changed model failed"
grep -q "has changed since this session was saved" "$TMP/err" || fail "session-info does not warn: $(cat "$TMP/err")"
ok "a changed checkpoint at the saved path is reported by export and session-info"

# The same checkpoint again: no warning.
cp "$MODEL_DIR"/stories260K.bin "$M"
"$STRATA" export "$TMP/lens.h5" --figure "$TMP/same.svg" 2>"$TMP/err" || fail "export failed"
[ -s "$TMP/err" ] && fail "export warns about an unchanged model: $(cat "$TMP/err")"
ok "the unchanged checkpoint gives no warning"

# Output errors: an unwritable place gives a message, exit 1, and no file.
"$STRATA" lens "$M" --prompt "$CLEAN" --figure "$TMP/missing/x.png" 2>"$TMP/err" && fail "a figure into a missing folder succeeded"
grep -q "missing" "$TMP/err" || fail "the message does not name the folder: $(cat "$TMP/err")"
touch "$TMP/file"
"$STRATA" lens "$M" --prompt "$CLEAN" --session "$TMP/file/x.h5" 2>"$TMP/err" && fail "a session under a file succeeded"
"$STRATA" lens "$M" --prompt "$CLEAN" --figure "$TMP/x.bmp" 2>"$TMP/err" && fail ".bmp accepted"
grep -q "x.bmp" "$TMP/err" || fail "the message does not name the file"
ls "$TMP" | grep -q "^x\.\|\.XXXXXX\|\.tmp$" && fail "a failed run left a file: $(ls "$TMP")"
ok "unwritable outputs: a message naming them, exit 1, no partial file"
echo "1..$n"
