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

/* The signals whose disposition is not the default when the first script starts: those the
 * engine's own caller left ignored (`nohup`, a shell's `cmd &`, a test harness), SIGPIPE
 * (main.swift ignores it), those with a handler (the Swift runtime's crash handlers) and glibc's
 * two internal ones. A child gets the default of each. Nothing in the engine sets a disposition
 * after start-up (its signals are read from a signalfd), so the set is computed once. The kernel's
 * call, not glibc's sigaction: glibc refuses its internal signals (32, 33), and a caller may have
 * left those ignored too. The kernel's struct sigaction starts with the handler on every
 * architecture Linux runs this on; the rest of it is left zero (SIG_DFL, no flags, no mask). */
static unsigned long long ps_spawn_reset; /* bit sig - 1: glibc's sigaddset refuses 32 and 33 too */
static pthread_once_t ps_spawn_reset_once = PTHREAD_ONCE_INIT;
struct ps_kernel_sigaction {
    void *handler;
    unsigned long rest[7];
};

static void ps_spawn_reset_compute(void) {
    ps_spawn_reset = 1ULL << (SIGPIPE - 1);
    for (int sig = 1; sig < NSIG && sig <= 64; sig++) {
        struct ps_kernel_sigaction old = {0};
        if (sig == SIGKILL || sig == SIGSTOP || syscall(SYS_rt_sigaction, sig, NULL, &old, NSIG / 8) != 0) continue;
        if (old.handler != (void *)SIG_DFL) ps_spawn_reset |= 1ULL << (sig - 1);
    }
}

int ps_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], int out_fd, const char *cwd) {
    pthread_once(&ps_spawn_reset_once, ps_spawn_reset_compute);
    sigset_t all, old, none;
    sigfillset(&all);
    sigemptyset(&none);
    /* No signal handler may run in the child while it shares the engine's memory: every signal is
     * blocked across vfork, and the child restores the defaults before it unblocks them. */
    if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0) return EAGAIN;
    volatile int failure = 0;
    pid_t child = vfork();
    if (child == 0) {
        /* The child, on the engine's stack until it executes: system calls only, then exec or _exit. */
        struct ps_kernel_sigaction dfl = {0};
        for (int sig = 1; sig < NSIG && sig <= 64; sig++) {
            if (ps_spawn_reset & (1ULL << (sig - 1))) syscall(SYS_rt_sigaction, sig, &dfl, NULL, NSIG / 8);
        }
        int in;
        if (setpgid(0, 0) != 0) goto fail;
        /* Output first: a pipe that took descriptor 0, 1 or 2 (the engine's own closed) still ends
         * up on 1 and 2 before /dev/null takes 0. dup2 onto itself keeps close-on-exec: clear it. */
        for (int target = 1; target <= 2; target++) {
            if (out_fd == target) {
                if (fcntl(target, F_SETFD, 0) != 0) goto fail;
            } else if (dup2(out_fd, target) < 0) {
                goto fail;
            }
        }
        in = open("/dev/null", O_RDONLY);
        if (in < 0) goto fail;
        if (in != 0) {
            if (dup2(in, 0) < 0) goto fail;
            close(in);
        }
        if (cwd && chdir(cwd) != 0) goto fail;
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(path, argv, envp);
    fail:
        failure = errno ? errno : EINVAL;
        _exit(127);
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
    pthread_sigmask(SIG_SETMASK, &old, NULL);
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
