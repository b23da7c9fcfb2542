/*
 * exec.c: processes started in the container by exec (exec.go): the
 * runtime runs them detached with stdio the monitor holds (pipes, or a pty
 * whose master comes over a console socket); their output goes to the one
 * client directly (the process waits for a slow client), not to the log.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmon.h"

struct execp *exec_find(const char *id)
{
	for (struct execp *x = S.execs; x; x = x->next)
		if (strcmp(x->id, id) == 0)
			return x;
	return NULL;
}

static void exec_free(struct execp *x)
{
	for (int i = 0; i < 2; i++)
		if (x->out[i])
			source_close(x->out[i]);
	sink_put(x->stdin);
	if (x->master >= 0)
		close(x->master);
	free(x->id);
	free(x);
}

/* prune forgets finished execs beyond KEEP_EXECS, oldest first. */
static void prune(void)
{
	int finished = 0;
	for (struct execp *x = S.execs; x; x = x->next)
		finished += x->done && !x->conn;
	for (struct execp **pp = &S.execs; *pp && finished > KEEP_EXECS;) {
		struct execp *x = *pp;
		if (x->done && !x->conn && !x->out[0] && !x->out[1]) {
			*pp = x->next;
			exec_free(x);
			finished--;
			continue;
		}
		pp = &x->next;
	}
}

/* The part of an exec's OCI process the monitor reads. */
struct eproc {
	int terminal;
	long long h, w;
};

static int read_process(const struct jval *raw, struct eproc *p, struct err *e)
{
	struct jval args, v, cs;
	memset(p, 0, sizeof *p);
	if (raw->type == J_BAD || raw->type == J_NULL) {
		err_set(e, "invalid", "exec needs a command");
		return -1;
	}
	if (raw->type != J_OBJ)
		goto bad;
	if (json_get(raw, "args", &args) > 0 && args.type != J_NULL) {
		if (args.type != J_ARR)
			goto bad;
		for (size_t i = 1; i < args.n; i++)
			if (args.p[i] == '"' || (args.p[i] != ']' && !strchr(" \t\r\n,", args.p[i])))
				goto has_args;
	}
	err_set(e, "invalid", "exec needs a command");
	return -1;
has_args:
	if (json_get(raw, "terminal", &v) > 0 && v.type != J_NULL && json_bool(&v, &p->terminal) < 0)
		goto bad;
	if (json_get(raw, "consoleSize", &cs) > 0 && cs.type == J_OBJ) {
		if ((json_get(&cs, "height", &v) > 0 && json_int(&v, &p->h) < 0) ||
		    (json_get(&cs, "width", &v) > 0 && json_int(&v, &p->w) < 0))
			goto bad;
	}
	return 0;
bad:
	err_set(e, "invalid", "exec process: malformed process");
	return -1;
}

/* The stdio being prepared for one exec. */
struct estdio {
	int console;           /* listening console socket, or -1 */
	int theirs[3], ours[3]; /* ours: stdin write end, stdout, stderr */
};

static int nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void close_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < i; j++)
			if (fds[j] == fds[i])
				fds[i] = -1;
		if (fds[i] >= 0)
			close(fds[i]);
	}
	for (int i = 0; i < n; i++)
		fds[i] = -1;
}

/* make_pipes: stdin when asked (else /dev/null), output when asked (else
 * /dev/null), our ends non-blocking. */
int make_pipes(int in, int out, int theirs[3], int ours[3], struct err *e)
{
	int p[2];
	for (int i = 0; i < 3; i++)
		theirs[i] = ours[i] = -1;
	if (in ? pipe2(p, O_CLOEXEC) : 0) {
		goto fail;
	} else if (in) {
		theirs[0] = p[0], ours[0] = p[1];
		if (nonblock(ours[0]) < 0)
			goto fail;
	} else if ((theirs[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		goto fail;
	}
	if (!out) {
		if ((theirs[1] = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
			goto fail;
		theirs[2] = theirs[1];
		return 0;
	}
	for (int i = 1; i <= 2; i++) {
		if (pipe2(p, O_CLOEXEC) < 0)
			goto fail;
		ours[i] = p[0], theirs[i] = p[1];
		if (nonblock(ours[i]) < 0)
			goto fail;
	}
	return 0;
fail:
	err_set(e, NULL, "make pipes: %s", strerror(errno));
	close_fds(theirs, 3);
	close_fds(ours, 3);
	return -1;
}

static int reserve(char **id, unsigned long *seq, struct err *e)
{
	if (strcmp(S.state, "running") != 0) {
		err_set(e, "conflict", "container %s is not running", S.cfg.id);
		return -1;
	}
	*seq = ++S.exec_seq;
	if (!*id || !**id) {
		free(*id);
		if (asprintf(id, "exec-%lu", *seq) < 0)
			abort();
	}
	if (exec_find(*id)) {
		err_set(e, "conflict", "exec %s already exists", *id);
		return -1;
	}
	return 0;
}

/* take_master receives the exec's pty master and makes its stdin and
 * output of it; the process is killed when that fails. */
static int take_master(struct execp *x, int console, const struct eproc *p, int stdin, struct err *e)
{
	if (console_receive(console, &x->master, e) < 0) {
		kill(x->pid, SIGKILL);
		return -1;
	}
	set_winsize(x->master, (unsigned short)p->h, (unsigned short)p->w, NULL);
	int in = stdin ? fcntl(x->master, F_DUPFD_CLOEXEC, 3) : -2;
	int out = fcntl(x->master, F_DUPFD_CLOEXEC, 3);
	if (in == -1 || out < 0) {
		err_set(e, NULL, "dup pty master: %s", strerror(errno));
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
		kill(x->pid, SIGKILL);
		return -1;
	}
	if (in >= 0)
		x->stdin = sink_new(in);
	x->out[0] = source_new(out, 1, x);
	return 0;
}

/* run_exec runs the runtime's exec and takes the process's pid and pty. */
static int run_exec(struct execp *x, struct estdio *io, const struct eproc *p, int stdin, struct err *e)
{
	char json[64], pid[64], sock[64];
	snprintf(json, sizeof json, "exec-%lu.json", x->seq);
	snprintf(pid, sizeof pid, "exec-%lu.pid", x->seq);
	snprintf(sock, sizeof sock, "exec-%lu.sock", x->seq);
	const char *args[] = {"exec", "--detach", "--pid-file", pid, "--process", json, NULL, NULL, NULL, NULL};
	int n = 6;
	if (io->console >= 0) {
		args[n++] = "--console-socket";
		args[n++] = sock;
	}
	args[n] = S.cfg.id;
	struct rt_stdio rio = {io->theirs[0], io->theirs[1], io->theirs[2]};
	int rc = rt_run(&rio, e, args);
	unlink(json);
	close_fds(io->theirs, 3);
	if (rc == 0)
		rc = read_pid_file(pid, &x->pid, e);
	if (rc == 0 && io->console >= 0)
		rc = take_master(x, io->console, p, stdin, e);
	if (io->console >= 0) {
		close(io->console);
		unlink(sock);
	}
	return rc;
}

/* prepare_tty: /dev/null for stdio and a console socket for the pty. */
static int prepare_tty(const struct execp *x, struct estdio *io, struct err *e)
{
	char name[64];
	snprintf(name, sizeof name, "exec-%lu.sock", x->seq);
	for (int i = 0; i < 3; i++)
		io->theirs[i] = io->ours[i] = -1;
	if ((io->theirs[0] = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		err_set(e, NULL, "open /dev/null: %s", strerror(errno));
		return -1;
	}
	io->theirs[1] = io->theirs[2] = io->theirs[0];
	io->console = console_listen(name, e);
	if (io->console < 0) {
		close_fds(io->theirs, 3);
		return -1;
	}
	return 0;
}

static int prepare(struct execp *x, struct estdio *io, const struct jval *proc, const struct eproc *p,
		   int stdin, int detach, struct err *e)
{
	char name[64];
	snprintf(name, sizeof name, "exec-%lu.json", x->seq);
	if (write_file_atomic(name, proc->p, proc->n, 0600) < 0) {
		err_set(e, NULL, "write %s: %s", name, strerror(errno));
		return -1;
	}
	io->console = -1;
	int rc = p->terminal ? prepare_tty(x, io, e)
			     : make_pipes(stdin && !detach, !detach, io->theirs, io->ours, e);
	if (rc < 0)
		unlink(name);
	return rc;
}

static struct execp *start_exec(const struct jval *proc, char **id, int stdin, int detach, struct err *e)
{
	struct eproc p;
	struct estdio io;
	if (read_process(proc, &p, e) < 0)
		return NULL;
	struct execp *x = calloc(1, sizeof *x);
	if (!x)
		abort();
	x->master = -1;
	if (reserve(id, &x->seq, e) < 0 || prepare(x, &io, proc, &p, stdin, detach, e) < 0) {
		free(x);
		return NULL;
	}
	x->id = strdup(*id);
	if (run_exec(x, &io, &p, stdin && !detach, e) < 0) {
		close_fds(io.ours, 3);
		exec_free(x);
		return NULL;
	}
	if (io.ours[0] >= 0)
		x->stdin = sink_new(io.ours[0]);
	for (int i = 1; i <= 2; i++)
		if (io.ours[i] >= 0)
			x->out[i - 1] = source_new(io.ours[i], i, x);
	x->next = S.execs;
	S.execs = x;
	prune();
	return x;
}

/* exec_begin starts an exec and, unless detached, streams its stdio. */
void exec_begin(struct conn *c, const struct jval *req)
{
	struct err e;
	struct jval proc = {.type = J_BAD};
	struct jval v;
	char *id = NULL;
	int stdin = 0, detach = 0;
	json_get(req, "process", &proc);
	if (json_get(req, "exec", &v) > 0 && v.type == J_STR)
		json_str(&v, &id);
	if (json_get(req, "stdin", &v) > 0)
		json_bool(&v, &stdin);
	if (json_get(req, "detach", &v) > 0)
		json_bool(&v, &detach);
	struct execp *x = start_exec(&proc, &id, stdin, detach, &e);
	free(id);
	if (!x) {
		reply_err(c, &e);
		return;
	}
	struct buf r = {0};
	buf_addf(&r, "{\"pid\":%d}\n", x->pid);
	if (detach) {
		sink_put(x->stdin); /* nobody will write to it */
		x->stdin = NULL;
		reply(c, &r);
		buf_free(&r);
		return;
	}
	c->kind = C_EXEC;
	c->exec = x;
	c->stdin_open = x->stdin != NULL;
	x->conn = c;
	conn_queue(c, r.p, r.len);
	buf_free(&r);
	conn_flush(c);
	if (c->w.fd >= 0)
		stream_input(c, NULL, 0);
}

static void answer_wait(struct conn *c, struct execp *x)
{
	struct buf r = {0};
	buf_addf(&r, "{\"pid\":%d,\"exitCode\":%d}\n", x->pid, x->code);
	c->exec = NULL;
	reply(c, &r);
	buf_free(&r);
}

/* exec_wait_begin answers once the exec exited. */
void exec_wait_begin(struct conn *c, const char *id)
{
	struct execp *x = exec_find(id);
	struct err e;
	if (!x) {
		err_set(&e, "notfound", "no such exec %s", id);
		reply_err(c, &e);
		return;
	}
	if (x->done) {
		answer_wait(c, x);
		return;
	}
	c->kind = C_EXECWAIT;
	c->exec = x;
}

void exec_reaped(int pid, int code)
{
	for (struct execp *x = S.execs; x; x = x->next) {
		if (x->pid != pid || x->done)
			continue;
		x->done = 1;
		x->code = code;
		x->done_at = now_ms();
		for (struct conn *c = S.conns, *next; c; c = next) {
			next = c->next;
			if (c->kind == C_EXECWAIT && c->exec == x)
				answer_wait(c, x);
		}
		exec_check_done(x);
		return;
	}
}

void exec_source_done(struct execp *x)
{
	exec_check_done(x);
}

/* exec_check_done ends an attached exec's stream once the process exited
 * and its output ended (or DRAIN_TIMEOUT_MS passed). */
void exec_check_done(struct execp *x)
{
	struct conn *c = x->conn;
	if (!x->done || !c)
		return;
	if ((x->out[0] || x->out[1]) && now_ms() < x->done_at + DRAIN_TIMEOUT_MS)
		return;
	x->conn = NULL;
	c->exec = NULL;
	c->finished = 1;
	c->deadline = now_ms() + FLUSH_TIMEOUT_MS;
	sink_put(x->stdin);
	x->stdin = NULL;
	conn_flush(c);
}
