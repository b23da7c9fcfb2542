/*
 * loop.c: the epoll loop: the control socket and its connections, SIGCHLD
 * through a signalfd (the reaper), timeouts, the memory trim, and the end
 * of the monitor once the container exited (server.go finish).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmon.h"

char iobuf[READ_BUF] __attribute__((aligned(4096)));

/* Objects closed while a batch of events may still name them are freed
 * once the batch is done. */
static void **dead;
static size_t ndead, capdead;

static void defer_free(void *p)
{
	if (ndead == capdead) {
		capdead = capdead ? capdead * 2 : 16;
		dead = realloc(dead, capdead * sizeof *dead);
		if (!dead)
			abort();
	}
	dead[ndead++] = p;
}

static void free_dead(void)
{
	for (size_t i = 0; i < ndead; i++)
		free(dead[i]);
	free(dead);
	dead = NULL;
	ndead = capdead = 0;
}

void watch_set(struct watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};
	if (w->fd < 0 || events == w->events)
		return;
	int op = w->events == 0 ? EPOLL_CTL_ADD : events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
	if (epoll_ctl(S.epfd, op, w->fd, &ev) < 0)
		fprintf(stderr, "corral-monitor: epoll_ctl fd %d: %s\n", w->fd, strerror(errno));
	w->events = events;
}

void watch_del(struct watch *w)
{
	watch_set(w, 0);
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

struct source *source_new(int fd, int stream, struct execp *x)
{
	struct source *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	s->w = (struct watch){.kind = W_SOURCE, .fd = fd};
	s->stream = stream;
	s->exec = x;
	watch_set(&s->w, EPOLLIN);
	return s;
}

void source_close(struct source *s)
{
	watch_del(&s->w);
	defer_free(s);
}

struct sink *sink_new(int fd)
{
	struct sink *k = calloc(1, sizeof *k);
	if (!k)
		abort();
	k->w = (struct watch){.kind = W_SINK, .fd = fd};
	return k;
}

void sink_put(struct sink *k)
{
	if (!k)
		return;
	watch_del(&k->w);
	defer_free(k);
}

/* drain_input reads what a client sent and the monitor will not use: a
 * unix socket closed with unread input resets its peer (ECONNRESET), who
 * would then miss the end of its output and see an error instead of EOF. */
static void drain_input(int fd)
{
	char b[4096];
	for (int i = 0; i < 64; i++)
		if (read(fd, b, sizeof b) <= 0)
			return;
}

void conn_close(struct conn *c)
{
	if (c->w.fd < 0)
		return;
	drain_input(c->w.fd);
	watch_del(&c->w);
	if (c->prev)
		c->prev->next = c->next;
	else
		S.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->exec && c->exec->conn == c)
		c->exec->conn = NULL;
	buf_free(&c->in);
	buf_free(&c->out);
	defer_free(c);
	output_resume();
}

static int trusted(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == geteuid();
}

static void accept_all(void)
{
	for (;;) {
		int fd = accept4(S.lsn.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (!trusted(fd)) {
			close(fd);
			continue;
		}
		struct conn *c = calloc(1, sizeof *c);
		if (!c)
			abort();
		c->w = (struct watch){.kind = W_CONN, .fd = fd};
		c->kind = C_REQ;
		c->deadline = now_ms() + REQUEST_TIMEOUT_MS;
		c->next = S.conns;
		if (S.conns)
			S.conns->prev = c;
		S.conns = c;
		watch_set(&c->w, EPOLLIN | EPOLLRDHUP);
	}
}

static int exit_code(int ws)
{
	if (WIFSIGNALED(ws))
		return 128 + WTERMSIG(ws);
	return WEXITSTATUS(ws);
}

/* reap collects every child that exited: init, execs, orphans. */
static void reap(void)
{
	struct signalfd_siginfo si;
	while (read(S.sig.fd, &si, sizeof si) > 0)
		;
	for (;;) {
		int ws;
		pid_t pid = waitpid(-1, &ws, WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			return;
		if (pid == S.pid && !S.init_reaped) {
			S.init_reaped = 1;
			server_finish_begin(exit_code(ws));
		} else {
			exec_reaped(pid, exit_code(ws));
		}
	}
}

static void dispatch(struct watch *w, uint32_t ev)
{
	if (w->fd < 0)
		return;
	switch (w->kind) {
	case W_LISTEN:
		accept_all();
		break;
	case W_SIGNAL:
		reap();
		break;
	case W_SOURCE:
		source_readable((struct source *)w);
		break;
	case W_SINK:
		sink_writable((struct sink *)w);
		break;
	case W_SYSLOG:
		syslog_event();
		break;
	case W_CONN: {
		struct conn *c = (struct conn *)w;
		if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			conn_flush(c);
		if (c->w.fd >= 0 && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
			conn_readable(c);
		break;
	}
	}
}

/* finish ends the container: recorded, clients told (server.go finish).
 * With noDelete the container stays in the runtime, stopped: the daemon
 * deletes it in its own process, which saves starting a runtime process
 * at every exit. */
static void finish(void)
{
	struct buf b = {0};
	const char *const args[] = {"delete", "--force", S.cfg.id, NULL};
	struct err e;
	S.oom_killed = oom_kills(S.oom_file) > 0; /* before the cgroup goes */
	if (!S.cfg.no_delete && rt_output(NULL, 0, NULL, &e, args) < 0)
		fprintf(stderr, "corral-monitor: delete container %s: %s\n", S.cfg.id, e.msg);
	log_close();
	S.state = "exited";
	exit_json(&b);
	if (write_file_atomic("exit.json", b.p, b.len, 0644) < 0)
		fprintf(stderr, "corral-monitor: record exit: %s\n", strerror(errno));
	S.exit_json = b.p;
	follow_end_all(); /* after exit.json: followers check it at the EOF */
	watch_del(&S.lsn);
	unlink("monitor.sock");
	S.phase = P_FLUSH;
	S.deadline = now_ms() + FLUSH_TIMEOUT_MS;
	for (struct conn *c = S.conns, *next; c; c = next) {
		next = c->next;
		if (c->kind == C_WAIT) {
			struct buf r = {0};
			buf_adds(&r, "{\"status\":");
			status_json(&r);
			buf_adds(&r, "}\n");
			reply(c, &r);
			buf_free(&r);
		}
	}
	attach_finish_all();
}

/* server_finish_begin: the init exited with code; its output drains. */
void server_finish_begin(int code)
{
	clock_gettime(CLOCK_REALTIME, &S.exited_at);
	S.exit_code = code;
	close_container_stdin();
	S.phase = P_DRAIN;
	S.deadline = now_ms() + DRAIN_TIMEOUT_MS;
}

void trim_poke(void)
{
	S.trim_at = now_ms() + TRIM_DELAY_MS;
}

static void trim(void)
{
	log_trim();
	madvise(iobuf, sizeof iobuf, MADV_DONTNEED);
	malloc_trim(0);
	S.trim_at = 0;
}

static int64_t next_deadline(void)
{
	int64_t d = S.deadline ? S.deadline : S.trim_at;
	if (S.trim_at && S.trim_at < d)
		d = S.trim_at;
	for (struct conn *c = S.conns; c; c = c->next)
		if (c->deadline && (!d || c->deadline < d))
			d = c->deadline;
	for (struct execp *x = S.execs; x; x = x->next)
		if (x->done && x->conn && (!d || x->done_at + DRAIN_TIMEOUT_MS < d))
			d = x->done_at + DRAIN_TIMEOUT_MS;
	return d;
}

static void timers(void)
{
	int64_t now = now_ms();
	for (struct conn *c = S.conns, *next; c; c = next) {
		next = c->next;
		if (c->deadline && now >= c->deadline)
			conn_close(c);
	}
	for (struct execp *x = S.execs; x; x = x->next)
		if (x->done)
			exec_check_done(x);
	if (S.trim_at && now >= S.trim_at)
		trim();
}

static int step_phase(void)
{
	int64_t now = now_ms();
	if (S.phase == P_DRAIN && ((!S.out[0] && !S.out[1]) || now >= S.deadline)) {
		for (int i = 0; i < 2; i++)
			if (S.out[i]) {
				struct timespec t;
				clock_gettime(CLOCK_REALTIME, &t);
				log_flush(S.out[i]->stream, &t);
			}
		finish();
	}
	return S.phase == P_FLUSH && (!S.conns || now >= S.deadline);
}

void loop_run(void)
{
	struct epoll_event ev[32];
	for (;;) {
		int64_t d = next_deadline();
		int timeout = -1;
		if (d) {
			int64_t left = d - now_ms();
			timeout = left > 0 ? (int)left : 0;
		}
		int n = epoll_wait(S.epfd, ev, 32, timeout);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "corral-monitor: epoll_wait: %s\n", strerror(errno));
			exit(1);
		}
		for (int i = 0; i < n; i++)
			dispatch(ev[i].data.ptr, ev[i].events);
		timers();
		free_dead();
		if (step_phase())
			return;
		free_dead();
	}
}
