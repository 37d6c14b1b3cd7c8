#!/usr/bin/env bash
# Builds the WIM fixtures of tests/wim.rs with wimlib-imagex (Debian: wimtools).
# Run from anywhere: samples/images/wim/make.sh. Writes *.wim, lzms-solid.esd
# and payload.sha1 next to this script. The payload is made here, from
# samples/hives/*.hiv and deterministic filler, and thrown away afterwards.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
HIVES=$HERE/../../hives
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# payload DIR HIVE: one image's tree.
payload() {
  local d=$1 hive=$2
  mkdir -p "$d/Windows/System32/config/RegBack" "$d/Windows/System32/drivers" \
           "$d/Windows/Logs" "$d/Windows/Temp" "$d/Program Files/Résumé"
  cp "$hive" "$d/Windows/System32/config/SYSTEM"
  cp "$hive" "$d/Windows/System32/config/RegBack/SYSTEM"   # same blob, stored once
  : > "$d/Windows/System32/config/SYSTEM.LOG2"             # empty, as is usual
  ln -s SYSTEM "$d/Windows/System32/config/SYSTEM.lnk"     # a reparse point in the WIM
  python3 - "$d" <<'PY'
import random, struct, sys
root = sys.argv[1]
rng = random.Random(20260522)
def write(path, data):
    with open(f"{root}/{path}", "wb") as f:
        f.write(data)
# A hive transaction log: a header page and some repeated records.
log = bytearray(b"DIRT" + bytes(508))
for i in range(96):
    log += b"HvLE" + struct.pack("<III", 0x200 + i, i, 4096) + bytes(rng.randrange(4) for _ in range(48))
write("Windows/System32/config/SYSTEM.LOG1", bytes(log))
# ~200 KB of log text: matches, varied literals, many chunks.
words = ("setup service driver registry hive key value SCHANNEL protocol TLS client server "
         "enabled disabled default component install commit rollback offline image mount "
         "apply capture index edition Standard Datacenter").split()
lines = []
while sum(map(len, lines)) < 200_000:
    n = len(lines)
    lines.append(f"2019-10-{1 + n % 28:02d} {n % 24:02d}:{n * 7 % 60:02d}:{n * 13 % 60:02d}, Info "
                 f"CBS {' '.join(rng.choice(words) for _ in range(rng.randrange(3, 12)))} "
                 f"[0x{rng.getrandbits(32):08x}] #{n}\r\n")
write("Windows/Logs/setup.log", "".join(lines).encode())
# ~64 KB of x86-like code: E8 calls with targets near and far, forwards and
# backwards, and E8 bytes near chunk ends, so LZX's E8 translation matters.
code = bytearray()
ops = [b"\x55\x8b\xec", b"\x83\xec\x20", b"\x8b\x45\x08", b"\x89\x45\xfc", b"\x33\xc0",
       b"\x5d\xc3", b"\x6a\x00", b"\xff\x75\x0c", b"\x85\xc0\x74\x05", b"\x90"]
while len(code) < 65536 + 77:
    if rng.random() < 0.3:
        target = rng.choice([rng.randrange(-4096, 4096), rng.randrange(-70000, 70000),
                             rng.randrange(-2**31, 2**31)])
        code += b"\xe8" + struct.pack("<i", target)
    else:
        code += rng.choice(ops)
for k in range(1, 3):
    at = 32768 * k - rng.randrange(1, 12)
    code[at:at + 5] = b"\xe8" + struct.pack("<i", 1234)
write("Windows/System32/drivers/fake.sys", bytes(code[:65536 + 77]))
# Incompressible: wimlib stores such chunks raw.
write("Windows/System32/random.bin", bytes(rng.getrandbits(8) for _ in range(40_000)))
# Exactly one chunk, and one byte more.
text = "".join(lines).encode()
write("Windows/exact-32768.txt", text[:32768])
write("Program Files/Résumé/exact-32769.txt", text[1000:1000 + 32769])
PY
}

payload "$WORK/std" "$HIVES/compliant.hiv"
payload "$WORK/dc" "$HIVES/not-set.hiv"

props() { # edition display-name: sets PROPS
  PROPS=(--image-property "WINDOWS/EDITIONID=$1" --image-property "DISPLAYNAME=$2"
         --image-property "FLAGS=$1" --image-property WINDOWS/VERSION/MAJOR=10
         --image-property WINDOWS/VERSION/MINOR=0 --image-property WINDOWS/VERSION/BUILD=17763
         --image-property WINDOWS/VERSION/SPBUILD=1)
}
STD_NAME="Windows Server 2019 Standard"
DC_NAME="Windows Server 2019 Datacenter"
q() { "$@" >/dev/null; }

cd "$HERE"
rm -f ./*.wim ./*.esd
props ServerStandard "$STD_NAME"
for c in none xpress lzx; do
  q wimlib-imagex capture "$WORK/std" "$c.wim" "$STD_NAME" "Standard, $c" --compress=$c "${PROPS[@]}"
done
# Window order 18: 24-bit LZX block sizes, more position slots, and chunks
# of several blocks whose code lengths are coded as deltas.
q wimlib-imagex capture "$WORK/std" lzx-256k.wim "$STD_NAME" "Standard, LZX 256 KiB chunks" \
  --compress=lzx --chunk-size=262144 "${PROPS[@]}"
# Two editions sharing all blobs but SYSTEM, as in install.wim.
q wimlib-imagex capture "$WORK/std" two-images.wim "$STD_NAME" "Standard edition" \
  --compress=lzx "${PROPS[@]}"
props ServerDatacenter "$DC_NAME"
q wimlib-imagex append "$WORK/dc" two-images.wim "$DC_NAME" "Datacenter edition" "${PROPS[@]}"
# Tiny ones (the SYSTEM hive only), for mutation tests and fuzzing seeds.
mkdir -p "$WORK/tiny/Windows/System32/config"
cp "$HIVES/compliant.hiv" "$WORK/tiny/Windows/System32/config/SYSTEM"
for c in none xpress lzx; do
  q wimlib-imagex capture "$WORK/tiny" "tiny-$c.wim" "$STD_NAME" --compress=$c
done
# Refused, also tiny: what install.esd looks like (solid, LZMS); LZMS alone;
# solid alone (LZX metadata, file data in one solid LZX resource).
q wimlib-imagex capture "$WORK/tiny" lzms-solid.esd "$STD_NAME" --compress=lzms --solid
q wimlib-imagex capture "$WORK/tiny" lzms.wim "$STD_NAME" --compress=lzms
q wimlib-imagex capture "$WORK/tiny" solid-lzx.wim "$STD_NAME" --compress=lzx --solid \
  --solid-compress=lzx

# Manifest of both trees: SHA-1, size, path (directories and the link omitted).
for img in std dc; do
  (cd "$WORK/$img" && find . -type f | LC_ALL=C sort | while read -r f; do
     printf '%s %s %s %s\n' "$img" "$(sha1sum "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "${f#./}"
   done)
done > payload.sha1
ls -l ./*.wim ./*.esd
