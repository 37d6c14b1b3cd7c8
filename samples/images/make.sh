#!/usr/bin/env bash
# Builds the disk images in this folder from the sample hives, with no mount
# and no root (research: shared/research/disk-images.md §5). The one exception
# is compressed.raw, which needs an ntfs-3g FUSE mount (root and /dev/fuse);
# without them the committed compressed.raw is kept as it is.
#
# Needs: ntfs-3g (mkntfs), wimtools (wimlib-imagex), gdisk (sgdisk),
# fdisk (sfdisk), qemu-utils (qemu-img), ewf-tools (ewfacquire, ewfverify,
# ewfexport), python3; dosfstools (mkfs.fat) for the EFI system partition
# (left unformatted without it).
#
# The hives come from samples/hives/ and payload/SOFTWARE.hiv (written by
# `TLSREG_WRITE_SAMPLES=1 cargo test --test volumes`). mkntfs and sgdisk pick
# random serial numbers and GUIDs, so a rebuild differs from the committed
# files byte for byte, but not in anything the tests look at.
set -euo pipefail
cd "$(dirname "$0")"
HIVES=../hives
SOFTWARE=payload/SOFTWARE.hiv
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export LC_ALL=C

# payload DIR SYSTEM_HIVE [odd]: a Windows tree. "odd" spells the path in
# other cases (WINDOWS\system32\Config\system) and gives the logs contents.
payload() {
  local dir=$TMP/$1 hive=$2 odd=${3:-}
  if [ -z "$odd" ]; then
    local cfg=$dir/Windows/System32/config
    mkdir -p "$cfg" "$dir/Windows/System32/drivers/etc" "$dir/Users/Public"
    cp "$hive" "$cfg/SYSTEM"
    : >"$cfg/SYSTEM.LOG1"
    : >"$cfg/SYSTEM.LOG2"
    cp "$SOFTWARE" "$cfg/SOFTWARE"
    printf 'dummy SAM\n' >"$cfg/SAM"
    printf '127.0.0.1 localhost\r\n' >"$dir/Windows/System32/drivers/etc/hosts"
  else
    local cfg=$dir/WINDOWS/system32/Config
    mkdir -p "$cfg" "$dir/WINDOWS/system32/drivers/etc"
    cp "$hive" "$cfg/system"
    printf 'log1 of the second install' >"$cfg/system.LOG1"
    printf 'log2' >"$cfg/system.LOG2"
    printf 'an old-style log' >"$cfg/SYSTEM.LOG"
    printf '127.0.0.1 localhost\r\n' >"$dir/WINDOWS/system32/drivers/etc/hosts"
  fi
}

# ntfs VOLFILE SECTORS START_SECTOR SRC_DIR LABEL [mkntfs options]: an NTFS
# volume file holding SRC_DIR.
ntfs() {
  local vol=$1 sectors=$2 start=$3 src=$4 label=$5
  shift 5
  rm -f "$vol"
  truncate -s $((sectors * 512)) "$vol"
  mkntfs -F -Q -q -s 512 -p "$start" -H 255 -S 63 -L "$label" "$@" "$vol" 2>/dev/null
  if [ -n "$src" ]; then
    wimlib-imagex capture "$src" "$TMP/tree.wim" tree --compress=none >/dev/null
    wimlib-imagex apply "$TMP/tree.wim" 1 "$vol" >/dev/null
    rm -f "$TMP/tree.wim"
  fi
}

# put DISK VOLFILE START_SECTOR: writes the volume into the disk.
put() {
  dd if="$2" of="$1" bs=512 seek="$3" conv=notrunc,sparse status=none
}

# range DISK N: "start end" sectors of GPT partition N.
range() {
  sgdisk -i "$2" "$1" | awk '/First sector/{s=$3} /Last sector/{e=$3} END{print s, e}'
}

# ovf OVF_VERSION NAME FILE:CAPACITY...: an OVF descriptor (on stdout) for a
# virtual machine NAME whose disks are FILE (in the OVA, with its size) of
# CAPACITY bytes, streamOptimized VMDKs, written the way VirtualBox and
# ovftool write theirs: References, DiskSection, then VirtualSystem with one
# SCSI controller holding the disks.
ovf() {
  local version=$1 name=$2 ns i=0 spec file capacity
  shift 2
  ns=http://schemas.dmtf.org/ovf/envelope/${version%%.*}
  cat <<XML
<?xml version="1.0" encoding="UTF-8"?>
<Envelope ovf:version="$version" xml:lang="en-US" xmlns="$ns" xmlns:ovf="$ns" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
XML
  for spec in "$@"; do
    i=$((i + 1))
    file=${spec%%:*}
    printf '    <File ovf:id="file%d" ovf:href="%s" ovf:size="%d"/>\n' "$i" "$file" "$(stat -c %s "$TMP/ova/$file")"
  done
  printf '  </References>\n  <DiskSection>\n    <Info>List of the virtual disks used in the package</Info>\n'
  i=0
  for spec in "$@"; do
    i=$((i + 1))
    capacity=${spec##*:}
    printf '    <Disk ovf:capacity="%d" ovf:diskId="vmdisk%d" ovf:fileRef="file%d" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>\n' "$capacity" "$i" "$i"
  done
  cat <<XML
  </DiskSection>
  <VirtualSystem ovf:id="$name">
    <Info>A virtual machine</Info>
    <Name>$name</Name>
    <OperatingSystemSection ovf:id="112">
      <Info>The kind of installed guest operating system</Info>
      <Description>Microsoft Windows Server 2019 (64-bit)</Description>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>$name</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-14</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:Description>SCSI Controller</rasd:Description>
        <rasd:ElementName>SCSI controller 0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>lsilogicsas</rasd:ResourceSubType>
        <rasd:ResourceType>6</rasd:ResourceType>
      </Item>
XML
  i=0
  for spec in "$@"; do
    i=$((i + 1))
    cat <<XML
      <Item>
        <rasd:AddressOnParent>$((i - 1))</rasd:AddressOnParent>
        <rasd:ElementName>Hard disk $i</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk$i</rasd:HostResource>
        <rasd:InstanceID>$((i + 3))</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
XML
  done
  printf '    </VirtualHardwareSection>\n  </VirtualSystem>\n</Envelope>\n'
}

# ova FORMAT OUT NAME OVF_VERSION FILE:CAPACITY...: OUT, a tar (GNU tar,
# --format=FORMAT) of NAME.ovf, NAME.mf (ovftool's "SHA256(file)= hex"
# lines) and the disk files in $TMP/ova, in that order (the OVF first, as
# the specification asks). Times and owners are fixed so a rebuild from the
# same disks is the same file.
ova() {
  local format=$1 out=$2 name=$3 version=$4 spec files=() pax=()
  shift 4
  [ "$format" = pax ] && pax=(--pax-option='exthdr.name=%d/PaxHeaders/%f,atime:=0,ctime:=0')
  for spec in "$@"; do files+=("${spec%%:*}"); done
  ovf "$version" "$name" "$@" >"$TMP/ova/$name.ovf"
  (cd "$TMP/ova" && sha256sum --tag "$name.ovf" "${files[@]}" | sed 's/^SHA256 (\(.*\)) = /SHA256(\1)= /') >"$TMP/ova/$name.mf"
  tar --format="$format" "${pax[@]}" \
    --mtime=@0 --owner=0 --group=0 --numeric-owner --mode=0644 \
    -C "$TMP/ova" -cf "$out" "$name.ovf" "$name.mf" "${files[@]}"
}

# gpt.ova (ustar, OVF 1.0): gpt-stream.vmdk as gpt-disk1.vmdk.
# ../../tests/ova/two-disks.ova (pax, OVF 2.0): that disk and mbr.raw as a
# streamOptimized VMDK, so each disk has its own verdict (compliant, not
# compliant); kept out of samples/ so the fleet samples' summary still fits
# one screen (a noncompliant input is a line of it).
build_ova() {
  mkdir -p "$TMP/ova"
  cp gpt-stream.vmdk "$TMP/ova/gpt-disk1.vmdk"
  qemu-img convert -f raw -O vmdk -o subformat=streamOptimized mbr.raw "$TMP/ova/mbr-disk2.vmdk"
  ova ustar gpt.ova gpt 1.0 gpt-disk1.vmdk:12582912
  ova pax ../../tests/ova/two-disks.ova two-disks 2.0 gpt-disk1.vmdk:12582912 mbr-disk2.vmdk:8388608
  tar -tvf gpt.ova
  tar -tvf ../../tests/ova/two-disks.ova
}
if [ "${1:-}" = ova ]; then
  build_ova
  exit 0
fi

payload compliant "$HIVES/compliant.hiv"
payload not-set "$HIVES/not-set.hiv"
payload not-set-odd "$HIVES/not-set.hiv" odd
mkdir -p "$TMP/recovery/Recovery/WindowsRE" "$TMP/data/Data" "$TMP/data/Windows/System32/config"
printf '<WindowsRE version="2.0"/>\r\n' >"$TMP/recovery/Recovery/WindowsRE/ReAgent.xml"
printf 'no Windows here\n' >"$TMP/data/Data/readme.txt"
# A config folder without SYSTEM: not an install.
printf 'dummy SAM\n' >"$TMP/data/Windows/System32/config/SAM"
cp "$SOFTWARE" "$TMP/data/Windows/System32/config/SOFTWARE"

# gpt.raw, 12 MiB: ESP (FAT) + MSR + Windows (basic data, NTFS) + Recovery
# (WinRE, NTFS without Windows), as Windows setup lays a GPT disk out.
rm -f gpt.raw
truncate -s 12M gpt.raw
sgdisk -n 1:2048:+1M -t 1:ef00 -c 1:"EFI system partition" \
  -n 2:0:+1M -t 2:0c01 -c 2:"Microsoft reserved partition" \
  -n 3:0:+6M -t 3:0700 -c 3:"Basic data partition" \
  -n 4:0:+2M -t 4:2700 -c 4:"Recovery" gpt.raw >/dev/null
read -r S E < <(range gpt.raw 1)
if command -v mkfs.fat >/dev/null; then
  truncate -s $(((E - S + 1) * 512)) "$TMP/esp"
  mkfs.fat -n SYSTEM "$TMP/esp" >/dev/null
  put gpt.raw "$TMP/esp" "$S"
fi
read -r S E < <(range gpt.raw 3)
ntfs "$TMP/vol" $((E - S + 1)) "$S" "$TMP/compliant" Windows
put gpt.raw "$TMP/vol" "$S"
read -r S E < <(range gpt.raw 4)
ntfs "$TMP/vol" $((E - S + 1)) "$S" "$TMP/recovery" Recovery
put gpt.raw "$TMP/vol" "$S"

# mbr.raw, 8 MiB: one primary NTFS partition, type 0x07.
rm -f mbr.raw
truncate -s 8M mbr.raw
printf 'label: dos\nlabel-id: 0x7e57d15c\nstart=2048, type=7, bootable\n' | sfdisk -q mbr.raw
ntfs "$TMP/vol" $((16384 - 2048)) 2048 "$TMP/not-set" Windows
put mbr.raw "$TMP/vol" 2048

# two-windows.raw, 12 MiB, MBR: primary 1 NTFS with Windows (compliant),
# extended 2 holding logical 5 (NTFS, Windows, not-set, odd case) and
# logical 6 (NTFS, no Windows): the EBR chain has two links.
rm -f two-windows.raw
truncate -s 12M two-windows.raw
sfdisk -q two-windows.raw <<'EOF'
label: dos
label-id: 0x7e57d0b1
start=2048, size=8192, type=7, bootable
start=10240, type=5
start=12288, size=6144, type=7
start=20480, size=4096, type=7
EOF
ntfs "$TMP/vol" 8192 2048 "$TMP/compliant" "Windows A"
put two-windows.raw "$TMP/vol" 2048
ntfs "$TMP/vol" 6144 12288 "$TMP/not-set-odd" "Windows B"
put two-windows.raw "$TMP/vol" 12288
ntfs "$TMP/vol" 4096 20480 "$TMP/data" Data
put two-windows.raw "$TMP/vol" 20480

# bare-ntfs.raw, 4 MiB: an NTFS volume with no partition table.
ntfs bare-ntfs.raw 8192 0 "$TMP/compliant" Windows

# ../../tests/prerequisites/exchange-cu7.raw, 4 MiB: a bare NTFS volume, compliant
# SYSTEM, whose SOFTWARE (tests/prerequisites/SOFTWARE-ex2016cu7.hiv, written by
# `TLSREG_WRITE_SAMPLES=1 cargo test --test prerequisites`) holds Exchange 2016 CU7:
# prerequisite-exchange. Kept out of samples/ so the fleet samples stay as they are.
build_exchange_cu7() {
  local out=../../tests/prerequisites
  payload exchange-cu7 "$HIVES/compliant.hiv"
  cp "$out/SOFTWARE-ex2016cu7.hiv" "$TMP/exchange-cu7/Windows/System32/config/SOFTWARE"
  ntfs "$out/exchange-cu7.raw" 8192 0 "$TMP/exchange-cu7" Windows
}
build_exchange_cu7

# no-windows.raw, 4 MiB, GPT: one basic data NTFS volume without Windows.
rm -f no-windows.raw
truncate -s 4M no-windows.raw
sgdisk -n 1:2048:0 -t 1:0700 -c 1:"Basic data partition" no-windows.raw >/dev/null
read -r S E < <(range no-windows.raw 1)
ntfs "$TMP/vol" $((E - S + 1)) "$S" "$TMP/data" Data
put no-windows.raw "$TMP/vol" "$S"

# bitlocker.raw, 4 MiB, MBR: a type 0x07 partition whose boot sector is a
# BitLocker one (OEM id -FVE-FS-, the BitLocker GUID at 0xA0), with 64 KiB
# of pseudo-random "ciphertext" after it.
rm -f bitlocker.raw
truncate -s 4M bitlocker.raw
printf 'label: dos\nlabel-id: 0x7e57b17c\nstart=2048, type=7\n' | sfdisk -q bitlocker.raw
python3 - <<'EOF'
import struct, uuid
boot = bytearray(512)
boot[0:3] = b"\xeb\x58\x90"
boot[3:11] = b"-FVE-FS-"
struct.pack_into("<HBH", boot, 11, 512, 8, 0)      # bytes/sector, sectors/cluster, reserved
boot[21] = 0xF8                                    # media descriptor
struct.pack_into("<I", boot, 28, 2048)             # hidden sectors
boot[160:176] = uuid.UUID("4967d63b-2e29-4ad8-8399-f6a339e3d001").bytes_le
struct.pack_into("<QQQ", boot, 176, 0x100000, 0x110000, 0x120000)  # FVE metadata offsets
boot[510:512] = b"\x55\xaa"
x, noise = 0x243F6A8885A308D3, bytearray()
for _ in range(65536):
    x = (x * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
    noise.append(x >> 56)
with open("bitlocker.raw", "r+b") as f:
    f.seek(2048 * 512); f.write(boot); f.write(noise)
EOF

# truncated.raw: the first 6 MiB of gpt.raw; partition 3 (Windows) is cut.
head -c 6M gpt.raw >truncated.raw

# compressed.raw, 8 MiB, MBR: NTFS with 4 KiB clusters whose config folder is
# NTFS-compressed (LZNT1), holding SYSTEM, SOFTWARE, empty logs and MIXED, a
# file whose compression units are compressed, stored raw, sparse and short.
if [ "$(id -u)" = 0 ] && [ -e /dev/fuse ] && command -v ntfs-3g >/dev/null && command -v setfattr >/dev/null; then
  rm -f compressed.raw
  truncate -s 8M compressed.raw
  printf 'label: dos\nlabel-id: 0x7e57c0de\nstart=2048, type=7\n' | sfdisk -q compressed.raw
  ntfs "$TMP/vol" $((16384 - 2048)) 2048 "" Windows -c 4096 -C
  mkdir -p "$TMP/mnt"
  ntfs-3g -o compression "$TMP/vol" "$TMP/mnt"
  (
    trap 'umount "$TMP/mnt"' EXIT
    cfg=$TMP/mnt/Windows/System32/config
    mkdir -p "$cfg"
    setfattr -h -v 0x00000800 -n system.ntfs_attrib_be "$cfg"
    cp "$HIVES/compliant.hiv" "$cfg/SYSTEM"
    : >"$cfg/SYSTEM.LOG1"
    : >"$cfg/SYSTEM.LOG2"
    cp "$SOFTWARE" "$cfg/SOFTWARE"
    python3 ./mixed.py >"$cfg/MIXED"
    cmp "$cfg/SYSTEM" "$HIVES/compliant.hiv"
  )
  put compressed.raw "$TMP/vol" 2048
else
  echo "make.sh: no root or no FUSE; compressed.raw not rebuilt" >&2
fi

# The GPT disk in each container format the image readers take.
qemu-img convert -f raw -O vpc -o subformat=dynamic,force_size=on gpt.raw gpt.vhd
qemu-img convert -f raw -O vpc -o subformat=fixed,force_size=on gpt.raw gpt-fixed.vhd
qemu-img convert -f raw -O vhdx -o subformat=dynamic gpt.raw gpt.vhdx
qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse gpt.raw gpt.vmdk
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized gpt.raw gpt-stream.vmdk
qemu-img convert -f raw -O qcow2 gpt.raw gpt.qcow2
qemu-img convert -f raw -O qcow2 -c gpt.raw gpt-z.qcow2
for f in gpt.vhd gpt-fixed.vhd gpt.vhdx gpt.vmdk gpt-stream.vmdk gpt.qcow2 gpt-z.qcow2; do
  qemu-img convert -O raw "$f" "$TMP/back.raw"
  cmp -n $((12 * 1024 * 1024)) "$TMP/back.raw" gpt.raw
done
ls -l ./*.raw ./*.vhd ./*.vhdx ./*.vmdk ./*.qcow2

# EnCase (EWF) sets made by ewfacquire (EnCase 6 format, its default):
# gpt.E01 holds gpt.raw in one segment, deflate-compressed;
# ../../tests/ewf/bare-ntfs.E01 to .E05 hold bare-ntfs.raw stored
# uncompressed in 1 MiB segments (kept out of samples/, whose fleet counts
# would otherwise have five more inputs). Each is verified (its MD5) and
# exported back to its raw disk.
split=../../tests/ewf
rm -f gpt.E01 "$split"/bare-ntfs.E??
mkdir -p "$split"
ewfacquire -u -q -t gpt -c deflate:fast -f encase6 -C sample -D gpt.raw -E 1 -e tlsreg -N "samples/images/make.sh" gpt.raw >/dev/null
ewfacquire -u -q -t "$split/bare-ntfs" -c none -S 1MiB -f encase6 -C sample -D bare-ntfs.raw -E 2 -e tlsreg -N "samples/images/make.sh" bare-ntfs.raw >/dev/null
for pair in gpt.E01:gpt.raw "$split/bare-ntfs.E01:bare-ntfs.raw"; do
  ewfverify -q "${pair%%:*}" >/dev/null
  ewfexport -u -q -f raw -t "$TMP/back" "${pair%%:*}" >/dev/null
  cmp "$TMP/back.raw" "${pair##*:}"
  rm -f "$TMP/back.raw" "$TMP/back.raw.info"
done
ls -l gpt.E01 "$split"

# dirty.vhdx: one NTFS partition whose SYSTEM is ../hives/dirty/SYSTEM with
# its SYSTEM.LOG1 and SYSTEM.LOG2: the TLS keys are only in the logs, so the
# audit is compliant only if the logs from the image are replayed.
build_dirty() {
  local dir=$TMP/dirty/Windows/System32/config
  mkdir -p "$dir"
  cp "$HIVES/dirty/SYSTEM" "$HIVES/dirty/SYSTEM.LOG1" "$HIVES/dirty/SYSTEM.LOG2" "$dir/"
  cp "$SOFTWARE" "$dir/SOFTWARE"
  rm -f "$TMP/dirty.raw" dirty.vhdx
  truncate -s 8M "$TMP/dirty.raw"
  printf 'label: dos\nlabel-id: 0x0d127ee5\nstart=2048, type=7\n' | sfdisk -q "$TMP/dirty.raw"
  ntfs "$TMP/vol" $((16384 - 2048)) 2048 "$TMP/dirty" Windows
  put "$TMP/dirty.raw" "$TMP/vol" 2048
  qemu-img convert -f raw -O vhdx "$TMP/dirty.raw" dirty.vhdx
}
build_dirty
build_ova
