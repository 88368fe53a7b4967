"""A second, independent XMPP client library against `agora serve`: aioxmpp (PyPI).

Run with the virtual environment Scripts/install-deps.sh makes (.build-python/bin/python).
One scenario, exit 0 on success, non-zero with a one-line reason on stderr:

  --host H --port P --domain D --ca CA_PEM --jid J --password PW --jid2 J2 --password2 PW2 [--timeout S]

1. J and J2 log in (STARTTLS, certificate checked against --ca for --domain, SCRAM,
   resource binding: the step aioxmpp used to hang in, on a bind result `from` the domain);
2. J sends J2 a chat message, J2 receives it with J's full JID as `from`;
3. J asks the gateway its ledger checkpoint (urn:agora:ledger:1) and its credits
   (urn:agora:market:1): one gateway service through a client library that knows nothing of it.
"""
import argparse
import asyncio
import ssl
import sys

import aioxmpp
import aioxmpp.connector
import aioxmpp.security_layer
import aioxmpp.xso as xso
import OpenSSL.SSL


class Checkpoint(xso.XSO):
    TAG = ("urn:agora:ledger:1", "checkpoint")
    size = xso.Attr("size", type_=xso.Integer(), default=None)
    text = xso.Text(default=None)


class Balance(xso.XSO):
    TAG = ("urn:agora:market:1", "balance")
    credits = xso.Attr("credits", type_=xso.Integer(), default=None)


aioxmpp.IQ.as_payload_class(Checkpoint)
aioxmpp.IQ.as_payload_class(Balance)


def security_layer(password, ca):
    def context_factory():
        context = OpenSSL.SSL.Context(OpenSSL.SSL.TLS_CLIENT_METHOD)
        context.load_verify_locations(ca)
        context.set_verify(OpenSSL.SSL.VERIFY_PEER, lambda *args: args[-1] != 0)
        return context

    return aioxmpp.security_layer.SecurityLayer(
        ssl_context_factory=context_factory,
        certificate_verifier_factory=aioxmpp.security_layer.PKIXCertificateVerifier,
        tls_required=True,
        sasl_providers=[aioxmpp.security_layer.PasswordSASLProvider(lambda jid, attempt: password_future(password, attempt))],
    )


async def password_future(password, attempt):
    return password if attempt == 0 else None


def client(jid, password, args):
    return aioxmpp.PresenceManagedClient(
        aioxmpp.JID.fromstr(jid),
        security_layer(password, args.ca),
        override_peer=[(args.host, args.port, aioxmpp.connector.STARTTLSConnector())],
    )


async def scenario(args):
    alice = client(args.jid, args.password, args)
    bob = client(args.jid2, args.password2, args)
    received = asyncio.get_running_loop().create_future()

    def on_message(message):
        if message.type_ == aioxmpp.MessageType.CHAT and not received.done():
            received.set_result(message)

    async with bob.connected() as bob_stream:
        bob.stream.register_message_callback(aioxmpp.MessageType.CHAT, None, on_message)
        async with alice.connected() as alice_stream:
            for who, c in (("J", alice), ("J2", bob)):
                if c.local_jid is None or c.local_jid.resource is None:
                    raise SystemExit(f"{who} has no bound full JID")
            message = aioxmpp.Message(to=bob.local_jid.bare(), type_=aioxmpp.MessageType.CHAT)
            message.body[None] = "hello from aioxmpp"
            await alice_stream.send(message)
            got = await asyncio.wait_for(received, 10)
            if got.body.any() != "hello from aioxmpp" or got.from_ != alice.local_jid:
                raise SystemExit(f"J2 got {got.body.any()!r} from {got.from_}, expected the message from {alice.local_jid}")

            gateway = aioxmpp.JID.fromstr(args.domain)
            checkpoint = await alice_stream.send(aioxmpp.IQ(type_=aioxmpp.IQType.GET, to=gateway, payload=Checkpoint()))
            if checkpoint.size is None or checkpoint.size < 1 or not (checkpoint.text or "").startswith(args.domain + "/agora\n"):
                raise SystemExit(f"the ledger checkpoint is not a signed note of {args.domain}/agora: size={checkpoint.size}")
            balance = await alice_stream.send(aioxmpp.IQ(type_=aioxmpp.IQType.GET, to=gateway, payload=Balance()))
            if balance.credits is None:
                raise SystemExit("the balance reply has no credits")
            print(f"ok: bound {alice.local_jid}, message delivered, checkpoint size {checkpoint.size}, {balance.credits} credits")


def main():
    parser = argparse.ArgumentParser()
    for name in ("host", "domain", "ca", "jid", "password", "jid2", "password2"):
        parser.add_argument("--" + name, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=40)
    args = parser.parse_args()
    try:
        asyncio.run(asyncio.wait_for(scenario(args), args.timeout))
    except asyncio.TimeoutError:
        sys.exit(f"aioxmpp: no answer within {args.timeout} s")
    except (aioxmpp.errors.XMPPError, ConnectionError, OSError, ssl.SSLError) as error:
        sys.exit(f"aioxmpp: {type(error).__name__}: {error}")


if __name__ == "__main__":
    main()
