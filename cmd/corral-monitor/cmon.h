/*
 * cmon.h: corral-monitor, the per-container monitor in C.
 *
 * A drop-in for `corral monitor DIR` (package monitor is its specification):
 * one single-threaded epoll loop owns the container's stdio, its json-file
 * log, the control socket and its clients, and drives corral-runc as a
 * command. See monitor/doc.go for the files and the protocol.
 */
#ifndef CMON_H
#define CMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Limits and timeouts, as package monitor's. */
#define MAX_REQUEST (1 << 20)
#define MAX_STDIN_FRAME (1 << 20)
#define READ_BUF (32 << 10)
#define MAX_LOG_LINE (16 << 10)
#define KEEP_EXECS 32
#define CONSOLE_TIMEOUT_MS 30000
#define DRAIN_TIMEOUT_MS 2000
#define FLUSH_TIMEOUT_MS 5000
#define REQUEST_TIMEOUT_MS 10000
#define TRIM_DELAY_MS 1000

/* ---- growable byte buffer (buf.c) ---- */
struct buf {
	char *p;
	size_t len, cap;
};
int buf_grow(struct buf *b, size_t more);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(struct buf *b);
void buf_jstr(struct buf *b, const char *s, size_t n);
void buf_time(struct buf *b, const struct timespec *t);
int read_file(const char *path, struct buf *b, size_t max);
int write_file_atomic(const char *path, const void *data, size_t n, mode_t mode);
int64_t now_ms(void);

/* ---- errors ---- */
struct err {
	char msg[2048];
	const char *class; /* "notfound", "conflict", "invalid", ... or NULL */
};
void err_set(struct err *e, const char *class, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void err_wrap(struct err *e, const char *prefix);

/* ---- JSON scanner (json.c) ---- */
enum { J_BAD, J_OBJ, J_ARR, J_STR, J_NUM, J_TRUE, J_FALSE, J_NULL };
struct jval {
	const char *p;
	size_t n;
	int type;
};
int json_skip(const char *s, size_t n, size_t *i);
int json_value(const char *s, size_t n, struct jval *v);
int json_get(const struct jval *obj, const char *key, struct jval *out);
int json_str(const struct jval *v, char **out);
int json_int(const struct jval *v, long long *out);
int json_bool(const struct jval *v, int *out);
int json_valid(const char *s, size_t n);

/* ---- configuration (config.c) ---- */
struct config {
	char *id, *state_dir, *bundle, *runtime_root, *binary;
	int open_stdin, stdin_once;
	int no_delete; /* the daemon deletes the exited container from the runtime */
	unsigned short console_h, console_w;
	long long attach_buffer;
	char *log_driver, *log_path;
	char *debug; /* a file for the monitor's own messages */
	long long log_max_size;
	int log_max_files;
	char *sl_network, *sl_address, *sl_tag, *sl_format; /* the syslog driver's */
	long long sl_facility;
	char *dir;
};
int config_load(const char *dir, struct config *c, struct err *e);
int bundle_info(const char *bundle, int *tty, int *poststart, struct err *e);

/* ---- json-file log (log.c) ---- */
int log_open(const char *path, long long max_size, int max_files, struct err *e);
void log_write(int stream, const char *p, size_t n, const struct timespec *t);
void log_flush(int stream, const struct timespec *t);
void log_close(void);
void log_trim(void);
void log_use_syslog(void);
int log_fd(void);

/* ---- syslog log driver (syslog.c) ---- */
int syslog_open(const struct config *c, struct err *e);
void syslog_send(int stream, const char *msg, size_t n, const struct timespec *t);
void syslog_event(void);
unsigned long long syslog_dropped(void);
void syslog_close(void);
void syslog_trim(void);

/* ---- runtime (runtime.c) ---- */
struct rt_stdio {
	int in, out, err;
};
struct stat;
char *besides(const char *binary, const char *name, struct stat *st);
void rt_init(const struct config *c);
int rt_run(const struct rt_stdio *io, struct err *e, const char *const *args);
int rt_output(const char *input, size_t n, struct buf *out, struct err *e, const char *const *args);
int rt_start(const char *id, int poststart, struct err *e);
int read_pid_file(const char *name, int *pid, struct err *e);
int rt_spawn_program(const char *const *argv, const struct rt_stdio *io, int extra, pid_t *pid);

/* ---- a spare's runtime started ahead (standby.c) ---- */
void standby_spawn(void);
int standby_take(const char *const *argv, const struct rt_stdio *io, pid_t *pid);
void standby_drop(void);
int console_listen(const char *name, struct err *e);
int console_receive(int lfd, int *master, struct err *e);
int set_winsize(int fd, unsigned short h, unsigned short w, struct err *e);

/* ---- OOM counter (oom.c) ---- */
char *oom_find(int pid);
unsigned long long oom_kills(const char *file);

/* ---- the loop and the server (loop.c, ops.c, stream.c, exec.c) ---- */
enum wkind { W_LISTEN, W_SIGNAL, W_SOURCE, W_CONN, W_SINK, W_SYSLOG };
struct watch {
	int kind;
	int fd;
	uint32_t events; /* as registered; 0 = not registered */
};

struct execp;

/* An output source: a pipe or pty master the loop reads. */
struct source {
	struct watch w;
	int stream;
	struct execp *exec; /* NULL: the container's */
	int paused;
};

/* A stdin target: a pipe's write end or a pty master (a dup of it). */
struct sink {
	struct watch w;
	int refs;
};

enum ckind { C_REQ, C_ATTACH, C_EXEC, C_WAIT, C_EXECWAIT, C_FOLLOW, C_DONE };

struct conn {
	struct watch w;
	int kind;
	struct buf in;   /* request bytes, then stdin not yet written */
	size_t in_off;
	struct buf out;  /* queued output */
	size_t out_off;
	int want[3];
	int stdin_open;  /* forwarding stdin */
	int read_eof;    /* the client closed its side */
	int finished;    /* flush the output and close */
	int failed;      /* writes failed: drop output */
	uint32_t frame_left; /* payload bytes left in the current stdin frame */
	unsigned char hdr[8];
	int hdr_len;
	struct execp *exec;
	int64_t deadline;
	struct conn *next, *prev;
};

struct execp {
	char *id;
	int pid;
	int done, code;
	int master;          /* with a terminal, else -1 */
	struct sink *stdin;  /* NULL when closed or not attached */
	struct source *out[2];
	struct conn *conn;   /* the attached client, if any */
	int64_t done_at;
	unsigned long seq;
	struct execp *next;
};

enum phase { P_RUNNING, P_DRAIN, P_FLUSH };

struct server {
	struct config cfg;
	int tty, poststart, self;
	int epfd;
	struct watch lsn, sig;
	char *state;
	int pid;
	struct timespec started_at, exited_at;
	int paused, init_reaped, exit_code, oom_killed;
	char *exit_error;      /* a start error, for exit.json */
	struct sink *stdin;    /* the container's, NULL once closed */
	int master;            /* the container's pty master, or -1 */
	struct source *out[2];
	struct conn *conns;
	struct execp *execs;
	unsigned long exec_seq;
	char *oom_file;
	int phase;
	int64_t deadline, trim_at;
	char *exit_json;       /* the recorded exit, as JSON */
};
extern struct server S;
extern char iobuf[READ_BUF];

void watch_set(struct watch *w, uint32_t events);
void watch_del(struct watch *w);
struct source *source_new(int fd, int stream, struct execp *x);
void source_close(struct source *s);
struct sink *sink_new(int fd);
void sink_put(struct sink *s);
void loop_run(void);
void server_finish_begin(int code);
void reply(struct conn *c, struct buf *b);
void reply_err(struct conn *c, const struct err *e);
void conn_close(struct conn *c);
void conn_queue(struct conn *c, const void *p, size_t n);
void conn_flush(struct conn *c);
void conn_readable(struct conn *c);
void handle_request(struct conn *c, const char *line, size_t n);
void status_json(struct buf *b);
void exit_json(struct buf *b);
void source_readable(struct source *s);
void sink_writable(struct sink *k);
void stream_input(struct conn *c, const char *p, size_t n);
void output_resume(void);
void attach_begin(struct conn *c, int stdin, int out, int err);
void attach_finish_all(void);
void close_container_stdin(void);
int make_pipes(int in, int out, int theirs[3], int ours[3], struct err *e);
void exec_begin(struct conn *c, const struct jval *req);
void exec_wait_begin(struct conn *c, const char *id);
void exec_reaped(int pid, int code);
struct execp *exec_find(const char *id);
void exec_source_done(struct execp *x);
void exec_check_done(struct execp *x);
void trim_poke(void);
void follow_begin(struct conn *c);
void follow_file(int fd);
void follow_end_all(void);

#endif
