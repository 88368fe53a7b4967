#!/usr/bin/env python3
"""Open N XMPP client sessions to one server and hold them, for a memory benchmark.

Benchmarks/packaging/run.sh starts this in the background against `agora serve`, waits for
the line `READY sessions=N seconds=T` on stdout, reads the server's RSS, then sends SIGTERM.
Each session is a full RFC 6120 client-to-server login: stream header, STARTTLS (the server
verified against --ca, hostname --domain), SASL SCRAM-SHA-1 (RFC 5802), resource binding and
initial presence. Held sessions answer the server's XEP-0199 pings so none is dropped as idle.

Any session that fails, during login or while held, prints `FAIL index reason` to stderr
and the script exits with status 2. SIGTERM, SIGINT or the end of --hold closes every stream
with `</stream:stream>` and exits 0. `--self-test` checks the SCRAM client against RFC 5802.

Hand-written on purpose: it needs only the standard library (the benchmark runs it with
Debian's /usr/bin/python3 and nothing installed), and slixmpp, with its plugin machinery per
client, is too heavy to hold 1000 sessions in one process without becoming the bottleneck.
"""
import argparse
import asyncio
import base64
import hashlib
import hmac
import resource
import secrets
import signal
import ssl
import sys
import time
import xml.etree.ElementTree as ET
from asyncio.sslproto import SSLProtocol
from xml.sax.saxutils import quoteattr

STREAMS = "{http://etherx.jabber.org/streams}"
TLS = "{urn:ietf:params:xml:ns:xmpp-tls}"
SASL = "{urn:ietf:params:xml:ns:xmpp-sasl}"
CLIENT = "{jabber:client}"
PING = "{urn:xmpp:ping}ping"


# asyncio gives every TLS connection a 256 KiB read buffer (Python 3.11); one TLS record (16 KiB)
# is plenty here and keeps this process at a fraction of the memory it is holding sessions for.
SSLProtocol.max_size = 16 * 1024


class SessionFailed(Exception):
    pass


# --- SCRAM-SHA-1, client side (RFC 5802) -------------------------------------------------------
# Usernames and passwords are used as given: the benchmark's are ASCII, where SASLprep is identity.

def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def scram_client_first_bare(user: str, cnonce: str) -> str:
    return "n=" + user.replace("=", "=3D").replace(",", "=2C") + ",r=" + cnonce


def scram_client_final(password: str, cnonce: str, first_bare: str, server_first: str):
    """The client-final message and the server signature `v=` that must come back."""
    attrs = dict(part.split("=", 1) for part in server_first.split(","))
    nonce, salt, iterations = attrs["r"], base64.b64decode(attrs["s"]), int(attrs["i"])
    if not nonce.startswith(cnonce) or "m" in attrs:
        raise SessionFailed("bad server-first message: " + server_first)
    salted = hashlib.pbkdf2_hmac("sha1", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha1")
    stored_key = hashlib.sha1(client_key).digest()
    without_proof = "c=biws,r=" + nonce  # biws = base64("n,,"): no channel binding, no authzid
    auth_message = f"{first_bare},{server_first},{without_proof}".encode()
    signature = hmac.digest(stored_key, auth_message, "sha1")
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    server_signature = hmac.digest(hmac.digest(salted, b"Server Key", "sha1"), auth_message, "sha1")
    return f"{without_proof},p={b64(proof)}", b64(server_signature)


def self_test() -> int:
    cnonce = "fyko+d2lbbFgONRv9qkxdawL"
    server_first = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
    first_bare = scram_client_first_bare("user", cnonce)
    final, server_signature = scram_client_final("pencil", cnonce, first_bare, server_first)
    expected = ("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
                "rmF9pqV8S7suAoZWja4dJRkFsKQ=")
    ok = first_bare == "n=user,r=" + cnonce and (final, server_signature) == expected
    print("self-test " + ("ok" if ok else f"FAILED: {final} {server_signature}"))
    return 0 if ok else 1


# --- One session -------------------------------------------------------------------------------

class Session:
    def __init__(self, index: int, args):
        self.index, self.args = index, args
        self.step = "connect"
        self.reader = self.writer = None

    def send(self, text: str):
        self.writer.write(text.encode())

    async def restart(self) -> ET.Element:
        """Send a stream header; return the server's <stream:features/>."""
        self.send("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream="
                  f"'http://etherx.jabber.org/streams' to={quoteattr(self.args.domain)} version='1.0'>")
        self.parser, self.depth, self.root = ET.XMLPullParser(events=("start", "end")), 0, None
        return await self.expect(STREAMS + "features")

    async def element(self) -> ET.Element:
        """The next complete top-level element of the server's stream."""
        while True:
            for event, elem in self.parser.read_events():
                if event == "start":
                    self.depth += 1
                    self.root = elem if self.depth == 1 else self.root
                    continue
                self.depth -= 1
                if self.depth == 0:
                    raise SessionFailed("the server closed its stream")
                if self.depth == 1:
                    self.root.remove(elem)  # held sessions keep no history
                    if elem.tag == STREAMS + "error":
                        raise SessionFailed("stream error " + " ".join(c.tag.split("}")[-1] for c in elem))
                    return elem
            data = await self.reader.read(65536)
            if not data:
                raise SessionFailed("connection closed")
            self.parser.feed(data)

    async def expect(self, *tags: str) -> ET.Element:
        # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation (SIGTERM).
        async with asyncio.timeout(self.args.timeout):
            elem = await self.element()
        if elem.tag not in tags:
            raise SessionFailed(f"expected {' or '.join(tags)}, got {elem.tag} {elem.text or ''}".strip())
        return elem

    async def login(self, ssl_context: ssl.SSLContext):
        args = self.args
        async with asyncio.timeout(args.timeout):
            self.reader, self.writer = await asyncio.open_connection(args.host, args.port)
        self.step = "features"
        if (await self.restart()).find(TLS + "starttls") is None:
            raise SessionFailed("server offers no STARTTLS")
        self.step = "starttls"
        self.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        await self.expect(TLS + "proceed")
        await self.writer.start_tls(ssl_context, server_hostname=args.domain,
                                    ssl_handshake_timeout=args.timeout)
        self.step = "sasl"
        mechanisms = [m.text for m in (await self.restart()).iter(SASL + "mechanism")]
        if "SCRAM-SHA-1" not in mechanisms:
            raise SessionFailed(f"no SCRAM-SHA-1 among {mechanisms}")
        await self.authenticate(f"{args.prefix}{self.index % args.users}", args.password)
        self.step = "bind"
        await self.restart()
        self.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                  f"<resource>r{self.index}</resource></bind></iq>")
        while (reply := await self.expect(CLIENT + "iq")).get("id") != "b1":
            pass
        if reply.get("type") != "result":
            raise SessionFailed("bind refused")
        self.send("<presence/>")
        self.step = "hold"

    async def authenticate(self, user: str, password: str):
        cnonce = b64(secrets.token_bytes(18))
        first_bare = scram_client_first_bare(user, cnonce)
        self.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>"
                  f"{b64(('n,,' + first_bare).encode())}</auth>")
        challenge = await self.expect(SASL + "challenge", SASL + "failure")
        if challenge.tag == SASL + "failure":
            raise SessionFailed(f"authentication failed for {user}")
        server_first = base64.b64decode(challenge.text or "").decode()
        final, server_signature = scram_client_final(password, cnonce, first_bare, server_first)
        self.send(f"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{b64(final.encode())}</response>")
        success = await self.expect(SASL + "success", SASL + "failure")
        if success.tag == SASL + "failure":
            raise SessionFailed(f"authentication failed for {user}")
        if base64.b64decode(success.text or "").decode() != "v=" + server_signature:
            raise SessionFailed("missing or wrong server signature in <success/>")

    async def hold(self):
        """Discard whatever arrives; answer pings (and refuse any other request)."""
        while True:
            elem = await self.element()
            if elem.tag != CLIENT + "iq" or elem.get("type") not in ("get", "set"):
                continue
            attrs = f"id={quoteattr(elem.get('id', ''))}"
            if elem.get("from"):
                attrs += f" to={quoteattr(elem.get('from'))}"
            if elem.find(PING) is not None:
                self.send(f"<iq type='result' {attrs}/>")
            else:
                self.send(f"<iq type='error' {attrs}><error type='cancel'><service-unavailable"
                          " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")

    async def close(self):
        if self.writer is None:
            return
        try:
            self.send("</stream:stream>")
            self.writer.close()
            async with asyncio.timeout(5):
                await self.writer.wait_closed()
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            self.writer.transport.abort()


# --- All sessions ------------------------------------------------------------------------------

async def run_session(session: Session, ssl_context, gate: asyncio.Semaphore, up: list,
                      all_up: asyncio.Event):
    """Log in (at most --concurrency at once), count the session as up, then hold it."""
    try:
        async with gate:
            await session.login(ssl_context)
        up[0] += 1
        if up[0] == session.args.sessions:
            all_up.set()
        await session.hold()
    except asyncio.CancelledError:
        raise
    except Exception as error:  # any failure ends the benchmark, with its reason
        reason = str(error) or type(error).__name__
        raise SessionFailed(f"{session.index} {session.step}: {reason}") from error


async def main(args) -> int:
    loop, started = asyncio.get_running_loop(), time.monotonic()
    stop, all_up = asyncio.Event(), asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    ssl_context = ssl.create_default_context(cafile=args.ca)
    gate, up = asyncio.Semaphore(args.concurrency), [0]  # up[0]: sessions logged in so far
    sessions = [Session(i, args) for i in range(args.sessions)]
    tasks = [asyncio.create_task(run_session(s, ssl_context, gate, up, all_up)) for s in sessions]
    failed = asyncio.create_task(asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION))
    waiters = [failed, asyncio.create_task(stop.wait()), asyncio.create_task(all_up.wait())]
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    if all_up.is_set() and not failed.done():
        print(f"READY sessions={args.sessions} seconds={time.monotonic() - started:.1f}", flush=True)
        await asyncio.wait(waiters[:2], timeout=args.hold or None, return_when=asyncio.FIRST_COMPLETED)
    failures = [t.exception() for t in tasks if t.done() and not t.cancelled() and t.exception()]
    for task in tasks + waiters:
        task.cancel()
    await asyncio.gather(*tasks, *waiters, return_exceptions=True)  # stopped before streams close
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr, flush=True)
    if failures:
        for session in sessions:
            if session.writer is not None:
                session.writer.transport.abort()
        return 2
    await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
    return 0


def raise_file_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as error:
        print(f"cannot raise the open-file limit from {soft}: {error}", file=sys.stderr)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5222)
    p.add_argument("--domain", help="the server's XMPP domain, checked against its certificate (required)")
    p.add_argument("--ca", help="PEM file of the CA that signed the server's certificate (required)")
    p.add_argument("--prefix", default="u", help="account names are PREFIX0, PREFIX1, ... (default u)")
    p.add_argument("--users", type=int, help="how many accounts exist; session i logs in as "
                   "PREFIX(i %% USERS) (default: --sessions)")
    p.add_argument("--password", help="every account's password (required)")
    p.add_argument("--sessions", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=50, help="logins in flight at once (default 50)")
    p.add_argument("--hold", type=float, default=0,
                   help="seconds to hold once all are up; 0 = until SIGTERM/SIGINT")
    p.add_argument("--timeout", type=float, default=30,
                   help="seconds allowed for each login step (default 30)")
    p.add_argument("--self-test", action="store_true",
                   help="check the SCRAM client against RFC 5802's example and exit")
    args = p.parse_args()
    if not args.self_test:
        missing = [f"--{name}" for name in ("domain", "ca", "password") if getattr(args, name) is None]
        if missing:
            p.error("required: " + ", ".join(missing))
        args.users = args.users or args.sessions
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.self_test:
        sys.exit(self_test())
    raise_file_limit()
    sys.exit(asyncio.run(main(arguments)))
