#!/usr/bin/env python3
"""Bytes each dependency puts into the agora binary, from the linker's map (-Map): gold's
(the x86_64 build) or lld's (the aarch64 cross-build).

Usage: linkmap.py agora.map [--by file]
       linkmap.py --compare NAME=agora.map NAME=agora.map …   (dependencies side by side)

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


# lld: "VMA LMA Size Align Out In Symbol" columns; the Out, In and Symbol columns are told
# apart by their indentation.
LLD_ROW = re.compile(r"^\s*[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+( +)(\S.*)$")
LLD_INPUT = re.compile(r"^(.*):\((\S+)\)$")


def lld_sizes(lines, by_file: bool) -> dict[str, int]:
    sizes: dict[str, int] = defaultdict(int)
    output_section = ""
    out_indent = None
    for line in lines:
        m = LLD_ROW.match(line)
        if not m:
            continue
        size, indent, text = int(m.group(1), 16), len(m.group(2)), m.group(3)
        if out_indent is None or indent <= out_indent:
            out_indent = indent
            output_section = text.split()[0]
            continue
        if indent != out_indent + 8:
            continue  # a symbol row
        # Unwind tables are left out, as in gold's map, where they are not attributed.
        if UNLOADED.match(output_section) or output_section.startswith((".eh_frame", "/DISCARD/")):
            continue
        m = LLD_INPUT.match(text)
        if m:
            source = m.group(1)
            sizes[source if by_file else group(source)] += size
    return sizes


# Dependencies, as an operator would name them, and the groups (Swift modules, archives) each
# is made of; checked in order, the first match wins.
DEPENDENCIES = [
    ("Swift regex (_StringProcessing, _RegexParser)", re.compile(r"^libswift_(StringProcessing|RegexParser)$")),
    ("FoundationEssentials (+ collections, shims)", re.compile(r"^lib_?Foundation")),
    ("Swift runtime (Core, Concurrency, Dispatch, Synchronization, …)", re.compile(r"^lib(swift|dispatch|BlocksRuntime)")),
    ("OpenSSL libssl + libcrypto (Debian's, for libmosquitto)", re.compile(r"^lib(ssl|crypto|z|zstd)$")),
    ("BoringSSL in swift-nio-ssl (CNIOBoringSSL) + NIOSSL", re.compile(r"^(CNIOBoringSSL|CNIOBoringSSLShims|NIOSSL)$")),
    ("BoringSSL in swift-crypto + Crypto, CryptoExtras", re.compile(r"^(CCryptoBoringSSL\w*|Crypto\w*|_Crypto\w*|CXKCP\w*)$")),
    ("swift-certificates (X509) + swift-asn1", re.compile(r"^(X509|SwiftASN1|_CertificateInternals)$")),
    ("swift-nio", re.compile(r"^(_?NIO\w*|CNIO\w*|_AtomicsShims|Atomics|SystemPackage|CSystem)$")),
    ("swift-async-algorithms (via swift-service-lifecycle)", re.compile(r"^_?AsyncAlgorithms|^DequeModule$|^InternalCollectionsUtilities$|^_?Collections|Module$")),
    ("swift-collections (OrderedCollections, …)", re.compile(r"^(OrderedCollections|ContainersPreview|HeapModule|BitCollections|HashTreeCollections|_RopeModule)$")),
    ("swift-argument-parser", re.compile(r"^ArgumentParser")),
    ("swift-log, -metrics, -prometheus, -service-lifecycle", re.compile(r"^(Logging|CoreMetrics|Metrics|Prometheus|ServiceLifecycle|UnixSignals|ConcurrencyHelpers)$")),
    ("libmosquitto, liblmdb, libexpat", re.compile(r"^lib(mosquitto|lmdb|expat)$")),
    ("glibc, libm, libstdc++, libgcc, startup", re.compile(r"^(lib(c|m|m-[0-9.]+|pthread|dl|rt|stdc\+\+|gcc|gcc_eh|c_nonshared|atomic|mvec)|startup objects)$")),
    ("linker-made sections (GOT, relocations)", re.compile(r"^<internal>$")),
    ("Agora's own targets", re.compile(r"^(Agora\w*|agora|CAgora\w*|CLMDB|CExpat|CMosquitto)$")),
]


def dependency(name: str) -> str:
    for label, pattern in DEPENDENCIES:
        if pattern.search(name):
            return label
    return "other"


def compare(columns: list[tuple[str, str]]) -> None:
    tables = []
    for _, path in columns:
        with open(path, errors="replace") as f:
            first = f.readline()
        with open(path, errors="replace") as f:
            groups = lld_sizes(f, False) if first.split()[:3] == ["VMA", "LMA", "Size"] else gold_sizes(f, False)
        by_dependency: dict[str, int] = defaultdict(int)
        for name, size in groups.items():
            by_dependency[dependency(name)] += size
        tables.append(by_dependency)
    labels = [label for label, _ in DEPENDENCIES] + ["other"]
    print("| dependency | " + " | ".join(name for name, _ in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for label in labels:
        if any(t.get(label, 0) for t in tables):
            print(f"| {label} | " + " | ".join(f"{t.get(label, 0) / 1e6:.2f} MB" for t in tables) + " |")
    print("| **total loaded (no unwind tables)** | " + " | ".join(f"**{sum(t.values()) / 1e6:.2f} MB**" for t in tables) + " |")


def main() -> None:
    if sys.argv[1] == "--compare":
        compare([tuple(arg.split("=", 1)) for arg in sys.argv[2:]])
        return
    path = sys.argv[1]
    by_file = "--by" in sys.argv and sys.argv[sys.argv.index("--by") + 1] == "file"
    with open(path, errors="replace") as f:
        first = f.readline()
    if first.split()[:3] == ["VMA", "LMA", "Size"]:
        with open(path, errors="replace") as f:
            report(lld_sizes(f, by_file), by_file)
        return
    with open(path, errors="replace") as f:
        report(gold_sizes(f, by_file), by_file)


def gold_sizes(lines, by_file: bool) -> dict[str, int]:
    sizes: dict[str, int] = defaultdict(int)
    in_map = False
    output_section = ""
    pending_name = None
    for line in lines:
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
    return sizes


def report(sizes: dict[str, int], by_file: bool) -> None:
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
