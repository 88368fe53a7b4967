#!/usr/bin/env python3
"""Bytes each dependency puts into the agora binary, from GNU ld's link map (-Map).

Usage: linkmap.py agora.map [--by file]

Counts the input sections that land in allocated output sections (code, read-only data,
data, Swift metadata; not debug info and not what --gc-sections discarded), and groups each
input object by where it came from: a Swift module's objects (.build-static/swift/.../X.build),
a Debian static archive (libssl.a, liblmdb.a, ...), the Swift runtime and Foundation
archives in the toolchain, or glibc. No library reads ld maps in Python; the format is
line-based and small enough to parse here.
"""
import re
import sys
from collections import defaultdict

# Output sections that are not loaded at run time.
UNLOADED = re.compile(r"^\.(debug|comment|note\.gnu\.gold|gnu\.warning|stab|symtab|strtab|shstrtab)")
ENTRY = re.compile(r"^\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S.*)$")


def group(path: str) -> str:
    module = re.search(r"/([A-Za-z0-9_]+)\.build/", path)
    if module:
        return module.group(1)
    archive = re.search(r"/(lib[^/()]+)\.a\(", path)
    if archive:
        return archive.group(1)
    if "crt" in path or path.endswith(".o"):
        return "startup objects"
    return path


def main() -> None:
    path = sys.argv[1]
    by_file = "--by" in sys.argv and sys.argv[sys.argv.index("--by") + 1] == "file"
    sizes: dict[str, int] = defaultdict(int)
    in_map = False
    output_section = ""
    pending_name = None
    with open(path, errors="replace") as f:
        for line in f:
            if not in_map:
                in_map = line.startswith(("Linker script and memory map", "Memory map"))  # GNU ld, gold
                continue
            if line and not line[0].isspace():
                output_section = line.split()[0]
                continue
            if UNLOADED.match(output_section) or output_section.startswith("/DISCARD/"):
                continue
            stripped = line.strip()
            if not stripped:
                continue
            if pending_name is not None:
                m = re.match(r"^(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S.*)$", stripped)
                pending_name = None
                if m:
                    size, source = int(m.group(2), 16), m.group(3)
                    sizes[source if by_file else group(source)] += size
                continue
            # " .text.name  0xADDR  0xSIZE  file" or " .text.name" then the rest on the next line.
            m = re.match(r"^(\.\S+|COMMON)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S.*)$", stripped)
            if m:
                size, source = int(m.group(3), 16), m.group(4)
                sizes[source if by_file else group(source)] += size
            elif re.match(r"^(\.\S+|COMMON)$", stripped):
                pending_name = stripped
    total = sum(sizes.values())
    print(f"{'bytes':>12}  {'share':>6}  source")
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        if size >= 16 * 1024 or by_file:
            print(f"{size:>12,}  {100 * size / total:5.1f}%  {name}")
    small = sum(s for s in sizes.values() if s < 16 * 1024)
    if not by_file:
        print(f"{small:>12,}  {100 * small / total:5.1f}%  (everything under 16 KiB each)")
    print(f"{total:>12,}  100.0%  total loaded bytes")


if __name__ == "__main__":
    main()
