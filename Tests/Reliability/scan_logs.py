#!/usr/bin/python3
"""Issue 8's security checklist over the logs of a whole test run: no password, pairing
code or private key reaches any log line, at any level.

The test command sets AGORA_TEST_LOG_ARCHIVE; every test's temporary directory copies its
*.log files there when it is removed (Tests/TestSupport/TemporaryDirectory.swift). This
script then reads them all. It looks for what the tests themselves use as secrets — every
password in Tests/ (string literals such as 'alice-secret-1' or "correct horse", gathered
from the sources so a new test's password is covered without editing this list), pairing
codes (20 base32 characters in groups of four), PEM private keys — and fails naming the
file and the kind of secret (never printing the secret itself). It also fails when it
finds too few logs, so an archive that stayed empty cannot pass.

usage: scan_logs.py ARCHIVE_DIR [--min-logs N]
"""
import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PAIRING_CODE = re.compile(rb'\b[A-Z2-7]{4}(?:-[A-Z2-7]{4}){4}\b')
PRIVATE_KEY = re.compile(rb'PRIVATE KEY')
# Passwords as the tests write them: password: "…", --password-stdin input, '…-secret-…' literals.
PASSWORD_LITERALS = [
    re.compile(r'password:\s*"([^"\\\n]{6,})"'),
    re.compile(r'''["']([a-z]+-secret[-0-9a-z]*)(?:\\n)?["']'''),
]


def test_passwords():
    found = set()
    for source in list((ROOT / 'Tests').rglob('*.swift')) + list((ROOT / 'Tests').rglob('*.py')):
        if source.name == Path(__file__).name:
            continue
        text = source.read_text(errors='replace')
        for pattern in PASSWORD_LITERALS:
            found.update(m.group(1) for m in pattern.finditer(text))
    return sorted(p for p in found if len(p) >= 6 and not p.startswith(')'))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('archive')
    parser.add_argument('--min-logs', type=int, default=10)
    a = parser.parse_args()
    logs = [p for p in Path(a.archive).rglob('*.log') if p.is_file()]
    passwords = [p.encode() for p in test_passwords()]
    if len(passwords) < 5:
        print('scan_logs: found only %d test passwords in Tests/: the pattern no longer matches' % len(passwords))
        return 1
    if len(logs) < a.min_logs:
        print('scan_logs: only %d logs in %s (expected at least %d): was AGORA_TEST_LOG_ARCHIVE set?' % (len(logs), a.archive, a.min_logs))
        return 1
    problems, lines = [], 0
    for log in logs:
        data = log.read_bytes()
        lines += data.count(b'\n')
        if PRIVATE_KEY.search(data):
            problems.append('%s: a PEM private key' % log)
        if PAIRING_CODE.search(data):
            problems.append('%s: a pairing code' % log)
        for password in passwords:
            if password in data:
                problems.append('%s: the test password %s…' % (log, password[:3].decode()))
    for problem in problems:
        print('scan_logs: ' + problem)
    print('scan_logs %s: %d logs, %d lines, %d passwords and every pairing code and private key looked for' %
          ('failed' if problems else 'ok', len(logs), lines, len(passwords)))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
