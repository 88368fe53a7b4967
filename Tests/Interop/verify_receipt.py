#!/usr/bin/python3
"""Verify an Agora receipt with no Agora code: an independent RFC 9162 + C2SP signed-note check.

Usage: verify_receipt.py RECEIPT.json VERIFIER_KEY [--witness WITNESS_KEY]... [--min-witnesses K]
   or: verify_receipt.py READING_PROOF.json VERIFIER_KEY ...   (output of `agora readings prove`:
       the reading's Merkle path to its readings.commit root, and that entry's receipt)
With --witness, the receipt counts only when at least K (default: all given) of those witnesses
have a valid C2SP tlog-cosignature (cosignature/v1, Ed25519, key type 0x04) on its checkpoint.
Exit 0 and print "ok ..." when the receipt verifies; exit 1 with a reason otherwise.
Uses only the standard library and the `cryptography` package (Debian python3-cryptography).

Entry formats: version 1 (no salt) and version 2, which carries "salt", at least 128 random
bits in lower-case hex inside the hashed bytes so that a leaf hash seen in someone else's
audit path cannot be brute-forced back into the entry. Readings sealed by a version-2
readings.commit carry a salt of their own in the record. Hashing is RFC 9162 either way:
SHA-256(0x00 || the bytes exactly as given); the format checks come on top.
"""
import base64
import hashlib
import json
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def fail(reason):
    print("FAIL: " + reason)
    sys.exit(1)


def parse_key(text, type_byte, what):
    # c2sp.org/signed-note vkey: <name>+<hex key id>+<base64(type || pubkey)>; the log's key
    # has type 0x01 (Ed25519), a witness's 0x04 (c2sp.org/tlog-cosignature, cosignature/v1).
    name, key_id_hex, key_b64 = text.strip().split("+", 2)
    raw = base64.b64decode(key_b64)
    if len(raw) != 33 or raw[0] != type_byte:
        fail("%s is not of type 0x%02x (Ed25519)" % (what, type_byte))
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if key_id.hex() != key_id_hex:
        fail("%s: key id does not match" % what)
    return name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:])


def parse_vkey(text):
    return parse_key(text, 0x01, "verifier key")


def parse_witness_key(text):
    return parse_key(text, 0x04, "witness key")


def cosigned_by(note, witness):
    """Whether the note carries a valid cosignature/v1 by `witness` over its text."""
    name, key_id, public_key = witness
    text, _, sigs = note.rpartition("\n\n")
    text += "\n"
    for line in sigs.rstrip("\n").split("\n"):
        sig_name, sig_b64 = line[2:].split(" ")
        blob = base64.b64decode(sig_b64)
        if sig_name != name or blob[:4] != key_id or len(blob) != 4 + 8 + 64:
            continue
        (timestamp,) = struct.unpack(">Q", blob[4:12])
        message = b"cosignature/v1\ntime %d\n" % timestamp + text.encode()
        try:
            public_key.verify(blob[12:], message)
            return True
        except InvalidSignature:
            continue
    return False


def open_note(note, name, key_id, public_key):
    text, sep, sigs = note.rpartition("\n\n")
    if not sep:
        fail("note has no signature block")
    text += "\n"
    for line in sigs.rstrip("\n").split("\n"):
        if not line.startswith("\u2014 "):
            fail("bad signature line")
        sig_name, sig_b64 = line[2:].split(" ")
        blob = base64.b64decode(sig_b64)
        if sig_name == name and blob[:4] == key_id:
            try:
                public_key.verify(blob[4:], text.encode())
            except InvalidSignature:
                fail("checkpoint signature does not verify")
            return text
    fail("checkpoint is not signed by " + name)


MIN_SALT_BITS = 128


def check_salt(document, what):
    salt = document.get("salt")
    if not isinstance(salt, str) or len(salt) * 4 < MIN_SALT_BITS or len(salt) % 2 \
            or any(c not in "0123456789abcdef" for c in salt):
        fail("%s has no salt of at least %d bits in lower-case hex" % (what, MIN_SALT_BITS))


def check_entry_format(entry):
    """The entry's own format rules: version 1 has no salt, version 2 a salt of >= 128 bits."""
    try:
        document = json.loads(entry)
    except ValueError:
        fail("the entry is not JSON")
    if not isinstance(document, dict):
        fail("the entry is not a JSON object")
    version = document.get("v")
    if version == 1:
        if "salt" in document:
            fail("a version-1 entry carries a salt")
    elif version == 2:
        check_salt(document, "the version-2 entry")
    else:
        fail("unknown entry version %r" % (version,))
    return document


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(leaf_hash, index, size, path):
    # RFC 9162 section 2.1.3.2
    if index >= size:
        fail("index outside the tree")
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            fail("proof too long")
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        fail("proof too short")
    return r


def parse_arguments(argv):
    positional, witnesses, minimum = [], [], None
    i = 0
    while i < len(argv):
        if argv[i] == "--witness":
            witnesses.append(parse_witness_key(argv[i + 1]))
            i += 2
        elif argv[i] == "--min-witnesses":
            minimum = int(argv[i + 1])
            i += 2
        else:
            positional.append(argv[i])
            i += 1
    if len(positional) != 2:
        fail("usage: verify_receipt.py RECEIPT.json VERIFIER_KEY [--witness KEY]... [--min-witnesses K]")
    return positional, witnesses, len(witnesses) if minimum is None else minimum


def check_witnesses(receipt, witnesses, minimum):
    if not witnesses and not minimum:
        return ""
    distinct = {(w[0], w[1]): w for w in witnesses}.values()
    names = sorted(w[0] for w in distinct if cosigned_by(receipt["checkpoint"], w))
    if len(names) < minimum:
        fail("the checkpoint has valid cosignatures from %d of the witnesses given; %d required" % (len(names), minimum))
    return " witnessed by %s" % ",".join(names)


def main():
    (path, vkey), witnesses, minimum = parse_arguments(sys.argv[1:])
    document = json.load(open(path))
    name, key_id, public_key = parse_vkey(vkey)
    if "receipt" in document:
        entry = verify_receipt(document["receipt"], name, key_id, public_key)
        witnessed = check_witnesses(document["receipt"], witnesses, minimum)
        commit = json.loads(entry)
        if commit["type"] != "readings.commit" or commit["count"] != document["batchSize"]:
            fail("the receipt is not of this reading's readings.commit")
        record = base64.b64decode(document["record"])
        if commit["v"] >= 2:
            check_salt(json.loads(record), "the reading of a version-2 commit")
        path = [base64.b64decode(h) for h in document["batchProof"]]
        leaf = hashlib.sha256(b"\x00" + record).digest()
        if root_from_inclusion(leaf, document["leafIndex"], document["batchSize"], path) != base64.b64decode(commit["root"]):
            fail("the reading is not in the committed batch")
        print("ok reading of %s at %d: %s%s" % (commit["sensor"], json.loads(record)["t"], record.decode(), witnessed))
        return
    entry = verify_receipt(document, name, key_id, public_key)
    witnessed = check_witnesses(document, witnesses, minimum)
    parsed = json.loads(entry)
    print("ok %s entry %d of %d: %s v%d%s" % (name, document["index"], document["treeSize"], parsed["type"], parsed["v"], witnessed))


def verify_receipt(receipt, name, key_id, public_key):
    text = open_note(receipt["checkpoint"], name, key_id, public_key)
    origin, size, root_b64 = text.split("\n")[:3]
    if origin != name:
        fail("checkpoint origin is not the key's log")
    if int(size) != receipt["treeSize"]:
        fail("tree size differs from the checkpoint")
    entry = base64.b64decode(receipt["entry"])
    leaf = hashlib.sha256(b"\x00" + entry).digest()
    path = [base64.b64decode(h) for h in receipt["inclusion"]]
    if root_from_inclusion(leaf, receipt["index"], int(size), path) != base64.b64decode(root_b64):
        fail("inclusion proof does not lead to the signed root")
    check_entry_format(entry)
    return entry


if __name__ == "__main__":
    main()
