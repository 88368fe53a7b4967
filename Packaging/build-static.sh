#!/usr/bin/env bash
# Builds one static, stripped `agora` executable: Packaging/out/<arch>/agora.
#
#   Packaging/build-static.sh [--arch x86_64|aarch64]
#
# - Prefers the Static Linux SDK (musl) when one is installed for the architecture
#   (`swift sdk list`), else glibc with -static-executable.
# - liblmdb, libexpat and OpenSSL come from Debian's static archives (-dev packages).
#   Debian ships no libmosquitto.a, so one is built from Debian's mosquitto source package
#   (with Debian's patches; TLS on, no c-ares/SRV, no websockets, no cJSON) into
#   .build-static/mosquitto.
# - aarch64 needs an aarch64 Swift SDK: without one the script stops before building.
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
out="$PWD/Packaging/out/$arch"
mkdir -p "$scratch" "$out"

# --- Which SDK ------------------------------------------------------------------------------
sdk_args=()
musl_sdk="$(swift sdk list 2>/dev/null | grep -E "^${arch}-swift-linux-musl" | head -1 || true)"
if [ -n "$musl_sdk" ]; then
    echo "using the Static Linux SDK: $musl_sdk" >&2
    sdk_args=(--swift-sdk "$musl_sdk")
elif [ "$arch" != "$(uname -m)" ]; then
    cross="$(swift sdk list 2>/dev/null | grep -E "^${arch}" | head -1 || true)"
    if [ -z "$cross" ]; then
        echo "error: building for $arch on $(uname -m) needs an $arch Swift SDK (swift sdk install …); none is installed" >&2
        exit 1
    fi
    sdk_args=(--swift-sdk "$cross")
else
    echo "no Static Linux SDK for $arch: static glibc (-static-executable)" >&2
fi

# --- Debian's static archives ---------------------------------------------------------------
Scripts/install-deps.sh
need=(liblmdb-dev libexpat1-dev libssl-dev dpkg-dev make gcc)
missing=()
for p in "${need[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- libmosquitto.a from Debian's source package --------------------------------------------
mosq="$scratch/mosquitto"
if [ ! -f "$mosq/lib/libmosquitto.a" ]; then
    rm -rf "$mosq" "$scratch/apt"
    mkdir -p "$scratch/apt/lists/partial" "$scratch/src"
    version="$(dpkg-query -W -f='${Version}' libmosquitto-dev 2>/dev/null || true)"
    printf 'deb-src http://deb.debian.org/debian bookworm main\ndeb-src http://deb.debian.org/debian-security bookworm-security main\n' > "$scratch/apt/sources.list"
    apt_opts=(-o Dir::Etc::SourceList="$scratch/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$scratch/apt/lists")
    apt-get -q "${apt_opts[@]}" update >/dev/null
    (cd "$scratch/src" && apt-get -q "${apt_opts[@]}" source "mosquitto${version:+=$version}" >/dev/null 2>&1 \
        || apt-get -q "${apt_opts[@]}" source mosquitto >/dev/null)
    mv "$(find "$scratch/src" -maxdepth 1 -mindepth 1 -type d -name 'mosquitto-*' | head -1)" "$mosq"
    make -C "$mosq/lib" -j"$(nproc)" WITH_STATIC_LIBRARIES=yes WITH_SHARED_LIBRARIES=no WITH_CJSON=no WITH_SRV=no \
        WITH_WEBSOCKETS=no WITH_TLS=yes WITH_DOCS=no libmosquitto.a > "$scratch/mosquitto-build.log" 2>&1
fi
mkdir -p "$scratch/lib"
cp "$mosq/lib/libmosquitto.a" "$scratch/lib/"

# --- Build ----------------------------------------------------------------------------------
# The git description rides into `agora version` as a C macro (Sources/CAgoraBuildInfo).
version="$(git describe --tags --always --dirty 2>/dev/null || echo unknown)"
static_args=(-Xcc "-DAGORA_GIT_DESCRIPTION=\"$version\"")
# AGORA_LINK_MAP=FILE writes the linker's map (Benchmarks/size/run.sh reads it to say what each dependency costs).
if [ -n "${AGORA_LINK_MAP:-}" ]; then static_args+=(-Xlinker "-Map=$AGORA_LINK_MAP"); fi
if [ -z "$musl_sdk" ]; then
    static_args+=(-Xswiftc -static-executable)
fi
swift build -c release --product agora --scratch-path "$scratch/swift" "${sdk_args[@]}" \
    --static-swift-stdlib "${static_args[@]}" \
    -Xlinker -L"$scratch/lib" -Xlinker --gc-sections -Xlinker --icf=safe \
    -Xlinker -lmosquitto -Xlinker -lssl -Xlinker -lcrypto -Xlinker -lpthread 2>&1 \
    | grep -vE "Using '(getaddrinfo|getpwnam|getpwuid|getgrnam|getgrgid|dlopen|gethostbyname|getservbyname|getpwnam_r|getpwuid_r)'" >&2

binary="$(swift build -c release --product agora --scratch-path "$scratch/swift" "${sdk_args[@]}" --show-bin-path)/agora"
cp "$binary" "$out/agora"
strip "$out/agora"
echo "$version" > "$out/VERSION"
ls -l "$out/agora" >&2
if (ldd "$out/agora" 2>&1 || true) | grep -q "not a dynamic executable"; then
    echo "static: yes (ldd: not a dynamic executable)" >&2
else
    echo "error: $out/agora is dynamically linked:" >&2
    ldd "$out/agora" >&2
    exit 1
fi
echo "$out/agora"
