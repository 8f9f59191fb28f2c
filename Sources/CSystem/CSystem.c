#define _GNU_SOURCE
#include "CSystem.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int ps_signalfd_open(void) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0) return -1;
    return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

int ps_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    if (n == (ssize_t)sizeof info) return (int)info.ssi_signo;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return n < 0 ? -1 : 0;
}

/* The signals whose disposition is not the default: those the engine's own caller left ignored
 * (`nohup`, a shell's `cmd &`, a test harness), SIGPIPE (main.swift ignores it), those with a
 * handler (the Swift runtime's crash handlers) and glibc's two internal ones. A child gets the
 * default of each. Looked at on the first start, and again by ps_spawn_refresh_signals: the engine
 * sets no disposition after start-up (its signals are read from a signalfd), and code that does
 * must call it. The kernel's calls, not glibc's: glibc refuses its internal signals (32, 33) and
 * leaves them out of sigfillset, and a caller may have left those ignored too. The kernel's struct
 * sigaction starts with the handler on every architecture Linux runs this on; the rest of it is
 * left zero (SIG_DFL, no flags, no mask). */
static unsigned long long ps_spawn_reset; /* bit sig - 1 */
static pthread_once_t ps_spawn_reset_once = PTHREAD_ONCE_INIT;
struct ps_kernel_sigaction {
    void *handler;
    unsigned long rest[7];
};

void ps_spawn_refresh_signals(void) {
    unsigned long long reset = 1ULL << (SIGPIPE - 1);
    for (int sig = 1; sig < NSIG && sig <= 64; sig++) {
        struct ps_kernel_sigaction old = {0};
        if (sig == SIGKILL || sig == SIGSTOP || syscall(SYS_rt_sigaction, sig, NULL, &old, NSIG / 8) != 0) continue;
        if (old.handler != (void *)SIG_DFL) reset |= 1ULL << (sig - 1);
    }
    ps_spawn_reset = reset;
}

int ps_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], int out_fd, const char *cwd) {
    pthread_once(&ps_spawn_reset_once, ps_spawn_refresh_signals);
    /* No signal handler may run in the child while it shares the engine's memory: every signal,
     * glibc's internal ones too, is blocked across vfork (the kernel's call: glibc's would leave
     * 32 and 33 open), and the child restores the defaults before it unblocks them. */
    unsigned long long all = ~0ULL, old = 0, none = 0;
    if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, NSIG / 8) != 0) return errno;
    volatile int failure = 0;
    errno = 0; /* in the parent: the child then reads errno through an entry already bound */
    pid_t child = vfork();
    if (child == 0) {
        /* The child, on the engine's stack until it executes: raw system calls only (no glibc
         * wrapper that might still need binding, no cancellation point), then exec or exit. */
        struct ps_kernel_sigaction dfl = {0};
        for (int sig = 1; sig < NSIG && sig <= 64; sig++) {
            if (ps_spawn_reset & (1ULL << (sig - 1))) syscall(SYS_rt_sigaction, sig, &dfl, NULL, NSIG / 8);
        }
        long in;
        if (syscall(SYS_setpgid, 0, 0) != 0) goto fail;
        /* Output first: a pipe that took descriptor 1 or 2 (the engine's own closed) still ends up
         * on 1 and 2 before /dev/null takes 0. A descriptor already in place keeps close-on-exec:
         * clear it. */
        for (int target = 1; target <= 2; target++) {
            if (out_fd == target) {
                if (syscall(SYS_fcntl, target, F_SETFD, 0) != 0) goto fail;
            } else if (syscall(SYS_dup3, out_fd, target, 0) < 0) {
                goto fail;
            }
        }
        in = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
        if (in < 0) goto fail;
        if (in != 0) {
            if (syscall(SYS_dup3, (int)in, 0, 0) < 0) goto fail;
            syscall(SYS_close, (int)in);
        }
        if (cwd && syscall(SYS_chdir, cwd) != 0) goto fail;
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, NSIG / 8);
        syscall(SYS_execve, path, argv, envp);
    fail:
        failure = errno ? errno : EINVAL;
        for (;;) syscall(SYS_exit_group, 127);
    }
    int rc = 0;
    if (child < 0) {
        rc = errno;
    } else if (failure != 0) {
        /* It could not execute: reap it, and say why, as posix_spawn does. */
        rc = failure;
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    } else {
        *pid = child;
    }
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, NSIG / 8);
    return rc;
}

int ps_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int ps_eventfd(int nonblocking) { return eventfd(0, EFD_CLOEXEC | (nonblocking ? EFD_NONBLOCK : 0)); }

int ps_thread_start_unsignalled(pthread_t *thread, void *(*body)(void *), void *arg) {
    sigset_t all, old;
    sigfillset(&all);
    int rc = pthread_sigmask(SIG_SETMASK, &all, &old);
    if (rc) return rc;
    rc = pthread_create(thread, NULL, body, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int ps_exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
int ps_term_signal(int status) { return WIFSIGNALED(status) ? WTERMSIG(status) : 0; }

const char *ps_signal_name(int sig) {
    switch (sig) {
    case SIGHUP: return "SIGHUP";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGKILL: return "SIGKILL";
    case SIGSEGV: return "SIGSEGV";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    default: return "signal";
    }
}
