/*
 * follow.c: followers of the json-file log ({"op":"logfollow"}). A
 * follower's connection stays open; after the answer it gets a read-only
 * descriptor of the current log file, then one of each file rotate()
 * makes, at once (the loop is single-threaded: no rotation slips between),
 * each as one data byte 'f' with the descriptor in SCM_RIGHTS. The send
 * never waits: a follower whose socket cannot take a file is dropped (its
 * connection closed), and learns so from the EOF while the container still
 * runs. When the log closes, every follower's connection closes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmon.h"

/* send_fd sends data and fd (unless < 0) in one message, without waiting. */
static int send_fd(int sock, const char *data, size_t n, int fd)
{
	struct iovec iov = {.iov_base = (void *)data, .iov_len = n};
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		memset(&u, 0, sizeof u);
		m.msg_control = u.b;
		m.msg_controllen = sizeof u.b;
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(h), &fd, sizeof fd);
	}
	ssize_t w;
	do
		w = sendmsg(sock, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	return w == (ssize_t)n ? 0 : -1;
}

/* send_file sends c a descriptor of its own (its own offset) of the log
 * file the monitor writes through fd. */
static int send_file(struct conn *c, int fd)
{
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	int rd = open(proc, O_RDONLY | O_CLOEXEC);
	if (rd < 0)
		return -1;
	int rc = send_fd(c->w.fd, "f", 1, rd);
	close(rd);
	return rc;
}

/* follow_begin answers a logfollow request and sends the current file. */
void follow_begin(struct conn *c)
{
	int fd = log_fd();
	if (fd < 0 || S.phase == P_FLUSH) {
		struct err e;
		err_set(&e, "conflict", "container %s: no json-file log is being written", S.cfg.id);
		reply_err(c, &e);
		return;
	}
	if (send_fd(c->w.fd, "{}\n", 3, -1) < 0 || send_file(c, fd) < 0) {
		fprintf(stderr, "corral-monitor: log follower: %s\n", strerror(errno));
		conn_close(c);
		return;
	}
	c->kind = C_FOLLOW;
}

/* follow_file sends every follower the file just made; those whose
 * socket is full are dropped. */
void follow_file(int fd)
{
	for (struct conn *c = S.conns, *next; c; c = next) {
		next = c->next;
		if (c->kind == C_FOLLOW && send_file(c, fd) < 0)
			conn_close(c);
	}
}

/* follow_end_all: the log is closed; no more files. */
void follow_end_all(void)
{
	for (struct conn *c = S.conns, *next; c; c = next) {
		next = c->next;
		if (c->kind == C_FOLLOW)
			conn_close(c);
	}
}
