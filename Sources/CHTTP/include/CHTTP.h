#ifndef PIPELINE_CHTTP_H
#define PIPELINE_CHTTP_H
// One HTTP request through libcurl (Debian: libcurl4; headers from libcurl4-openssl-dev), which is
// loaded when the first probe, webhook or Prometheus query runs instead of being linked: loading
// libcurl and what it pulls in (TLS, Kerberos, LDAP, HTTP/2) cost every `pipeline` start ~6 ms.
#include <stddef.h>

/// Called with each piece of the response body; returns the number of bytes taken (fewer stops
/// the transfer).
typedef size_t (*pl_http_body_fn)(const char *data, size_t size, void *context);
/// Polled while the request runs; non-zero gives up (the request ends with PL_HTTP_CANCELLED).
typedef int (*pl_http_cancel_fn)(void *context);

enum {
    PL_HTTP_OK = 0,         ///< the server answered; *status is its status code
    PL_HTTP_FAILED = 1,     ///< no answer; `error` says why
    PL_HTTP_TIMED_OUT = 2,  ///< no complete answer within timeout_ms
    PL_HTTP_CANCELLED = 3,  ///< `cancel` said so
    PL_HTTP_UNAVAILABLE = 4 ///< libcurl could not be loaded; `error` says why
};

/// Performs `method` (GET or POST) on `url` (http or https only), never following a redirect,
/// within `timeout_ms`. A POST sends `body` (body_size bytes) with `content_type`. The value of a
/// `Location` header of the answer goes to `location` (empty if none). Thread-safe.
int pl_http_request(const char *url, const char *method, const char *body, size_t body_size,
                    const char *content_type, long timeout_ms, pl_http_body_fn on_body,
                    pl_http_cancel_fn cancel, void *context, long *status, char *location,
                    size_t location_size, char *error, size_t error_size);

#endif
