#!/usr/bin/python3
"""Issue 14, finding 3: what one account can make the gateway store over XMPP is bounded.
Once 200 certificates were signed from one CSR in 0.1 s, each a permanent ledger entry.

usage: quotas.py --port P --domain D --ca CA --account JID PW --peer JID [--timeout 60]

Expects the gateway started with quotas.certificates_per_day = 3, quotas.ledger_writes_burst
= 5 and quotas.ledger_writes_per_minute = 6; ACCOUNT holds 100 credits and no certificate.
Checks: three CSRs are signed, each one revoking the one before (superseded), the fourth is
refused with resource-constraint and signs nothing; five transfers pass and the sixth is
refused with resource-constraint and moves nothing. Prints "quotas ok …" and exits 0.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clients import Client, check, run_scenario, scenario_parser  # noqa: E402
from market import MARKET, ask, refused  # noqa: E402

PKI = 'urn:agora:pki:1'


async def scenario(a):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    me = a.account[0]
    client = await Client(a, me, a.account[1]).login()
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, me)])).sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()
    serials = []
    for n in range(3):
        issued = await ask(client, 'set', PKI, 'csr', reply='certificate', text=csr)
        serials.append(issued.get('serial'))
    for old in serials[:-1]:
        found = await ask(client, 'get', PKI, 'cert', {'serial': old})
        check(found.get('revoked') == 'true', 'certificate %s was not superseded by the next: %s' % (old, found.attrib))
    current = await ask(client, 'get', PKI, 'cert', {'serial': serials[-1]})
    check(current.get('revoked') == 'false', 'the newest certificate is revoked: %s' % current.attrib)
    await refused(client, 'resource-constraint', 'set', PKI, 'csr', why='a fourth certificate the same day', text=csr)

    before = int((await ask(client, 'get', MARKET, 'balance')).get('credits'))
    for n in range(5):
        await ask(client, 'set', MARKET, 'transfer', {'to': a.peer, 'credits': 1})
    await refused(client, 'resource-constraint', 'set', MARKET, 'transfer', {'to': a.peer, 'credits': 1}, why='a sixth ledger write at once')
    after = int((await ask(client, 'get', MARKET, 'balance')).get('credits'))
    check(before - after == 5, 'the refused transfer moved credits: %d -> %d' % (before, after))
    await client.logout()
    return 'quotas ok: 3 certificates (2 superseded), the 4th refused; 5 transfers, the 6th refused'


def main():
    p = scenario_parser(__doc__, timeout=60)
    p.add_argument('--account', nargs=2, required=True)
    p.add_argument('--peer', required=True)
    run_scenario('quotas', scenario, p.parse_args())


if __name__ == '__main__':
    main()
