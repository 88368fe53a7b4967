#!/usr/bin/env bash
# Size benchmark (issue 17): for each architecture, the stripped static binary, its biggest
# sections, the .deb, and the bytes each dependency puts in (from the linker's map), side by
# side in one table.
#
# Usage: Benchmarks/size/run.sh [x86_64] [aarch64]    (default: both; root for aarch64, whose
#        cross-build runs in a chroot: Packaging/aarch64-toolchain.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
archs=("$@")
[ "${#archs[@]}" -gt 0 ] || archs=(x86_64 aarch64)
maps=()
for arch in "${archs[@]}"; do
    map="$PWD/.build-static/$arch/agora.map"
    mkdir -p "$(dirname "$map")"
    t0=$(date +%s)
    AGORA_LINK_MAP="$map" Packaging/build-static.sh --arch "$arch" > /dev/null 2> "$PWD/.build-static/$arch/size-build.log" \
        || { tail -20 "$PWD/.build-static/$arch/size-build.log" >&2; exit 1; }
    binary="Packaging/out/$arch/agora"
    deb="$(Packaging/build-deb.sh --arch "$arch" 2>/dev/null)"
    echo "== $arch (built in $(( $(date +%s) - t0 )) s)"
    echo "stripped static binary: $(stat -c %s "$binary") bytes"
    echo ".deb: $(stat -c %s "$deb") bytes ($(basename "$deb"))"
    /opt/swift/usr/bin/llvm-objdump -h "$binary" | while read -r _ name size _; do
        case "$name" in .text | .rodata | .eh_frame | .eh_frame_hdr | .data.rel.ro | .data) printf '  section %-14s %10d bytes\n' "$name" "$((16#$size))" ;; esac
    done
    maps+=("$arch=$map")
done
echo "== bytes each dependency puts into the loaded sections (unwind tables not attributed)"
/usr/bin/python3 Benchmarks/size/linkmap.py --compare "${maps[@]}"
