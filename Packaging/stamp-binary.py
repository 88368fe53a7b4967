#!/usr/bin/env python3
"""Writes the git description into a linked agora binary, over the slot CAgoraBuildInfo keeps
for it (Sources/CAgoraBuildInfo/build_info.c): "\\x01agora-git-description-slot" becomes
"<description>\\0". Works on any architecture's ELF: it is a byte search, and the slot must
be found exactly once.

Usage: stamp-binary.py BINARY DESCRIPTION
"""
import sys

MARKER = b"\x01agora-git-description-slot"
SLOT = 128


def main() -> None:
    path, description = sys.argv[1], sys.argv[2].encode()
    if len(description) >= SLOT or b"\0" in description or description[:1] == b"\x01":
        sys.exit(f"stamp-binary: description unusable ({len(description)} bytes)")
    with open(path, "r+b") as f:
        data = f.read()
        at = data.find(MARKER)
        if at < 0 or data.find(MARKER, at + 1) >= 0:
            sys.exit(f"stamp-binary: the slot appears {data.count(MARKER)} times in {path}, not once")
        f.seek(at)
        f.write(description + b"\0" * (SLOT - len(description)))


if __name__ == "__main__":
    main()
