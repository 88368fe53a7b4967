#!/usr/bin/env bash
# Installs the .deb into a fresh Debian 12 root made by debootstrap (issue 7) and checks:
#  - dpkg -i creates the agora user, the KEK (root, 0600) and the store (agora, 0700), and
#    `agora status` in that root says the store and ledger are healthy;
#  - dpkg -r removes the binary and unit but keeps the store, the KEK and the configuration;
#  - dpkg --purge removes the configuration and keeps the store unless AGORA_PURGE_STATE=yes,
#    which removes the store, the KEK and the user too;
#  - lintian reports nothing beyond the overrides shipped in the package.
# Run as root. The minbase root is cached in /var/cache/agora-check (a tarball of ~80 MB), so
# only the first run downloads Debian. An arm64 package is checked in an arm64 Debian 12 run
# by qemu-user-static through binfmt_misc (Packaging/qemu-binfmt.sh).
# Usage: Packaging/check-deb.sh [--arch amd64|arm64] [path/to/agora_*.deb]
set -euo pipefail
cd "$(dirname "$0")/.."
debarch="$(dpkg --print-architecture)"
if [ "${1:-}" = "--arch" ]; then debarch="$2"; shift 2; fi
case "$debarch" in amd64 | arm64) ;; *) echo "unsupported architecture: $debarch" >&2; exit 2 ;; esac
deb="${1:-$(ls -t Packaging/out/agora_*_"$debarch".deb 2>/dev/null | head -1)}"
[ -f "$deb" ] || { echo "missing .deb: run Packaging/build-deb.sh" >&2; exit 1; }
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v lintian >/dev/null || need+=(lintian)
if [ "${#need[@]}" -gt 0 ]; then
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

# lintian first: it needs no root filesystem.
tags="$(lintian --fail-on none "$deb" 2>&1 | grep -E '^[EW]: ' || true)"
if [ -z "$tags" ]; then ok "lintian: no errors or warnings (overrides: $(grep -c '^agora:' Packaging/debian/lintian-overrides) justified in Packaging/debian/lintian-overrides)"; else bad "lintian: $tags"; fi

cache=/var/cache/agora-check/bookworm-minbase.tar
if [ "$debarch" != "$(dpkg --print-architecture)" ]; then
    cache="/var/cache/agora-check/bookworm-minbase-$debarch.tar"
    Packaging/qemu-binfmt.sh
fi
if [ ! -f "$cache" ]; then
    mkdir -p "$(dirname "$cache")"
    tmp="$(mktemp -d /var/tmp/agora-debootstrap-XXXXXX)"
    t0=$(date +%s)
    debootstrap --variant=minbase --arch="$debarch" bookworm "$tmp" http://deb.debian.org/debian > "$tmp.log" 2>&1 \
        || { tail -20 "$tmp.log" >&2; rm -rf "$tmp"; exit 1; }
    echo "debootstrap of a $debarch Debian 12: $(( $(date +%s) - t0 )) s" >&2
    rm -f "$tmp.log"
    tar -C "$tmp" -cf "$cache.part" . && mv "$cache.part" "$cache"
    rm -rf "$tmp"
fi
root="$(mktemp -d /var/tmp/agora-debroot-XXXXXX)"
cleanup() { umount "$root/proc" 2>/dev/null || true; rm -rf "$root"; }
trap cleanup EXIT
tar -C "$root" -xf "$cache"
chmod 0755 "$root"   # a root filesystem (the tarball's "." is mktemp's 0700): the agora user must reach /usr/bin
mount -t proc proc "$root/proc"
cp "$deb" "$root/agora.deb"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }

# Install.
if in_root dpkg -i /agora.deb > "$root/install.log" 2>&1; then ok "dpkg -i $(basename "$deb")"; else bad "dpkg -i: $(cat "$root/install.log")"; fi
in_root getent passwd agora | grep -q '/var/lib/agora:/usr/sbin/nologin' && ok "user agora (system, no login)" || bad "user agora missing"
# Owners as the Debian root names them (the agora user exists only there).
owner_mode() { in_root stat -c '%U %a' "$1" 2>&1 || true; }
[ "$(owner_mode /etc/agora/credentials/agora.kek)" = "root 600" ] && ok "KEK root 0600" || bad "KEK: $(owner_mode /etc/agora/credentials/agora.kek)"
[ "$(owner_mode /var/lib/agora)" = "agora 700" ] && ok "store directory agora 0700" || bad "store directory: $(owner_mode /var/lib/agora)"
others="$(in_root find /var/lib/agora -not -user agora 2>&1 || true)"
[ -z "$others" ] && ok "every store file belongs to agora" || bad "not owned by agora: $others"
if status="$(in_root setpriv --reuid=agora --regid=agora --clear-groups agora status --state-dir /var/lib/agora --config /etc/agora/agora.toml 2>&1)" \
        && grep -q "^health  *ok" <<< "$status" && in_root agora ledger verify --replay --state-dir /var/lib/agora > /dev/null 2>&1; then
    ok "agora status as the agora user: $(tr '\n' ' ' <<< "$status" | cut -c1-120)"
else
    bad "agora status: $status"
fi

# Remove: binary and unit go, state and configuration stay.
in_root dpkg -r agora > "$root/remove.log" 2>&1 || bad "dpkg -r: $(cat "$root/remove.log")"
if [ ! -e "$root/usr/bin/agora" ] && [ ! -e "$root/lib/systemd/system/agora.service" ] \
        && [ -f "$root/var/lib/agora/agora.mdb" ] && [ -f "$root/etc/agora/credentials/agora.kek" ] && [ -f "$root/etc/agora/agora.toml" ]; then
    ok "dpkg -r: binary and unit removed; store, KEK and configuration kept"
else
    bad "dpkg -r left: $(ls "$root/usr/bin/agora" "$root/var/lib/agora" "$root/etc/agora" 2>&1 | tr '\n' ' ')"
fi

# Purge without asking: configuration goes, store, KEK and user stay.
in_root dpkg --purge agora > "$root/purge.log" 2>&1 || bad "dpkg --purge: $(cat "$root/purge.log")"
if [ ! -e "$root/etc/agora/agora.toml" ] && [ -f "$root/var/lib/agora/agora.mdb" ] && [ -f "$root/etc/agora/credentials/agora.kek" ] \
        && grep -q "kept /var/lib/agora" "$root/purge.log"; then
    ok "dpkg --purge: configuration removed; store and KEK kept, and it says so"
else
    bad "dpkg --purge: $(cat "$root/purge.log"); left: $(find "$root/etc/agora" "$root/var/lib/agora" 2>&1 | head -5 | tr '\n' ' ')"
fi

# Reinstall keeps the existing store (same ledger), then a purge that asks removes everything.
size_before="$(stat -c %s "$root/var/lib/agora/agora.mdb")"
in_root dpkg -i /agora.deb > "$root/reinstall.log" 2>&1 || bad "reinstall: $(cat "$root/reinstall.log")"
if in_root agora status --state-dir /var/lib/agora --config /etc/agora/agora.toml 2>&1 | grep -q "^health  *ok" \
        && [ "$(stat -c %s "$root/var/lib/agora/agora.mdb")" -ge "$size_before" ]; then
    ok "reinstall over a kept store: the store is reused and healthy"
else
    bad "reinstall over a kept store"
fi
in_root env AGORA_PURGE_STATE=yes dpkg --purge agora > "$root/purge2.log" 2>&1 || bad "purge with state: $(cat "$root/purge2.log")"
if [ ! -e "$root/var/lib/agora" ] && [ ! -e "$root/etc/agora" ] && ! in_root getent passwd agora >/dev/null; then
    ok "AGORA_PURGE_STATE=yes dpkg --purge: store, KEK, configuration and user removed"
else
    bad "purge with state left: $(find "$root/var/lib/agora" "$root/etc/agora" 2>&1 | head -5 | tr '\n' ' ')"
fi
exit "$fail"
