// The constructor half of package nsenter (see doc.go for the contract and
// the wire format). It runs in every process of a binary that links the
// package, before the Go runtime starts any thread, and does nothing unless
// the environment variable _CORRAL_NSENTER names the sync socket.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define ENV_NAME "_CORRAL_NSENTER"
#define MAGIC "CORRAL-NSENTER "
#define MAX_HEADER 64     /* bytes in the header line, newline excluded */
#define MAX_BODY 65536    /* bytes in the request body */
#define MAX_ACK 64        /* bytes in the runtime's acknowledgement line */
#define MAX_REPLY 8192    /* bytes in one reply line, newline included */

#define UNSHARE_ALLOWED                                                        \
	(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC |           \
	 CLONE_NEWUTS | CLONE_NEWPID | CLONE_NEWTIME)
#define MAX_OFFSETS 2     /* one per clock: monotonic, boottime */
#define TIMENS_OFFSETS "/proc/self/timens_offsets"

struct nstype {
	const char *name;
	int flag;
};

/* The order in which namespaces are joined: user first, mnt last. */
static const struct nstype nstypes[] = {
	{"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC},
	{"uts", CLONE_NEWUTS},   {"net", CLONE_NEWNET},
	{"pid", CLONE_NEWPID},   {"cgroup", CLONE_NEWCGROUP},
	{"time", CLONE_NEWTIME}, {"mnt", CLONE_NEWNS},
};
#define NTYPES ((int)(sizeof(nstypes) / sizeof(nstypes[0])))

/* One line of /proc/self/timens_offsets: "<clock> <secs> <nanosecs>". */
struct time_offset {
	const char *clock; /* "monotonic" or "boottime" */
	long long secs;
	unsigned long nsecs;
};

struct request {
	const char *path[NTYPES]; /* indexed like nstypes; NULL: not joined */
	int fd[NTYPES];
	unsigned long unshare_flags;
	struct time_offset offsets[MAX_OFFSETS];
	int noffsets;
	int offsets_fd; /* TIMENS_OFFSETS, opened before any namespace changes */
};

/* The request body lives here; static so that no large stack frame is used. */
static char body[MAX_BODY + 1];
static int sync_fd = -1;

/* write_all writes buf to the sync socket without raising SIGPIPE. */
static int write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(sync_fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(sync_fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* vreply formats one line, cut to MAX_REPLY bytes, and sends it. */
static int vreply(const char *fmt, va_list ap)
{
	char line[MAX_REPLY];
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	if (n < 0)
		return -1;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n] = '\n';
	return write_all(line, (size_t)n + 1);
}

static int reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int reply(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vreply(fmt, ap);
	va_end(ap);
	return rc;
}

/*
 * fail reports "error <step>[: <strerror(errno)>]" and exits. The errno of
 * the failed call is taken on entry, before formatting can change it.
 */
static void fail(int with_errno, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
static void fail(int with_errno, const char *fmt, ...)
{
	int saved = errno;
	char msg[MAX_REPLY];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		msg[0] = '\0';
	if (with_errno)
		reply("error %s: %s", msg, strerror(saved));
	else
		reply("error %s", msg);
	_exit(1);
}

/* read_full reads exactly len bytes; short reads at end of stream fail. */
static void read_full(char *buf, size_t len, const char *what)
{
	while (len > 0) {
		ssize_t n = read(sync_fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail(1, "read %s", what);
		if (n == 0)
			fail(0, "read %s: unexpected end of stream", what);
		buf += n;
		len -= (size_t)n;
	}
}

/*
 * read_line reads one byte at a time up to and including '\n', so that
 * nothing after the line is consumed, and stores the line without '\n'.
 */
static void read_line(char *buf, size_t max, const char *what)
{
	size_t len = 0;
	for (;;) {
		char c;
		read_full(&c, 1, what);
		if (c == '\n')
			break;
		if (len == max)
			fail(0, "read %s: line longer than %zu bytes", what, max);
		buf[len++] = c;
	}
	buf[len] = '\0';
}

/* parse_ulong accepts only plain decimal digits, without overflow. */
static int parse_ulong(const char *s, unsigned long *out)
{
	unsigned long v = 0;
	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned long d = (unsigned long)(*s - '0');
		if (v > (~0UL - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* parse_llong accepts an optional '-' and plain decimal digits. */
static int parse_llong(const char *s, long long *out)
{
	int neg = *s == '-';
	unsigned long v;
	if (parse_ulong(s + neg, &v) < 0 || v > (unsigned long)LLONG_MAX)
		return -1;
	*out = neg ? -(long long)v : (long long)v;
	return 0;
}

static int nstype_index(const char *name)
{
	for (int i = 0; i < NTYPES; i++)
		if (strcmp(nstypes[i].name, name) == 0)
			return i;
	return -1;
}

/* parse_join handles "join <type> <path>"; the path runs to end of line. */
static void parse_join(struct request *req, char *args)
{
	char *sp = strchr(args, ' ');
	if (sp == NULL || sp[1] == '\0')
		fail(0, "parse request: join needs a type and a path");
	*sp = '\0';
	int i = nstype_index(args);
	if (i < 0)
		fail(0, "parse request: unknown namespace type \"%.32s\"", args);
	if (req->path[i] != NULL)
		fail(0, "parse request: %s namespace joined twice", args);
	req->path[i] = sp + 1;
}

static void parse_unshare(struct request *req, char *args)
{
	unsigned long flags;
	if (parse_ulong(args, &flags) < 0)
		fail(0, "parse request: bad unshare flags \"%.32s\"", args);
	if ((flags & ~(unsigned long)UNSHARE_ALLOWED) != 0)
		fail(0, "parse request: unshare flags %#lx not supported",
		     flags & ~(unsigned long)UNSHARE_ALLOWED);
	req->unshare_flags |= flags;
}

/* parse_timens handles "timens <clock> <secs> <nanosecs>". */
static void parse_timens(struct request *req, char *args)
{
	char *secs = strchr(args, ' ');
	char *nsecs = secs ? strchr(secs + 1, ' ') : NULL;
	if (nsecs == NULL)
		fail(0, "parse request: timens needs a clock, seconds and nanoseconds");
	*secs++ = '\0';
	*nsecs++ = '\0';
	if (strcmp(args, "monotonic") != 0 && strcmp(args, "boottime") != 0)
		fail(0, "parse request: unknown clock \"%.32s\"", args);
	for (int i = 0; i < req->noffsets; i++)
		if (strcmp(req->offsets[i].clock, args) == 0)
			fail(0, "parse request: two offsets for clock %s", args);
	struct time_offset *o = &req->offsets[req->noffsets];
	if (parse_llong(secs, &o->secs) < 0 ||
	    parse_ulong(nsecs, &o->nsecs) < 0 || o->nsecs >= 1000000000UL)
		fail(0, "parse request: bad offset \"%.32s %.32s\" for clock %s",
		     secs, nsecs, args);
	o->clock = args;
	req->noffsets++;
}

/* parse_body splits the body into lines and fills req. */
static void parse_body(struct request *req, size_t len)
{
	if (memchr(body, '\0', len) != NULL)
		fail(0, "parse request: NUL byte in body");
	if (len > 0 && body[len - 1] != '\n')
		fail(0, "parse request: body does not end in a newline");
	char *line = body;
	while (line < body + len) {
		char *nl = strchr(line, '\n');
		if (nl == NULL) /* cannot happen: the body ends in '\n' */
			fail(0, "parse request: unterminated line");
		*nl = '\0';
		if (strncmp(line, "join ", 5) == 0)
			parse_join(req, line + 5);
		else if (strncmp(line, "unshare ", 8) == 0)
			parse_unshare(req, line + 8);
		else if (strncmp(line, "timens ", 7) == 0)
			parse_timens(req, line + 7);
		else
			fail(0, "parse request: unknown line \"%.32s\"", line);
		line = nl + 1;
	}
	/* A namespace some process has entered keeps its offsets. */
	if (req->noffsets > 0 && (req->unshare_flags & CLONE_NEWTIME) == 0)
		fail(0, "parse request: time offsets without a new time namespace");
}

/* read_request reads "CORRAL-NSENTER <len>\n" and exactly len more bytes. */
static void read_request(struct request *req)
{
	char header[MAX_HEADER + 1];
	unsigned long len;

	read_line(header, MAX_HEADER, "request header");
	if (strncmp(header, MAGIC, strlen(MAGIC)) != 0 ||
	    parse_ulong(header + strlen(MAGIC), &len) < 0)
		fail(0, "parse request: bad header \"%.32s\"", header);
	if (len > MAX_BODY)
		fail(0, "parse request: body of %lu bytes exceeds %d", len,
		     MAX_BODY);
	read_full(body, len, "request body");
	body[len] = '\0';
	parse_body(req, len);
}

/*
 * open_all opens every namespace file, and the file of the time offsets,
 * before any setns changes our view (a joined mount namespace may have no
 * /proc of our pid namespace). The kernel checks CAP_SYS_TIME against the
 * credentials that opened the offsets file.
 */
static void open_all(struct request *req)
{
	if (req->noffsets > 0) {
		req->offsets_fd = open(TIMENS_OFFSETS, O_WRONLY | O_CLOEXEC);
		if (req->offsets_fd < 0)
			fail(1, "open " TIMENS_OFFSETS);
	}
	for (int i = 0; i < NTYPES; i++) {
		if (req->path[i] == NULL)
			continue;
		req->fd[i] = open(req->path[i], O_RDONLY | O_CLOEXEC);
		if (req->fd[i] < 0)
			fail(1, "open %s %s", nstypes[i].name, req->path[i]);
	}
}

/* become_root takes uid and gid 0 in the user namespace just entered. */
static void become_root(const char *where)
{
	/* setgroups is denied when the namespace's setgroups file says so. */
	if (setgroups(0, NULL) < 0 && errno != EPERM)
		fail(1, "setgroups in %s", where);
	if (setresgid(0, 0, 0) < 0)
		fail(1, "setresgid 0 in %s", where);
	if (setresuid(0, 0, 0) < 0)
		fail(1, "setresuid 0 in %s", where);
}

/* join_all joins in nstypes order and closes each descriptor. */
static void join_all(struct request *req)
{
	for (int i = 0; i < NTYPES; i++) {
		if (req->fd[i] < 0)
			continue;
		if (setns(req->fd[i], nstypes[i].flag) < 0)
			fail(1, "setns %s %s", nstypes[i].name, req->path[i]);
		if (close(req->fd[i]) < 0)
			fail(1, "close %s %s", nstypes[i].name, req->path[i]);
		req->fd[i] = -1;
		if (nstypes[i].flag == CLONE_NEWUSER)
			become_root(req->path[i]);
	}
}

/* await_ack waits until the runtime has written our uid and gid maps. */
static void await_ack(void)
{
	char line[MAX_ACK + 1];
	read_line(line, MAX_ACK, "id map acknowledgement");
	if (strcmp(line, "ack") != 0)
		fail(0, "id maps not written: runtime sent \"%.32s\"", line);
}

/*
 * write_offsets gives the time namespace just unshared (our
 * time_for_children, which no process has entered yet) its offsets, all in
 * one write as the kernel wants them.
 */
static void write_offsets(struct request *req)
{
	char text[MAX_OFFSETS * 64];
	size_t len = 0;
	if (req->noffsets == 0)
		return;
	for (int i = 0; i < req->noffsets; i++) {
		const struct time_offset *o = &req->offsets[i];
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"%s %lld %lu\n", o->clock, o->secs,
					o->nsecs);
	}
	ssize_t n = write(req->offsets_fd, text, len);
	if (n < 0)
		fail(1, "write time namespace offsets");
	if ((size_t)n != len)
		fail(0, "write time namespace offsets: short write");
	if (close(req->offsets_fd) < 0)
		fail(1, "close " TIMENS_OFFSETS);
	req->offsets_fd = -1;
}

static void unshare_all(struct request *req)
{
	unsigned long flags = req->unshare_flags;
	if (flags & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			fail(1, "unshare user namespace");
		if (reply("maps %d", (int)getpid()) < 0)
			_exit(1);
		await_ack();
		become_root("new user namespace");
		flags &= ~(unsigned long)CLONE_NEWUSER;
	}
	if (flags != 0 && unshare((int)flags) < 0)
		fail(1, "unshare namespaces %#lx", flags);
	if (flags & CLONE_NEWTIME)
		write_offsets(req);
}

/*
 * report sends the pid of the process that goes on into Go. When the pid
 * namespace changed or a time namespace was unshared, only a child is in it
 * (execve moves a process into its time_for_children only since Linux 6.2,
 * and never into its pid_for_children): fork, let the parent report the
 * child's pid as fork returned it (in the parent's, i.e. the runtime's, pid
 * namespace) and exit, and let the child go on.
 */
static void report(int must_fork)
{
	if (!must_fork) {
		if (reply("pid %d", (int)getpid()) < 0)
			_exit(1);
		return;
	}
	pid_t child = fork();
	if (child < 0)
		fail(1, "fork into the new namespaces");
	if (child == 0)
		return;
	if (reply("pid %d", (int)child) < 0) {
		kill(child, SIGKILL);
		_exit(1);
	}
	_exit(0);
}

/* parse_env checks that the variable names an open descriptor. */
static int parse_env(const char *val)
{
	unsigned long fd;
	if (parse_ulong(val, &fd) < 0 || fd > 1u << 20 ||
	    fcntl((int)fd, F_GETFD) < 0) {
		static const char msg[] =
			"corral nsenter: " ENV_NAME " is not an open descriptor\n";
		if (write(2, msg, sizeof(msg) - 1) < 0) {
			/* nothing more to tell anyone */
		}
		_exit(1);
	}
	return (int)fd;
}

__attribute__((constructor)) static void corral_nsenter(void)
{
	const char *val = getenv(ENV_NAME);
	if (val == NULL || val[0] == '\0')
		return;
	sync_fd = parse_env(val);
	/* Not inherited by the Go side nor by anything it executes. */
	if (unsetenv(ENV_NAME) < 0)
		fail(1, "unsetenv " ENV_NAME);

	struct request req;
	memset(&req, 0, sizeof(req));
	for (int i = 0; i < NTYPES; i++)
		req.fd[i] = -1;
	req.offsets_fd = -1;
	read_request(&req);
	open_all(&req);
	join_all(&req);
	unshare_all(&req);
	report(req.path[nstype_index("pid")] != NULL ||
	       (req.unshare_flags & (CLONE_NEWPID | CLONE_NEWTIME)) != 0);
}
