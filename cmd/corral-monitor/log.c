/*
 * log.c: the container's output as a json-file log, as Docker's json-file
 * driver and monitor/logwriter.go write it: one entry a line,
 * {"log":"...","stream":"stdout","time":"RFC3339Nano"}, lines longer than
 * MAX_LOG_LINE split into partial entries, rotation at max_size keeping
 * max_files files (path, path.1, ...). The entries of one read of the
 * container's output go to the file in one write (a write per line took
 * a million syscalls for a million lines); nothing is held past the call.
 * Each new file goes to the log's followers as it is made (follow.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmon.h"

/* KEEP_BUF is the largest buffer kept between entries. */
#define KEEP_BUF (4 << 10)

static struct {
	char *path;
	long long max_size; /* < 0: never rotate */
	int max_files;
	int fd;
	long long size;
	struct buf pending[3]; /* per stream: the line begun, not ended */
	struct buf entry;
	struct buf out; /* entries not yet written; L.size counts them */
	unsigned long errs;
	int syslog; /* entries go to syslog.c, not to a file */
} L = {.fd = -1};

/* log_use_syslog sends the entries to the syslog driver. */
void log_use_syslog(void)
{
	L.syslog = 1;
}

/* log_fd is the descriptor of the json-file log being written, or -1. */
int log_fd(void)
{
	return L.syslog ? -1 : L.fd;
}

static int mkdir_all(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		int rc = mkdir(path, 0700);
		*p = '/';
		if (rc < 0 && errno != EEXIST)
			return -1;
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int reopen(struct err *e)
{
	struct stat st;
	L.fd = open(L.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (L.fd < 0 || fstat(L.fd, &st) < 0) {
		if (e)
			err_set(e, NULL, "open log: open %s: %s", L.path, strerror(errno));
		if (L.fd >= 0)
			close(L.fd);
		L.fd = -1;
		return -1;
	}
	L.size = st.st_size;
	return 0;
}

int log_open(const char *path, long long max_size, int max_files, struct err *e)
{
	L.path = strdup(path);
	L.max_size = max_size;
	L.max_files = max_files;
	char *dir = strdup(path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir_all(dir) < 0) {
			err_set(e, NULL, "open log: mkdir %s: %s", dir, strerror(errno));
			free(dir);
			return -1;
		}
	}
	free(dir);
	return reopen(e);
}

static void rotated(char *out, size_t n, int i)
{
	if (i == 0)
		snprintf(out, n, "%s", L.path);
	else
		snprintf(out, n, "%s.%d", L.path, i);
}

/* flush_out writes the entries gathered in L.out. */
static void flush_out(void)
{
	const char *p = L.out.p;
	size_t left = L.out.len;
	if (left > 0 && L.fd < 0)
		L.errs++;
	while (left > 0 && L.fd >= 0) {
		ssize_t w = write(L.fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			L.errs++;
			break;
		}
		p += w;
		left -= (size_t)w;
	}
	L.out.len = 0;
	if (L.out.cap > 4 * READ_BUF)
		buf_free(&L.out);
}

/* rotate shifts path.i to path.i+1 (dropping the oldest), path to path.1,
 * and starts a new file; no file is truncated in place. */
static void rotate(void)
{
	char from[4200], to[4200];
	flush_out();
	close(L.fd);
	L.fd = -1;
	if (L.max_files <= 1) {
		unlink(L.path);
	} else {
		rotated(to, sizeof to, L.max_files - 1);
		unlink(to);
		for (int i = L.max_files - 2; i >= 0; i--) {
			rotated(from, sizeof from, i);
			rotated(to, sizeof to, i + 1);
			if (rename(from, to) < 0 && errno != ENOENT)
				L.errs++;
		}
	}
	if (reopen(NULL) < 0)
		L.errs++;
	else
		follow_file(L.fd);
}

static void write_entry(int stream, const char *msg, size_t n, const struct timespec *t)
{
	struct buf *b = &L.entry;
	b->len = 0;
	buf_add(b, "{\"log\":", 7);
	buf_jstr(b, msg, n);
	buf_adds(b, stream == 2 ? ",\"stream\":\"stderr\",\"time\":\"" : ",\"stream\":\"stdout\",\"time\":\"");
	buf_time(b, t);
	buf_add(b, "\"}\n", 3);
	if (L.max_size > 0 && L.size > 0 && L.size + (long long)b->len > L.max_size)
		rotate();
	buf_add(&L.out, b->p, b->len);
	L.size += (long long)b->len;
	if (b->cap > KEEP_BUF)
		buf_free(b);
}

/* emit writes the entry pending+msg and empties pending. */
static void entry(int stream, const char *msg, size_t n, const struct timespec *t)
{
	if (L.syslog)
		syslog_send(stream, msg, n, t);
	else
		write_entry(stream, msg, n, t);
}

static void emit(int stream, const char *msg, size_t n, const struct timespec *t)
{
	struct buf *pend = &L.pending[stream];
	if (pend->len == 0) {
		entry(stream, msg, n, t);
		return;
	}
	buf_add(pend, msg, n);
	entry(stream, pend->p, pend->len, t);
	pend->len = 0;
	if (pend->cap > KEEP_BUF)
		buf_free(pend);
}

void log_write(int stream, const char *p, size_t n, const struct timespec *t)
{
	if (!L.path && !L.syslog)
		return;
	struct buf *pend = &L.pending[stream];
	while (n > 0) {
		size_t room = MAX_LOG_LINE - pend->len;
		size_t win = n < room + 1 ? n : room + 1;
		const char *nl = memchr(p, '\n', win);
		if (nl) {
			size_t k = (size_t)(nl - p) + 1;
			emit(stream, p, k, t);
			p += k;
			n -= k;
			continue;
		}
		if (n < room) {
			buf_add(pend, p, n);
			break;
		}
		emit(stream, p, room, t); /* a partial entry */
		p += room;
		n -= room;
	}
	flush_out();
}

void log_flush(int stream, const struct timespec *t)
{
	if ((L.path || L.syslog) && L.pending[stream].len > 0)
		emit(stream, NULL, 0, t);
	flush_out();
}

void log_close(void)
{
	if (L.fd >= 0)
		close(L.fd);
	L.fd = -1;
	if (L.syslog)
		syslog_close();
}

/* log_trim lets go of buffers an idle monitor does not need. */
void log_trim(void)
{
	buf_free(&L.entry);
	buf_free(&L.out);
	syslog_trim();
	for (int i = 0; i < 3; i++)
		if (L.pending[i].len == 0)
			buf_free(&L.pending[i]);
}
