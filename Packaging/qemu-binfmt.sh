#!/usr/bin/env bash
# Makes the kernel run aarch64 executables through Debian's qemu-user-static, in chroots too
# (binfmt_misc's F flag opens the emulator once, at registration), so the arm64 checks can
# run the aarch64 `agora` and an arm64 Debian root on this x86_64 machine. Idempotent; root.
set -euo pipefail
[ "$(uname -m)" = aarch64 ] && exit 0
if [ ! -x /usr/bin/qemu-aarch64-static ]; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-user-static >/dev/null
fi
binfmt=/proc/sys/fs/binfmt_misc
mountpoint -q "$binfmt" || mount -t binfmt_misc binfmt_misc "$binfmt"
if [ ! -e "$binfmt/qemu-aarch64" ]; then
    # Debian's own registration line (magic, mask, interpreter, flags "OCF" or "OPF").
    grep -v '^#' /usr/lib/binfmt.d/qemu-aarch64.conf > "$binfmt/register"
fi
grep -q '^enabled' "$binfmt/qemu-aarch64" || { echo "error: binfmt_misc qemu-aarch64 is not enabled" >&2; exit 1; }
grep -q '^flags:.*F' "$binfmt/qemu-aarch64" || echo "warning: qemu-aarch64 is registered without the F flag: it will not run inside chroots" >&2
