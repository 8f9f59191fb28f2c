// See CHTTP.h. libcurl's easy interface, resolved with dlopen/dlsym on first use.
#include "CHTTP.h"
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static CURLcode (*pl_global_init)(long);
static CURL *(*pl_easy_init)(void);
static CURLcode (*pl_easy_setopt)(CURL *, CURLoption, ...);
static CURLcode (*pl_easy_perform)(CURL *);
static CURLcode (*pl_easy_getinfo)(CURL *, CURLINFO, ...);
static void (*pl_easy_cleanup)(CURL *);
static const char *(*pl_easy_strerror)(CURLcode);
static struct curl_slist *(*pl_slist_append)(struct curl_slist *, const char *);
static void (*pl_slist_free_all)(struct curl_slist *);

static pthread_once_t pl_once = PTHREAD_ONCE_INIT;
static char pl_load_error[512];
static int pl_loaded;

static void pl_load_once(void) {
    // libcurl4 (OpenSSL) first, then the GnuTLS build some systems ship instead.
    void *handle = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!handle) handle = dlopen("libcurl-gnutls.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(pl_load_error, sizeof pl_load_error, "%s", dlerror());
        return;
    }
#define PL_RESOLVE(pointer, name)                                                                  \
    *(void **)(&pointer) = dlsym(handle, name);                                                    \
    if (!pointer) {                                                                                \
        snprintf(pl_load_error, sizeof pl_load_error, "libcurl has no %s", name);                  \
        return;                                                                                    \
    }
    PL_RESOLVE(pl_global_init, "curl_global_init")
    PL_RESOLVE(pl_easy_init, "curl_easy_init")
    PL_RESOLVE(pl_easy_setopt, "curl_easy_setopt")
    PL_RESOLVE(pl_easy_perform, "curl_easy_perform")
    PL_RESOLVE(pl_easy_getinfo, "curl_easy_getinfo")
    PL_RESOLVE(pl_easy_cleanup, "curl_easy_cleanup")
    PL_RESOLVE(pl_easy_strerror, "curl_easy_strerror")
    PL_RESOLVE(pl_slist_append, "curl_slist_append")
    PL_RESOLVE(pl_slist_free_all, "curl_slist_free_all")
    if (pl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(pl_load_error, sizeof pl_load_error, "curl_global_init failed");
        return;
    }
    pl_loaded = 1;
}

struct pl_transfer {
    pl_http_body_fn on_body;
    pl_http_cancel_fn cancel;
    void *context;
    char *location;
    size_t location_size;
    int cancelled;
    struct timespec deadline; // CLOCK_MONOTONIC: past it, the transfer gives up whatever libcurl is doing
    int timed_out;
};

static int pl_past(const struct timespec *deadline) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec || (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

static size_t pl_write(char *data, size_t size, size_t count, void *user) {
    struct pl_transfer *transfer = user;
    return transfer->on_body(data, size * count, transfer->context);
}

// Keeps the Location header's value as sent (a redirect is reported, not followed).
static size_t pl_header(char *data, size_t size, size_t count, void *user) {
    struct pl_transfer *transfer = user;
    size_t length = size * count;
    static const char name[] = "location:";
    if (transfer->location_size > 0 && length > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        const char *value = data + sizeof name - 1;
        size_t rest = length - (sizeof name - 1);
        while (rest > 0 && (*value == ' ' || *value == '\t')) value++, rest--;
        while (rest > 0 && (value[rest - 1] == '\r' || value[rest - 1] == '\n' || value[rest - 1] == ' ')) rest--;
        if (rest >= transfer->location_size) rest = transfer->location_size - 1;
        memcpy(transfer->location, value, rest);
        transfer->location[rest] = 0;
    }
    return length;
}

static int pl_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    struct pl_transfer *transfer = user;
    if (transfer->cancel && transfer->cancel(transfer->context)) {
        transfer->cancelled = 1;
        return 1;
    }
    // A hard stop one second past the timeout, even where libcurl's own timer cannot reach (a
    // name lookup without the threaded resolver).
    if (pl_past(&transfer->deadline)) {
        transfer->timed_out = 1;
        return 1;
    }
    return 0;
}

int pl_http_request(const char *url, const char *method, const char *body, size_t body_size,
                    const char *content_type, long timeout_ms, pl_http_body_fn on_body,
                    pl_http_cancel_fn cancel, void *context, long *status, char *location,
                    size_t location_size, char *error, size_t error_size) {
    *status = 0;
    if (location_size) location[0] = 0;
    if (error_size) error[0] = 0;
    pthread_once(&pl_once, pl_load_once);
    if (!pl_loaded) {
        snprintf(error, error_size, "HTTP needs libcurl (Debian and Ubuntu: apt-get install libcurl4): %s", pl_load_error);
        return PL_HTTP_UNAVAILABLE;
    }
    CURL *curl = pl_easy_init();
    if (!curl) {
        snprintf(error, error_size, "curl_easy_init failed");
        return PL_HTTP_FAILED;
    }
    struct pl_transfer transfer = {on_body, cancel, context, location, location_size, 0, {0, 0}, 0};
    clock_gettime(CLOCK_MONOTONIC, &transfer.deadline);
    transfer.deadline.tv_sec += timeout_ms / 1000 + 1;
    transfer.deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (transfer.deadline.tv_nsec >= 1000000000L) transfer.deadline.tv_sec += 1, transfer.deadline.tv_nsec -= 1000000000L;
    char curl_error[CURL_ERROR_SIZE] = {0};
    struct curl_slist *headers = NULL;
    pl_easy_setopt(curl, CURLOPT_URL, url);
    pl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
    pl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    pl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    // http and https only (the caller checked the URL; this also binds libcurl itself).
    if (pl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        pl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#pragma GCC diagnostic pop
    }
    pl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    pl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    pl_easy_setopt(curl, CURLOPT_USERAGENT, "pipeline");
    pl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    pl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, pl_write);
    pl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
    pl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, pl_header);
    pl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
    pl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    pl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, pl_progress);
    pl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
    if (strcmp(method, "POST") == 0) {
        pl_easy_setopt(curl, CURLOPT_POST, 1L);
        pl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_size);
        pl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
        struct curl_slist *more;
        if (content_type) {
            char header[256];
            snprintf(header, sizeof header, "Content-Type: %s", content_type);
            if ((more = pl_slist_append(headers, header))) headers = more;
        }
        // A webhook's answer is awaited at once, not after a "100 Continue" round trip.
        if ((more = pl_slist_append(headers, "Expect:"))) headers = more;
        pl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    }
    CURLcode code = pl_easy_perform(curl);
    int result = PL_HTTP_OK;
    if (code == CURLE_OK) {
        pl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    } else if (transfer.cancelled) {
        result = PL_HTTP_CANCELLED;
    } else if (code == CURLE_OPERATION_TIMEDOUT || transfer.timed_out) {
        result = PL_HTTP_TIMED_OUT;
    } else {
        snprintf(error, error_size, "%s", curl_error[0] ? curl_error : pl_easy_strerror(code));
        result = PL_HTTP_FAILED;
    }
    pl_slist_free_all(headers);
    pl_easy_cleanup(curl);
    return result;
}
