#ifndef CLMDB_SHIM_H
#define CLMDB_SHIM_H
#include <lmdb.h>
#include <string.h>

/// MDB_val's fields are plain C; these helpers keep pointer juggling out of Swift call sites.
static inline MDB_val clmdb_val(const void *data, size_t size) {
    MDB_val v; v.mv_size = size; v.mv_data = (void *)data; return v;
}
#endif
