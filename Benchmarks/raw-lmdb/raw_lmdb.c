/* Baseline (a): the limit for an append-only log on this machine's liblmdb.
 * 10^6 puts of 200-byte values under sequential big-endian u64 keys with MDB_APPEND,
 * 1000 puts per transaction, each commit synced (LMDB's default durability).
 * Usage: raw_lmdb DIR [COUNT] [PER_TXN]; prints puts/s. */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(expr) do { int rc_ = (expr); if (rc_) { fprintf(stderr, "%s: %s\n", #expr, mdb_strerror(rc_)); return 1; } } while (0)

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s DIR [COUNT] [PER_TXN]\n", argv[0]); return 2; }
    long count = argc > 2 ? atol(argv[2]) : 1000000, per = argc > 3 ? atol(argv[3]) : 1000;
    char path[4096];
    snprintf(path, sizeof path, "%s/raw.mdb", argv[1]);
    MDB_env *env; MDB_dbi dbi; MDB_txn *txn;
    CHECK(mdb_env_create(&env));
    CHECK(mdb_env_set_mapsize(env, (size_t)4 << 30));
    CHECK(mdb_env_set_maxdbs(env, 4));
    CHECK(mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOTLS, 0600));
    CHECK(mdb_txn_begin(env, NULL, 0, &txn));
    CHECK(mdb_dbi_open(txn, "log", MDB_CREATE, &dbi));
    CHECK(mdb_txn_commit(txn));
    unsigned char value[200];
    memset(value, 0x5a, sizeof value);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < count;) {
        CHECK(mdb_txn_begin(env, NULL, 0, &txn));
        for (long j = 0; j < per && i < count; j++, i++) {
            unsigned char key[8];
            for (int b = 0; b < 8; b++) key[b] = (unsigned char)((unsigned long)i >> (56 - 8 * b));
            MDB_val k = { 8, key }, v = { sizeof value, value };
            CHECK(mdb_put(txn, dbi, &k, &v, MDB_APPEND));
        }
        CHECK(mdb_txn_commit(txn));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("raw_lmdb_puts_per_s %.0f\n", count / seconds);
    mdb_env_close(env);
    return 0;
}
