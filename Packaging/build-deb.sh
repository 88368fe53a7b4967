#!/usr/bin/env bash
# Packages the static binary as Packaging/out/agora_<version>_<arch>.deb:
#   /usr/bin/agora, /lib/systemd/system/agora.service, /etc/agora/agora.toml (conffile),
#   /usr/share/doc/agora/{README.md,copyright}, the example Prometheus scrape config and alert
#   rules in /usr/share/doc/agora/examples/prometheus/, maintainer scripts from Packaging/debian/.
#
#   Packaging/build-deb.sh [--arch x86_64|aarch64]   (builds the binary first if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
arch="$(uname -m)"
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) arch="$2"; shift 2 ;;
        *) echo "usage: $0 [--arch x86_64|aarch64]" >&2; exit 2 ;;
    esac
done
case "$arch" in x86_64) debarch=amd64 ;; aarch64) debarch=arm64 ;; *) echo "unsupported: $arch" >&2; exit 2 ;; esac
binary="Packaging/out/$arch/agora"
[ -x "$binary" ] || Packaging/build-static.sh --arch "$arch" >/dev/null
# Debian versions must start with a digit: the release version plus the git description.
base="$(sed -n 's/.*static let base = "\(.*\)".*/\1/p' Sources/AgoraApp/AgoraVersion.swift)"
git_part="$(cat "Packaging/out/$arch/VERSION" 2>/dev/null || echo unknown)"
version="${base}+git.$(printf '%s' "$git_part" | tr -c 'A-Za-z0-9.~\n' '.')"

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"
install -D -m 0755 "$binary" "$root/usr/bin/agora"
install -D -m 0644 systemd/agora.service "$root/lib/systemd/system/agora.service"
install -D -m 0644 systemd/agora-broker-crl.path "$root/lib/systemd/system/agora-broker-crl.path"
install -D -m 0644 systemd/agora-broker-crl.service "$root/lib/systemd/system/agora-broker-crl.service"
install -D -m 0644 Packaging/agora.toml "$root/etc/agora/agora.toml"
install -D -m 0644 README.md "$root/usr/share/doc/agora/README.md"
for f in agora-scrape.yml agora-alerts.yml README.md; do
    install -D -m 0644 "Packaging/prometheus/$f" "$root/usr/share/doc/agora/examples/prometheus/$f"
done
install -D -m 0644 Packaging/debian/copyright "$root/usr/share/doc/agora/copyright"
# A native package's changelog: one entry for this build.
install -d "$root/usr/share/doc/agora"
{
    printf 'agora (%s) unstable; urgency=medium\n\n  * Built from git %s.\n\n' "$version" "$git_part"
    printf ' -- Agora developers <agora@example.org>  %s\n' "$(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")"
} | gzip -9n > "$root/usr/share/doc/agora/changelog.gz"
install -D -m 0644 Packaging/debian/lintian-overrides "$root/usr/share/lintian/overrides/agora"
install -d "$root/usr/share/man/man1"
Packaging/man-pages.sh "$root/usr/share/man/man1" > /dev/null
install -d "$root/DEBIAN"
for script in postinst prerm postrm; do install -m 0755 "Packaging/debian/$script" "$root/DEBIAN/$script"; done
echo "/etc/agora/agora.toml" > "$root/DEBIAN/conffiles"
size_kb="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
cat > "$root/DEBIAN/control" <<CONTROL
Package: agora
Version: $version
Architecture: $debarch
Maintainer: Agora developers <agora@example.org>
Installed-Size: $size_kb
Recommends: mosquitto
Section: net
Priority: optional
Homepage: https://localhost/agora
Description: smart-city edge gateway: XMPP, MQTT ingestion, verifiable ledger
 One static binary: a minimal XMPP server to query and operate the gateway,
 MQTT ingestion of SenML sensor readings through a local Mosquitto broker, an
 LMDB store with an RFC 9162 Merkle ledger (signed checkpoints, offline-
 verifiable receipts) of accounts, credits, sensors and data purchases, and a
 certificate authority for sensors and users. Runs as the hardened systemd
 service agora.service.
CONTROL
mkdir -p Packaging/out
deb="Packaging/out/agora_${version}_${debarch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
ls -l "$deb" >&2
echo "$deb"
