/*
 * standby.c: a spare monitor's runtime, started ahead.
 *
 * A spare monitor (DIR "-") waits for its container before it knows it.
 * Meanwhile it starts `corral-runc standby` beside its own program: that
 * runtime pays its Go start-up, builds its JSON codecs and seals its binary
 * for init, then says 'R' and waits. The container's create is then sent
 * to it (runtime/runcli/standby.go) instead of starting a runtime: the
 * working directory and the arguments, each ended by a NUL, with stdin,
 * stdout and stderr attached. It is this monitor's child like a runtime
 * spawned for the create, and it is waited for the same way.
 *
 * The standby says 'A' once it has taken the request (its stdio and
 * directory): from then on the create is its, as a spawned runtime's.
 *
 * It is only a shortcut: a standby that is not ready in time, died, runs
 * another file than the create would (another program, or one replaced
 * since), cannot be sent to, or does not take the request, is killed and
 * the create spawns its runtime as usual. When the monitor exits without a
 * container, the standby is killed, or reads end of file and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmon.h"

/* How long a create waits for a standby still starting: one that is not
 * ready by then is taken for stuck and replaced by a fresh runtime. */
#define STANDBY_READY_MS 2000
#define STANDBY_MAX_REQUEST (64 << 10)

static struct {
	pid_t pid;
	int sock;
	struct stat file; /* its program's, when the standby started */
} SB = {.sock = -1};

/* standby_spawn starts the standby runtime, for a spare: none when there
 * is no corral-runc beside this program or it cannot be started (the
 * create then spawns its runtime as usual). */
void standby_spawn(void)
{
	int sv[2];
	struct stat file;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return;
	self[n] = 0;
	char *program = besides(self, "corral-runc", &file);
	if (!program)
		return;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		free(program);
		return;
	}
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	const char *argv[] = {program, "standby", NULL};
	struct rt_stdio io = {devnull, devnull, devnull};
	pid_t pid;
	int rc = devnull < 0 ? -1 : rt_spawn_program(argv, &io, sv[1], &pid);
	if (devnull >= 0)
		close(devnull);
	close(sv[1]);
	free(program);
	if (rc != 0) {
		close(sv[0]);
		return;
	}
	SB.pid = pid;
	SB.sock = sv[0];
	SB.file = file;
}

/* runs_program reports whether the standby runs the file program names
 * now: the same file (through any symlinks), unchanged since the standby
 * started. Another program, or a file replaced since (an upgrade), is
 * what the create runs instead. */
static int runs_program(const char *program)
{
	struct stat now;
	return stat(program, &now) == 0 && now.st_dev == SB.file.st_dev && now.st_ino == SB.file.st_ino &&
	       now.st_mtim.tv_sec == SB.file.st_mtim.tv_sec && now.st_mtim.tv_nsec == SB.file.st_mtim.tv_nsec;
}

void standby_drop(void)
{
	if (SB.pid > 0) {
		kill(SB.pid, SIGKILL);
		while (waitpid(SB.pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (SB.sock >= 0)
		close(SB.sock);
	SB.pid = 0;
	SB.sock = -1;
}

/* await_byte waits for the standby to say want ('R': ready, 'A': it took
 * the request), within timeout_ms (-1: as long as it lives). */
static int await_byte(char want, int timeout_ms)
{
	struct pollfd p = {.fd = SB.sock, .events = POLLIN};
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		int64_t left = deadline - now_ms();
		int n = poll(&p, 1, timeout_ms < 0 ? -1 : left > 0 ? (int)left : 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		char c;
		ssize_t r = recv(SB.sock, &c, 1, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		return r == 1 && c == want ? 0 : -1;
	}
}

/* send_request sends the working directory, argv[1...] and io. */
static int send_request(const char *const *argv, const struct rt_stdio *io)
{
	struct buf b = {0};
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd))
		return -1;
	buf_add(&b, cwd, strlen(cwd) + 1);
	for (int i = 1; argv[i]; i++)
		buf_add(&b, argv[i], strlen(argv[i]) + 1);
	int fds[3] = {io->in, io->out, io->err};
	union {
		char buf[CMSG_SPACE(sizeof fds)];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof u);
	struct iovec iov = {.iov_base = b.p, .iov_len = b.len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof fds);
	memcpy(CMSG_DATA(c), fds, sizeof fds);
	ssize_t n = -1;
	if (b.len <= STANDBY_MAX_REQUEST)
		do
			n = sendmsg(SB.sock, &m, MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
	int rc = n == (ssize_t)b.len ? 0 : -1;
	buf_free(&b);
	return rc;
}

/* standby_take hands the create of argv to the standby: 0 and its pid,
 * else -1 (there is none, or it is dropped now). It says which on stderr,
 * the monitor's debug log. */
int standby_take(const char *const *argv, const struct rt_stdio *io, pid_t *pid)
{
	const char *why = NULL;
	if (SB.pid <= 0)
		return -1;
	if (!runs_program(argv[0]))
		why = "the create runs another program, or its file was replaced";
	else if (await_byte('R', STANDBY_READY_MS) < 0)
		why = "it is gone, or was not ready in time";
	else if (send_request(argv, io) < 0)
		why = "the request could not be sent";
	else if (await_byte('A', -1) < 0)
		/* between 'R' and taking the request it died, or failed to take
		 * its stdio or directory (it says why in the runtime's log) */
		why = "it did not take the request";
	if (why) {
		fprintf(stderr, "corral monitor: standby runtime %d not used: %s\n", (int)SB.pid, why);
		standby_drop();
		return -1;
	}
	fprintf(stderr, "corral monitor: create sent to the standby runtime %d\n", (int)SB.pid);
	*pid = SB.pid;
	close(SB.sock);
	SB.pid = 0;
	SB.sock = -1;
	return 0;
}
