/*
 * syslog.c: the syslog log driver, as Docker's: each line of the
 * container's output is one message to a syslog receiver (a unix datagram
 * or stream socket, udp, tcp) in Docker's formats, stdout at severity info
 * and stderr at err (monitor/syslog.go).
 *
 * The container never waits for the receiver. The socket is non-blocking;
 * a datagram that the receiver's queue has no room for, a message while
 * there is no receiver, and one that would take a stream's queue past
 * SL_QUEUE are dropped and counted (status "logDropped"). A lost
 * connection is tried again at the next message, at most once a second.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cmon.h"

#define SL_QUEUE (256 << 10) /* bytes a stream may hold for a slow receiver */
#define SL_RETRY_MS 1000

enum { F_UNIX, F_3164, F_5424, F_5424MICRO };

static struct {
	const struct config *c;
	int format, pid;
	char host[256];
	struct watch w;
	int stream, connecting;
	struct buf q; /* a stream's queued bytes */
	size_t q_off;
	struct buf msg;
	int64_t retry_at;
	unsigned long long dropped;
} Y = {.w = {.kind = W_SYSLOG, .fd = -1}};

static int format_of(const char *f)
{
	if (!f || !*f)
		return F_UNIX;
	if (strcmp(f, "rfc3164") == 0)
		return F_3164;
	if (strcmp(f, "rfc5424") == 0)
		return F_5424;
	if (strcmp(f, "rfc5424micro") == 0)
		return F_5424MICRO;
	return -1;
}

int syslog_open(const struct config *c, struct err *e)
{
	Y.c = c;
	Y.format = format_of(c->sl_format);
	if (!c->sl_network || !c->sl_address || !c->sl_tag || Y.format < 0 || c->sl_facility < 0 ||
	    c->sl_facility > 23) {
		err_set(e, "invalid", "syslog log driver: incomplete or bad settings");
		return -1;
	}
	Y.pid = getpid();
	if (gethostname(Y.host, sizeof Y.host - 1) < 0 || !Y.host[0])
		snprintf(Y.host, sizeof Y.host, "-");
	return 0;
}

static void disconnect(void)
{
	watch_del(&Y.w);
	Y.connecting = 0;
	buf_free(&Y.q);
	Y.q_off = 0;
	Y.retry_at = now_ms() + SL_RETRY_MS;
}

/* sock_addr fills in the receiver's address; its length, or 0. */
static socklen_t sock_addr(struct sockaddr_storage *ss, int *family)
{
	const char *a = Y.c->sl_address;
	memset(ss, 0, sizeof *ss);
	if (Y.c->sl_network[0] == 'u' && Y.c->sl_network[1] == 'n') {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		if (strlen(a) >= sizeof un->sun_path)
			return 0;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, a);
		*family = AF_UNIX;
		return sizeof *un;
	}
	const char *colon = strrchr(a, ':');
	char host[64];
	if (!colon || (size_t)(colon - a) >= sizeof host)
		return 0;
	int port = atoi(colon + 1);
	size_t hl = (size_t)(colon - a);
	if (a[0] == '[' && hl >= 2 && a[hl - 1] == ']')
		memcpy(host, a + 1, hl -= 2);
	else
		memcpy(host, a, hl);
	host[hl] = 0;
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = *family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		return sizeof *in4;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = *family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return sizeof *in6;
	}
	return 0;
}

static int try_connect(int family, int type, const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)ss, len) == 0)
		return fd;
	if (errno == EINPROGRESS && type == SOCK_STREAM) {
		Y.connecting = 1;
		return fd;
	}
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* reconnect opens the socket to the receiver; -1 when there is none. */
static int reconnect(void)
{
	struct sockaddr_storage ss;
	int family = 0, fd = -1;
	const char *net = Y.c->sl_network;
	if (Y.w.fd >= 0)
		return 0;
	if (Y.retry_at && now_ms() < Y.retry_at)
		return -1;
	socklen_t len = sock_addr(&ss, &family);
	if (len == 0) {
		Y.retry_at = now_ms() + SL_RETRY_MS;
		return -1;
	}
	Y.stream = strcmp(net, "tcp") == 0;
	if (!Y.stream)
		fd = try_connect(family, SOCK_DGRAM, &ss, len);
	if (fd < 0 && strcmp(net, "unix") == 0 && errno == EPROTOTYPE)
		Y.stream = 1;
	if (Y.stream)
		fd = try_connect(family, SOCK_STREAM, &ss, len);
	if (fd < 0) {
		Y.retry_at = now_ms() + SL_RETRY_MS;
		return -1;
	}
	Y.retry_at = 0;
	Y.w.fd = fd;
	Y.w.events = 0;
	if (Y.connecting)
		watch_set(&Y.w, EPOLLOUT);
	return 0;
}

/* flush writes a stream's queue as far as the socket takes it. */
static void flush(void)
{
	while (!Y.connecting && Y.q_off < Y.q.len) {
		ssize_t n = send(Y.w.fd, Y.q.p + Y.q_off, Y.q.len - Y.q_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			Y.dropped++; /* at least the message in flight */
			disconnect();
			return;
		}
		Y.q_off += (size_t)n;
	}
	if (Y.q_off == Y.q.len) {
		Y.q.len = Y.q_off = 0;
		if (Y.q.cap > (64 << 10))
			buf_free(&Y.q);
	}
	if (Y.w.fd >= 0)
		watch_set(&Y.w, Y.connecting || Y.q.len > 0 ? EPOLLOUT : 0);
}

/* syslog_event: the stream connected, or has room again. */
void syslog_event(void)
{
	if (Y.connecting) {
		int err = 0;
		socklen_t l = sizeof err;
		if (getsockopt(Y.w.fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err != 0) {
			Y.dropped += Y.q.len > Y.q_off ? 1 : 0;
			disconnect();
			return;
		}
		Y.connecting = 0;
	}
	flush();
}

static void stream_send(const char *p, size_t n)
{
	if (Y.q.len - Y.q_off + n > SL_QUEUE) {
		Y.dropped++;
		return;
	}
	if (Y.q_off > 0 && Y.q_off == Y.q.len)
		Y.q.len = Y.q_off = 0;
	buf_add(&Y.q, p, n);
	flush();
}

static void gram_send(const char *p, size_t n)
{
	for (;;) {
		if (send(Y.w.fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
			return;
		if (errno == EINTR)
			continue;
		Y.dropped++;
		/* EAGAIN: the receiver's queue is full; ECONNREFUSED over udp:
		 * nobody listens yet. Other errors: the receiver went away. */
		if (errno != EAGAIN && errno != ENOBUFS && !(errno == ECONNREFUSED && Y.c->sl_network[0] == 'u' &&
							     Y.c->sl_network[1] == 'd'))
			disconnect();
		return;
	}
}

/* stamp adds the time as the format wants it, in local time. */
static void stamp(struct buf *b, const struct timespec *t)
{
	static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	localtime_r(&t->tv_sec, &tm);
	if (Y.format == F_UNIX || Y.format == F_3164) {
		buf_addf(b, "%s %2d %02d:%02d:%02d", mon[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		return;
	}
	buf_addf(b, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec);
	if (Y.format == F_5424MICRO)
		buf_addf(b, ".%06ld", t->tv_nsec / 1000);
	long off = tm.tm_gmtoff / 60;
	if (off == 0)
		buf_adds(b, "Z");
	else
		buf_addf(b, "%c%02ld:%02ld", off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
}

/* syslog_send sends one entry: msg (its newline, if any, not part of the
 * message); an empty one is skipped, as Docker does. */
void syslog_send(int stream, const char *msg, size_t n, const struct timespec *t)
{
	if (n > 0 && msg[n - 1] == '\n')
		n--;
	if (n == 0)
		return;
	if (reconnect() < 0) {
		Y.dropped++;
		return;
	}
	struct buf *b = &Y.msg;
	const char *tag = Y.c->sl_tag;
	b->len = 0;
	buf_addf(b, "<%lld>", Y.c->sl_facility << 3 | (stream == 2 ? 3 : 6));
	if (Y.format == F_5424 || Y.format == F_5424MICRO)
		buf_adds(b, "1 ");
	stamp(b, t);
	if (Y.format == F_UNIX)
		buf_addf(b, " %s[%d]: ", tag, Y.pid);
	else if (Y.format == F_3164)
		buf_addf(b, " %s %s[%d]: ", Y.host, tag, Y.pid);
	else
		buf_addf(b, " %s %s %d %s - ", Y.host, tag, Y.pid, tag);
	buf_add(b, msg, n);
	buf_add(b, "\n", 1);
	if (Y.stream)
		stream_send(b->p, b->len);
	else
		gram_send(b->p, b->len);
	if (b->cap > (4 << 10))
		buf_free(b);
}

unsigned long long syslog_dropped(void)
{
	return Y.dropped;
}

/* syslog_close sends what a stream still holds, if the socket takes it
 * now, and closes it; what is left is counted as dropped. */
void syslog_close(void)
{
	if (Y.w.fd < 0)
		return;
	if (Y.stream)
		flush();
	if (Y.w.fd >= 0 && Y.q.len > Y.q_off)
		Y.dropped++;
	watch_del(&Y.w);
	buf_free(&Y.q);
	buf_free(&Y.msg);
}

void syslog_trim(void)
{
	buf_free(&Y.msg);
}
