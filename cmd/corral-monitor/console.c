/*
 * console.c: console sockets (init sends the pty master over one by
 * SCM_RIGHTS, as monitor/console.go), pty window sizes, and start's fast
 * path: what `corral-runc start` does (runtime/lifecycle.go release) done
 * in place when the bundle has no poststart hooks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "cmon.h"

/* console_listen listens on a unix socket at name (relative: the monitor's
 * directory is its working directory), replacing a stale one. */
int console_listen(const char *name, struct err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", name);
	unlink(name);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		err_set(e, NULL, "listen on console socket: socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 128) < 0) {
		err_set(e, NULL, "listen on console socket: %s: %s", name, strerror(errno));
		close(fd);
		unlink(name);
		return -1;
	}
	return fd;
}

static int wait_in(int fd, struct err *e)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int64_t end = now_ms() + CONSOLE_TIMEOUT_MS;
	for (;;) {
		int64_t left = end - now_ms();
		int rc = poll(&p, 1, left > 0 ? (int)left : 0);
		if (rc > 0)
			return 0;
		if (rc == 0) {
			err_set(e, NULL, "receive pty master: i/o timeout");
			return -1;
		}
		if (errno != EINTR) {
			err_set(e, NULL, "receive pty master: poll: %s", strerror(errno));
			return -1;
		}
	}
}

static int recv_fd(int conn, int *fd, struct err *e)
{
	char data[256];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof u.buf};
	if (wait_in(conn, e) < 0)
		return -1;
	if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) < 0) {
		err_set(e, NULL, "receive pty master: recvmsg: %s", strerror(errno));
		return -1;
	}
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int))) {
		err_set(e, NULL, "receive pty master: no descriptor sent");
		return -1;
	}
	memcpy(fd, CMSG_DATA(c), sizeof(int));
	return 0;
}

/* console_receive takes the pty master init sent, non-blocking. */
int console_receive(int lfd, int *master, struct err *e)
{
	if (wait_in(lfd, e) < 0)
		return -1;
	int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0) {
		err_set(e, NULL, "receive pty master: accept: %s", strerror(errno));
		return -1;
	}
	int rc = recv_fd(conn, master, e);
	close(conn);
	if (rc < 0)
		return -1;
	int fl = fcntl(*master, F_GETFL);
	if (fl < 0 || fcntl(*master, F_SETFL, fl | O_NONBLOCK) < 0) {
		err_set(e, NULL, "receive pty master: set non-blocking: %s", strerror(errno));
		close(*master);
		return -1;
	}
	return 0;
}

int set_winsize(int fd, unsigned short h, unsigned short w, struct err *e)
{
	struct winsize ws = {.ws_row = h, .ws_col = w};
	if (h == 0 && w == 0)
		return 0;
	if (ioctl(fd, TIOCSWINSZ, &ws) < 0) {
		if (e)
			err_set(e, NULL, "resize pty: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int read_done(int done, struct buf *msg)
{
	int fl = fcntl(done, F_GETFL);
	if (fl < 0 || fcntl(done, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -1;
	for (;;) {
		buf_grow(msg, 4096);
		ssize_t n = read(done, msg->p + msg->len, msg->cap - msg->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		msg->len += (size_t)n;
		msg->p[msg->len] = 0;
	}
}

/* release wakes init through exec.fifo and waits for exec.done to close:
 * 1 done, 0 not possible here (use the runtime), -1 failed. */
static int release(const char *dir, const char *id, struct err *e)
{
	char path[4400];
	struct buf msg = {0};
	snprintf(path, sizeof path, "%s/exec.done", dir);
	int done = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (done < 0)
		return 0; /* not created: the runtime says why */
	snprintf(path, sizeof path, "%s/exec.fifo", dir);
	int f = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (f < 0 && errno == ENOENT) {
		close(done);
		return 0; /* started already: the runtime says so */
	}
	if (f < 0) {
		/* ENXIO: no reader, init is gone: the wrong state, as the runtime
		 * would find it. */
		err_set(e, errno == ENXIO ? "conflict" : NULL,
			"runtime start: start container %s: init is not waiting: open %s: %s", id, path,
			strerror(errno));
		close(done);
		return -1;
	}
	ssize_t w = write(f, "", 1);
	int saved = errno;
	close(f);
	if (w != 1) {
		err_set(e, NULL, "runtime start: start container %s: wake init: %s", id, strerror(saved));
		close(done);
		return -1;
	}
	unlink(path);
	int rc = read_done(done, &msg);
	saved = errno;
	close(done);
	snprintf(path, sizeof path, "%s/exec.done", dir);
	if (rc < 0)
		err_set(e, NULL, "runtime start: start container %s: wait for the process to start: %s", id,
			strerror(saved));
	else
		unlink(path);
	if (rc == 0 && msg.len > 0) {
		err_set(e, NULL, "runtime start: start container %s: container process failed to start: %s", id,
			msg.p);
		rc = -1;
	}
	buf_free(&msg);
	return rc < 0 ? -1 : 1;
}

/* rt_start lets the created container run: in place without poststart
 * hooks, else through `runtime start`. */
int rt_start(const char *id, int poststart, struct err *e)
{
	const char *const args[] = {"start", id, NULL};
	if (!poststart) {
		char dir[4096];
		const char *root = S.cfg.runtime_root && *S.cfg.runtime_root ? S.cfg.runtime_root
									    : "/run/corral/runtime";
		snprintf(dir, sizeof dir, "%s/%s", root, id);
		int rc = release(dir, id, e);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
	}
	return rt_output(NULL, 0, NULL, e, args);
}
