#!/usr/bin/env bash
# tlsreg's speed benchmark: builds the inputs, then measures tlsreg side by side
# with hivexget, reglookup, regipy and `wc -l`, and prints a table of times,
# peak RSS and the target ratios. See bench/README.md.
#
#   bash bench/run.sh            # the full run (about 10.5 GB of inputs in bench/out/)
#
# Environment:
#   BENCH_OUT       where inputs and results go            (default: bench/out)
#   BENCH_FLEET     how many copies of the hive            (default: 1000)
#   BENCH_REG_MIB   size of the .reg export in MiB         (default: 1024)
#   BENCH_KEYS      keys in the SYSTEM hive                (default: 44000, about 10.3 MiB)
#   BENCH_STRICT=1  exit 1 when a target is missed         (default: report only, exit 0)
#
# Installs nothing. Its peers: apt-get install -y libhivex-bin reglookup hyperfine time
# and pip install regipy.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
OUT=${BENCH_OUT:-$HERE/out}
FLEET_N=${BENCH_FLEET:-1000}
REG_MIB=${BENCH_REG_MIB:-1024}
KEYS=${BENCH_KEYS:-44000}

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
FLEET=$OUT/fleet
REG=$OUT/export.reg

# An input is rebuilt when what makes it changed: the generator, tlsreg's
# writers, or the sizes asked for.
writers=$(cat "$HERE/gen/src/main.rs" "$HERE/gen/Cargo.toml" \
    "$ROOT/src/hive/build.rs" "$ROOT/src/regfile/write.rs" | sha256sum | cut -c1-16)
hive_stamp="writers=$writers keys=$KEYS"
fleet_stamp="$hive_stamp count=$FLEET_N"
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

if fresh "$FLEET" "$fleet_stamp" && [ "$(find "$FLEET" -name SYSTEM | wc -l)" -eq "$FLEET_N" ]; then
    say "reusing $FLEET ($FLEET_N hives)"
else
    need=$(( hive_bytes * FLEET_N / 1024 + 1024 * 1024 ))
    avail=$(df -Pk "$OUT" | awk 'NR==2 {print $4}')
    if [ "$avail" -lt "$need" ]; then
        echo "bench/run.sh: $FLEET_N copies need $((need / 1024 / 1024)) GiB, $OUT has $((avail / 1024 / 1024)) GiB free (BENCH_OUT, BENCH_FLEET)" >&2
        exit 2
    fi
    say "writing $FLEET_N copies of the hive under $FLEET"
    rm -f "$FLEET.stamp"
    "$GEN" fleet "$HIVE" "$FLEET" --count "$FLEET_N"
    echo "$fleet_stamp" >"$FLEET.stamp"
fi

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

# ---------------------------------------------------------------- warm cache
say "warming the page cache (hive, $FLEET_N copies, .reg)"
cat "$HIVE" "$REG" >/dev/null
find "$FLEET" -name SYSTEM -print0 | xargs -0 cat >/dev/null

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

say "the $REG_MIB MiB .reg"
"${HF[@]}" --warmup 2 --runs 10 --export-json "$R/reg-wc.json" \
    -n "wc -l" "wc -l $REG"
"${HF[@]}" --warmup 1 --runs 5 --export-json "$R/reg-tlsreg.json" \
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
rss reg-wc wc -l "$REG"
rss reg-tlsreg "$TLSREG" audit "$REG"

# ---------------------------------------------------------------- report
{
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
    echo "reg_bytes=$(stat -c %s "$REG")"
} >"$R/machine.txt"
"$PY" "$HERE/report.py" "$R" | tee "$R/table.md"
