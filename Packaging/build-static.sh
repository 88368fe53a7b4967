#!/usr/bin/env bash
# Builds one static, stripped `agora` executable: Packaging/out/<arch>/agora.
#
#   Packaging/build-static.sh [--arch x86_64|aarch64]
#
# - Prefers the Static Linux SDK (musl) when one is installed for the architecture
#   (`swift sdk list`), else glibc with -static-executable.
# - liblmdb and libexpat come from Debian's static archives (-dev packages).
# - Debian ships no libmosquitto.a, so one is built from Debian's mosquitto source package
#   (with Debian's patches; TLS on, no c-ares/SRV, no websockets, no cJSON) into
#   .build-static/<arch>/mosquitto — against swift-nio-ssl's BoringSSL, which the binary
#   has anyway, rather than Debian's OpenSSL (3.3 MB more, only for it): see
#   Packaging/mosquitto-boringssl.patch for what BoringSSL lacks and what that changes.
# - aarch64 on an x86_64 host: cross-built with Debian sid's swiftlang (6.2.3) in a chroot and
#   an aarch64 sysroot from sid's arm64 .debs, both prepared (and cached under
#   /var/cache/agora-aarch64) by Packaging/aarch64-toolchain.sh; libmosquitto from the same
#   Debian source package as x86_64, cross-compiled with clang. Needs root (chroot, mount).
# Static glibc caveats: Agora does no NSS look-ups at run time (no getpwnam — systemd
# supplies the user — and listen/broker addresses are numeric or resolved from /etc/hosts
# by glibc's files backend, which a static binary still has; see README "Build from source").
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/env.sh

arch="$(uname -m)"
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) arch="$2"; shift 2 ;;
        *) echo "usage: $0 [--arch x86_64|aarch64]" >&2; exit 2 ;;
    esac
done
case "$arch" in x86_64 | aarch64) ;; *) echo "unsupported architecture: $arch" >&2; exit 2 ;; esac

scratch="$PWD/.build-static"
# What static glibc's linker says about NSS and dlopen (see the caveats above): known, not news.
static_glibc_warnings="Using '(getaddrinfo|getpwnam|getpwuid|getgrnam|getgrgid|dlopen|gethostbyname|getservbyname|getpwnam_r|getpwuid_r)'"
out="$PWD/Packaging/out/$arch"
mkdir -p "$scratch" "$out"

# --- Which SDK ------------------------------------------------------------------------------
sdk_args=()
cross=0
musl_sdk="$(swift sdk list 2>/dev/null | grep -E "^${arch}-swift-linux-musl" | head -1 || true)"
if [ -n "$musl_sdk" ]; then
    echo "using the Static Linux SDK: $musl_sdk" >&2
    sdk_args=(--swift-sdk "$musl_sdk")
elif [ "$arch" != "$(uname -m)" ]; then
    if [ "$arch" != aarch64 ] || [ "$(uname -m)" != x86_64 ]; then
        echo "error: cross-building for $arch on $(uname -m) is not supported" >&2
        exit 1
    fi
    cross=1
    t0=$(date +%s)
    eval "$(Packaging/aarch64-toolchain.sh)"   # CHROOT, SYSROOT, SDK_BUNDLES, SDK_NAME
    echo "aarch64 toolchain ready ($(( $(date +%s) - t0 )) s)" >&2
    sdk_args=(--swift-sdks-path "$SDK_BUNDLES" --swift-sdk "$SDK_NAME")
else
    echo "no Static Linux SDK for $arch: static glibc (-static-executable)" >&2
fi

# --- Debian's static archives ---------------------------------------------------------------
Scripts/install-deps.sh
need=(liblmdb-dev libexpat1-dev dpkg-dev make patch file binutils)
missing=()
for p in "${need[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- libmosquitto.a from Debian's source package --------------------------------------------
# Bookworm's mosquitto (the version the x86_64 host's libmosquitto-dev has) for both
# architectures: one pristine source tree, one build per architecture.
mosq_src="$scratch/mosquitto-source"
if [ ! -f "$mosq_src/lib/Makefile" ]; then
    rm -rf "$mosq_src" "$scratch/apt" "$scratch/src"
    mkdir -p "$scratch/apt/lists/partial" "$scratch/src"
    version="$(dpkg-query -W -f='${Version}' libmosquitto-dev 2>/dev/null || true)"
    printf 'deb-src http://deb.debian.org/debian bookworm main\ndeb-src http://deb.debian.org/debian-security bookworm-security main\n' > "$scratch/apt/sources.list"
    apt_opts=(-o Dir::Etc::SourceList="$scratch/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$scratch/apt/lists")
    apt-get -q "${apt_opts[@]}" update >/dev/null
    (cd "$scratch/src" && apt-get -q "${apt_opts[@]}" source "mosquitto${version:+=$version}" >/dev/null 2>&1 \
        || apt-get -q "${apt_opts[@]}" source mosquitto >/dev/null)
    mv "$(find "$scratch/src" -maxdepth 1 -mindepth 1 -type d -name 'mosquitto-*' | head -1)" "$mosq_src"
fi
# swift-nio-ssl's checkout holds the BoringSSL headers libmosquitto is compiled against.
if [ "$cross" = 1 ]; then
    swift_scratch="$scratch/$arch/swift"
    Packaging/aarch64-toolchain.sh --run "$PWD" swift package resolve --scratch-path "$swift_scratch" >&2
else
    swift_scratch="$scratch/swift"
    swift package resolve --scratch-path "$swift_scratch" >&2
fi
boringssl_include="$swift_scratch/checkouts/swift-nio-ssl/Sources/CNIOBoringSSL/include"
[ -f "$boringssl_include/CNIOBoringSSL_ssl.h" ] || { echo "error: no BoringSSL headers in $boringssl_include" >&2; exit 1; }
# Rebuilt every time (seconds): it must match the BoringSSL of this build.
t0=$(date +%s)
mosq="$scratch/$arch/mosquitto"
rm -rf "$mosq" "$scratch/$arch/openssl-shim"; mkdir -p "$scratch/$arch/openssl-shim/openssl"
cp -a "$mosq_src" "$mosq"
patch -s -p1 -d "$mosq" < Packaging/mosquitto-boringssl.patch
# <openssl/X.h> → <CNIOBoringSSL_X.h>, whose symbols are CNIOBoringSSL_-prefixed.
for header in "$boringssl_include"/CNIOBoringSSL_*.h; do
    name="$(basename "$header")"
    echo "#include <$name>" > "$scratch/$arch/openssl-shim/openssl/${name#CNIOBoringSSL_}"
done
mosq_cc=/opt/swift/usr/bin/clang
[ "$cross" = 1 ] && mosq_cc="$mosq_cc --target=aarch64-linux-gnu --sysroot=$SYSROOT"
make -C "$mosq/lib" -j"$(nproc)" CC="$mosq_cc" AR=/opt/swift/usr/bin/llvm-ar \
    CFLAGS="-O2 -Wall -ffunction-sections -fdata-sections -I$scratch/$arch/openssl-shim -I$boringssl_include" \
    WITH_STATIC_LIBRARIES=yes WITH_SHARED_LIBRARIES=no WITH_CJSON=no WITH_SRV=no \
    WITH_WEBSOCKETS=no WITH_TLS=yes WITH_DOCS=no libmosquitto.a > "$scratch/$arch/mosquitto-build.log" 2>&1 \
    || { tail -20 "$scratch/$arch/mosquitto-build.log" >&2; exit 1; }
if /opt/swift/usr/bin/llvm-nm -u "$mosq/lib/libmosquitto.a" | grep -qE ' U (SSL|X509|ERR|EVP|BIO|OPENSSL)_'; then
    echo "error: libmosquitto.a still names unprefixed OpenSSL symbols" >&2; exit 1
fi
echo "libmosquitto.a for $arch on BoringSSL built ($(( $(date +%s) - t0 )) s)" >&2
mkdir -p "$scratch/$arch/lib"
cp "$mosq/lib/libmosquitto.a" "$scratch/$arch/lib/"

# --- Build ----------------------------------------------------------------------------------
# The git description is written into the linked binary (Packaging/stamp-binary.py), so a
# new commit recompiles nothing.
version="$(git describe --tags --always --dirty 2>/dev/null || echo unknown)"
static_args=()
# AGORA_LINK_MAP=FILE writes the linker's map (Benchmarks/size/run.sh reads it to say what each dependency costs).
if [ -n "${AGORA_LINK_MAP:-}" ]; then static_args+=(-Xlinker "-Map=$AGORA_LINK_MAP"); fi
if [ -z "$musl_sdk" ]; then
    static_args+=(-Xswiftc -static-executable)
fi
# SwiftPM does not see libmosquitto.a (a linker argument): always relink, so a changed patch
# or BoringSSL cannot leave an old archive in the binary.
find "$swift_scratch" -path '*/release/agora' -type f -delete 2>/dev/null || true
link_args=(-Xlinker -L"$scratch/$arch/lib" -Xlinker --gc-sections -Xlinker --icf=safe
    -Xlinker -lmosquitto -Xlinker -lpthread)
t0=$(date +%s)
if [ "$cross" = 1 ]; then
    # The x86_64 host has libmosquitto-dev's header; the sysroot does not: use the source's.
    # Debian's swiftlang is built with assertions, and one of them (that debug information
    # for a type local to a function can be read back) aborts on code 6.3.1 compiles: that
    # check is skipped; it verifies the debug info, which the stripped binary drops anyway.
    build=(swift build -c release --product agora --scratch-path "$swift_scratch" "${sdk_args[@]}"
        --static-swift-stdlib "${static_args[@]}" -Xcc -I"$mosq/include" "${link_args[@]}"
        -Xlinker --no-eh-frame-hdr -Xlinker -T -Xlinker "$PWD/Packaging/discard-unwind-tables.ld"
        -Xswiftc -Xfrontend -Xswiftc -disable-round-trip-debug-types)
    set +e
    Packaging/aarch64-toolchain.sh --run "$PWD" "${build[@]}" 2>&1 | grep -vE "$static_glibc_warnings" >&2
    status=${PIPESTATUS[0]}
    set -e
    [ "$status" -eq 0 ] || exit "$status"
    binary="$(Packaging/aarch64-toolchain.sh --run "$PWD" "${build[@]:0:8}" "${sdk_args[@]}" --show-bin-path 2>/dev/null | tail -1)/agora"
    strip_cmd=(/opt/swift/usr/bin/llvm-objcopy --strip-all)
else
    set +e
    swift build -c release --product agora --scratch-path "$swift_scratch" "${sdk_args[@]}" \
        --static-swift-stdlib "${static_args[@]}" "${link_args[@]}" 2>&1 | grep -vE "$static_glibc_warnings" >&2
    status=${PIPESTATUS[0]}
    set -e
    [ "$status" -eq 0 ] || exit "$status"
    binary="$(swift build -c release --product agora --scratch-path "$swift_scratch" "${sdk_args[@]}" --show-bin-path)/agora"
    strip_cmd=(strip)
    objcopy=objcopy
fi
echo "swift build for $arch: $(( $(date +%s) - t0 )) s" >&2

cp "$binary" "$out/agora"
"${strip_cmd[@]}" "$out/agora"
# Nothing unwinds in a normal run (see the script): 5 MB of unwind tables go.
[ "$cross" = 1 ] || /usr/bin/python3 Packaging/drop-unwind-tables.py "$out/agora" "$objcopy"
/usr/bin/python3 Packaging/stamp-binary.py "$out/agora" "$version"
echo "$version" > "$out/VERSION"
ls -l "$out/agora" >&2
# `file` reads the ELF headers of either architecture (ldd only runs the host's).
if file -b "$out/agora" | grep -q "statically linked"; then
    echo "static: yes ($(file -b "$out/agora" | cut -d, -f1-2))" >&2
else
    echo "error: $out/agora is dynamically linked: $(file -b "$out/agora")" >&2
    exit 1
fi
echo "$out/agora"
