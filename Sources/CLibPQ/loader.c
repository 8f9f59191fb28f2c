// Forwarders to libpq, resolved with dlopen/dlsym when the PostgreSQL state store is first used
// (see CLibPQ.h). Only the functions PostgresConnection calls are here; calling one before
// pl_libpq_load succeeded is a programming error and aborts.
#include "CLibPQ.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PL_LIBPQ_FUNCTIONS(X, V)                                                                      \
    X(PGconn *, PQconnectdb, (const char *conninfo), (conninfo))                                   \
    X(ConnStatusType, PQstatus, (const PGconn *conn), (conn))                                      \
    V(void, PQfinish, (PGconn *conn), (conn))                                                      \
    V(void, PQreset, (PGconn *conn), (conn))                                                       \
    X(char *, PQerrorMessage, (const PGconn *conn), (conn))                                        \
    X(int, PQsocket, (const PGconn *conn), (conn))                                                 \
    X(int, PQconsumeInput, (PGconn *conn), (conn))                                                 \
    X(PGnotify *, PQnotifies, (PGconn *conn), (conn))                                              \
    V(void, PQfreemem, (void *ptr), (ptr))                                                         \
    X(PGresult *, PQexecParams,                                                                    \
      (PGconn *conn, const char *command, int nParams, const Oid *paramTypes,                      \
       const char *const *paramValues, const int *paramLengths, const int *paramFormats,           \
       int resultFormat),                                                                          \
      (conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat)) \
    X(ExecStatusType, PQresultStatus, (const PGresult *res), (res))                                \
    X(char *, PQresultErrorMessage, (const PGresult *res), (res))                                  \
    X(char *, PQresultErrorField, (const PGresult *res, int fieldcode), (res, fieldcode))          \
    X(int, PQntuples, (const PGresult *res), (res))                                                \
    X(int, PQnfields, (const PGresult *res), (res))                                                \
    X(char *, PQgetvalue, (const PGresult *res, int tup_num, int field_num), (res, tup_num, field_num)) \
    X(int, PQgetisnull, (const PGresult *res, int tup_num, int field_num), (res, tup_num, field_num)) \
    V(void, PQclear, (PGresult *res), (res))

#define PL_POINTER(ret, name, params, args) static ret(*pl_##name) params;
PL_LIBPQ_FUNCTIONS(PL_POINTER, PL_POINTER)

static pthread_once_t pl_once = PTHREAD_ONCE_INIT;
static char pl_error[512];
static int pl_loaded;

static void pl_load_once(void) {
    void *handle = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(pl_error, sizeof pl_error, "%s", dlerror());
        return;
    }
#define PL_RESOLVE(ret, name, params, args)                                                        \
    *(void **)(&pl_##name) = dlsym(handle, #name);                                                 \
    if (!pl_##name) {                                                                              \
        snprintf(pl_error, sizeof pl_error, "libpq.so.5 has no %s", #name);                        \
        return;                                                                                    \
    }
    PL_LIBPQ_FUNCTIONS(PL_RESOLVE, PL_RESOLVE)
    pl_loaded = 1;
}

int pl_libpq_load(char *error, size_t error_size) {
    pthread_once(&pl_once, pl_load_once);
    if (pl_loaded) return 0;
    if (error && error_size) snprintf(error, error_size, "%s", pl_error);
    return -1;
}

static void pl_require(const char *name) {
    if (pl_loaded) return;
    fprintf(stderr, "pipeline: internal error: %s called before libpq was loaded\n", name);
    abort();
}

#define PL_FORWARD(ret, name, params, args)                                                        \
    ret name params {                                                                              \
        pl_require(#name);                                                                         \
        return pl_##name args;                                                                     \
    }
#define PL_FORWARD_VOID(ret, name, params, args)                                                   \
    void name params {                                                                             \
        pl_require(#name);                                                                         \
        pl_##name args;                                                                            \
    }
PL_LIBPQ_FUNCTIONS(PL_FORWARD, PL_FORWARD_VOID)
