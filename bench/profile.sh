#!/usr/bin/env bash
# Where tlsreg's time goes on one benchmark input: a perf profile of
# `tlsreg audit INPUT`, top functions by self time and by inclusive time.
#
#   bash bench/profile.sh [INPUT]     # default: bench/out/export.reg (made by bench/run.sh)
#
# Builds tlsreg with line tables (release optimisations, so inlined frames are
# named) into bench/out/prof-target, leaving the normal build alone. Needs
# perf: apt-get install -y linux-perf.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
OUT=${BENCH_OUT:-$HERE/out}
INPUT=${1:-$OUT/export.reg}

command -v perf >/dev/null || {
    echo "bench/profile.sh: perf is missing: apt-get install -y linux-perf" >&2
    exit 2
}
[ -e "$INPUT" ] || {
    echo "bench/profile.sh: $INPUT does not exist (run bench/run.sh first, or name an input)" >&2
    exit 2
}

mkdir -p "$OUT"
(cd "$ROOT" && CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
    cargo build --release --quiet --target-dir "$OUT/prof-target")
BIN=$OUT/prof-target/release/tlsreg

cat "$INPUT" >/dev/null 2>&1 || true # warm cache, as the benchmark measures
DATA=$OUT/perf.data
perf record -q -o "$DATA" -F 4000 --call-graph dwarf,16384 "$BIN" audit "$INPUT" >/dev/null 2>&1 || true

echo "== self time (top 25)"
perf report -i "$DATA" --no-children --stdio -g none --percent-limit 0.5 2>/dev/null |
    grep -v '^#' | grep -v '^$' | head -25 | cut -c1-160
echo
echo "== inclusive time, tlsreg's own frames (top 40)"
perf report -i "$DATA" --children --stdio -g none --percent-limit 2 2>/dev/null |
    grep -v '^#' | grep -v '^$' | grep 'tlsreg::\|memchr\|encoding_rs\|read$' |
    grep -v 'rayon\|lang_start\|cli::run\|tlsreg::main' | head -40 | cut -c1-200
