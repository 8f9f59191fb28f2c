#ifndef PIPELINE_CSYSTEM_H
#define PIPELINE_CSYSTEM_H
// System calls and macros Swift cannot reach directly on Linux (signalfd, wait-status macros,
// vfork and exec with a new process group and a reset signal mask, eventfd, a thread that takes no
// signals). Nothing else lives here.
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>

/// Blocks SIGCHLD, SIGINT, SIGTERM, SIGHUP in the calling thread and returns a non-blocking,
/// close-on-exec signalfd that reports them; -1 on error (errno set).
int ps_signalfd_open(void);

/// Reads one pending signal from a signalfd: its number, 0 if none, -1 on error.
int ps_signalfd_read(int fd);

/// Starts path (absolute, or relative to cwd) with argv in its own process group with stdin from
/// /dev/null, stdout and stderr to out_fd, the default disposition of every signal and an empty
/// signal mask, in cwd (NULL: inherit). Returns 0 and sets *pid, or an errno value (the exec's own
/// error too: the child that could not exec is reaped). What posix_spawn with POSIX_SPAWN_USEVFORK
/// does, without its costs per start: glibc's resets all 64 signal dispositions in the child, maps
/// and unmaps a stack for it, and checks each file action against the descriptor limit (about 60
/// microseconds a start on this machine kind, see benchmarks/RESULTS.md); here only the signals
/// that are not at their default are reset, and the child runs on the caller's stack.
int ps_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], int out_fd, const char *cwd);

/// Looks again at which signals are not at their default disposition, for ps_spawn to reset in
/// each child. ps_spawn looks at its first call; code that changes a disposition after that (the
/// engine does not: its signals are read from a signalfd) calls this, not while a start runs.
void ps_spawn_refresh_signals(void);

/// pipe2(fds, O_CLOEXEC): 0 or -1 (errno set).
int ps_pipe_cloexec(int fds[2]);

/// eventfd(0, EFD_CLOEXEC, plus EFD_NONBLOCK when nonblocking is non-zero): the descriptor, or -1 (errno set).
int ps_eventfd(int nonblocking);

/// Starts a thread running body(arg) with every signal blocked (from its first instruction: the
/// mask is set before it is created), so signals always reach the engine's signalfd, never it.
/// Returns 0 and sets *thread, or an errno value.
int ps_thread_start_unsignalled(pthread_t *thread, void *(*body)(void *), void *arg);

/// Decodes a wait status: exit code when the process exited, else -1.
int ps_exit_code(int status);
/// Decodes a wait status: the signal that ended the process, else 0.
int ps_term_signal(int status);

/// The name of a signal, e.g. "SIGKILL" (static storage).
const char *ps_signal_name(int sig);

#endif
