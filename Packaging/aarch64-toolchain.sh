#!/usr/bin/env bash
# Prepares what cross-building Agora for aarch64 needs, from Debian's archive alone:
#
#   Packaging/aarch64-toolchain.sh                  prepare (idempotent; each step says how long it took)
#   Packaging/aarch64-toolchain.sh --run DIR CMD…   run CMD in the chroot, in DIR (a host
#                                                   directory bound at the same path), with the
#                                                   local Swift package mirror bound read-only
#   Packaging/aarch64-toolchain.sh --remove         unmount and delete everything it made
#
# - An amd64 Debian sid chroot with sid's `swiftlang` (6.2.3): Debian 12's own Swift is too
#   old for the project's packages, /opt/swift 6.3.1 cannot use an SDK made from another
#   release's standard library, and sid's compiler needs sid's glibc — hence the chroot.
# - An aarch64 sysroot unpacked (never installed) from sid's arm64 .debs: libc, libgcc,
#   libstdc++, liblmdb, libexpat, and the `swiftlang:arm64` package's Swift runtime and static
#   libraries. (No OpenSSL: libmosquitto is built on swift-nio-ssl's BoringSSL.)
# - A Swift SDK bundle describing that sysroot to SwiftPM (`--swift-sdk agora-aarch64`),
#   linking with ld.lld.
#
# Everything lives under $AGORA_AARCH64_CACHE (default /var/cache/agora-aarch64); the arm64
# .debs used are kept there too, since sid moves. Prints, for build-static.sh to read:
# CHROOT, SYSROOT (host path), SDK_BUNDLES (path inside the chroot), SDK_NAME.
set -euo pipefail
cache="${AGORA_AARCH64_CACHE:-/var/cache/agora-aarch64}"
chroot_dir="$cache/sid-amd64"
debs="$cache/debs-arm64"
# Inside the chroot, so the compiler there sees the bundle at $sdk_bundles_inside.
sdk_bundles_inside="/opt/agora-sdks"
sdk_bundles="$chroot_dir$sdk_bundles_inside"
sdk_name="agora-aarch64"
bundle="$sdk_bundles/$sdk_name.artifactbundle"
sysroot="$bundle/$sdk_name/sysroot"
mirror="${AGORA_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

say() { echo "aarch64 toolchain: $*" >&2; }
step_start=0
begin() { step_start=$(date +%s); say "$1 …"; }
done_step() { say "$1 ($(( $(date +%s) - step_start )) s)"; }

# Mounts the chroot needs, and their exact undoing: never delete a chroot through a live
# /dev or /sys bind.
chroot_mounts() {
    for m in proc sys dev; do
        mountpoint -q "$chroot_dir/$m" && continue
        case "$m" in
            proc) mount -t proc proc "$chroot_dir/proc" ;;
            *) mount --rbind "/$m" "$chroot_dir/$m"; mount --make-rslave "$chroot_dir/$m" ;;
        esac
    done
}
chroot_unmount_all() {
    [ -d "$chroot_dir" ] || return 0
    # Deepest first.
    { findmnt -rn -o TARGET | grep -F "$chroot_dir/" || true; } | sort -r | while read -r target; do
        umount -l "$target" 2>/dev/null || true
    done
}

if [ "${1:-}" = "--run" ]; then
    [ -f "$chroot_dir/.agora-ready" ] || { echo "error: no chroot yet: run $0 first" >&2; exit 1; }
    workdir="$(realpath "$2")"; shift 2
    trap chroot_unmount_all EXIT
    chroot_mounts
    mkdir -p "$chroot_dir$workdir"
    mount --bind "$workdir" "$chroot_dir$workdir"
    # SwiftPM fetches github.com packages; here they come from the machine's mirror (git's
    # insteadOf, as on the host), never from the network.
    git_config="$chroot_dir/root/.gitconfig"
    : > "$git_config"
    for mirror_url in $(git config --get-regexp '^url\..*\.insteadof$' 2>/dev/null | awk '{print $1}' | sort -u); do
        local_dir="${mirror_url#url.}"; local_dir="${local_dir%.insteadof}"
        if [ -d "$local_dir" ]; then
            mkdir -p "$chroot_dir$local_dir"
            mountpoint -q "$chroot_dir$local_dir" || mount --bind -o ro "$local_dir" "$chroot_dir$local_dir"
            mount -o remount,bind,ro "$chroot_dir$local_dir"
        fi
        git config --get-all "$mirror_url" | while read -r from; do
            git config --file "$git_config" --add "$mirror_url" "$from"
        done
    done
    status=0
    in_chroot_cd() { chroot "$chroot_dir" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
        sh -c 'cd "$0" && exec "$@"' "$workdir" "$@"; }
    in_chroot_cd "$@" || status=$?
    exit "$status"
fi
if [ "${1:-}" = "--remove" ]; then
    chroot_unmount_all
    if findmnt -rn -o TARGET | grep -qF "$chroot_dir/"; then
        echo "error: something is still mounted under $chroot_dir; not deleting" >&2
        exit 1
    fi
    rm -rf "$cache"
    say "removed $cache"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "error: preparing the aarch64 toolchain needs root (debootstrap, chroot, mount)" >&2
    exit 1
fi
mkdir -p "$cache" "$debs"
trap chroot_unmount_all EXIT

host_need=()
command -v debootstrap >/dev/null || host_need+=(debootstrap)
[ -x /usr/bin/qemu-aarch64-static ] || host_need+=(qemu-user-static)
if [ "${#host_need[@]}" -gt 0 ]; then
    begin "installing ${host_need[*]} on the host"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${host_need[@]}" >/dev/null
    done_step "installed ${host_need[*]}"
fi

# --- 1. The amd64 sid chroot with swiftlang -----------------------------------------------
in_chroot() { chroot "$chroot_dir" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
if [ ! -f "$chroot_dir/.agora-ready" ]; then
    chroot_unmount_all
    rm -rf "$chroot_dir"
    begin "debootstrap: a minimal amd64 Debian sid in $chroot_dir"
    debootstrap --variant=minbase --arch=amd64 sid "$chroot_dir" "$mirror" > "$cache/debootstrap.log" 2>&1 \
        || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
    done_step "debootstrap finished"
    # The mirror here is a snapshot whose Release files have expired.
    echo 'Acquire::Check-Valid-Until "false";' > "$chroot_dir/etc/apt/apt.conf.d/99agora-snapshot"
    echo "deb $mirror sid main" > "$chroot_dir/etc/apt/sources.list"
    cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf" 2>/dev/null || true
    chroot_mounts
    begin "installing swiftlang, g++, git, file in the chroot"
    in_chroot dpkg --add-architecture arm64
    in_chroot apt-get update -q > "$cache/apt.log" 2>&1 || { tail -20 "$cache/apt.log" >&2; exit 1; }
    in_chroot env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        swiftlang g++ git file ca-certificates pkgconf make >> "$cache/apt.log" 2>&1 \
        || { tail -20 "$cache/apt.log" >&2; exit 1; }
    done_step "chroot ready: $(in_chroot swift --version 2>&1 | head -1)"
    touch "$chroot_dir/.agora-ready"
fi
chroot_mounts

# --- 2. The aarch64 sysroot ---------------------------------------------------------------
if [ ! -f "$bundle/.agora-ready" ]; then
    rm -rf "$bundle"
    mkdir -p "$sysroot"
    gcc_major="$(in_chroot gcc -dumpversion | cut -d. -f1)"
    # linux-libc-dev is Architecture: all in sid (every architecture's asm headers).
    packages=(libc6 libc6-dev libcrypt1 libcrypt-dev libgcc-s1 "libgcc-$gcc_major-dev"
        libstdc++6 "libstdc++-$gcc_major-dev" libatomic1 liblmdb0 liblmdb-dev libexpat1 libexpat1-dev swiftlang)
    if ! ls "$debs"/swiftlang_*_arm64.deb >/dev/null 2>&1; then
        begin "downloading $(( ${#packages[@]} + 1 )) arm64 packages"
        in_chroot apt-get update -q >/dev/null 2>&1 || true
        mkdir -p "$chroot_dir/tmp/arm64-debs"
        in_chroot sh -c "cd /tmp/arm64-debs && apt-get download -q linux-libc-dev $(printf '%s:arm64 ' "${packages[@]}")" \
            > "$cache/download.log" 2>&1 || { tail -20 "$cache/download.log" >&2; exit 1; }
        mv "$chroot_dir"/tmp/arm64-debs/*.deb "$debs/"
        done_step "downloaded $(ls "$debs" | wc -l) packages ($(du -sh "$debs" | cut -f1))"
    fi
    begin "unpacking the sysroot"
    for deb in "$debs"/*.deb; do
        case "$(basename "$deb")" in
            swiftlang_*)
                # Only the target's Swift runtime, static libraries and clang headers.
                dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$sysroot" --wildcards \
                    './usr/libexec/swift/lib/swift/*' './usr/libexec/swift/lib/swift_static/*' \
                    './usr/libexec/swift/lib/clang/*' ;;
            *) dpkg-deb -x "$deb" "$sysroot" ;;
        esac
    done
    # Debian keeps Swift's resource directories under /usr/libexec/swift/lib; the driver looks
    # for them under <sysroot>/usr/lib.
    ln -sfn ../libexec/swift/lib/swift "$sysroot/usr/lib/swift"
    ln -sfn ../libexec/swift/lib/swift_static "$sysroot/usr/lib/swift_static"
    # Absolute symlinks inside the sysroot (e.g. libm.so -> /lib/aarch64-linux-gnu/libm.so.6)
    # would point at the build host: make them relative.
    find "$sysroot" -type l -lname '/*' | while read -r link; do
        target="$(readlink "$link")"
        ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$sysroot$target")" "$link"
    done
    done_step "sysroot unpacked ($(du -sh "$sysroot" | cut -f1))"

    cat > "$bundle/info.json" <<EOF
{
  "schemaVersion": "1.0",
  "artifacts": {
    "$sdk_name": {
      "type": "swiftSDK",
      "version": "1",
      "variants": [ { "path": "$sdk_name", "supportedTriples": ["x86_64-unknown-linux-gnu", "x86_64-pc-linux-gnu"] } ]
    }
  }
}
EOF
    cat > "$bundle/$sdk_name/swift-sdk.json" <<EOF
{
  "schemaVersion": "4.0",
  "targetTriples": {
    "aarch64-unknown-linux-gnu": {
      "sdkRootPath": "sysroot",
      "swiftResourcesPath": "sysroot/usr/lib/swift",
      "swiftStaticResourcesPath": "sysroot/usr/lib/swift_static",
      "toolsetPaths": ["toolset.json"]
    }
  }
}
EOF
    cat > "$bundle/$sdk_name/toolset.json" <<'EOF'
{
  "schemaVersion": "1.0",
  "rootPath": "/usr/libexec/swift/bin",
  "linker": { "path": "ld.lld" },
  "swiftCompiler": { "extraCLIOptions": ["-use-ld=lld"] },
  "cCompiler": { "extraCLIOptions": ["-fuse-ld=lld"] },
  "cxxCompiler": { "extraCLIOptions": ["-fuse-ld=lld"] }
}
EOF
    touch "$bundle/.agora-ready"
fi

# Where build-static.sh finds things: SYSROOT on the host, SDK_BUNDLES inside the chroot.
echo "CHROOT=$chroot_dir"
echo "SYSROOT=$sysroot"
echo "SDK_BUNDLES=$sdk_bundles_inside"
echo "SDK_NAME=$sdk_name"
