#!/usr/bin/env bash
# Builds the phone's Rust library (cdtg-phone, android/phone/: the core's rules and the outbox behind
# UniFFI), generates the Kotlin bindings (library mode), and runs the Kotlin tests on the desktop JVM. Installs only what is missing:
#   - JNA from Debian (libjna-java: the jar plus its native libjnidispatch);
#   - kotlinc from the npm package kotlin-compiler, into a cache outside the repository.
# The closing line is "N passed, M failed"; the exit status is non-zero if anything failed.
#
# Environment:
#   CARGO_TARGET_DIR  honoured if set (absolute or relative to the repository root)
#   CDTG_KOTLIN_DIR   npm prefix for kotlinc (default /var/tmp/cdtg-kotlin)
#   CDTG_E2E_URL      if set, also runs the end-to-end sync scripts (src/e2e/*.kts) against that
#                     server's /graphql endpoint; the scripts read CDTG_E2E_* (see README.md)
#   CDTG_E2E_ONLY=1   with CDTG_E2E_URL, skips the unit scripts (src/test/*.kts): they do not
#                     involve the server, so the cargo test runs them with one database only
#
# Safe to run concurrently (the cargo end-to-end test runs it once per database, in parallel):
# installing, building and compiling happen under a lock, the compiled bindings are cached by the
# content hash of the generated sources (a second run skips the ~10 s kotlinc step), and each run
# keeps its own log.
set -euo pipefail

ANDROID_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$ANDROID_DIR/.." && pwd)"
BUILD="$ANDROID_DIR/build"
KOTLIN_VERSION="2.4.20"
KOTLIN_DIR="${CDTG_KOTLIN_DIR:-/var/tmp/cdtg-kotlin}"
KOTLINC="$KOTLIN_DIR/node_modules/kotlin-compiler/bin/kotlinc"
JNA_JAR="/usr/share/java/jna.jar"

say() { printf '==> [%3ss] %s\n' "$SECONDS" "$*" >&2; }

mkdir -p "$BUILD"
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/cdtg-android-test.XXXXXX")"
trap 'rm -rf "$RUN_DIR"' EXIT

# Everything up to the compiled bindings happens under one lock: apt, npm and uniffi-bindgen must
# not run twice at once into the same places. The tests themselves run unlocked.
exec 9>"$BUILD/.lock"
flock 9

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# --- tools -----------------------------------------------------------------------------------
if [ ! -f "$JNA_JAR" ]; then
    say "installing libjna-java"
    if ! apt-cache show libjna-java >/dev/null 2>&1; then
        as_root apt-get update
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y libjna-java
fi

if [ ! -x "$KOTLINC" ]; then
    say "installing kotlin-compiler@$KOTLIN_VERSION into $KOTLIN_DIR"
    npm install --prefix "$KOTLIN_DIR" --no-audit --no-fund "kotlin-compiler@$KOTLIN_VERSION" >&2
fi
COROUTINES_JAR="$KOTLIN_DIR/node_modules/kotlin-compiler/lib/kotlinx-coroutines-core-jvm.jar"

# --- Rust library and bindings generator -----------------------------------------------------
cd "$ROOT"
say "building cdtg-phone (library and uniffi-bindgen)"
# One feature set for the library and the generator, so cargo builds uniffi once.
cargo build -p cdtg-phone --features uniffi/cli --lib --bin uniffi-bindgen >&2

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
LIB_DIR="$TARGET_DIR/debug"
case "$(uname -s)" in
    Darwin) LIB="$LIB_DIR/libcdtg_phone.dylib" ;;
    *) LIB="$LIB_DIR/libcdtg_phone.so" ;;
esac
[ -f "$LIB" ] || { echo "missing $LIB" >&2; exit 1; }

say "generating Kotlin bindings (library mode, desktop config)"
rm -rf "$BUILD/generated"
mkdir -p "$BUILD/generated"
"$LIB_DIR/uniffi-bindgen" generate "$LIB" --language kotlin --out-dir "$BUILD/generated" \
    --no-format --config "$ANDROID_DIR/uniffi-desktop.toml" >&2
mapfile -t SOURCES < <(find "$BUILD/generated" -name '*.kt' | sort)
[ "${#SOURCES[@]}" -gt 0 ] || { echo "no Kotlin bindings generated" >&2; exit 1; }
if grep -q 'import android\.' "${SOURCES[@]}"; then
    echo "generated bindings import android.*: the desktop config was not applied" >&2
    exit 1
fi

# The compiled bindings depend only on the generated sources, the compiler and JNA: cache them by
# that content hash. Jars are written under a temporary name and renamed, so a concurrent run
# never sees half a jar.
HASH="$( { cat "${SOURCES[@]}"; echo "kotlinc $KOTLIN_VERSION"; sha256sum "$JNA_JAR"; } | sha256sum | cut -c1-16)"
BINDINGS_JAR="$BUILD/bindings-$HASH.jar"
if [ -f "$BINDINGS_JAR" ]; then
    say "bindings unchanged: reusing $(basename "$BINDINGS_JAR")"
else
    say "compiling the bindings"
    "$KOTLINC" -nowarn -classpath "$JNA_JAR:$COROUTINES_JAR" "${SOURCES[@]}" -d "$RUN_DIR/bindings.jar" >&2
    mv "$RUN_DIR/bindings.jar" "$BINDINGS_JAR"
    # Keep the three newest jars (an older one may still be in use by a concurrent run).
    ls -1t "$BUILD"/bindings-*.jar | tail -n +4 | xargs -r rm -f
fi
flock -u 9

# --- tests -------------------------------------------------------------------------------------
run_script() {
    local script="$1"
    say "running $(basename "$script")"
    # Output goes to the terminal and to a log that the totals are read from.
    set +e
    local log="$RUN_DIR/$(basename "$script").log"
    "$KOTLINC" -nowarn -classpath "$JNA_JAR:$COROUTINES_JAR:$BINDINGS_JAR" \
        -J-ea -J-Djna.library.path="$LIB_DIR" -script "$script" 2>&1 | tee "$log"
    local status="${PIPESTATUS[0]}"
    set -e
    local line
    line="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)"
    if [ -z "$line" ]; then
        # The script died before its summary (compile error, crash): count it as one failure.
        TOTAL_FAILED=$((TOTAL_FAILED + 1))
        return
    fi
    local p f
    p="${line%% passed*}"
    f="${line#*, }"; f="${f%% failed}"
    TOTAL_PASSED=$((TOTAL_PASSED + p))
    TOTAL_FAILED=$((TOTAL_FAILED + f))
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        TOTAL_FAILED=$((TOTAL_FAILED + 1))
    fi
}

TOTAL_PASSED=0
TOTAL_FAILED=0
if [ "${CDTG_E2E_ONLY:-}" = 1 ] && [ -n "${CDTG_E2E_URL:-}" ]; then
    say "CDTG_E2E_ONLY=1: skipping the unit scripts"
else
    for script in "$ANDROID_DIR"/src/test/*.kts; do
        run_script "$script"
    done
fi
if [ -n "${CDTG_E2E_URL:-}" ]; then
    shopt -s nullglob
    e2e_scripts=("$ANDROID_DIR"/src/e2e/*.kts)
    shopt -u nullglob
    if [ "${#e2e_scripts[@]}" -eq 0 ]; then
        echo "CDTG_E2E_URL is set but there is no end-to-end script in android/src/e2e/" >&2
        TOTAL_FAILED=$((TOTAL_FAILED + 1))
    fi
    for script in "${e2e_scripts[@]}"; do
        CDTG_E2E_URL="$CDTG_E2E_URL" run_script "$script"
    done
fi

echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
[ "$TOTAL_FAILED" -eq 0 ]
