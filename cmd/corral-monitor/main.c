/*
 * main.c: corral-monitor monitor [--fork] DIR, as monitor.Start runs it (or
 * DIR "-" for a spare, which reads DIR from fd 4: monitor/spare.go)
 * (start.go, server.go): read DIR/monitor.json, become a child subreaper,
 * listen on monitor.sock, create the container through the runtime with
 * stdio the monitor holds, report {"pid":N,"init":INIT} (or the error) on
 * fd 3 when _CORRAL_MONITOR_READY=3 (first waiting for a byte on fd 4 when
 * _CORRAL_MONITOR_GO=4), then serve until the container exited and every
 * client has what it waits for.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmon.h"

struct server S = {.master = -1, .lsn = {.fd = -1}, .sig = {.fd = -1}};

/* report tells Start how the start went, then lets go of its pipe. With
 * the container created it names the init too, which saves the caller a
 * status request before it sets up the network and starts it. */
static void report(int ready, const struct err *e)
{
	struct buf b = {0};
	if (ready < 0)
		return;
	buf_addf(&b, "{\"pid\":%d", getpid());
	if (!e && S.pid > 0)
		buf_addf(&b, ",\"init\":%d", S.pid);
	if (e) {
		buf_adds(&b, ",\"error\":");
		buf_jstr(&b, e->msg, strlen(e->msg));
		if (e->class) {
			buf_adds(&b, ",\"class\":");
			buf_jstr(&b, e->class, strlen(e->class));
		}
	}
	buf_adds(&b, "}\n");
	if (write(ready, b.p, b.len) < 0)
		fprintf(stderr, "corral-monitor: report: %s\n", strerror(errno));
	close(ready);
	buf_free(&b);
}

static unsigned long long start_time(void)
{
	struct buf b = {0};
	unsigned long long v = 0;
	if (read_file("/proc/self/stat", &b, 4096) == 0) {
		char *p = strrchr(b.p, ')');
		for (int field = 2; p && field < 22; field++) {
			p = strchr(p + 1, ' ');
		}
		if (p)
			v = strtoull(p + 1, NULL, 10);
	}
	buf_free(&b);
	return v;
}

/* listen_control opens monitor.sock for the monitor's own user only and
 * records the monitor's pid. */
static int listen_control(struct err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "monitor.sock"};
	char pid[64];
	unlink("monitor.sock");
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	mode_t old = umask(0177);
	int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (rc < 0 || listen(fd, 128) < 0) {
		err_set(e, NULL, "listen on control socket: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	S.lsn = (struct watch){.kind = W_LISTEN, .fd = fd};
	int n = snprintf(pid, sizeof pid, "%d %llu\n", S.self, start_time());
	if (write_file_atomic("monitor.pid", pid, (size_t)n, 0600) < 0) {
		err_set(e, NULL, "write monitor.pid: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void delete_container(void)
{
	const char *const args[] = {"delete", "--force", S.cfg.id, NULL};
	struct err e;
	rt_output(NULL, 0, NULL, &e, args);
}

/* created takes over the new container's stdio. */
static int created(int console, const int ours[3], struct err *e)
{
	if (console >= 0) {
		int master;
		if (console_receive(console, &master, e) < 0)
			return -1;
		set_winsize(master, S.cfg.console_h, S.cfg.console_w, NULL);
		S.master = master;
		if (S.cfg.open_stdin)
			S.stdin = sink_new(fcntl(master, F_DUPFD_CLOEXEC, 3));
		S.out[0] = source_new(fcntl(master, F_DUPFD_CLOEXEC, 3), 1, NULL);
	} else {
		if (ours[0] >= 0)
			S.stdin = sink_new(ours[0]);
		S.out[0] = source_new(ours[1], 1, NULL);
		S.out[1] = source_new(ours[2], 2, NULL);
	}
	S.oom_file = oom_find(S.pid);
	return 0;
}

static int stdio_for(int *console, int theirs[3], int ours[3], struct err *e)
{
	if (!S.tty)
		return make_pipes(S.cfg.open_stdin, 1, theirs, ours, e);
	for (int i = 0; i < 3; i++)
		ours[i] = -1;
	theirs[0] = open("/dev/null", O_RDWR | O_CLOEXEC);
	theirs[1] = theirs[2] = theirs[0];
	if (theirs[0] < 0) {
		err_set(e, NULL, "open /dev/null: %s", strerror(errno));
		return -1;
	}
	*console = console_listen("console.sock", e);
	return *console < 0 ? -1 : 0;
}

/* create makes the container from the bundle; its process waits for
 * start. */
static int create(struct err *e)
{
	int theirs[3], ours[3], console = -1;
	const char *args[] = {"create", "--bundle", S.cfg.bundle, "--pid-file", "init.pid", NULL, NULL, NULL, NULL};
	if (stdio_for(&console, theirs, ours, e) < 0)
		return -1;
	args[5] = S.tty ? "--console-socket" : S.cfg.id;
	args[6] = S.tty ? "console.sock" : NULL;
	args[7] = S.tty ? S.cfg.id : NULL;
	struct rt_stdio io = {theirs[0], theirs[1], theirs[2]};
	int rc = rt_run(&io, e, args);
	close(theirs[0]);
	if (theirs[1] != theirs[0])
		close(theirs[1]);
	if (theirs[2] != theirs[1])
		close(theirs[2]);
	if (rc == 0 && read_pid_file("init.pid", &S.pid, e) < 0) {
		delete_container();
		rc = -1;
	}
	if (rc < 0) {
		err_wrap(e, "create container");
		for (int i = 0; i < 3; i++)
			if (ours[i] >= 0)
				close(ours[i]);
	} else if (created(console, ours, e) < 0) {
		delete_container();
		rc = -1;
	}
	if (console >= 0) {
		close(console);
		unlink("console.sock");
	}
	return rc;
}

static int setup_signals(struct err *e)
{
	sigset_t set;
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		err_set(e, NULL, "block SIGCHLD: %s", strerror(errno));
		return -1;
	}
	int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0) {
		err_set(e, NULL, "signalfd: %s", strerror(errno));
		return -1;
	}
	S.sig = (struct watch){.kind = W_SIGNAL, .fd = fd};
	return 0;
}

static int setup(struct err *e)
{
	S.self = getpid();
	S.state = "created";
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		err_set(e, NULL, "become subreaper: %s", strerror(errno));
		return -1;
	}
	if (setup_signals(e) < 0)
		return -1;
	S.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (S.epfd < 0) {
		err_set(e, NULL, "epoll_create1: %s", strerror(errno));
		return -1;
	}
	if (bundle_info(S.cfg.bundle, &S.tty, &S.poststart, e) < 0)
		return -1;
	if (S.cfg.log_path && log_open(S.cfg.log_path, S.cfg.log_max_size, S.cfg.log_max_files, e) < 0)
		return -1;
	if (S.cfg.log_driver && strcmp(S.cfg.log_driver, "syslog") == 0) {
		if (syslog_open(&S.cfg, e) < 0)
			return -1;
		log_use_syslog();
	}
	rt_init(&S.cfg);
	return listen_control(e);
}

static int serve(int ready)
{
	struct err e;
	if (setup(&e) < 0 || create(&e) < 0) {
		if (S.lsn.fd >= 0) {
			close(S.lsn.fd);
			unlink("monitor.sock");
		}
		report(ready, &e);
		fprintf(stderr, "corral monitor: %s\n", e.msg);
		return 1;
	}
	watch_set(&S.lsn, EPOLLIN);
	watch_set(&S.sig, EPOLLIN);
	report(ready, NULL);
	trim_poke();
	loop_run();
	return 0;
}

/* read_dir reads a spare's go message, "DIR\n", and returns DIR (malloc'd),
 * NULL on EOF or a message of PATH_MAX or more. The buffer grows from a
 * small one: a page of stack or of static memory would stay with the
 * monitor for its life. */
static char *read_dir(int fd)
{
	size_t len = 0, size = 0;
	char *msg = NULL;
	ssize_t n;
	do {
		if (len == size) {
			char *p = size < PATH_MAX ? realloc(msg, size = size ? 2 * size : 256) : NULL;
			if (!p)
				break;
			msg = p;
		}
		n = read(fd, msg + len, size - len);
		if (n > 0)
			len += (size_t)n;
	} while ((n < 0 && errno == EINTR) || (n > 0 && msg[len - 1] != '\n'));
	if (len == 0 || msg[len - 1] != '\n') {
		free(msg);
		return NULL;
	}
	msg[len - 1] = 0;
	return msg;
}

/* await_go: when go (main found _CORRAL_MONITOR_GO=4), Spawn ran the
 * monitor before its directory and the container's bundle were ready, so
 * that its exec overlaps the caller's mounting and writing: it waits for a
 * message on fd 4 before it touches either. End of file there means the
 * caller gave up: the monitor exits, having made nothing. A spare (DIR
 * "-", spawned ahead of any container) learns its directory from the
 * message, "DIR\n", and starts its standby runtime first (standby.c);
 * otherwise the message is one byte. Returns the directory, NULL on EOF. */
static const char *await_go(const char *dir, int go)
{
	char c;
	ssize_t n;
	if (!go)
		return dir;
	if (strcmp(dir, "-") == 0) {
		fcntl(4, F_SETFD, FD_CLOEXEC);
		standby_spawn();
		dir = read_dir(4);
		close(4);
		if (!dir)
			standby_drop();
		return dir;
	}
	do
		n = read(4, &c, 1);
	while (n < 0 && errno == EINTR);
	close(4);
	return n == 1 ? dir : NULL;
}

static int ready_fd(void)
{
	const char *v = getenv("_CORRAL_MONITOR_READY");
	if (!v || strcmp(v, "3") != 0)
		return -1;
	unsetenv("_CORRAL_MONITOR_READY");
	if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
		return -1;
	return 3;
}

/* debug_log sends the monitor's own messages (stderr, /dev/null as Start
 * runs it) to Config.Debug when set. */
static void debug_log(const char *path)
{
	if (!path || !*path)
		return;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (dup2(fd, 2) < 0)
		fprintf(stderr, "corral-monitor: debug log %s: %s\n", path, strerror(errno));
	close(fd);
}

/* fork_monitor: --fork leaves the monitor proper an orphan in a session of
 * its own. */
static int fork_monitor(void)
{
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "corral monitor: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		fprintf(stderr, "corral monitor: setsid: %s\n", strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	struct err e;
	const char *dir, *go;
	int ready, go_pipe;
	int arg = 2;
	if (argc < 3 || strcmp(argv[1], "monitor") != 0) {
		fprintf(stderr, "usage: corral-monitor monitor [--fork] DIR|- (monitor.Start runs it)\n");
		return 2;
	}
	if (strcmp(argv[2], "--fork") == 0)
		arg = 3;
	if (argc != arg + 1) {
		fprintf(stderr, "usage: corral monitor DIR (the daemon starts it)\n");
		return 2;
	}
	go = getenv("_CORRAL_MONITOR_GO");
	go_pipe = go && strcmp(go, "4") == 0;
	unsetenv("_CORRAL_MONITOR_GO");
	if (strcmp(argv[arg], "-") == 0 && (!go_pipe || arg == 3)) {
		fprintf(stderr, "corral monitor: DIR \"-\" is for a spare, which reads DIR from fd 4 and takes no --fork\n");
		return 2;
	}
	ready = ready_fd();
	dir = await_go(argv[arg], go_pipe);
	if (!dir)
		return 0;
	if (arg == 3 && fork_monitor() != 0)
		return 1;
	if (chdir(dir) < 0) {
		err_set(&e, NULL, "monitor dir: chdir %s: %s", dir, strerror(errno));
		report(ready, &e);
		return 1;
	}
	if (config_load(dir, &S.cfg, &e) < 0) {
		report(ready, &e);
		fprintf(stderr, "corral monitor: %s\n", e.msg);
		return 1;
	}
	debug_log(S.cfg.debug);
	return serve(ready);
}
