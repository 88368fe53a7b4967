#ifndef CRESOLV_SHIM_H
#define CRESOLV_SHIM_H
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>

/// res_query for class IN: the answer's length, or -1 (h_errno says why).
static inline int cresolv_query(const char *name, int type, unsigned char *answer, int length) {
    return res_query(name, C_IN, type, answer, length);
}
#endif
