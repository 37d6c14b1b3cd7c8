#!/usr/bin/env bash
# tlsreg's speed benchmark: builds the inputs, then measures tlsreg side by side
# with hivexget, reglookup, regipy and `wc -l`, and prints tables of times,
# peak RSS and every target with MET / NOT MET. See bench/README.md.
#
#   bash bench/run.sh            # the full run (about 1.6 GB of inputs in bench/out/)
#   BENCH_FLEET=50 BENCH_FLAT=50 BENCH_FLEET_BIG=300 BENCH_MANY=300 BENCH_REG_MIB=16 \
#       bash bench/run.sh        # a smoke run (half a minute once built)
#
# Environment:
#   BENCH_OUT          where inputs and results go                  (default: bench/out)
#   BENCH_FLEET        hives, one folder each (fleet/srvNNNN/SYSTEM) (default: 1000)
#   BENCH_FLAT         hives in one flat folder; also run at 2x, 4x  (default: 1000)
#   BENCH_FLAT_DIRTY   every how many flat hives one is dirty        (default: 2; 0: none)
#   BENCH_FLEET_BIG    hives, one folder each, for memory            (default: 10000)
#   BENCH_MANY         tiny hives, one folder each, for memory       (default: 100000)
#   BENCH_REG_MIB      size of the .reg export in MiB                (default: 1024)
#   BENCH_KEYS         keys in the SYSTEM hive                       (default: 44000, about 10.3 MiB)
#   BENCH_STRICT=1     exit 1 when a target is missed                (default: report only, exit 0)
#
# Installs nothing. Its peers: apt-get install -y libhivex-bin reglookup hyperfine time
# and pip install regipy.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
OUT=${BENCH_OUT:-$HERE/out}
FLEET_N=${BENCH_FLEET:-1000}
FLAT_N=${BENCH_FLAT:-1000}
FLAT_DIRTY=${BENCH_FLAT_DIRTY:-2}
BIG_N=${BENCH_FLEET_BIG:-10000}
MANY_N=${BENCH_MANY:-100000}
REG_MIB=${BENCH_REG_MIB:-1024}
KEYS=${BENCH_KEYS:-44000}
FLAT_SIZES=("$FLAT_N" $((2 * FLAT_N)) $((4 * FLAT_N)))

say() { printf '\n== %s\n' "$*" >&2; }

# ---------------------------------------------------------------- peers
missing=()
apt=()
command -v cargo >/dev/null || missing+=("cargo (Rust 1.85 or later)")
command -v hivexget >/dev/null || { missing+=(hivexget); apt+=(libhivex-bin); }
command -v reglookup >/dev/null || { missing+=(reglookup); apt+=(reglookup); }
command -v hyperfine >/dev/null || { missing+=(hyperfine); apt+=(hyperfine); }
[ -x /usr/bin/time ] || { missing+=(/usr/bin/time); apt+=(time); }
PY=
if command -v python3 >/dev/null; then
    # The interpreter itself: a version manager's shim (pyenv) adds ~100 ms a start.
    PY=$(python3 -c 'import sys; print(sys.executable)')
fi
if [ -z "$PY" ]; then
    missing+=(python3)
    apt+=(python3 python3-pip)
elif ! "$PY" -c 'import regipy' 2>/dev/null; then
    missing+=("regipy (Python)")
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench/run.sh: missing peers: ${missing[*]}" >&2
    echo "install them with:" >&2
    [ ${#apt[@]} -gt 0 ] && echo "  apt-get update && apt-get install -y ${apt[*]}" >&2
    [[ " ${missing[*]} " == *regipy* || -z "$PY" ]] && echo "  pip install regipy" >&2
    exit 2
fi

# ---------------------------------------------------------------- build
say "building tlsreg and the input generator (release)"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
(cd "$ROOT" && cargo build --release --quiet)
TLSREG=$TARGET/release/tlsreg
GEN_TARGET=${CARGO_TARGET_DIR:-$HERE/gen/target}
(cd "$HERE/gen" && cargo build --release --quiet)
GEN=$GEN_TARGET/release/bench-gen

# ---------------------------------------------------------------- inputs
mkdir -p "$OUT/results" "$OUT/cmd"
HIVE=$OUT/hive/SYSTEM
DIRTY=$OUT/hive-dirty/SYSTEM
TINY=$OUT/tiny/SYSTEM
FLEET=$OUT/fleet
BIG=$OUT/fleet-big
MANY=$OUT/many
REG=$OUT/export.reg
flat_dir() { echo "$OUT/flat$1"; }

# An input is rebuilt when what makes it changed: the generator, tlsreg's
# writers, or the sizes asked for.
writers=$(cat "$HERE/gen/src/main.rs" "$HERE/gen/Cargo.toml" \
    "$ROOT/src/hive/build.rs" "$ROOT/src/hive/log/write.rs" "$ROOT/src/regfile/write.rs" \
    | sha256sum | cut -c1-16)
hive_stamp="writers=$writers keys=$KEYS"
reg_stamp="writers=$writers mib=$REG_MIB"
fresh() { [ -e "$1" ] && [ -f "$1.stamp" ] && [ "$(cat "$1.stamp")" = "$2" ]; }

if fresh "$HIVE" "$hive_stamp"; then
    say "reusing $HIVE"
else
    say "writing the SYSTEM hive"
    mkdir -p "$(dirname "$HIVE")"
    "$GEN" hive "$HIVE" --keys "$KEYS"
    echo "$hive_stamp" >"$HIVE.stamp"
fi
hive_bytes=$(stat -c %s "$HIVE")

if fresh "$DIRTY" "$hive_stamp"; then
    say "reusing $DIRTY"
else
    say "writing the same hive caught mid-write, with its logs"
    mkdir -p "$(dirname "$DIRTY")"
    "$GEN" hive "$DIRTY" --keys "$KEYS" --dirty 1
    echo "$hive_stamp" >"$DIRTY.stamp"
fi

if fresh "$TINY" "writers=$writers"; then
    say "reusing $TINY"
else
    say "writing the tiny SYSTEM hive"
    mkdir -p "$(dirname "$TINY")"
    "$GEN" tiny "$TINY"
    echo "writers=$writers" >"$TINY.stamp"
fi

# Every fleet is hard links to one of those hives: the disk and the page
# cache hold each hive once however many machines there are.
fleet() { # dir, hive, count
    local dir=$1 hive=$2 count=$3
    local stamp="links $hive $(cat "$hive.stamp") count=$count"
    if fresh "$dir" "$stamp" && [ "$(find "$dir" -name SYSTEM | wc -l)" -eq "$count" ]; then
        say "reusing $dir ($count hives)"
        return
    fi
    say "linking $count hives under $dir (one folder each)"
    rm -f "$dir.stamp"
    "$GEN" fleet "$hive" "$dir" --count "$count"
    echo "$stamp" >"$dir.stamp"
}
fleet "$FLEET" "$HIVE" "$FLEET_N"
fleet "$BIG" "$HIVE" "$BIG_N"
fleet "$MANY" "$TINY" "$MANY_N"

for n in "${FLAT_SIZES[@]}"; do
    dir=$(flat_dir "$n")
    stamp="links $(cat "$HIVE.stamp") count=$n dirty-every=$FLAT_DIRTY"
    if fresh "$dir" "$stamp" && [ "$(find "$dir" -name 'SYSTEM-host*' | wc -l)" -eq $((3 * n)) ]; then
        say "reusing $dir ($n hives and their logs)"
        continue
    fi
    say "linking $n hives and their logs in $dir (one flat folder)"
    rm -f "$dir.stamp"
    "$GEN" flat "$HIVE" "$DIRTY" "$dir" --count "$n" --dirty-every "$FLAT_DIRTY"
    echo "$stamp" >"$dir.stamp"
done

if fresh "$REG" "$reg_stamp"; then
    say "reusing $REG"
else
    say "writing the ${REG_MIB} MiB .reg export"
    "$GEN" reg "$REG" --mib "$REG_MIB"
    echo "$reg_stamp" >"$REG.stamp"
fi

# What each peer runs, as small scripts so hyperfine can run them without a
# shell of its own (each pays one bash start, about 1 ms).
TLS_KEY='\ControlSet001\Control\SecurityProviders\SCHANNEL\Protocols\TLS 1.2'
cat >"$OUT/cmd/hivexget5.sh" <<EOF
# The five values tlsreg reads: one hivexget call each.
hivexget "\$1" '\\Select' Current
hivexget "\$1" '$TLS_KEY\\Client' DisabledByDefault
hivexget "\$1" '$TLS_KEY\\Client' Enabled
hivexget "\$1" '$TLS_KEY\\Server' DisabledByDefault
hivexget "\$1" '$TLS_KEY\\Server' Enabled
EOF
cat >"$OUT/cmd/reglookup2.sh" <<'EOF'
# The five values with reglookup: Select, and the TLS 1.2 subtree.
reglookup -H -p /Select "$1"
reglookup -H -p '/ControlSet001/Control/SecurityProviders/SCHANNEL/Protocols/TLS 1.2' "$1"
EOF
cat >"$OUT/cmd/hivexget-loop.sh" <<'EOF'
# One hivexget call per hive, for one value, in a shell loop.
for f in "$1"/*/SYSTEM; do
    hivexget "$f" '\Select' Current
done
EOF
cat >"$OUT/cmd/hivexget-flat.sh" <<'EOF'
# One hivexget call per hive of a flat folder (SYSTEM-hostNNNN, not its logs).
for f in "$1"/SYSTEM-host*; do
    case $f in *.LOG|*.LOG1|*.LOG2) continue ;; esac
    hivexget "$f" '\Select' Current
done
EOF
cat >"$OUT/cmd/reglookup-loop.sh" <<'EOF'
# The five values of every hive with reglookup (two calls per hive).
for f in "$1"/*/SYSTEM; do
    reglookup -H -p /Select "$f"
    reglookup -H -p '/ControlSet001/Control/SecurityProviders/SCHANNEL/Protocols/TLS 1.2' "$f"
done
EOF

# Every peer must read the values, or its time means nothing.
say "checking that every tool reads the values"
check() { # what, expected text, command...
    local what=$1 want=$2
    shift 2
    local got
    got=$("$@" 2>&1) || true
    if ! grep -q -- "$want" <<<"$got"; then
        echo "bench/run.sh: $what did not read the hive as expected (wanted '$want'):" >&2
        printf '%s\n' "$got" | head -20 >&2
        exit 2
    fi
}
check "tlsreg (hive)" "^COMPLIANT" "$TLSREG" audit "$HIVE"
check "hivexget" "^1$" hivexget "$HIVE" "$TLS_KEY\\Server" Enabled
check "reglookup" "TLS 1.2/Server/Enabled,DWORD,0x00000001" bash "$OUT/cmd/reglookup2.sh" "$HIVE"
check "regipy" "Server.Enabled=1" "$PY" "$HERE/regipy_read.py" "$HIVE"
check "tlsreg (.reg)" "^COMPLIANT" "$TLSREG" audit "$REG"
check "tlsreg (tiny hive)" "^COMPLIANT" "$TLSREG" audit "$TINY"
# The dirty hive is noncompliant as it stands, compliant once its logs are
# replayed: a flat folder audits right only if each hive's logs are found.
check "tlsreg (dirty hive, logs not replayed)" "^NONCOMPLIANT" "$TLSREG" audit --no-logs "$DIRTY"
check "tlsreg (dirty hive)" "replayed 1 log entries from SYSTEM.LOG1" "$TLSREG" audit "$DIRTY"
check "hivexget (dirty hive)" "^1$" hivexget "$DIRTY" '\Select' Current
FLAT1=$(flat_dir "$FLAT_N")
check "tlsreg (flat folder of $FLAT_N)" "^Summary: $FLAT_N inputs: $FLAT_N compliant, 0 noncompliant, 0 could not be read" \
    "$TLSREG" audit "$FLAT1"
check "hivexget (flat folder, one call per hive)" "^$FLAT_N$" \
    bash -c 'bash "$1" "$2" | grep -c "^1$"' - "$OUT/cmd/hivexget-flat.sh" "$FLAT1"

# ---------------------------------------------------------------- warm cache
# The fleets are links to these few files; listing them brings their
# folders and inodes in.
say "warming the page cache (hives, logs, the fleets' folders, .reg)"
cat "$HIVE" "$DIRTY" "$DIRTY.LOG1" "$TINY" "$REG" >/dev/null
find "$FLEET" "$BIG" "$MANY" "${FLAT_SIZES[@]/#/$OUT/flat}" >/dev/null

# ---------------------------------------------------------------- measure
R=$OUT/results
rm -f "$R"/*.json "$R"/*.rss
HF=(hyperfine --shell=none --style basic)

say "one hive ($((hive_bytes / 1024)) KiB), whole process"
"${HF[@]}" --warmup 5 --min-runs 40 --export-json "$R/one.json" \
    -n "tlsreg audit" "$TLSREG audit $HIVE" \
    -n "hivexget, 1 value" "hivexget $HIVE '\\Select' Current" \
    -n "hivexget, 5 values (5 calls)" "bash $OUT/cmd/hivexget5.sh $HIVE" \
    -n "reglookup, 5 values (2 calls)" "bash $OUT/cmd/reglookup2.sh $HIVE" \
    -n "regipy, 5 values" "$PY $HERE/regipy_read.py $HIVE"

say "$FLEET_N hives"
"${HF[@]}" --warmup 1 --runs 5 --export-json "$R/fleet-tlsreg.json" \
    -n "tlsreg audit (one run)" "$TLSREG audit $FLEET"
"${HF[@]}" --runs 2 --export-json "$R/fleet-hivexget.json" \
    -n "hivexget, 1 value (shell loop)" "bash $OUT/cmd/hivexget-loop.sh $FLEET"
"${HF[@]}" --runs 1 --export-json "$R/fleet-reglookup.json" \
    -n "reglookup, 5 values (shell loop)" "bash $OUT/cmd/reglookup-loop.sh $FLEET"
"${HF[@]}" --runs 1 --export-json "$R/fleet-regipy.json" \
    -n "regipy, 5 values (one process)" "$PY $HERE/regipy_read.py $(printf '%s ' "$FLEET"/*/SYSTEM)"

say "$FLAT_N hives in one flat folder, with their logs (BENCH_FLAT_DIRTY=$FLAT_DIRTY)"
"${HF[@]}" --warmup 1 --runs 7 --export-json "$R/flat-tlsreg.json" \
    -n "tlsreg audit (one run)" "$TLSREG audit $FLAT1"
"${HF[@]}" --runs 2 --export-json "$R/flat-hivexget.json" \
    -n "hivexget, 1 value (shell loop)" "bash $OUT/cmd/hivexget-flat.sh $FLAT1"
for n in "${FLAT_SIZES[@]:1}"; do
    say "$n hives in one flat folder"
    "${HF[@]}" --warmup 1 --runs 7 --export-json "$R/flat$n-tlsreg.json" \
        -n "tlsreg audit (one run)" "$TLSREG audit $(flat_dir "$n")"
done

say "$BIG_N hives, one folder each, jsonl"
"${HF[@]}" --warmup 1 --runs 3 --export-json "$R/big-tlsreg.json" \
    -n "tlsreg audit --format jsonl" "$TLSREG audit --format jsonl $BIG"

say "$MANY_N tiny hives, one folder each, jsonl"
"${HF[@]}" --runs 1 --export-json "$R/many-tlsreg.json" \
    -n "tlsreg audit --format jsonl" "$TLSREG audit --format jsonl $MANY"

say "the $REG_MIB MiB .reg"
"${HF[@]}" --warmup 2 --runs 10 --export-json "$R/reg-wc.json" \
    -n "wc -l" "wc -l $REG"
"${HF[@]}" --warmup 1 --runs 9 --export-json "$R/reg-tlsreg.json" \
    -n "tlsreg audit" "$TLSREG audit $REG"

say "peak RSS (/usr/bin/time -v)"
rss() { # name, command...
    local name=$1
    shift
    /usr/bin/time -v -o "$R/$name.rss" "$@" >/dev/null 2>&1 || true
}
rss one-tlsreg "$TLSREG" audit "$HIVE"
rss one-hivexget hivexget "$HIVE" '\Select' Current
rss one-reglookup reglookup -H -p /Select "$HIVE"
rss one-regipy "$PY" "$HERE/regipy_read.py" "$HIVE"
rss fleet-tlsreg "$TLSREG" audit "$FLEET"
for n in "${FLAT_SIZES[@]}"; do
    rss "flat$n-tlsreg" "$TLSREG" audit "$(flat_dir "$n")"
done
rss big-tlsreg "$TLSREG" audit --format jsonl "$BIG"
rss many-tlsreg "$TLSREG" audit --format jsonl "$MANY"
rss reg-wc wc -l "$REG"
rss reg-tlsreg "$TLSREG" audit "$REG"

# ---------------------------------------------------------------- report
{
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "nproc=$(nproc)"
    cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
    family=$(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')
    model=$(grep -m1 '^model[[:space:]]*:' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')
    virt=$(lscpu 2>/dev/null | awk -F: '/Hypervisor vendor/ {gsub(/^ +/, "", $2); print ", " $2 " guest"}')
    echo "cpu=$cpu (family $family, model $model)$virt"
    echo "kernel=$(uname -sr)"
    echo "memory=$(free -g | awk '/^Mem:/ {print $2}') GiB"
    echo "tlsreg=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')"
    echo "hivex=$(dpkg-query -W -f '${Version}' libhivex-bin 2>/dev/null || echo '?')"
    echo "reglookup=$(dpkg-query -W -f '${Version}' reglookup 2>/dev/null || echo '?')"
    echo "regipy=$("$PY" -c 'import importlib.metadata as m; print(m.version("regipy"))')"
    echo "python=$("$PY" -c 'import platform; print(platform.python_version())')"
    echo "hyperfine=$(hyperfine --version | cut -d' ' -f2)"
    echo "hive_bytes=$hive_bytes"
    echo "hive_keys=$KEYS"
    echo "fleet=$FLEET_N"
    echo "flat=${FLAT_SIZES[*]}"
    echo "flat_dirty_every=$FLAT_DIRTY"
    echo "big=$BIG_N"
    echo "many=$MANY_N"
    echo "tiny_bytes=$(stat -c %s "$TINY")"
    echo "reg_bytes=$(stat -c %s "$REG")"
} >"$R/machine.txt"
status=0
"$PY" "$HERE/report.py" "$R" >"$R/table.md" || status=$?
cat "$R/table.md"
exit "$status"
