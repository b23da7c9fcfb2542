/*
 * stream.c: the container's output (to the log first, then to attached
 * clients, with back-pressure: an attached client whose queue is at its
 * bound holds the output up rather than lose any), clients' stdin frames
 * (Docker's framing; a 0-size frame ends the input), attach and detach
 * (server.go, handlers.go, attach.go).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cmon.h"

static size_t pending(const struct conn *c)
{
	return c->out.len - c->out_off;
}

static void conn_events(struct conn *c)
{
	uint32_t ev = 0;
	if (c->w.fd < 0)
		return;
	if (!c->read_eof && c->in_off >= c->in.len)
		ev |= EPOLLIN | EPOLLRDHUP;
	if (pending(c) > 0)
		ev |= EPOLLOUT;
	watch_set(&c->w, ev);
}

static void detach(struct conn *c);

/* write_failed: the client is gone for output. */
static void write_failed(struct conn *c)
{
	c->failed = 1;
	buf_free(&c->out);
	c->out_off = 0;
	if (c->kind == C_ATTACH && !c->finished) {
		detach(c);
		return;
	}
	if (c->kind != C_EXEC || c->finished)
		conn_close(c);
}

void conn_flush(struct conn *c)
{
	while (c->w.fd >= 0 && pending(c) > 0) {
		ssize_t n = write(c->w.fd, c->out.p + c->out_off, pending(c));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			write_failed(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->w.fd < 0)
		return;
	if (pending(c) == 0) {
		buf_free(&c->out);
		c->out_off = 0;
		if (c->finished) {
			conn_close(c);
			return;
		}
		output_resume();
	}
	conn_events(c);
}

void conn_queue(struct conn *c, const void *p, size_t n)
{
	if (c->failed || c->w.fd < 0)
		return;
	/* Drop what was sent, so a client that reads slowly but never quite
	 * catches up does not grow the buffer without bound. */
	if (c->out_off > 0 && c->out_off >= pending(c)) {
		memmove(c->out.p, c->out.p + c->out_off, pending(c));
		c->out.len -= c->out_off;
		c->out_off = 0;
	}
	buf_add(&c->out, p, n);
}

static void queue_frame(struct conn *c, int stream, const char *p, size_t n, int raw)
{
	if (!raw) {
		unsigned char h[8] = {(unsigned char)stream, 0, 0, 0, (unsigned char)(n >> 24),
				      (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
		conn_queue(c, h, 8);
	}
	conn_queue(c, p, n);
	conn_flush(c);
}

/* blocked: an attached client's queue is at its bound. As attach.go,
 * which lets the writer hold one full queue while the next one fills, the
 * bound is twice the attach buffer in all. */
static int blocked(void)
{
	for (struct conn *c = S.conns; c; c = c->next)
		if (c->kind == C_ATTACH && !c->finished && !c->failed && pending(c) > 0 &&
		    pending(c) + READ_BUF + 8 > 2 * (size_t)S.cfg.attach_buffer)
			return 1;
	return 0;
}

static int exec_blocked(const struct execp *x)
{
	return x->conn && !x->conn->failed && pending(x->conn) > 0;
}

/* output_resume reads output again where nothing holds it up. */
void output_resume(void)
{
	int b = blocked();
	for (int i = 0; i < 2; i++)
		if (S.out[i] && S.out[i]->paused && !b) {
			S.out[i]->paused = 0;
			watch_set(&S.out[i]->w, EPOLLIN);
		}
	for (struct execp *x = S.execs; x; x = x->next)
		for (int i = 0; i < 2; i++)
			if (x->out[i] && x->out[i]->paused && !exec_blocked(x)) {
				x->out[i]->paused = 0;
				watch_set(&x->out[i]->w, EPOLLIN);
			}
}

static void pause_source(struct source *s)
{
	s->paused = 1;
	watch_set(&s->w, 0);
}

static void container_output(struct source *s, const char *p, size_t n)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	log_write(s->stream, p, n, &t);
	for (struct conn *c = S.conns, *next; c; c = next) {
		next = c->next;
		if (c->kind == C_ATTACH && !c->finished && !c->failed && c->want[s->stream])
			queue_frame(c, s->stream, p, n, S.tty);
	}
	if (blocked())
		for (int i = 0; i < 2; i++)
			if (S.out[i])
				pause_source(S.out[i]);
}

static void source_eof(struct source *s)
{
	struct execp *x = s->exec;
	for (int i = 0; i < 2; i++) {
		if (x && x->out[i] == s)
			x->out[i] = NULL;
		if (!x && S.out[i] == s) {
			struct timespec t;
			clock_gettime(CLOCK_REALTIME, &t);
			log_flush(s->stream, &t);
			S.out[i] = NULL;
		}
	}
	source_close(s);
	if (x)
		exec_source_done(x);
}

void source_readable(struct source *s)
{
	ssize_t n = read(s->w.fd, iobuf, READ_BUF);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		source_eof(s);
		return;
	}
	trim_poke();
	if (!s->exec) {
		container_output(s, iobuf, (size_t)n);
		return;
	}
	struct conn *c = s->exec->conn;
	if (!c || c->failed)
		return;
	queue_frame(c, s->stream, iobuf, (size_t)n, s->exec->master >= 0);
	if (c->w.fd >= 0 && exec_blocked(s->exec))
		for (int i = 0; i < 2; i++)
			if (s->exec->out[i])
				pause_source(s->exec->out[i]);
}

void close_container_stdin(void)
{
	sink_put(S.stdin);
	S.stdin = NULL;
	for (struct conn *c = S.conns; c; c = c->next)
		if (c->kind == C_ATTACH && c->in_off < c->in.len)
			stream_input(c, NULL, 0);
}

static struct sink *conn_sink(struct conn *c)
{
	if (c->kind == C_EXEC)
		return c->exec ? c->exec->stdin : NULL;
	return S.stdin;
}

/* input_eof: the client ended its input (a 0-size frame). */
static void input_eof(struct conn *c)
{
	c->stdin_open = 0;
	if (c->kind == C_ATTACH && S.cfg.stdin_once && !S.tty) {
		close_container_stdin();
	} else if (c->kind == C_EXEC && c->exec && c->exec->master < 0 && c->exec->stdin) {
		sink_put(c->exec->stdin);
		c->exec->stdin = NULL;
	}
}

/* deliver writes stdin bytes; the count taken (all when dropped), or -1
 * when the sink is full. */
static ssize_t deliver(struct conn *c, const char *p, size_t n)
{
	struct sink *k = c->stdin_open ? conn_sink(c) : NULL;
	if (!k || k->w.fd < 0)
		return (ssize_t)n;
	ssize_t w = write(k->w.fd, p, n);
	if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
		watch_set(&k->w, EPOLLOUT);
		return -1;
	}
	return w < 0 ? (ssize_t)n : w;
}

/* bad_frame: a frame that is not stdin's, or too big: the client is
 * treated as gone, as copyStdin does. */
static void bad_frame(struct conn *c)
{
	c->in.len = c->in_off = 0;
	if (c->kind == C_ATTACH && !c->finished) {
		detach(c);
		return;
	}
	c->read_eof = 1;
	conn_events(c);
}

/* process consumes buffered input; 0 when it all went, 1 when the sink
 * is full, -1 when the connection went away. */
static int process(struct conn *c)
{
	while (c->in_off < c->in.len) {
		const char *p = c->in.p + c->in_off;
		size_t n = c->in.len - c->in_off;
		if (c->frame_left == 0 && c->hdr_len < 8) {
			size_t k = 8 - (size_t)c->hdr_len < n ? 8 - (size_t)c->hdr_len : n;
			memcpy(c->hdr + c->hdr_len, p, k);
			c->hdr_len += (int)k;
			c->in_off += k;
			if (c->hdr_len < 8)
				continue;
			uint32_t size = (uint32_t)c->hdr[4] << 24 | (uint32_t)c->hdr[5] << 16 |
					(uint32_t)c->hdr[6] << 8 | c->hdr[7];
			if (c->hdr[0] != 0 || size > MAX_STDIN_FRAME) {
				bad_frame(c);
				return -1;
			}
			c->frame_left = size;
			if (size == 0) {
				c->hdr_len = 0;
				if (c->stdin_open && !c->finished)
					input_eof(c);
			}
			continue;
		}
		size_t k = n < c->frame_left ? n : c->frame_left;
		ssize_t w = c->finished ? (ssize_t)k : deliver(c, p, k);
		if (w < 0)
			return 1;
		c->in_off += (size_t)w;
		c->frame_left -= (uint32_t)w;
		if (c->frame_left == 0)
			c->hdr_len = 0;
	}
	c->in.len = c->in_off = 0;
	return 0;
}

/* stream_input takes bytes from the client (none: go on with what is
 * buffered). */
void stream_input(struct conn *c, const char *p, size_t n)
{
	if (n > 0)
		buf_add(&c->in, p, n);
	if (process(c) < 0 || c->w.fd < 0)
		return;
	if (c->in_off >= c->in.len && c->in.cap > (64 << 10))
		buf_free(&c->in);
	conn_events(c);
}

/* sink_writable: a full stdin has room again. */
void sink_writable(struct sink *k)
{
	watch_set(&k->w, 0);
	for (struct conn *c = S.conns, *next; c; c = next) {
		next = c->next;
		if (c->in_off < c->in.len && conn_sink(c) == k)
			stream_input(c, NULL, 0);
	}
}

/* detach ends a session whose client went away; with StdinOnce one that
 * leaves with its input open closes the container's stdin. */
static void detach(struct conn *c)
{
	int open = c->stdin_open;
	conn_close(c);
	if (open && S.cfg.stdin_once && !S.tty)
		close_container_stdin();
}

static void client_eof(struct conn *c)
{
	switch (c->kind) {
	case C_ATTACH:
		if (!c->finished)
			detach(c);
		else
			conn_close(c);
		return;
	case C_EXEC:
		c->read_eof = 1;
		c->in.len = c->in_off = 0;
		conn_events(c);
		if (c->finished && pending(c) == 0)
			conn_close(c);
		return;
	default:
		conn_close(c);
	}
}

static void read_request(struct conn *c)
{
	ssize_t n = read(c->w.fd, iobuf, READ_BUF);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	size_t old = c->in.len;
	buf_add(&c->in, iobuf, (size_t)n);
	char *nl = memchr(c->in.p + old, '\n', (size_t)n);
	if (!nl) {
		if (c->in.len > MAX_REQUEST) {
			struct err e;
			err_set(&e, "invalid", "request too long");
			c->in.len = 0;
			reply_err(c, &e);
		}
		return;
	}
	struct buf line = {0};
	size_t ln = (size_t)(nl - c->in.p);
	buf_add(&line, c->in.p, ln);
	memmove(c->in.p, nl + 1, c->in.len - ln - 1);
	c->in.len -= ln + 1;
	c->deadline = 0;
	handle_request(c, line.p, line.len);
	buf_free(&line);
	if (c->kind != C_ATTACH && c->kind != C_EXEC) {
		/* One request a connection: bytes after it are not stdin. */
		c->in.len = c->in_off = 0;
		conn_events(c);
	}
	trim_poke();
}

void conn_readable(struct conn *c)
{
	if (c->kind == C_REQ) {
		read_request(c);
		return;
	}
	if (c->read_eof || c->in_off < c->in.len) {
		conn_events(c); /* stop polling for input it will not read */
		return;
	}
	ssize_t n = read(c->w.fd, iobuf, READ_BUF);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_eof(c);
		return;
	}
	if (c->kind == C_ATTACH || c->kind == C_EXEC)
		stream_input(c, iobuf, (size_t)n);
}

/* attach_begin: the client gets the output from now on, and its stdin
 * frames go to the container's stdin. */
void attach_begin(struct conn *c, int stdin, int out, int err)
{
	struct buf r = {0};
	buf_adds(&r, "{}\n");
	if (S.phase == P_FLUSH) {
		reply(c, &r);
		buf_free(&r);
		return;
	}
	c->kind = C_ATTACH;
	c->want[1] = out;
	c->want[2] = err;
	c->stdin_open = stdin && S.cfg.open_stdin && S.stdin;
	conn_queue(c, r.p, r.len);
	buf_free(&r);
	conn_flush(c);
	if (c->w.fd >= 0)
		stream_input(c, NULL, 0);
}

/* attach_finish_all: the output ended; flush and close every session. */
void attach_finish_all(void)
{
	for (struct conn *c = S.conns, *next; c; c = next) {
		next = c->next;
		if (c->kind != C_ATTACH)
			continue;
		c->finished = 1;
		c->deadline = now_ms() + FLUSH_TIMEOUT_MS;
		conn_flush(c);
	}
}
