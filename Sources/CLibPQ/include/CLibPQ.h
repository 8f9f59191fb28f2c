#ifndef PIPELINE_CLIBPQ_H
#define PIPELINE_CLIBPQ_H
// libpq's API (Debian: libpq-dev), loaded when first needed instead of linked: `pipeline` must not
// pay for loading libpq and what it pulls in (OpenSSL, Kerberos, LDAP) at every start when only
// `--state postgres://…` uses it. The functions the engine calls are defined in loader.c with
// libpq's own names and signatures; each forwards to libpq once `pl_libpq_load` has succeeded.
#include <stddef.h>
#include <postgresql/libpq-fe.h>

/// Loads libpq (libpq.so.5) once; 0 when it is usable, else -1 with a one-line reason in `error`
/// (the dynamic loader's message). Safe to call from several threads and many times.
int pl_libpq_load(char *error, size_t error_size);

#endif
