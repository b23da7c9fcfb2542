/*
 * ops.c: requests on the control socket (handlers.go): one JSON line in,
 * one JSON line out; status, wait, start, signal, resize, stats, pids,
 * pause, resume and update here, attach and exec in stream.c and exec.c,
 * logfollow in follow.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmon.h"

/* reply answers c with the line in b and closes it once sent. */
void reply(struct conn *c, struct buf *b)
{
	c->kind = C_DONE;
	c->finished = 1;
	c->deadline = now_ms() + REQUEST_TIMEOUT_MS;
	conn_queue(c, b->p, b->len);
	conn_flush(c);
}

static void error_json(struct buf *b, const struct err *e)
{
	buf_adds(b, "{\"error\":");
	buf_jstr(b, e->msg, strlen(e->msg));
	if (e->class) {
		buf_adds(b, ",\"class\":");
		buf_jstr(b, e->class, strlen(e->class));
	}
	buf_adds(b, "}\n");
}

void reply_err(struct conn *c, const struct err *e)
{
	struct buf b = {0};
	error_json(&b, e);
	reply(c, &b);
	buf_free(&b);
}

static void reply_str(struct conn *c, const char *s)
{
	struct buf b = {0};
	buf_adds(&b, s);
	reply(c, &b);
	buf_free(&b);
}

static int zero_time(const struct timespec *t)
{
	return t->tv_sec == 0 && t->tv_nsec == 0;
}

static void add_time(struct buf *b, const char *key, const struct timespec *t)
{
	buf_addf(b, ",\"%s\":\"", key);
	buf_time(b, t);
	buf_adds(b, "\"");
}

/* exit_json is the ExitStatus of the container. */
void exit_json(struct buf *b)
{
	buf_addf(b, "{\"exitCode\":%d", S.exit_code);
	if (!zero_time(&S.started_at))
		add_time(b, "startedAt", &S.started_at);
	if (syslog_dropped() > 0)
		buf_addf(b, ",\"logDropped\":%llu", syslog_dropped());
	add_time(b, "exitedAt", &S.exited_at);
	if (S.oom_killed)
		buf_adds(b, ",\"oomKilled\":true");
	if (S.pid)
		buf_addf(b, ",\"pid\":%d", S.pid);
	if (S.exit_error) {
		buf_adds(b, ",\"error\":");
		buf_jstr(b, S.exit_error, strlen(S.exit_error));
	}
	buf_adds(b, "}");
}

void status_json(struct buf *b)
{
	buf_adds(b, "{\"id\":");
	buf_jstr(b, S.cfg.id, strlen(S.cfg.id));
	buf_addf(b, ",\"state\":\"%s\",\"pid\":%d,\"monitorPid\":%d,\"tty\":%s", S.state, S.pid, S.self,
		 S.tty ? "true" : "false");
	if (S.paused && strcmp(S.state, "running") == 0)
		buf_adds(b, ",\"paused\":true");
	if (!zero_time(&S.started_at))
		add_time(b, "startedAt", &S.started_at);
	if (syslog_dropped() > 0)
		buf_addf(b, ",\"logDropped\":%llu", syslog_dropped());
	if (S.exit_json) {
		buf_adds(b, ",\"exit\":");
		buf_adds(b, S.exit_json);
	}
	buf_adds(b, "}");
}

static void reply_status(struct conn *c)
{
	struct buf b = {0};
	buf_adds(&b, "{\"status\":");
	status_json(&b);
	buf_adds(&b, "}\n");
	reply(c, &b);
	buf_free(&b);
}

/* The fields of a request (proto.go request). */
struct request {
	char *op, *exec;
	int stdin, stdout, stderr, all, detach;
	long long h, w, signal;
	struct jval process, resources;
};

static int field_bool(const struct jval *o, const char *k, int *v)
{
	struct jval j;
	*v = 0;
	if (json_get(o, k, &j) <= 0 || j.type == J_NULL)
		return 0;
	return json_bool(&j, v);
}

static int field_int(const struct jval *o, const char *k, long long *v, long long max)
{
	struct jval j;
	*v = 0;
	if (json_get(o, k, &j) <= 0 || j.type == J_NULL)
		return 0;
	return json_int(&j, v) < 0 || *v < (max > 65535 ? -max - 1 : 0) || *v > max ? -1 : 0;
}

static int field_str(const struct jval *o, const char *k, char **v)
{
	struct jval j;
	*v = NULL;
	if (json_get(o, k, &j) <= 0 || j.type == J_NULL)
		return 0;
	return json_str(&j, v);
}

static int parse_request(const struct jval *o, struct request *r)
{
	memset(r, 0, sizeof *r);
	if (o->type != J_OBJ)
		return -1;
	if (field_str(o, "op", &r->op) < 0 || field_str(o, "exec", &r->exec) < 0 ||
	    field_bool(o, "stdin", &r->stdin) < 0 || field_bool(o, "stdout", &r->stdout) < 0 ||
	    field_bool(o, "stderr", &r->stderr) < 0 || field_bool(o, "all", &r->all) < 0 ||
	    field_bool(o, "detach", &r->detach) < 0 || field_int(o, "h", &r->h, 65535) < 0 ||
	    field_int(o, "w", &r->w, 65535) < 0 || field_int(o, "signal", &r->signal, 0x7fffffffLL) < 0)
		return -1;
	if (json_get(o, "process", &r->process) <= 0)
		r->process.type = J_BAD;
	if (json_get(o, "resources", &r->resources) <= 0)
		r->resources.type = J_BAD;
	return 0;
}

static int op_start(struct err *e)
{
	if (strcmp(S.state, "created") != 0) {
		err_set(e, "conflict", "container %s is %s", S.cfg.id, S.state);
		return -1;
	}
	if (rt_start(S.cfg.id, S.poststart, e) < 0) {
		free(S.exit_error);
		S.exit_error = strdup(e->msg); /* kept for exit.json */
		return -1;
	}
	S.state = "running";
	clock_gettime(CLOCK_REALTIME, &S.started_at);
	return 0;
}

static int signal_exec(const struct request *r, struct err *e)
{
	struct execp *x = exec_find(r->exec);
	if (!x) {
		err_set(e, "notfound", "no such exec %s", r->exec);
		return -1;
	}
	if (x->done) {
		err_set(e, "conflict", "exec %s is not running", x->id);
		return -1;
	}
	if (kill(x->pid, (int)r->signal) < 0) {
		err_set(e, NULL, "signal exec %s: %s", x->id, strerror(errno));
		return -1;
	}
	return 0;
}

static int op_signal(const struct request *r, struct err *e)
{
	if (r->signal <= 0 || r->signal > 64) {
		err_set(e, "invalid", "invalid signal %lld", r->signal);
		return -1;
	}
	if (r->exec && *r->exec)
		return signal_exec(r, e);
	if (strcmp(S.state, "exited") == 0 || S.init_reaped) {
		err_set(e, "conflict", "container %s is not running", S.cfg.id);
		return -1;
	}
	if (r->all) {
		char sig[16];
		snprintf(sig, sizeof sig, "%lld", r->signal);
		const char *const args[] = {"kill", "--all", S.cfg.id, sig, NULL};
		return rt_output(NULL, 0, NULL, e, args);
	}
	if (kill(S.pid, (int)r->signal) < 0) {
		if (errno == ESRCH)
			err_set(e, "conflict", "container %s is not running", S.cfg.id);
		else
			err_set(e, NULL, "signal container %s: %s", S.cfg.id, strerror(errno));
		return -1;
	}
	return 0;
}

static int op_resize(const struct request *r, struct err *e)
{
	int master = S.master;
	if (r->exec && *r->exec) {
		struct execp *x = exec_find(r->exec);
		if (!x) {
			err_set(e, "notfound", "no such exec %s", r->exec);
			return -1;
		}
		master = x->master;
	}
	if (master < 0) {
		err_set(e, "conflict", "the process has no terminal");
		return -1;
	}
	return set_winsize(master, (unsigned short)r->h, (unsigned short)r->w, e);
}

static void trim_output(struct buf *b)
{
	size_t st = 0;
	while (b->len > 0 && strchr(" \t\r\n", b->p[b->len - 1]))
		b->len--;
	while (st < b->len && strchr(" \t\r\n", b->p[st]))
		st++;
	memmove(b->p, b->p + st, b->len - st);
	b->len -= st;
	b->p[b->len] = 0;
}

static void op_query(struct conn *c, int pids)
{
	struct buf out = {0}, r = {0};
	struct err e;
	const char *const sargs[] = {"events", "--stats", S.cfg.id, NULL};
	const char *const pargs[] = {"ps", "--format", "json", S.cfg.id, NULL};
	if (rt_output(NULL, 0, &out, &e, pids ? pargs : sargs) == 0) {
		trim_output(&out);
		if (!json_valid(out.p, out.len)) {
			err_set(&e, NULL, "runtime %s: bad output \"%.200s\"", pids ? "ps" : "events", out.p);
			reply_err(c, &e);
			buf_free(&out);
			return;
		}
		buf_adds(&r, "{\"data\":");
		buf_add(&r, out.p, out.len);
		buf_adds(&r, "}\n");
		reply(c, &r);
	} else {
		reply_err(c, &e);
	}
	buf_free(&out);
	buf_free(&r);
}

static int op_pause(int freeze, struct err *e)
{
	const char *const args[] = {freeze ? "pause" : "resume", S.cfg.id, NULL};
	if (rt_output(NULL, 0, NULL, e, args) < 0)
		return -1;
	S.paused = freeze;
	return 0;
}

static int op_update(const struct request *r, struct err *e)
{
	const char *const args[] = {"update", "--resources", "-", S.cfg.id, NULL};
	if (r->resources.type == J_BAD || r->resources.type == J_NULL) {
		err_set(e, "invalid", "update needs resources");
		return -1;
	}
	return rt_output(r->resources.p, r->resources.n, NULL, e, args);
}

static void op_wait(struct conn *c)
{
	if (S.phase == P_FLUSH) {
		reply_status(c);
		return;
	}
	c->kind = C_WAIT;
}

/* simple answers the requests that need no stream; 1 when it did. */
static int simple(struct conn *c, const struct request *r, struct err *e)
{
	const char *op = r->op;
	int rc;
	if (strcmp(op, "status") == 0) {
		reply_status(c);
		return 1;
	}
	if (strcmp(op, "stats") == 0 || strcmp(op, "pids") == 0) {
		op_query(c, op[0] == 'p');
		return 1;
	}
	if (strcmp(op, "start") == 0)
		rc = op_start(e);
	else if (strcmp(op, "signal") == 0)
		rc = op_signal(r, e);
	else if (strcmp(op, "resize") == 0)
		rc = op_resize(r, e);
	else if (strcmp(op, "pause") == 0 || strcmp(op, "resume") == 0)
		rc = op_pause(op[1] == 'a', e);
	else if (strcmp(op, "update") == 0)
		rc = op_update(r, e);
	else
		return 0;
	if (rc < 0)
		reply_err(c, e);
	else
		reply_str(c, "{}\n");
	return 1;
}

static void dispatch(struct conn *c, const struct jval *o, const struct request *r)
{
	struct err e;
	const char *op = r->op ? r->op : "";
	if (strcmp(op, "attach") == 0) {
		attach_begin(c, r->stdin, r->stdout, r->stderr);
	} else if (strcmp(op, "exec") == 0) {
		exec_begin(c, o);
	} else if (strcmp(op, "wait") == 0) {
		op_wait(c);
	} else if (strcmp(op, "logfollow") == 0) {
		follow_begin(c);
	} else if (strcmp(op, "exec-wait") == 0) {
		exec_wait_begin(c, r->exec ? r->exec : "");
	} else {
		struct request rr = *r;
		rr.op = (char *)op;
		if (!simple(c, &rr, &e)) {
			err_set(&e, "invalid", "unknown operation \"%.100s\"", op);
			reply_err(c, &e);
		}
	}
}

void handle_request(struct conn *c, const char *line, size_t n)
{
	struct jval o;
	struct request r;
	struct err e;
	if (json_value(line, n, &o) < 0 || parse_request(&o, &r) < 0) {
		err_set(&e, "invalid", "decode message: malformed request");
		reply_err(c, &e);
		return;
	}
	dispatch(c, &o, &r);
	free(r.op);
	free(r.exec);
}
