/*
 * buf.c: growable buffers, JSON output as Go's encoding/json writes it,
 * times as RFC 3339 with nanoseconds, files.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmon.h"

int buf_grow(struct buf *b, size_t more)
{
	size_t want = b->len + more + 1;
	if (want <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < want)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		perror("corral-monitor: realloc");
		abort();
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
}

void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static const char hex[] = "0123456789abcdef";

/* utf8_len decodes one UTF-8 sequence as Go's utf8.DecodeRune: its length,
 * or 0 when invalid; *r gets the rune. */
static size_t utf8_len(const unsigned char *s, size_t n, unsigned *r)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80, *r = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800, *r = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000, *r = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*r = *r << 6 | (s[i] & 0x3f);
	}
	if (*r < min || *r > 0x10ffff || (*r >= 0xd800 && *r <= 0xdfff))
		return 0;
	return len;
}

static void add_escape(struct buf *b, unsigned char c)
{
	char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
	switch (c) {
	case '"':
	case '\\':
		e[1] = (char)c;
		buf_add(b, e, 2);
		return;
	case '\n':
		buf_add(b, "\\n", 2);
		return;
	case '\r':
		buf_add(b, "\\r", 2);
		return;
	case '\t':
		buf_add(b, "\\t", 2);
		return;
	}
	buf_add(b, e, 6);
}

/* buf_jstr appends s as a JSON string, as encoding/json: control
 * characters, <, > and & escaped, U+2028 and U+2029 escaped, invalid UTF-8
 * as \ufffd. */
void buf_jstr(struct buf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t start = 0, i = 0;
	buf_grow(b, n + 2);
	buf_add(b, "\"", 1);
	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x80) {
			if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
				i++;
				continue;
			}
			buf_add(b, s + start, i - start);
			add_escape(b, c);
			start = ++i;
			continue;
		}
		unsigned r = 0;
		size_t len = utf8_len(s + i, n - i, &r);
		if (len == 0 || r == 0x2028 || r == 0x2029) {
			buf_add(b, s + start, i - start);
			if (len == 0) {
				buf_add(b, "\\ufffd", 6);
				len = 1;
			} else {
				buf_add(b, "\\u202", 5);
				buf_add(b, &hex[r & 0xf], 1);
			}
			i += len;
			start = i;
			continue;
		}
		i += len;
	}
	buf_add(b, s + start, n - start);
	buf_add(b, "\"", 1);
}

/* buf_time appends t as Go's time.RFC3339Nano in UTC (trailing zeros of the
 * fraction dropped). */
void buf_time(struct buf *b, const struct timespec *t)
{
	/* The seconds change once a second, the entries of a busy log many
	 * times: they are formatted once. */
	static time_t last = -1;
	static char s[64];
	static size_t n;
	if (t->tv_sec != last) {
		struct tm tm;
		time_t sec = t->tv_sec;
		gmtime_r(&sec, &tm);
		/* Not strftime: glibc's calls tzset, which reads /etc/localtime
		 * the first time, on the exit's path (exit.json) when the
		 * container wrote no log entry before. */
		int w = snprintf(s, sizeof s, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
				 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		n = w > 0 ? (size_t)w : 0;
		last = sec;
	}
	buf_add(b, s, n);
	long ns = t->tv_nsec;
	if (ns > 0) {
		char f[10];
		int digits = 9;
		f[0] = '.';
		for (int i = 9; i >= 1; i--, ns /= 10)
			f[i] = (char)('0' + ns % 10);
		while (f[digits] == '0')
			digits--;
		buf_add(b, f, (size_t)digits + 1);
	}
	buf_add(b, "Z", 1);
}

/* read_file reads at most max bytes of path into b. */
int read_file(const char *path, struct buf *b, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (;;) {
		buf_grow(b, 4096);
		ssize_t n = read(fd, b->p + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || b->len + (size_t)n > max) {
			int saved = n < 0 ? errno : (n > 0 ? EFBIG : 0);
			close(fd);
			if (n == 0) {
				b->p[b->len] = 0;
				return 0;
			}
			errno = saved;
			return -1;
		}
		b->len += (size_t)n;
	}
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* write_file_atomic replaces path with data: a temporary file beside it,
 * synced, then renamed over it. */
int write_file_atomic(const char *path, const void *data, size_t n, mode_t mode)
{
	char tmp[4096];
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path + 1) : 0;
	snprintf(tmp, sizeof tmp, "%.*s.%s.%d", dirlen, path, slash ? slash + 1 : path, getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	int rc = write_all(fd, data, n);
	if (rc == 0)
		rc = fchmod(fd, mode);
	if (rc == 0)
		rc = fsync(fd);
	int saved = errno;
	if (close(fd) < 0 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	if (rc == 0 && rename(tmp, path) < 0) {
		rc = -1;
		saved = errno;
	}
	if (rc < 0) {
		unlink(tmp);
		errno = saved;
	}
	return rc;
}

int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void err_set(struct err *e, const char *class, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	e->class = class;
}

/* err_wrap prefixes the message: "prefix: msg", keeping the class. */
void err_wrap(struct err *e, const char *prefix)
{
	char tmp[sizeof e->msg];
	size_t p = strlen(prefix);
	if (p + 2 >= sizeof tmp)
		return;
	memcpy(tmp, prefix, p);
	memcpy(tmp + p, ": ", 2);
	size_t m = strnlen(e->msg, sizeof tmp - p - 3);
	memcpy(tmp + p + 2, e->msg, m);
	tmp[p + 2 + m] = 0;
	memcpy(e->msg, tmp, sizeof tmp);
}
