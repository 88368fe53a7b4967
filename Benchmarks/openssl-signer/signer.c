/* Baseline for issue 3: a minimal in-process CSR signer on OpenSSL's libcrypto — the
 * hand-written limit. Per CSR: parse the DER, verify its self-signature, build a v3
 * certificate (random 128-bit serial, CN, SAN URI, basicConstraints, keyUsage, EKU),
 * sign it with an ECDSA P-256 CA key and DER-encode it. Nothing is stored.
 * Usage: signer COUNT; prints signed certificates per second (one thread). */
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static EVP_PKEY *p256(void) {
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (!key) { fprintf(stderr, "keygen failed\n"); exit(1); }
    return key;
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext) { fprintf(stderr, "extension %d failed\n", nid); exit(1); }
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

int main(int argc, char **argv) {
    int count = argc > 1 ? atoi(argv[1]) : 5000;
    EVP_PKEY *caKey = p256();
    X509_NAME *caName = X509_NAME_new();
    X509_NAME_add_entry_by_txt(caName, "CN", MBSTRING_ASC, (const unsigned char *)"bench Agora CA", -1, -1, 0);
    X509 *ca = X509_new();
    X509_set_version(ca, 2);
    X509_set_issuer_name(ca, caName);
    X509_set_subject_name(ca, caName);
    X509_set_pubkey(ca, caKey);

    /* Untimed: one DER CSR per certificate, each from its own P-256 key. */
    unsigned char **csrs = calloc(count, sizeof *csrs);
    int *lengths = calloc(count, sizeof *lengths);
    for (int i = 0; i < count; i++) {
        EVP_PKEY *key = p256();
        X509_REQ *req = X509_REQ_new();
        X509_NAME *name = X509_NAME_new();
        char cn[32];
        snprintf(cn, sizeof cn, "s%d", i);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
        X509_REQ_set_subject_name(req, name);
        X509_REQ_set_pubkey(req, key);
        X509_REQ_sign(req, key, EVP_sha256());
        csrs[i] = NULL;
        lengths[i] = i2d_X509_REQ(req, &csrs[i]);
        X509_NAME_free(name);
        X509_REQ_free(req);
        EVP_PKEY_free(key);
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t total = 0;
    for (int i = 0; i < count; i++) {
        const unsigned char *p = csrs[i];
        X509_REQ *req = d2i_X509_REQ(NULL, &p, lengths[i]);
        EVP_PKEY *subjectKey = X509_REQ_get_pubkey(req);
        if (!req || X509_REQ_verify(req, subjectKey) != 1) { fprintf(stderr, "CSR %d does not verify\n", i); return 1; }
        X509 *cert = X509_new();
        X509_set_version(cert, 2);
        unsigned char serial[16];
        RAND_bytes(serial, sizeof serial);
        serial[0] &= 0x7f;
        BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
        BN_free(bn);
        X509_set_issuer_name(cert, caName);
        X509_set_subject_name(cert, X509_REQ_get_subject_name(req));
        X509_set_pubkey(cert, subjectKey);
        X509_gmtime_adj(X509_getm_notBefore(cert), 0);
        X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 86400);
        char san[64];
        snprintf(san, sizeof san, "URI:urn:agora:sensor:s%d", i);
        add_ext(cert, ca, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(cert, ca, NID_key_usage, "critical,digitalSignature");
        add_ext(cert, ca, NID_ext_key_usage, "clientAuth");
        add_ext(cert, ca, NID_subject_alt_name, san);
        if (!X509_sign(cert, caKey, EVP_sha256())) { fprintf(stderr, "sign failed\n"); return 1; }
        unsigned char *der = NULL;
        total += i2d_X509(cert, &der);
        OPENSSL_free(der);
        X509_free(cert);
        EVP_PKEY_free(subjectKey);
        X509_REQ_free(req);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("c_signer_certs_per_s %.0f (%d certificates, %zu DER bytes, one thread)\n", count / seconds, count, total);
    return 0;
}
