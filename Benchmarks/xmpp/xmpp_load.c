// xmpp_load: a single-threaded epoll load generator speaking raw XMPP (RFC 6120) over plain TCP.
// Stream open, SASL SCRAM-SHA-1 / SCRAM-SHA-256 (RFC 5802, OpenSSL PBKDF2/HMAC), stream restart,
// resource bind with a client-chosen resource, optional initial presence. No XML library: a small
// scanner finds complete top-level elements (depth 1 under <stream:stream>) and handles both quote
// styles in attributes.
//
// Modes (one per run):
//   logins   --n N --conc C                       N full logins (connect, SCRAM, bind, </stream:stream>),
//                                                 C at a time; logins/s. A login counts when its
//                                                 </stream:stream> is sent; the connection then waits
//                                                 in the background for the server's closing tag or EOF
//   cycles   --n N [--conc 1]                     the same, one at a time by default (the harness
//                                                 compares pings before and after)
//   pings    --sessions S --inflight F --seconds T XEP-0199 pings to the domain, F outstanding per session;
//            [--ping-to D]                        to domain D instead (another server: over federation)
//   messages --pairs P --inflight F --seconds T   P sender->receiver pairs, each sender keeps at most F
//                                                 messages to the receiver's full JID unreceived
//   idle     --sessions S --conc C [--hold T]     log in S sessions (C logins in progress at most), read
//                                                 the server's VmRSS before and after (--server-pid)
//   readings --sessions S --sensor ID --from EPOCH --count N --page P [--proofs] --seconds T
//                                                 Agora's urn:agora:readings:1: each session keeps one
//                                                 page request outstanding; page k asks for the window
//                                                 [EPOCH + kP, EPOCH + (k+1)P) s (RFC 3339, whole seconds)
//                                                 with RSM max P, k cycling over 0..N/P-1. The server
//                                                 holds one reading per second, so every reply must
//                                                 hold exactly P <r elements (else: exit 2). rate =
//                                                 readings/s; also pages/s and MB/s received
//   purchases --sessions S --sensor ID [--hours-per-session H] --seconds T
//                                                 Agora's urn:agora:market:1: each session keeps one
//                                                 purchase outstanding, a one-hour window per request
//                                                 (session i buys hour BASE + H*i + h, h = 0, 1, ...,
//                                                 BASE = now - 300 days rounded to the hour, H 2000 by
//                                                 default: at most H purchases per session, else exit 2),
//                                                 request id <pid>.<time>-<session>-<seq> (unique across
//                                                 runs). rate = purchases/s (durable ledger writes on the
//                                                 server); a replayed purchase is an error
//   muc      --sessions N --room JID [--senders S] [--inflight F] [--persistent] --seconds T
//                                                 XEP-0045: N sessions enter ROOM (nicknames o0..oN-1; the
//                                                 first creates it and configures it at once, persistent
//                                                 or not), then S senders each keep F groupchat messages
//                                                 unreflected. rate = messages received by all occupants
//                                                 per second (the fan-out); also messages=<sent per second>
//   mam      --from EPOCH --to EPOCH --n Q [--page P]
//                                                 XEP-0313: one session sends Q archive queries one after
//                                                 another, each for the page of P (50) messages after a
//                                                 random time in [FROM, TO), and times each from sending
//                                                 to the IQ result (all P results must have come: else
//                                                 exit 2). rate = queries/s; p50_ms, p99_ms, max_ms
//   soak     --sessions S --interval I --seconds T [--conc C] [--report R] [--drain D]
//                                                 log in S sessions (C logins in progress, 50 by default;
//                                                 S may exceed --users: more resources per user), then each
//                                                 session sends one XEP-0199 ping to the domain every I
//                                                 seconds (sessions staggered evenly over I), for T seconds;
//                                                 then waits up to D s (10) for the last answers. Prints a
//                                                 "PROGRESS t=.. sent=.. answered=.. outstanding=.." line every
//                                                 R s (10) and RESULT with sent, answered, lost and latency
//                                                 p50/p99/max in ms. Exit 3 if any ping went unanswered
// Common: --host 127.0.0.1 --port P --domain D --user-prefix u --users K --password PW
//         --mech SCRAM-SHA-1|SCRAM-SHA-256 --warmup 2 --server-pid PID --settle 3 --key-cache FILE
//         --presence --verbose
//         --starttls [--tls-ca FILE]   STARTTLS (RFC 6120 §5) before SASL, the server's certificate checked
//                                      against FILE (chain and name = --domain) when given; needs a build
//                                      with -DXMPP_LOAD_TLS and -lssl (the other modes do not)
// Elements may be large (a readings page of 500 with proofs is ~350 KB): the read buffer grows to
// hold one top-level element of up to 16 MB; a larger one is a clear error (exit 2).
// Session i logs in as <prefix>(i % K) with resource r<i / K>-<pid> (unique across runs, so a new run
// never conflicts with sessions the server has not yet torn down); so 5000 sessions over 500 users are
// 10 resources per user. The client caches SaltedPassword per user and salt (as RFC 5802 allows), so
// PBKDF2 runs once per user, not once per login: the generator measures the server, not itself.
//
// Output: one line "RESULT mode=... rate=... gen_cpu=..% server_cpu=..% other_cpu=..% steal=..%" (idle:
// rss_before_kb, rss_after_kb, per_session_kb instead of rate; readings: also pages=<pages/s>
// mbps=<MB/s received>), CPU in % of one core over the measured
// window; other_cpu is the rest of the machine (/proc/stat) and should be ~0 on a quiet machine.
// Exit status 0 on success, 1 on usage error, 2 on a protocol error or timeout.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef XMPP_LOAD_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#endif

// ---------------------------------------------------------------------------------------------
// Options

enum mode { M_LOGINS, M_CYCLES, M_PINGS, M_MESSAGES, M_IDLE, M_READINGS, M_PURCHASES, M_SOAK, M_MUC, M_MAM };

static struct {
    enum mode mode;
    const char *host, *domain, *prefix, *password, *mech, *key_cache, *sensor, *tls_ca, *room, *ping_to;
    int port, users, n, conc, sessions, inflight, pairs, server_pid, count, page, hours_per_session, senders;
    long long from, to;
    double seconds, warmup, hold, settle, interval, report, drain;
    bool presence, verbose, proofs, starttls, persistent;
} opt = {
    .host = "127.0.0.1", .domain = "localhost", .prefix = "u", .password = "bench-password",
    .mech = "SCRAM-SHA-1", .port = 5222, .users = 500, .n = 1000, .conc = -1, .sessions = -1,
    .inflight = 16, .pairs = 25, .seconds = 10, .warmup = 2, .hold = 0, .settle = 3, .count = 100000, .page = 500,
    .hours_per_session = 2000, .interval = 1, .report = 10, .drain = 10, .senders = 1,
};

// Largest top-level element the read buffer grows to hold.
#define MAX_ELEMENT (16u << 20)


static const EVP_MD *md;  // SHA-1 or SHA-256
static int md_len;

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "xmpp_load: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double self_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

// utime + stime of the server process (all threads), seconds; -1 without --server-pid.
static double server_cpu(void) {
    if (opt.server_pid <= 0) return -1;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", opt.server_pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    char *p = strrchr(buf, ')');  // comm may contain spaces
    if (!p) return -1;
    unsigned long ut = 0, st = 0;
    // after ") ": state(3) ... utime is field 14, stime 15
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
    return (ut + st) / (double)sysconf(_SC_CLK_TCK);
}

// Busy and steal time of the whole machine (all CPUs), seconds, from /proc/stat.
static void machine_cpu(double *busy, double *steal) {
    unsigned long long v[10] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (f) {
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7], &v[8], &v[9]) < 8)
            memset(v, 0, sizeof v);
        fclose(f);
    }
    double hz = sysconf(_SC_CLK_TCK);
    *busy = (v[0] + v[1] + v[2] + v[5] + v[6]) / hz;  // user nice system irq softirq (guest is in user)
    *steal = v[7] / hz;
}

struct sample { double t, gen, server, busy, steal; };

static struct sample sample_now(void) {
    struct sample s = {.t = now(), .gen = self_cpu(), .server = server_cpu()};
    machine_cpu(&s.busy, &s.steal);
    return s;
}

// "gen_cpu=..% server_cpu=..% other_cpu=..% steal=..%" between two samples, in % of one core.
// other_cpu is everything else that ran on the machine meanwhile: it should be near 0.
static const char *cpu_report(struct sample a, struct sample b) {
    static char buf[160];
    double el = b.t - a.t, gen = b.gen - a.gen, srv = b.server - a.server;
    if (a.server < 0 || b.server < 0) {
        snprintf(buf, sizeof buf, "gen_cpu=%.0f%% server_cpu=n/a other_cpu=n/a steal=%.0f%%", 100 * gen / el,
                 100 * (b.steal - a.steal) / el);
    } else {
        double other = (b.busy - a.busy) - gen - srv;
        snprintf(buf, sizeof buf, "gen_cpu=%.0f%% server_cpu=%.0f%% other_cpu=%.0f%% steal=%.0f%%", 100 * gen / el,
                 100 * srv / el, 100 * (other > 0 ? other : 0) / el, 100 * (b.steal - a.steal) / el);
    }
    return buf;
}

static long server_rss_kb(void) {
    if (opt.server_pid <= 0) return -1;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", opt.server_pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

// ---------------------------------------------------------------------------------------------
// Base64 and SCRAM

static int b64enc(const unsigned char *in, int len, char *out) { return EVP_EncodeBlock((unsigned char *)out, in, len); }

static int b64dec(const char *in, int len, unsigned char *out) {
    while (len > 0 && (in[len - 1] == ' ' || in[len - 1] == '\n' || in[len - 1] == '\r')) len--;
    if (len % 4) return -1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, len);
    if (n < 0) return -1;
    if (len >= 1 && in[len - 1] == '=') n--;
    if (len >= 2 && in[len - 2] == '=') n--;
    out[n] = 0;
    return n;
}

static void hmac(const unsigned char *key, int klen, const void *data, size_t dlen, unsigned char *out) {
    unsigned int olen = 0;
    HMAC(md, key, klen, data, dlen, out, &olen);
}

struct user_keys {  // SCRAM keys cached per user and salt
    char salt[96];
    int iterations;
    unsigned char salted[64], client_key[64], stored_key[64], server_key[64];
};
static struct user_keys *ukeys;
static long pbkdf2_runs;
static bool keys_changed;

static void derive_keys(struct user_keys *k) {
    hmac(k->salted, md_len, "Client Key", 10, k->client_key);
    unsigned int l;
    EVP_Digest(k->client_key, md_len, k->stored_key, &l, md, NULL);
    hmac(k->salted, md_len, "Server Key", 10, k->server_key);
}

static struct user_keys *keys_for(int user, const char *salt_b64, int iterations) {
    struct user_keys *k = &ukeys[user];
    if (k->iterations == iterations && strcmp(k->salt, salt_b64) == 0) return k;
    unsigned char salt[128];
    int slen = b64dec(salt_b64, strlen(salt_b64), salt);
    if (slen < 0 || strlen(salt_b64) >= sizeof k->salt) die("bad salt '%s'", salt_b64);
    if (!PKCS5_PBKDF2_HMAC(opt.password, strlen(opt.password), salt, slen, iterations, md, md_len, k->salted))
        die("PBKDF2 failed");
    pbkdf2_runs++;
    keys_changed = true;
    strcpy(k->salt, salt_b64);
    k->iterations = iterations;
    derive_keys(k);
    return k;
}

// --key-cache FILE: SaltedPassword per user survives across runs ("mech user iterations salt hex" lines),
// so that later runs against the same accounts do no PBKDF2 at all.
static void load_key_cache(void) {
    if (!opt.key_cache) return;
    FILE *f = fopen(opt.key_cache, "r");
    if (!f) return;
    char mech[32], salt[96], hex[160];
    int user, iterations;
    while (fscanf(f, "%31s %d %d %95s %159s", mech, &user, &iterations, salt, hex) == 5) {
        if (strcmp(mech, opt.mech) != 0 || user < 0 || user >= opt.users || (int)strlen(hex) != 2 * md_len) continue;
        struct user_keys *k = &ukeys[user];
        strcpy(k->salt, salt);
        k->iterations = iterations;
        for (int i = 0; i < md_len; i++) sscanf(hex + 2 * i, "%2hhx", &k->salted[i]);
        derive_keys(k);
    }
    fclose(f);
}

static void save_key_cache(void) {
    if (!opt.key_cache || !keys_changed) return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", opt.key_cache);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    for (int u = 0; u < opt.users; u++) {
        struct user_keys *k = &ukeys[u];
        if (!k->iterations) continue;
        fprintf(f, "%s %d %d %s ", opt.mech, u, k->iterations, k->salt);
        for (int i = 0; i < md_len; i++) fprintf(f, "%02x", k->salted[i]);
        fprintf(f, "\n");
    }
    fclose(f);
    rename(tmp, opt.key_cache);
}

// ---------------------------------------------------------------------------------------------
// Connections

enum state { S_FREE, S_CONNECTING, S_FEATURES1, S_STARTTLS, S_HANDSHAKE, S_CHALLENGE, S_SUCCESS, S_FEATURES2, S_BIND,
             S_READY, S_CLOSING };

struct conn {
    int fd, slot, user, state;
    char resource[24];
    char *in;
    size_t in_len, in_cap, scan, elem_start;
    int depth;
    bool restart;  // SASL success: reset the parser for the new stream
    char *out;
    size_t out_len, out_cap, out_off;
    bool dirty, want_out;
    char cnonce[40], client_first_bare[160], auth_message[1024];
    unsigned char server_sig[64];
    char jid[256];
    int outstanding;       // pings: unanswered; messages (sender): sent but not yet received
    struct conn *peer;     // messages: the receiver of a sender, the sender of a receiver
    bool sender;
    unsigned long next_id;
    unsigned long expect_id;  // readings, purchases: id number of the outstanding request
    void *ssl;                // SSL * after STARTTLS (XMPP_LOAD_TLS builds), else NULL
    bool tls_done;            // the TLS handshake finished: the next features offer SASL
    double next_due;          // soak: when this session sends its next ping
#define SOAK_RING 64
    double sent_at[SOAK_RING];  // soak: send time of ping id k at [k % SOAK_RING]
};

static int ep;
static struct conn *conns;  // indexed by slot
static int nslots;
static struct conn **dirty;
static int ndirty;
static struct sockaddr_in addr;

// counters
static long logins_started, logins_done, ready_count, completed;
static long joined_count;  // muc: occupants whose self-presence (status 110) came back
static bool room_ready;    // muc: the first occupant created and configured the room
static long long items_measured, bytes_measured;  // readings: <r> elements and bytes received while measuring
static long long purchase_base;                    // purchases: first hour's start, Unix seconds
static long npages;                                // readings: pages in the cycle (count / page)
static int *restart_slots;  // slots whose login finished: reconnect from the main loop
static int nrestart;
static bool measuring, all_ready, stop_new;
static double last_progress;
static bool printed_mechs;
static long rss_after = -1;

// ---------------------------------------------------------------------------------------------
// Transport: plain read/write, or OpenSSL after STARTTLS. Both return what read(2)/write(2) would,
// with errno EAGAIN when the TLS layer needs the socket to become readable or writable.

#ifdef XMPP_LOAD_TLS
static SSL_CTX *tls_ctx;

static void tls_init(void) {
    tls_ctx = SSL_CTX_new(TLS_client_method());
    if (!tls_ctx) die("SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (opt.tls_ca) {
        if (SSL_CTX_load_verify_locations(tls_ctx, opt.tls_ca, NULL) != 1) die("cannot load --tls-ca %s", opt.tls_ca);
        SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
    }
}

static const char *tls_error(void) {
    static char buf[256];
    unsigned long e = ERR_get_error();
    if (!e) return strerror(errno);
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

static ssize_t tls_io(struct conn *c, int r) {
    int err = SSL_get_error(c->ssl, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (err == SSL_ERROR_ZERO_RETURN) return 0;
    if (err == SSL_ERROR_SYSCALL && errno == 0) return 0;  // EOF without close_notify
    if (err != SSL_ERROR_SYSCALL) errno = EPROTO;
    return -1;
}
#endif

static ssize_t conn_read(struct conn *c, void *buf, size_t len) {
#ifdef XMPP_LOAD_TLS
    if (c->ssl) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
        return r > 0 ? r : tls_io(c, r);
    }
#endif
    return read(c->fd, buf, len);
}

static ssize_t conn_write(struct conn *c, const void *buf, size_t len) {
#ifdef XMPP_LOAD_TLS
    if (c->ssl) {
        ERR_clear_error();
        int r = SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
        return r > 0 ? r : tls_io(c, r);
    }
#endif
    return write(c->fd, buf, len);
}

static void conn_free_tls(struct conn *c) {
#ifdef XMPP_LOAD_TLS
    if (c->ssl) SSL_free(c->ssl);
#endif
    c->ssl = NULL;
}

static void out_append(struct conn *c, const char *s, size_t len) {
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 1024;
        while (cap < c->out_len + len) cap *= 2;
        c->out = realloc(c->out, cap);
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, s, len);
    c->out_len += len;
    if (!c->dirty) {
        c->dirty = true;
        dirty[ndirty++] = c;
    }
}

static void out_printf(struct conn *c, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof buf) die("stanza too long");
    out_append(c, buf, n);
}

static void set_events(struct conn *c, bool want_out) {
    if (c->want_out == want_out) return;
    c->want_out = want_out;
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
}

static void close_conn(struct conn *c);

static void flush_conn(struct conn *c) {
    c->dirty = false;
    if (c->state == S_FREE || c->state == S_CONNECTING) return;
    while (c->out_off < c->out_len) {
        ssize_t w = conn_write(c, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0) {
            if (errno == EAGAIN) {
                set_events(c, true);
                return;
            }
            if (errno == EINTR) continue;
            die("slot %d: write: %s", c->slot, errno == EPROTO ? "TLS error" : strerror(errno));
        }
        c->out_off += w;
    }
    c->out_off = c->out_len = 0;
    set_events(c, false);
}

// STARTTLS: <proceed/> received; the handshake runs from the event loop (tls_step) until done, then the
// client opens a new stream (RFC 6120 §5.4.3.3).
static void send_stream_header(struct conn *c);

static void tls_step(struct conn *c) {
#ifdef XMPP_LOAD_TLS
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->tls_done = true;
        c->state = S_FEATURES1;
        set_events(c, false);
        send_stream_header(c);
        return;
    }
    int err = SSL_get_error(c->ssl, r);
    if (err == SSL_ERROR_WANT_READ) set_events(c, false);
    else if (err == SSL_ERROR_WANT_WRITE) set_events(c, true);
    else {
        long v = SSL_get_verify_result(c->ssl);
        die("slot %d: TLS handshake failed: %s%s%s", c->slot, tls_error(), v != X509_V_OK ? "; certificate: " : "",
            v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
    }
#else
    die("slot %d: built without TLS (compile with -DXMPP_LOAD_TLS ... -lssl -lcrypto)", c->slot);
#endif
}

static void tls_start(struct conn *c) {
#ifdef XMPP_LOAD_TLS
    if (c->out_len > c->out_off) die("slot %d: unsent data before the TLS handshake", c->slot);
    c->out_off = c->out_len = 0;
    SSL *ssl = SSL_new(tls_ctx);
    if (!ssl || SSL_set_fd(ssl, c->fd) != 1) die("SSL_new failed");
    SSL_set_tlsext_host_name(ssl, opt.domain);
    if (opt.tls_ca) SSL_set1_host(ssl, opt.domain);
    SSL_set_connect_state(ssl);
    c->ssl = ssl;
    c->state = S_HANDSHAKE;
    c->restart = true;  // the parser starts over with the new stream
    tls_step(c);
#else
    die("slot %d: built without TLS (compile with -DXMPP_LOAD_TLS ... -lssl -lcrypto)", c->slot);
#endif
}

static void send_stream_header(struct conn *c) {
    out_printf(c,
               "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
               "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>",
               opt.domain);
}

static void start_conn(int slot, int session) {
    struct conn *c = &conns[slot];
    char *in = c->in, *out = c->out;
    size_t in_cap = c->in_cap, out_cap = c->out_cap;
    memset(c, 0, sizeof *c);
    c->in = in, c->in_cap = in_cap, c->out = out, c->out_cap = out_cap;
    c->slot = slot;
    c->user = session % opt.users;
    snprintf(c->resource, sizeof c->resource, "r%d-%d", session / opt.users, (int)(getpid() % 100000));
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS)
        die("connect: %s", strerror(errno));
    c->state = S_CONNECTING;
    c->want_out = true;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl add: %s", strerror(errno));
    logins_started++;
}

static void close_conn(struct conn *c) {
    if (c->fd < 0) return;
    conn_free_tls(c);
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = S_FREE;
    c->in_len = c->scan = c->out_len = c->out_off = 0;
}

// ---------------------------------------------------------------------------------------------
// Element helpers (operate on one complete element: [s, e))

static bool has(const char *s, const char *e, const char *needle) {
    return memmem(s, e - s, needle, strlen(needle)) != NULL;
}

// End of the opening tag (position of its '>'), quote-aware.
static const char *tag_end(const char *s, const char *e) {
    char q = 0;
    for (const char *p = s; p < e; p++) {
        if (q) {
            if (*p == q) q = 0;
        } else if (*p == '\'' || *p == '"') {
            q = *p;
        } else if (*p == '>') {
            return p;
        }
    }
    return NULL;
}

// Value of attribute NAME in the opening tag, either quote style; copies at most cap-1 bytes.
static bool attr(const char *s, const char *e, const char *name, char *val, size_t cap) {
    const char *te = tag_end(s, e);
    if (!te) return false;
    size_t nl = strlen(name);
    char q = 0;
    for (const char *p = s; p + nl + 2 < te; p++) {
        if (q) {
            if (*p == q) q = 0;
            continue;
        }
        if (*p == '\'' || *p == '"') {
            q = *p;
            continue;
        }
        if ((*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') && memcmp(p + 1, name, nl) == 0) {
            const char *v = p + 1 + nl;
            while (v < te && *v == ' ') v++;
            if (*v != '=') continue;
            v++;
            while (v < te && *v == ' ') v++;
            char vq = *v;
            if (vq != '\'' && vq != '"') continue;
            const char *ve = memchr(v + 1, vq, te - v - 1);
            if (!ve) return false;
            size_t l = ve - v - 1;
            if (l >= cap) l = cap - 1;
            memcpy(val, v + 1, l);
            val[l] = 0;
            return true;
        }
    }
    return false;
}

// Text between the opening tag and the first following '<' (the element's leading character data).
static int text(const char *s, const char *e, char *out, size_t cap) {
    const char *te = tag_end(s, e);
    if (!te || te[-1] == '/') {
        out[0] = 0;
        return 0;
    }
    const char *lt = memchr(te + 1, '<', e - te - 1);
    if (!lt) lt = e;
    size_t l = lt - te - 1;
    if (l >= cap) l = cap - 1;
    memcpy(out, te + 1, l);
    out[l] = 0;
    return l;
}

static void element_name(const char *s, const char *e, char *out, size_t cap) {
    size_t i = 0;
    for (const char *p = s + 1; p < e && i + 1 < cap && !strchr(" \t\r\n/>", *p); p++) out[i++] = *p;
    out[i] = 0;
}

// ---------------------------------------------------------------------------------------------
// Protocol

static void on_bound(struct conn *c);
static void finished_login(struct conn *c);

static void protocol_error(struct conn *c, const char *what, const char *s, const char *e) {
    int len = e && s ? (int)(e - s) : 0;
    if (len > 600) len = 600;
    die("slot %d (%s%d/%s): %s: %.*s", c->slot, opt.prefix, c->user, c->resource, what, len, s ? s : "");
}

static void send_auth(struct conn *c) {
    unsigned char rnd[18];
    RAND_bytes(rnd, sizeof rnd);
    b64enc(rnd, sizeof rnd, c->cnonce);
    snprintf(c->client_first_bare, sizeof c->client_first_bare, "n=%s%d,r=%s", opt.prefix, c->user, c->cnonce);
    char first[200], b64[300];
    int n = snprintf(first, sizeof first, "n,,%s", c->client_first_bare);
    b64enc((unsigned char *)first, n, b64);
    out_printf(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='%s'>%s</auth>", opt.mech, b64);
    c->state = S_CHALLENGE;
}

static void on_challenge(struct conn *c, const char *s, const char *e) {
    char b64[1024];
    unsigned char sf[800];
    text(s, e, b64, sizeof b64);
    int n = b64dec(b64, strlen(b64), sf);
    if (n <= 0) protocol_error(c, "undecodable challenge", s, e);
    // r=<nonce>,s=<salt>,i=<iterations>
    char nonce[256] = "", salt[128] = "";
    int iterations = 0;
    for (char *tok = strtok((char *)sf, ","); tok; tok = strtok(NULL, ",")) {
        if (tok[0] == 'r' && tok[1] == '=') snprintf(nonce, sizeof nonce, "%s", tok + 2);
        else if (tok[0] == 's' && tok[1] == '=') snprintf(salt, sizeof salt, "%s", tok + 2);
        else if (tok[0] == 'i' && tok[1] == '=') iterations = atoi(tok + 2);
    }
    if (strncmp(nonce, c->cnonce, strlen(c->cnonce)) != 0 || !salt[0] || iterations <= 0)
        protocol_error(c, "bad server-first-message", s, e);
    // re-decode: strtok wrote NULs into sf
    b64dec(b64, strlen(b64), sf);
    struct user_keys *k = keys_for(c->user, salt, iterations);
    char final_wo_proof[300];
    snprintf(final_wo_proof, sizeof final_wo_proof, "c=biws,r=%s", nonce);
    int am = snprintf(c->auth_message, sizeof c->auth_message, "%s,%s,%s", c->client_first_bare, (char *)sf,
                      final_wo_proof);
    unsigned char sig[64], proof[64];
    hmac(k->stored_key, md_len, c->auth_message, am, sig);
    for (int i = 0; i < md_len; i++) proof[i] = k->client_key[i] ^ sig[i];
    hmac(k->server_key, md_len, c->auth_message, am, c->server_sig);
    char proof64[100], final[512], final64[700];
    b64enc(proof, md_len, proof64);
    int fl = snprintf(final, sizeof final, "%s,p=%s", final_wo_proof, proof64);
    b64enc((unsigned char *)final, fl, final64);
    out_printf(c, "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</response>", final64);
    c->state = S_SUCCESS;
}

static void on_success(struct conn *c, const char *s, const char *e) {
    char b64[512];
    unsigned char v[400];
    text(s, e, b64, sizeof b64);
    int n = b64dec(b64, strlen(b64), v);
    if (n > 2 && v[0] == 'v' && v[1] == '=') {
        char expect[100];
        b64enc(c->server_sig, md_len, expect);
        if (strcmp((char *)v + 2, expect) != 0) protocol_error(c, "server signature mismatch", s, e);
    } else {
        protocol_error(c, "success without server signature", s, e);
    }
    c->restart = true;
    send_stream_header(c);
    c->state = S_FEATURES2;
}

static void send_ping(struct conn *c) {
    out_printf(c, "<iq type='get' id='p%lu' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>", c->next_id++,
               opt.ping_to ? opt.ping_to : opt.domain);
    c->outstanding++;
}

// soak: counters and a latency histogram in 0.1 ms buckets up to 10 s (the last bucket holds the rest).
#define LAT_BUCKETS 100001
static long long soak_sent, soak_answered, soak_late, soak_behind;
static long long *lat_hist;
static double lat_max, lat_max_window;

static void send_soak_ping(struct conn *c) {
    c->sent_at[c->next_id % SOAK_RING] = now();
    out_printf(c, "<iq type='get' id='s%lu' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>", c->next_id, opt.domain);
    c->next_id++;
    c->outstanding++;
    soak_sent++;
}

static void on_soak_result(struct conn *c, const char *s, const char *e) {
    char id[32];
    if (!attr(s, e, "id", id, sizeof id) || id[0] != 's') protocol_error(c, "result to a request not sent", s, e);
    unsigned long k = strtoul(id + 1, NULL, 10);
    if (k >= c->next_id || c->outstanding <= 0) protocol_error(c, "result to a ping not outstanding", s, e);
    c->outstanding--;
    soak_answered++;
    if (c->next_id - k > SOAK_RING) {  // its send time was overwritten: more than SOAK_RING pings behind
        soak_late++;
        return;
    }
    double ms = (now() - c->sent_at[k % SOAK_RING]) * 1000;
    long b = (long)(ms * 10);
    lat_hist[b < LAT_BUCKETS ? b : LAT_BUCKETS - 1]++;
    if (ms > lat_max) lat_max = ms;
    if (ms > lat_max_window) lat_max_window = ms;
}

// Latency at quantile q (0..1) in ms, from the histogram (bucket upper bound).
static double lat_quantile(double q) {
    long long total = 0, seen = 0;
    for (long i = 0; i < LAT_BUCKETS; i++) total += lat_hist[i];
    if (!total) return 0;
    long long want = (long long)(q * total);
    if (want < 1) want = 1;
    for (long i = 0; i < LAT_BUCKETS; i++) {
        seen += lat_hist[i];
        if (seen >= want) return (i + 1) / 10.0;
    }
    return lat_max;
}

static void send_message(struct conn *c) {
    out_printf(c, "<message type='chat' to='%s' id='m%lu'><body>Message number %lu from the load generator.</body></message>",
               c->peer->jid, c->next_id, c->next_id);
    c->next_id++;
    c->outstanding++;
}

// muc: enter the room as o<slot>, asking for no history.
static void send_join(struct conn *c) {
    out_printf(c, "<presence to='%s/o%d'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>",
               opt.room, c->slot);
}

static void send_groupchat(struct conn *c) {
    out_printf(c, "<message type='groupchat' to='%s' id='g%lu'><body>Message number %lu to the room.</body></message>", opt.room,
               c->next_id, c->next_id);
    c->next_id++;
    c->outstanding++;
}

// muc: the room's answers to an occupant — its own presence, the configuration's result, messages.
static void on_muc_element(struct conn *c, const char *name, const char *s, const char *e) {
    char type[16] = "", from[300] = "";
    attr(s, e, "type", type, sizeof type);
    attr(s, e, "from", from, sizeof from);
    if (strcmp(type, "error") == 0) protocol_error(c, "error from the room", s, e);
    if (strcmp(name, "presence") == 0) {
        bool self = has(s, e, "code='110'") || has(s, e, "code=\"110\"");
        if (!self) return;
        if (has(s, e, "code='201'") || has(s, e, "code=\"201\"")) {  // created: configure it now (an instant room)
            out_printf(c,
                       "<iq type='set' id='cfg' to='%s'><query xmlns='http://jabber.org/protocol/muc#owner'>"
                       "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'>"
                       "<value>http://jabber.org/protocol/muc#roomconfig</value></field>"
                       "<field var='muc#roomconfig_persistentroom'><value>%d</value></field></x></query></iq>",
                       opt.room, opt.persistent ? 1 : 0);
            return;
        }
        joined_count++;
        if (c->slot == 0 && !room_ready) {
            room_ready = true;
            for (int i = 1; i < nslots; i++) if (conns[i].state == S_READY) send_join(&conns[i]);
        }
    } else if (strcmp(name, "iq") == 0 && strcmp(type, "result") == 0) {
        char id[16] = "";
        attr(s, e, "id", id, sizeof id);
        if (strcmp(id, "cfg") == 0 && !room_ready) {
            joined_count++;
            room_ready = true;
            for (int i = 1; i < nslots; i++) if (conns[i].state == S_READY) send_join(&conns[i]);
        }
    } else if (strcmp(name, "message") == 0 && has(s, e, "<body>")) {
        if (measuring) completed++;
        const char *slash = strrchr(from, '/');
        if (c->sender && slash && slash[1] == 'o' && atoi(slash + 2) == c->slot) {
            c->outstanding--;
            if (measuring) items_measured++;
            if (!stop_new) send_groupchat(c);
        }
    }
}

static void rfc3339(long long t, char *buf, size_t cap);

// mam: one query outstanding; latencies in ms, the results of the current query counted.
static double mam_sent_at, *mam_latency;
static long mam_results, mam_done;

static void send_mam_query(struct conn *c) {
    char start[32];
    long long span = opt.to - opt.from;
    rfc3339(opt.from + (span > 0 ? (long long)(drand48() * span) : 0), start, sizeof start);
    out_printf(c,
               "<iq type='set' id='q%lu'><query xmlns='urn:xmpp:mam:2' queryid='q%lu'><x xmlns='jabber:x:data' type='submit'>"
               "<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>"
               "<field var='start'><value>%s</value></field></x>"
               "<set xmlns='http://jabber.org/protocol/rsm'><max>%d</max></set></query></iq>",
               c->next_id, c->next_id, start, opt.page);
    c->next_id++;
    mam_results = 0;
    mam_sent_at = now();
}

static void on_mam_element(struct conn *c, const char *name, const char *s, const char *e) {
    char type[16] = "";
    attr(s, e, "type", type, sizeof type);
    if (strcmp(type, "error") == 0) protocol_error(c, "archive query refused", s, e);
    if (strcmp(name, "message") == 0 && has(s, e, "urn:xmpp:mam:2")) {
        mam_results++;
    } else if (strcmp(name, "iq") == 0 && strcmp(type, "result") == 0) {
        if (mam_results != opt.page) protocol_error(c, "a page without as many results as asked (archive too small?)", s, e);
        mam_latency[mam_done++] = (now() - mam_sent_at) * 1000;
        completed++;
        if (mam_done < opt.n) send_mam_query(c);
    } else if (strcmp(name, "iq") == 0 && strcmp(type, "get") == 0) {
        char id[128] = "";
        attr(s, e, "id", id, sizeof id);
        out_printf(c, "<iq type='result' id='%s'/>", id);
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// Unix seconds as RFC 3339 UTC, whole seconds ("2026-11-22T07:00:00Z").
static void rfc3339(long long t, char *buf, size_t cap) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

// readings: page k of the cycle; sessions start at different pages.
static void send_readings(struct conn *c) {
    long k = (long)((c->next_id + (unsigned long)c->slot) % (unsigned long)npages);
    char from[40], to[40];
    rfc3339(opt.from + (long long)k * opt.page, from, sizeof from);
    rfc3339(opt.from + (long long)(k + 1) * opt.page, to, sizeof to);
    c->expect_id = c->next_id;
    out_printf(c,
               "<iq type='get' id='h%lu' to='%s'><readings xmlns='urn:agora:readings:1' sensor='%s' from='%s' to='%s'%s>"
               "<set xmlns='http://jabber.org/protocol/rsm'><max>%d</max></set></readings></iq>",
               c->next_id++, opt.domain, opt.sensor, from, to, opt.proofs ? " proofs='true'" : "", opt.page);
    c->outstanding++;
}

// purchases: the next hour of this session's range, under a request id no other run uses.
static void send_purchase(struct conn *c) {
    if (c->next_id >= (unsigned long)opt.hours_per_session)
        die("session %d made %d purchases, as many as its range of one-hour windows holds (raise --hours-per-session "
            "or shorten --seconds)", c->slot, opt.hours_per_session);
    long long start = purchase_base + ((long long)c->slot * opt.hours_per_session + (long long)c->next_id) * 3600;
    char from[40], to[40];
    rfc3339(start, from, sizeof from);
    rfc3339(start + 3600, to, sizeof to);
    static long run_tag;
    if (!run_tag) run_tag = (long)time(NULL);
    c->expect_id = c->next_id;
    out_printf(c,
               "<iq type='set' id='p%lu' to='%s'><purchase xmlns='urn:agora:market:1' sensor='%s' from='%s' to='%s' "
               "request='%d.%ld-%d-%lu'/></iq>",
               c->next_id, opt.domain, opt.sensor, from, to, (int)getpid(), run_tag, c->slot, c->next_id);
    c->next_id++;
    c->outstanding++;
}

// The first 300 bytes of a bad reply (and its <error> child, which an error reply puts after the
// echoed request), then exit 2.
static void bad_reply(struct conn *c, const char *what, const char *s, const char *e) {
    int len = (int)(e - s);
    fprintf(stderr, "xmpp_load: slot %d (%s%d/%s): %s (%d bytes): %.*s%s\n", c->slot, opt.prefix, c->user, c->resource,
            what, len, len > 300 ? 300 : len, s, len > 300 ? "..." : "");
    const char *err = len > 300 ? memmem(s, len, "<error ", 7) : NULL;
    if (err) fprintf(stderr, "xmpp_load:   its error: %.*s\n", (int)(e - err) > 600 ? 600 : (int)(e - err), err);
    exit(2);
}

// A readings or purchases reply (an <iq type='result'|'error'>).
static void on_service_reply(struct conn *c, const char *s, const char *e, const char *type) {
    char id[32], want[32];
    attr(s, e, "id", id, sizeof id);
    snprintf(want, sizeof want, "%c%lu", opt.mode == M_READINGS ? 'h' : 'p', c->expect_id);
    if (strcmp(type, "error") == 0) bad_reply(c, "error reply", s, e);
    if (c->outstanding != 1 || strcmp(id, want) != 0) bad_reply(c, "reply to a request not outstanding", s, e);
    c->outstanding--;
    if (opt.mode == M_READINGS) {
        long n = 0;
        for (const char *p = s; (p = memmem(p, e - p, "<r ", 3)); p += 3) n++;
        if (n != opt.page) {
            char what[80];
            snprintf(what, sizeof what, "page holds %ld readings, expected %d", n, opt.page);
            bad_reply(c, what, s, e);
        }
        if (measuring) {
            completed++;
            items_measured += n;
        }
        if (!stop_new) send_readings(c);
    } else {
        if (!has(s, e, "<purchase ")) bad_reply(c, "result without <purchase>", s, e);
        if (has(s, e, "replayed='true'") || has(s, e, "replayed=\"true\""))
            bad_reply(c, "purchase replayed (request id reused)", s, e);
        if (measuring) completed++;
        if (!stop_new) send_purchase(c);
    }
}

static void on_element(struct conn *c, const char *s, const char *e) {
    char name[64];
    element_name(s, e, name, sizeof name);
    if (opt.verbose) fprintf(stderr, "[%d] <- %.*s\n", c->slot, (int)(e - s), s);
    switch (c->state) {
    case S_FEATURES1:
        if (strcmp(name, "stream:features") != 0) protocol_error(c, "expected features", s, e);
        if (opt.starttls && !c->tls_done) {
            if (!has(s, e, "urn:ietf:params:xml:ns:xmpp-tls")) protocol_error(c, "STARTTLS not offered", s, e);
            out_printf(c, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
            c->state = S_STARTTLS;
            return;
        }
        if (!printed_mechs) {
            printed_mechs = true;
            // report what the server offered, once
            const char *p = s;
            fprintf(stderr, "xmpp_load: mechanisms offered:");
            while ((p = memmem(p, e - p, "<mechanism>", 11))) {
                p += 11;
                const char *q = memchr(p, '<', e - p);
                if (!q) break;
                fprintf(stderr, " %.*s", (int)(q - p), p);
            }
            fprintf(stderr, "\n");
        }
        {
            char want[64];
            snprintf(want, sizeof want, ">%s<", opt.mech);
            if (!has(s, e, want)) protocol_error(c, "mechanism not offered", s, e);
        }
        send_auth(c);
        return;
    case S_STARTTLS:
        if (strcmp(name, "proceed") != 0) protocol_error(c, "STARTTLS refused", s, e);
        tls_start(c);
        return;
    case S_CHALLENGE:
        if (strcmp(name, "challenge") != 0) protocol_error(c, "expected challenge", s, e);
        on_challenge(c, s, e);
        return;
    case S_SUCCESS:
        if (strcmp(name, "success") != 0) protocol_error(c, "expected success", s, e);
        on_success(c, s, e);
        return;
    case S_FEATURES2:
        if (strcmp(name, "stream:features") != 0) protocol_error(c, "expected features after SASL", s, e);
        if (!has(s, e, "urn:ietf:params:xml:ns:xmpp-bind")) protocol_error(c, "no bind feature", s, e);
        out_printf(c,
                   "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                   "<resource>%s</resource></bind></iq>",
                   c->resource);
        c->state = S_BIND;
        return;
    case S_BIND: {
        char type[16], id[16];
        if (strcmp(name, "iq") != 0 || !attr(s, e, "id", id, sizeof id) || strcmp(id, "bind") != 0)
            protocol_error(c, "expected bind result", s, e);
        if (!attr(s, e, "type", type, sizeof type) || strcmp(type, "result") != 0)
            protocol_error(c, "bind failed", s, e);
        const char *j = memmem(s, e - s, "<jid>", 5);
        if (!j) protocol_error(c, "bind result without jid", s, e);
        j += 5;
        const char *je = memchr(j, '<', e - j);
        snprintf(c->jid, sizeof c->jid, "%.*s", (int)(je - j), j);
        on_bound(c);
        return;
    }
    case S_READY:
        if (opt.mode == M_MAM && strcmp(name, "stream:error") != 0) {
            on_mam_element(c, name, s, e);
            return;
        }
        if (opt.mode == M_MUC && strcmp(name, "stream:error") != 0) {
            if (name[0] == 'i' && name[1] == 'q' && name[2] == 0) {
                char type[16] = "";
                attr(s, e, "type", type, sizeof type);
                if (strcmp(type, "get") == 0) {  // a server ping: answer it
                    char id[128] = "";
                    attr(s, e, "id", id, sizeof id);
                    out_printf(c, "<iq type='result' id='%s'/>", id);
                    return;
                }
            }
            on_muc_element(c, name, s, e);
            return;
        }
        if (name[0] == 'i' && name[1] == 'q' && name[2] == 0) {
            char type[16];
            attr(s, e, "type", type, sizeof type);
            if ((opt.mode == M_READINGS || opt.mode == M_PURCHASES) &&
                (strcmp(type, "result") == 0 || strcmp(type, "error") == 0)) {
                on_service_reply(c, s, e, type);
            } else if (strcmp(type, "result") == 0 && opt.mode == M_SOAK) {
                on_soak_result(c, s, e);
            } else if (strcmp(type, "result") == 0) {
                if (opt.mode == M_PINGS) {
                    c->outstanding--;
                    if (measuring) completed++;
                    if (!stop_new) send_ping(c);
                }
            } else if (strcmp(type, "error") == 0) {
                protocol_error(c, "iq error", s, e);
            } else if (strcmp(type, "get") == 0 || strcmp(type, "set") == 0) {
                // a server ping or query: answer so the server is not kept waiting
                char id[128], from[300];
                attr(s, e, "id", id, sizeof id);
                if (attr(s, e, "from", from, sizeof from))
                    out_printf(c, "<iq type='%s' id='%s' to='%s'/>", has(s, e, "urn:xmpp:ping") ? "result" : "error", id, from);
                else
                    out_printf(c, "<iq type='%s' id='%s'/>", has(s, e, "urn:xmpp:ping") ? "result" : "error", id);
            }
        } else if (strcmp(name, "message") == 0) {
            char type[16] = "";
            attr(s, e, "type", type, sizeof type);
            if (strcmp(type, "error") == 0) protocol_error(c, "message error", s, e);
            if (opt.mode == M_MESSAGES && !c->sender) {
                struct conn *snd = c->peer;
                snd->outstanding--;
                if (measuring) completed++;
                if (!stop_new) send_message(snd);
            }
        } else if (strcmp(name, "stream:error") == 0) {
            protocol_error(c, "stream error", s, e);
        }
        // presence and anything else: ignored
        return;
    case S_CLOSING:
        return;  // anything before the server's </stream:stream>
    default:
        protocol_error(c, "unexpected element", s, e);
    }
}

static void on_stream_end(struct conn *c) {
    if (c->state == S_CLOSING) {
        finished_login(c);
        return;
    }
    protocol_error(c, "server closed the stream", c->in, c->in + c->in_len);
}

// Scan the input buffer for complete top-level elements.
static void parse(struct conn *c) {
    size_t pos = c->scan;
    for (;;) {
        if (c->state == S_FREE) return;
        char *lt = memchr(c->in + pos, '<', c->in_len - pos);
        if (!lt) {
            pos = c->in_len;
            break;
        }
        size_t lpos = lt - c->in;
        const char *end = c->in + c->in_len;
        const char *gt = tag_end(lt, end);
        if (!gt) {
            pos = lpos;
            break;
        }
        size_t after = gt + 1 - c->in;
        char k = lt[1];
        if (k == '?' || k == '!') {
            pos = after;
        } else if (k == '/') {
            c->depth--;
            pos = after;
            if (c->depth == 1) {
                on_element(c, c->in + c->elem_start, c->in + after);
            } else if (c->depth == 0) {
                on_stream_end(c);
                return;
            }
        } else {
            bool self_closing = gt[-1] == '/';
            pos = after;
            if (c->depth == 0) {
                if (!(gt - lt > 14 && memcmp(lt, "<stream:stream", 14) == 0))
                    protocol_error(c, "expected stream header", lt, gt + 1);
                c->depth = 1;
            } else if (c->depth == 1) {
                c->elem_start = lpos;
                if (self_closing) on_element(c, lt, c->in + after);
                else c->depth = 2;
            } else if (!self_closing) {
                c->depth++;
            }
        }
        if (c->restart) {  // new stream after SASL success: the old one's data is done
            c->restart = false;
            c->depth = 0;
        }
    }
    // compact: keep an unfinished element (or tag) and what follows
    size_t keep = c->depth >= 2 ? c->elem_start : pos;
    if (keep > 0) {
        memmove(c->in, c->in + keep, c->in_len - keep);
        c->in_len -= keep;
        if (c->depth >= 2) c->elem_start -= keep;
        pos -= keep;
    }
    c->scan = pos;
}

static void on_readable(struct conn *c) {
    for (;;) {
        if (c->state == S_HANDSHAKE) {  // <proceed/> arrived in this read: the handshake goes first
            tls_step(c);
            if (c->state == S_HANDSHAKE) return;
        }
        if (c->in_cap - c->in_len < 16384) {
            // parse() keeps only an unfinished element (and what follows it): the buffer holds
            // at most one element plus one read
            if (c->in_len >= MAX_ELEMENT)
                die("slot %d: an element of more than %u KiB (the most this client buffers); it starts: %.200s", c->slot,
                    MAX_ELEMENT >> 10, c->in);
            size_t cap = c->in_cap ? c->in_cap * 2 : 32768;
            if (cap > MAX_ELEMENT + 65536) cap = MAX_ELEMENT + 65536;
            c->in = realloc(c->in, cap);
            if (!c->in) die("out of memory (read buffer of %zu bytes)", cap);
            c->in_cap = cap;
        }
        size_t avail = c->in_cap - c->in_len;
        ssize_t r = conn_read(c, c->in + c->in_len, avail);
        if (r < 0) {
            if (errno == EAGAIN) return;
            if (errno == EINTR) continue;
            if (c->state == S_CLOSING && errno == ECONNRESET) {
                finished_login(c);
                return;
            }
            protocol_error(c, strerror(errno), NULL, NULL);
        }
        if (r == 0) {
            if (c->state == S_CLOSING) {
                finished_login(c);
                return;
            }
            protocol_error(c, "connection closed by server", c->in, c->in + c->in_len);
        }
        c->in_len += r;
        if (measuring) bytes_measured += r;
        last_progress = now();
        parse(c);
        if (c->state == S_FREE) return;
        if ((size_t)r < avail && !c->ssl) return;  // short read: drained (TLS may hold more: read to EAGAIN)
    }
}

// ---------------------------------------------------------------------------------------------
// Modes

static long target_logins;  // logins/cycles/idle: how many to start in total
static long next_session;   // session number of the next login

static void maybe_start_login(int slot) {
    if (logins_started < target_logins) start_conn(slot, (int)(next_session++));
}

// A login/logout is counted once </stream:stream> is sent. The connection then waits, detached from
// its slot, for the server's </stream:stream> or EOF (servers may delay it: ejabberd answers after
// 100 ms), while the slot starts the next login: the rate measures the server's work, not its timers.
static struct conn **to_free;
static int nto_free, nclosing;

static void finished_login(struct conn *c) {
    if (c->slot < 0) {  // detached closer
        close_conn(c);
        to_free[nto_free++] = c;
        nclosing--;
        return;
    }
    close_conn(c);
    logins_done++;
    restart_slots[nrestart++] = c->slot;
}

static void logout(struct conn *c) {
    out_printf(c, "</stream:stream>");
    c->state = S_CLOSING;
    flush_conn(c);
    if (c->out_len > 0 || nclosing >= 4 * nslots + 1000) return;  // not all written: close in the slot
    struct conn *cl = calloc(1, sizeof *cl);
    cl->fd = c->fd;
    cl->ssl = c->ssl;
    c->ssl = NULL;
    cl->slot = -1;
    cl->user = c->user;
    strcpy(cl->resource, c->resource);
    cl->state = S_CLOSING;
    cl->depth = c->depth;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = cl};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, cl->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
    nclosing++;
    c->fd = -1;
    c->state = S_FREE;
    c->in_len = c->scan = c->out_len = c->out_off = 0;
    logins_done++;
    restart_slots[nrestart++] = c->slot;
}

static void on_bound(struct conn *c) {
    switch (opt.mode) {
    case M_LOGINS:
    case M_CYCLES:
        logout(c);
        return;
    case M_IDLE:
    case M_SOAK:
        if (opt.presence) out_printf(c, "<presence/>");
        c->state = S_READY;
        ready_count++;
        // keep the number of logins in progress at --conc: the next one uses a fresh slot
        if (logins_started < target_logins) start_conn((int)logins_started, (int)(next_session++));
        return;
    case M_PINGS:
    case M_MESSAGES:
    case M_READINGS:
    case M_PURCHASES:
        if (opt.presence || opt.mode == M_MESSAGES) out_printf(c, "<presence/>");
        c->state = S_READY;
        ready_count++;
        return;
    case M_MAM:
        c->state = S_READY;
        ready_count++;
        send_mam_query(c);
        return;
    case M_MUC:
        out_printf(c, "<presence/>");
        c->state = S_READY;
        ready_count++;
        if (c->slot == 0 || room_ready) send_join(c);
        return;
    }
}

static void usage(void) {
    fprintf(stderr,
            "usage: xmpp_load logins|cycles|pings|messages|idle|readings|purchases|soak|muc [--host H] [--port P]\n"
            "  [--domain D] [--user-prefix u] [--users K] [--password PW] [--mech SCRAM-SHA-1|SCRAM-SHA-256]\n"
            "  [--n N] [--conc C] [--sessions S] [--inflight F] [--pairs P] [--seconds T] [--warmup T]\n"
            "  [--hold T] [--settle T] [--server-pid PID] [--key-cache FILE] [--presence] [--verbose]\n"
            "  readings: --sensor ID --from EPOCH [--count N] [--page P] [--proofs]\n"
            "  purchases: --sensor ID [--hours-per-session H]\n"
            "  soak: --sessions S --interval I --seconds T [--report R] [--drain D]\n"
            "  muc: --sessions N --room JID [--senders S] [--inflight F] [--persistent]\n"
            "  mam: --from EPOCH --to EPOCH --n Q [--page P]\n"
            "  TLS: --starttls [--tls-ca FILE] (a build with -DXMPP_LOAD_TLS)\n");
    exit(1);
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    if (!strcmp(argv[1], "logins")) opt.mode = M_LOGINS;
    else if (!strcmp(argv[1], "cycles")) opt.mode = M_CYCLES;
    else if (!strcmp(argv[1], "pings")) opt.mode = M_PINGS;
    else if (!strcmp(argv[1], "messages")) opt.mode = M_MESSAGES;
    else if (!strcmp(argv[1], "idle")) opt.mode = M_IDLE;
    else if (!strcmp(argv[1], "readings")) opt.mode = M_READINGS;
    else if (!strcmp(argv[1], "purchases")) opt.mode = M_PURCHASES;
    else if (!strcmp(argv[1], "soak")) opt.mode = M_SOAK;
    else if (!strcmp(argv[1], "muc")) opt.mode = M_MUC;
    else if (!strcmp(argv[1], "mam")) opt.mode = M_MAM;
    else usage();
    bool page_given = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--page")) page_given = true;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define STR(name, field) if (!strcmp(a, name)) { if (!v) usage(); opt.field = v; i++; continue; }
#define INT(name, field) if (!strcmp(a, name)) { if (!v) usage(); opt.field = atoi(v); i++; continue; }
#define DBL(name, field) if (!strcmp(a, name)) { if (!v) usage(); opt.field = atof(v); i++; continue; }
#define LL(name, field) if (!strcmp(a, name)) { if (!v) usage(); opt.field = atoll(v); i++; continue; }
        STR("--host", host) STR("--domain", domain) STR("--user-prefix", prefix) STR("--password", password)
        STR("--mech", mech) STR("--key-cache", key_cache) INT("--port", port) INT("--users", users) INT("--n", n) INT("--conc", conc)
        INT("--sessions", sessions) INT("--inflight", inflight) INT("--pairs", pairs)
        INT("--server-pid", server_pid) DBL("--seconds", seconds) DBL("--warmup", warmup) DBL("--hold", hold)
        DBL("--settle", settle) STR("--sensor", sensor) LL("--from", from) INT("--count", count) INT("--page", page)
        INT("--hours-per-session", hours_per_session) DBL("--interval", interval) DBL("--report", report)
        DBL("--drain", drain) STR("--tls-ca", tls_ca) STR("--room", room) INT("--senders", senders) LL("--to", to)
        STR("--ping-to", ping_to)
        if (!strcmp(a, "--persistent")) { opt.persistent = true; continue; }
        if (!strcmp(a, "--starttls")) { opt.starttls = true; continue; }
        if (!strcmp(a, "--presence")) { opt.presence = true; continue; }
        if (!strcmp(a, "--proofs")) { opt.proofs = true; continue; }
        if (!strcmp(a, "--verbose")) { opt.verbose = true; continue; }
        fprintf(stderr, "unknown option %s\n", a);
        usage();
    }
    if (!strcmp(opt.mech, "SCRAM-SHA-1")) md = EVP_sha1();
    else if (!strcmp(opt.mech, "SCRAM-SHA-256")) md = EVP_sha256();
    else usage();
    md_len = EVP_MD_get_size(md);
    if (opt.users <= 0) usage();
    if ((opt.mode == M_READINGS || opt.mode == M_PURCHASES) && (!opt.sensor || !opt.sensor[0] || strchr(opt.sensor, '\'')))
        die("%s needs --sensor ID", argv[1]);
    if (opt.mode == M_READINGS) {
        if (opt.from <= 0 || opt.page <= 0 || opt.count < opt.page)
            die("readings needs --from EPOCH > 0, --page P > 0 and --count N >= P");
        npages = opt.count / opt.page;
    }
    if (opt.mode == M_PURCHASES) {
        if (opt.hours_per_session <= 0) die("--hours-per-session must be positive");
        purchase_base = ((long long)time(NULL) - 300LL * 86400) / 3600 * 3600;
    }

    if (opt.mode == M_SOAK && (opt.interval <= 0 || opt.report <= 0)) die("soak needs --interval > 0 and --report > 0");
    if (opt.mode == M_MUC && (!opt.room || strchr(opt.room, '\'') || opt.senders < 1)) die("muc needs --room JID and --senders >= 1");
    if (opt.starttls) {
#ifdef XMPP_LOAD_TLS
        tls_init();
#else
        die("--starttls: built without TLS (compile with -DXMPP_LOAD_TLS ... -lssl -lcrypto)");
#endif
    }

    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(opt.port);
    if (inet_pton(AF_INET, opt.host, &addr.sin_addr) != 1) die("bad --host %s (IPv4 address)", opt.host);

    int sessions = 0;
    switch (opt.mode) {
    case M_LOGINS: nslots = opt.conc > 0 ? opt.conc : 50; target_logins = opt.n; break;
    case M_CYCLES: nslots = opt.conc > 0 ? opt.conc : 1; target_logins = opt.n; break;
    case M_PINGS: sessions = opt.sessions > 0 ? opt.sessions : 50; nslots = sessions; target_logins = sessions; break;
    case M_MESSAGES: sessions = 2 * opt.pairs; nslots = sessions; target_logins = sessions; break;
    case M_IDLE: sessions = opt.sessions > 0 ? opt.sessions : 5000; nslots = sessions; target_logins = sessions; break;
    case M_READINGS: sessions = opt.sessions > 0 ? opt.sessions : 1; nslots = sessions; target_logins = sessions; break;
    case M_PURCHASES: sessions = opt.sessions > 0 ? opt.sessions : 20; nslots = sessions; target_logins = sessions; break;
    case M_SOAK: sessions = opt.sessions > 0 ? opt.sessions : 1000; nslots = sessions; target_logins = sessions; break;
    case M_MUC: sessions = opt.sessions > 0 ? opt.sessions : 100; nslots = sessions; target_logins = sessions; break;
    case M_MAM:
        if (opt.from <= 0 || opt.to <= opt.from || opt.n <= 0) die("mam needs --from EPOCH, --to EPOCH after it, --n Q");
        sessions = 1; nslots = 1; target_logins = 1;
        mam_latency = calloc(opt.n, sizeof *mam_latency);
        srand48(getpid());
        if (!page_given) opt.page = 50;
        if (opt.page <= 0 || opt.page > 250) die("--page from 1 to 250");
        break;
    }
    if (opt.mode == M_MUC && opt.senders > sessions) die("more senders than occupants");
    if (opt.mode == M_SOAK) lat_hist = calloc(LAT_BUCKETS, sizeof *lat_hist);
    if (nslots > target_logins && (opt.mode == M_LOGINS || opt.mode == M_CYCLES)) nslots = (int)target_logins;
    if ((opt.mode == M_MESSAGES || opt.mode == M_PINGS) && sessions > opt.users)
        die("need at least %d users for %d distinct sessions", sessions, sessions);
    conns = calloc(nslots, sizeof *conns);
    dirty = calloc(nslots, sizeof *dirty);
    restart_slots = calloc(nslots, sizeof *restart_slots);
    to_free = calloc(4 * nslots + 1000, sizeof *to_free);
    ukeys = calloc(opt.users, sizeof *ukeys);
    for (int i = 0; i < nslots; i++) conns[i].fd = -1;
    load_key_cache();
    ep = epoll_create1(0);

    long rss_before = server_rss_kb();
    double t_start = now();
    struct sample start = sample_now();
    last_progress = t_start;
    int first = opt.mode == M_IDLE ? (opt.conc > 0 ? opt.conc : 100) : opt.mode == M_SOAK ? (opt.conc > 0 ? opt.conc : 50) : nslots;
    for (int i = 0; i < first && i < nslots; i++) start_conn(i, (int)(next_session++));
    if (opt.mode == M_MESSAGES)
        for (int p = 0; p < opt.pairs; p++) {
            conns[2 * p].sender = true;
            conns[2 * p].peer = &conns[2 * p + 1];
            conns[2 * p + 1].peer = &conns[2 * p];
        }

    double t_ready = 0, t_measure = 0, t_end = 0, next_report = 0;
    struct sample s0 = start, s1 = start, soak_window = start;
    struct epoll_event evs[512];
    for (;;) {
        int n = epoll_wait(ep, evs, 512, opt.mode == M_SOAK ? 5 : 50);
        if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->state == S_FREE) continue;
            if (c->state == S_HANDSHAKE) {
                tls_step(c);
                if (c->state == S_HANDSHAKE) continue;
            }
            if (c->state == S_CONNECTING) {
                if (!(evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) continue;
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err) die("connect to %s:%d: %s", opt.host, opt.port, strerror(err));
                c->state = S_FEATURES1;
                send_stream_header(c);
                continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
            if (c->state != S_FREE && (evs[i].events & EPOLLOUT) && c->out_len > c->out_off && !c->dirty) {
                c->dirty = true;
                dirty[ndirty++] = c;
            }
        }
        // start the load once every session is bound
        if (!all_ready && sessions > 0 && (opt.mode == M_MUC ? joined_count : ready_count) == sessions) {
            all_ready = true;
            t_ready = now();
            if (opt.mode == M_MUC)
                for (int i = 0; i < opt.senders; i++) {
                    conns[i].sender = true;
                    for (int k = 0; k < opt.inflight; k++) send_groupchat(&conns[i]);
                }
            if (opt.mode == M_PINGS || opt.mode == M_MESSAGES || opt.mode == M_READINGS || opt.mode == M_PURCHASES)
                for (int i = 0; i < nslots; i++) {
                    struct conn *c = &conns[i];
                    if (opt.mode == M_PINGS)
                        for (int k = 0; k < opt.inflight; k++) send_ping(c);
                    else if (opt.mode == M_READINGS)
                        send_readings(c);  // one request outstanding per session
                    else if (opt.mode == M_PURCHASES)
                        send_purchase(c);
                    else if (c->sender)
                        for (int k = 0; k < opt.inflight; k++) send_message(c);
                }
        }
        for (int i = 0; i < ndirty; i++) flush_conn(dirty[i]);
        ndirty = 0;
        for (int i = 0; i < nrestart; i++) maybe_start_login(restart_slots[i]);
        nrestart = 0;
        for (int i = 0; i < nto_free; i++) {
            free(to_free[i]->in);
            free(to_free[i]->out);
            free(to_free[i]);
        }
        nto_free = 0;

        double t = now();
        if (opt.mode == M_SOAK && all_ready) {
            if (t_measure == 0) {  // every session is bound: stagger the first pings over one interval
                t_measure = t;
                s0 = sample_now();
                soak_window = s0;
                next_report = t + opt.report;
                measuring = true;
                printf("ALL_UP sessions=%d seconds=%.2f\n", sessions, t - t_start);
                fflush(stdout);
                for (int i = 0; i < nslots; i++) conns[i].next_due = t + opt.interval * i / nslots;
            }
            if (!stop_new) {
                for (int i = 0; i < nslots; i++) {
                    struct conn *c = &conns[i];
                    if (c->state != S_READY || t < c->next_due) continue;
                    send_soak_ping(c);
                    c->next_due += opt.interval;
                    if (c->next_due < t) {  // the generator fell behind by an interval: skip, do not burst
                        soak_behind++;
                        c->next_due = t + opt.interval;
                    }
                }
                for (int i = 0; i < ndirty; i++) flush_conn(dirty[i]);
                ndirty = 0;
            }
            if (t >= next_report) {
                struct sample w = sample_now();
                printf("PROGRESS t=%.0f sent=%lld answered=%lld outstanding=%lld window_max_ms=%.1f %s\n", t - t_measure,
                       soak_sent, soak_answered, soak_sent - soak_answered, lat_max_window, cpu_report(soak_window, w));
                fflush(stdout);
                soak_window = w;
                lat_max_window = 0;
                next_report += opt.report;
            }
            if (!stop_new && t - t_measure >= opt.seconds) {
                stop_new = true;
                t_end = t;
                s1 = sample_now();
            }
            if (stop_new && (soak_sent == soak_answered || t - t_end >= opt.drain)) break;
        }
        if (opt.mode == M_PINGS || opt.mode == M_MESSAGES || opt.mode == M_READINGS || opt.mode == M_PURCHASES || opt.mode == M_MUC) {
            if (all_ready && !measuring && t_measure == 0 && t - t_ready >= opt.warmup) {
                measuring = true;
                t_measure = t;
                s0 = sample_now();
                last_progress = t;
            }
            if (measuring && t - t_measure >= opt.seconds) {
                measuring = false;
                t_end = t;
                s1 = sample_now();
                break;
            }
        } else if (opt.mode == M_IDLE) {
            if (all_ready) {
                if (t_end == 0) {
                    t_end = t;
                    s1 = sample_now();
                    printf("ALL_UP sessions=%d seconds=%.2f\n", sessions, t_end - t_start);
                    fflush(stdout);
                }
                if (t - t_end >= opt.settle + opt.hold) break;
                last_progress = t;
            }
        } else if (logins_done == target_logins) {
            if (t_end == 0) {
                t_end = t;
                s1 = sample_now();
            }
            if (nclosing == 0) break;
            if (t - t_end > 10) {
                fprintf(stderr, "xmpp_load: %d connections still waiting for the server's </stream:stream>\n", nclosing);
                break;
            }
        }
        if (opt.mode == M_MAM) {
            if (all_ready && t_measure == 0) {
                t_measure = t;
                s0 = sample_now();
            }
            if (mam_done >= opt.n) {
                t_end = t;
                s1 = sample_now();
                break;
            }
            if (completed > 0) last_progress = t;
        }
        if (t - last_progress > 30)
            die("no progress for 30 s (logins done %ld, sessions ready %ld)", logins_done, ready_count);
        if (opt.mode == M_IDLE && all_ready && t - t_end >= opt.settle && rss_after < 0) rss_after = server_rss_kb();
    }
    if (opt.mode == M_IDLE && rss_after < 0) rss_after = server_rss_kb();

    const char *name = opt.mode == M_LOGINS ? "logins" : opt.mode == M_CYCLES ? "cycles" : opt.mode == M_PINGS ? "pings"
                     : opt.mode == M_MESSAGES ? "messages" : opt.mode == M_READINGS ? "readings"
                     : opt.mode == M_PURCHASES ? "purchases" : opt.mode == M_SOAK ? "soak" : opt.mode == M_MUC ? "muc" : opt.mode == M_MAM ? "mam" : "idle";
    if (opt.mode == M_LOGINS || opt.mode == M_CYCLES) {
        double el = t_end - t_start;
        printf("RESULT mode=%s n=%ld conc=%d seconds=%.2f rate=%.0f pbkdf2=%ld %s\n", name, logins_done, nslots, el,
               logins_done / el, pbkdf2_runs, cpu_report(s0, s1));
    } else if (opt.mode == M_READINGS) {
        double el = t_end - t_measure;
        printf("RESULT mode=readings sessions=%d page=%d proofs=%s seconds=%.2f count=%lld rate=%.0f pages=%.1f "
               "mbps=%.1f %s\n",
               sessions, opt.page, opt.proofs ? "true" : "false", el, items_measured, items_measured / el,
               completed / el, bytes_measured / el / 1e6, cpu_report(s0, s1));
    } else if (opt.mode == M_PURCHASES) {
        double el = t_end - t_measure;
        printf("RESULT mode=purchases sessions=%d seconds=%.2f count=%ld rate=%.0f %s\n", sessions, el, completed,
               completed / el, cpu_report(s0, s1));
    } else if (opt.mode == M_SOAK) {
        double el = t_end - t_measure;
        long long lost = soak_sent - soak_answered;
        printf("RESULT mode=soak sessions=%d interval=%.3f tls=%s seconds=%.2f sent=%lld answered=%lld lost=%lld "
               "late=%lld behind=%lld rate=%.0f p50_ms=%.1f p99_ms=%.1f p999_ms=%.1f max_ms=%.1f %s\n",
               sessions, opt.interval, opt.starttls ? "starttls" : "none", el, soak_sent, soak_answered, lost, soak_late,
               soak_behind, soak_sent / el, lat_quantile(0.5), lat_quantile(0.99), lat_quantile(0.999), lat_max,
               cpu_report(s0, s1));
        fflush(stdout);
        save_key_cache();
        return lost > 0 ? 3 : 0;
    } else if (opt.mode == M_MAM) {
        double el = t_end - t_measure;
        qsort(mam_latency, mam_done, sizeof *mam_latency, cmp_double);
        printf("RESULT mode=mam page=%d queries=%ld seconds=%.2f rate=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f %s\n", opt.page, mam_done,
               el, mam_done / el, mam_latency[mam_done / 2], mam_latency[(long)(mam_done * 0.99)], mam_latency[mam_done - 1],
               cpu_report(s0, s1));
    } else if (opt.mode == M_MUC) {
        double el = t_end - t_measure;
        printf("RESULT mode=muc occupants=%d senders=%d inflight=%d persistent=%s seconds=%.2f count=%ld rate=%.0f messages=%.0f %s\n",
               sessions, opt.senders, opt.inflight, opt.persistent ? "true" : "false", el, completed, completed / el,
               items_measured / el, cpu_report(s0, s1));
    } else if (opt.mode == M_PINGS || opt.mode == M_MESSAGES) {
        double el = t_end - t_measure;
        printf("RESULT mode=%s sessions=%d inflight=%d seconds=%.2f count=%ld rate=%.0f %s\n", name, sessions,
               opt.inflight, el, completed, completed / el, cpu_report(s0, s1));
    } else {
        double el = t_end - t_start;
        printf("RESULT mode=idle sessions=%d login_seconds=%.2f login_rate=%.0f rss_before_kb=%ld rss_after_kb=%ld "
               "per_session_kb=%.1f %s\n",
               sessions, el, sessions / el, rss_before, rss_after,
               rss_before > 0 && rss_after > 0 ? (double)(rss_after - rss_before) / sessions : -1.0, cpu_report(s0, s1));
    }
    fflush(stdout);
    save_key_cache();
    return 0;
}
