#!/usr/bin/env bash
# Installs what building and testing Agora needs on Debian 12, and checks the Swift toolchain.
# Runs apt-get as root (directly, or through sudo when not root). Safe to run again.
set -euo pipefail

# lmdb-utils (mdb_load), openssl, mosquitto and its clients, slixmpp: independent peers the tests check Agora against.
# prometheus (promtool), chromium, chromium-driver, python3-selenium: the observability tests scrape with a real
# Prometheus and drive the dashboard in a real headless browser. profanity and tmux: a console XMPP client
# driven in a terminal pane (the everyday-client tests). dnsmasq-base, iproute2 and prosody: the federation
# test builds a small city of network namespaces with its own DNS and a Prosody peer.
packages=(liblmdb-dev libmosquitto-dev libexpat1-dev lmdb-utils openssl mosquitto mosquitto-clients python3 python3-cryptography python3-slixmpp
          python3-venv python3-openssl
          prometheus chromium chromium-driver python3-selenium fonts-dejavu-core curl
          profanity tmux
          dnsmasq-base iproute2 prosody)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    # Debian starts the Prosody it installs; the tests start their own, configured by them.
    if [[ " ${missing[*]} " == *" prosody "* ]]; then
        { as_root systemctl disable --now prosody || as_root service prosody stop; } >/dev/null 2>&1 || true
    fi
fi

# aioxmpp, a second XMPP client library for the interop tests, is not in Debian: it comes from
# PyPI into a virtual environment beside the build folders (.build-python, ignored by git),
# seeing Debian's packages (pyOpenSSL) too. Pinned, so a new release cannot change a test run.
repo="$(cd "$(dirname "$0")/.." && pwd)"
if ! "$repo/.build-python/bin/python" -c 'import aioxmpp' 2>/dev/null; then
    echo "installing aioxmpp from PyPI into $repo/.build-python" >&2
    /usr/bin/python3 -m venv --system-site-packages "$repo/.build-python"
    "$repo/.build-python/bin/pip" install -q --disable-pip-version-check aioxmpp==0.13.3 pytz==2025.2
fi

if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        echo "note: add /opt/swift/usr/bin to PATH (the scripts do it for themselves)" >&2
    else
        echo "error: Swift 6.1 or newer is required (https://www.swift.org/install/linux/); none found on PATH or in /opt/swift" >&2
        exit 1
    fi
fi
