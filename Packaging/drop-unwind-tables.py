#!/usr/bin/env python3
"""Removes the unwind tables (.eh_frame, .eh_frame_hdr: 5 MB of 33 on x86_64) from a linked,
static agora binary, and the program header that pointed at them. For the x86_64 build, which
gold links; the aarch64 cross-link (lld) leaves them out itself
(Packaging/discard-unwind-tables.ld): GNU objcopy's rewrite of lld's layout, where the tables
sit in the segment before the code, gave a binary that crashed at once.

Why it is safe for agora: nothing unwinds the stack in a normal run. Swift errors are
ordinary returns; the C and C++ inside (Swift runtime, BoringSSL, libmosquitto, LMDB, expat)
are built without exceptions or never throw past us; and `agora`'s main is synchronous (see
Sources/agora/Agora.swift) because Swift's async main ends the main thread with
`pthread_exit`, glibc's forced unwind. Without PT_GNU_EH_FRAME, libgcc's unwinder finds no
tables and stops at once (a crash then aborts without a stack walk) instead of reading
freed bytes. Packaging/check.sh and check-aarch64.sh run the shipped binary through init,
serve, XMPP, MQTT and the whole demo.

gold has no option or script that drops .eh_frame (it keeps it under --gc-sections), hence
this step after the link: the program header is patched in place (ELF64, little-endian:
x86_64 and aarch64), then GNU objcopy removes the sections and moves the segments after them
down (llvm-objcopy removes them but leaves the file as long).

Usage: drop-unwind-tables.py BINARY [OBJCOPY]   (OBJCOPY: objcopy, or aarch64-linux-gnu-objcopy)
"""
import struct
import subprocess
import sys

PT_NULL = 0
PT_GNU_EH_FRAME = 0x6474E550


def program_headers(data: bytes):
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        sys.exit("drop-unwind-tables: not a 64-bit little-endian ELF file")
    phoff = struct.unpack_from("<Q", data, 0x20)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for index in range(phnum):
        at = phoff + index * phentsize
        yield at, struct.unpack_from("<I", data, at)[0]


def main() -> None:
    path = sys.argv[1]
    objcopy = sys.argv[2] if len(sys.argv) > 2 else "objcopy"
    with open(path, "r+b") as f:
        data = f.read()
        found = [at for at, kind in program_headers(data) if kind == PT_GNU_EH_FRAME]
        for at in found:
            f.seek(at)
            f.write(struct.pack("<I", PT_NULL))
    subprocess.run([objcopy, "--remove-section=.eh_frame", "--remove-section=.eh_frame_hdr", path], check=True)
    with open(path, "rb") as f:
        after = f.read()
    if any(kind == PT_GNU_EH_FRAME for _, kind in program_headers(after)):
        sys.exit("drop-unwind-tables: PT_GNU_EH_FRAME is still there")
    print(f"unwind tables dropped: {len(data)} -> {len(after)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
