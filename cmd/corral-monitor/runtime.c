/*
 * runtime.c: the OCI runtime driven through runc's command line, as
 * monitor/ociruntime.go: corral-runc beside Config.Binary, else `Binary
 * runtime`; `--root R --log DIR/runtime.log --log-format json`; failures
 * carry the runtime's last logged error, classed. Also start's fast path
 * (runtime/lifecycle.go release), console sockets and pty sizes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cmon.h"

#define MAX_ARGS 32

static struct {
	const char *argv[6]; /* the program and its arguments before runc's */
	int nargv;
	const char *root;
	char *log;
} R;

static char *const rt_env[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};

/* besides returns name in binary's directory when it is an executable
 * regular file (its stat in st), else NULL. */
char *besides(const char *binary, const char *name, struct stat *st)
{
	char *p = NULL;
	const char *slash = strrchr(binary, '/');
	int dirlen = slash ? (int)(slash - binary) : 1;
	if (asprintf(&p, "%.*s/%s", dirlen, slash ? binary : ".", name) < 0)
		return NULL;
	if (stat(p, st) == 0 && S_ISREG(st->st_mode) && (st->st_mode & 0111))
		return p;
	free(p);
	return NULL;
}

void rt_init(const struct config *c)
{
	struct stat st;
	char *p = besides(c->binary, "corral-runc", &st);
	if (p) {
		R.argv[R.nargv++] = p;
	} else {
		R.argv[R.nargv++] = c->binary;
		R.argv[R.nargv++] = "runtime";
	}
	if (c->runtime_root && *c->runtime_root)
		R.root = c->runtime_root;
	if (asprintf(&R.log, "%s/runtime.log", c->dir) < 0)
		R.log = NULL;
}

static int build_argv(const char **argv, const char *const *args)
{
	int n = 0;
	for (int i = 0; i < R.nargv; i++)
		argv[n++] = R.argv[i];
	if (R.root) {
		argv[n++] = "--root";
		argv[n++] = R.root;
	}
	if (R.log) {
		argv[n++] = "--log";
		argv[n++] = R.log;
		argv[n++] = "--log-format";
		argv[n++] = "json";
	}
	for (int i = 0; args[i] && n < MAX_ARGS - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return n;
}

/* rt_spawn_program starts argv with stdio io, and extra (when not -1) as
 * its descriptor 3; its signals as a new program's. */
int rt_spawn_program(const char *const *argv, const struct rt_stdio *io, int extra, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, io->in, 0);
	posix_spawn_file_actions_adddup2(&fa, io->out, 1);
	posix_spawn_file_actions_adddup2(&fa, io->err, 2);
	if (extra >= 0)
		posix_spawn_file_actions_adddup2(&fa, extra, 3);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGHUP);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGCHLD);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	int rc = posix_spawn(pid, argv[0], &fa, &at, (char *const *)argv, rt_env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return rc;
}

/* spawn starts the runtime for args with stdio io: a create goes to the
 * spare's standby runtime when it has one (standby.c). */
static int spawn(const struct rt_stdio *io, const char *const *args, pid_t *pid)
{
	const char *argv[MAX_ARGS];
	build_argv(argv, args);
	if (strcmp(args[0], "create") == 0) {
		if (R.nargv == 1 && standby_take(argv, io, pid) == 0)
			return 0;
		standby_drop(); /* `corral runtime` has no standby */
	}
	return rt_spawn_program(argv, io, -1, pid);
}

static long long log_size(void)
{
	struct stat st;
	return R.log && stat(R.log, &st) == 0 ? (long long)st.st_size : 0;
}

/* last_error is the message of the last error the runtime logged past
 * offset from, or NULL. */
static char *last_error(long long from)
{
	struct buf b = {0};
	char *msg = NULL;
	int fd = R.log ? open(R.log, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0)
		return NULL;
	buf_grow(&b, 1 << 16);
	for (;;) {
		buf_grow(&b, 1 << 16);
		ssize_t n = pread(fd, b.p + b.len, b.cap - b.len - 1, from + (long long)b.len);
		if (n <= 0 || b.len + (size_t)n > (1 << 20))
			break;
		b.len += (size_t)n;
	}
	close(fd);
	for (char *line = b.p; line && line < b.p + b.len;) {
		char *nl = memchr(line, '\n', (size_t)(b.p + b.len - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(b.p + b.len - line);
		struct jval o, lv, mv;
		char *level = NULL;
		if (json_value(line, n, &o) == 0 && o.type == J_OBJ && json_get(&o, "level", &lv) > 0 &&
		    json_str(&lv, &level) == 0 && strcmp(level, "error") == 0 && json_get(&o, "msg", &mv) > 0) {
			char *m = NULL;
			if (json_str(&mv, &m) == 0) {
				free(msg);
				msg = m;
			}
		}
		free(level);
		line = nl ? nl + 1 : NULL;
	}
	buf_free(&b);
	return msg;
}

static const char *const conflict_msgs[] = {"container does not exist", "container is in the wrong state",
					    "not running", "is paused", "is not paused", NULL};

static const char *classify(const char *msg)
{
	for (int i = 0; conflict_msgs[i]; i++)
		if (strstr(msg, conflict_msgs[i]))
			return "conflict";
	if (strstr(msg, "invalid configuration"))
		return "invalid";
	return NULL;
}

static void trim_space(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && strchr(" \t\r\n", s[n - 1]))
		s[--n] = 0;
	size_t k = strspn(s, " \t\r\n");
	memmove(s, s + k, n - k + 1);
}

/* failure turns a failed command into the runtime's own message. */
static void failure(struct err *e, const char *op, int status, long long from, char *stderr_text)
{
	char *msg = last_error(from);
	char how[64];
	if (!msg && stderr_text) {
		trim_space(stderr_text);
		const char *s = stderr_text;
		if (strncmp(s, "corral: ", 8) == 0)
			s += 8;
		if (*s)
			msg = strdup(s);
	}
	if (WIFSIGNALED(status))
		snprintf(how, sizeof how, "signal: %s", strsignal(WTERMSIG(status)));
	else
		snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(status));
	if (msg)
		err_set(e, NULL, "runtime %s: %s", op, msg);
	else if (R.nargv > 1)
		err_set(e, NULL, "runtime %s: %s %s: %s", op, R.argv[0], R.argv[1], how);
	else
		err_set(e, NULL, "runtime %s: %s: %s", op, R.argv[0], how);
	e->class = classify(e->msg);
	free(msg);
}

static int wait_child(pid_t pid, int *status)
{
	for (;;) {
		if (waitpid(pid, status, 0) >= 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static int run_wait(const struct rt_stdio *io, const char *const *args, struct err *e, int errfd)
{
	pid_t pid;
	int status = 0;
	long long from = log_size();
	int rc = spawn(io, args, &pid);
	if (rc != 0) {
		err_set(e, NULL, "runtime %s: fork/exec %s: %s", args[0], R.argv[0], strerror(rc));
		return -1;
	}
	if (wait_child(pid, &status) < 0) {
		err_set(e, NULL, "runtime %s: wait: %s", args[0], strerror(errno));
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	struct buf eb = {0};
	if (errfd >= 0) {
		lseek(errfd, 0, SEEK_SET);
		buf_grow(&eb, 4096);
		ssize_t n = read(errfd, eb.p, 4095);
		eb.len = n > 0 ? (size_t)n : 0;
		eb.p[eb.len] = 0;
	}
	failure(e, args[0], status, from, errfd >= 0 ? eb.p : NULL);
	buf_free(&eb);
	return -1;
}

/* rt_run runs a command whose stdio is a process's. */
int rt_run(const struct rt_stdio *io, struct err *e, const char *const *args)
{
	return run_wait(io, args, e, -1);
}

static int memfd_with(const char *name, const char *data, size_t n)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	while (n > 0) {
		ssize_t w = write(fd, data, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			close(fd);
			return -1;
		}
		data += w;
		n -= (size_t)w;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static int read_fd(int fd, struct buf *out)
{
	lseek(fd, 0, SEEK_SET);
	for (;;) {
		buf_grow(out, 1 << 14);
		ssize_t n = read(fd, out->p + out->len, out->cap - out->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return (int)n;
		out->len += (size_t)n;
		out->p[out->len] = 0;
	}
}

/* rt_output runs a command with input on its stdin (/dev/null when NULL)
 * and returns its output in out (when not NULL). */
int rt_output(const char *input, size_t n, struct buf *out, struct err *e, const char *const *args)
{
	struct rt_stdio io;
	io.in = input ? memfd_with("runtime-in", input, n) : open("/dev/null", O_RDONLY | O_CLOEXEC);
	io.out = memfd_with("runtime-out", "", 0);
	io.err = memfd_with("runtime-err", "", 0);
	int rc = -1;
	if (io.in < 0 || io.out < 0 || io.err < 0) {
		err_set(e, NULL, "runtime %s: make stdio: %s", args[0], strerror(errno));
	} else {
		rc = run_wait(&io, args, e, io.err);
		if (rc == 0 && out && read_fd(io.out, out) < 0) {
			err_set(e, NULL, "runtime %s: read output: %s", args[0], strerror(errno));
			rc = -1;
		}
	}
	for (int *fd = &io.in; fd <= &io.err; fd++)
		if (*fd >= 0)
			close(*fd);
	return rc;
}

/* read_pid_file reads the pid file the runtime wrote, and removes it. */
int read_pid_file(const char *name, int *pid, struct err *e)
{
	struct buf b = {0};
	int rc = read_file(name, &b, 64);
	int saved = errno;
	unlink(name);
	if (rc < 0) {
		err_set(e, NULL, "read pid file: open %s: %s", name, strerror(saved));
		buf_free(&b);
		return -1;
	}
	char *end;
	long v = strtol(b.p, &end, 10);
	while (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r')
		end++;
	if (end == b.p || *end || v <= 0) {
		err_set(e, NULL, "read pid file %s: \"%s\"", name, b.p);
		buf_free(&b);
		return -1;
	}
	*pid = (int)v;
	buf_free(&b);
	return 0;
}
