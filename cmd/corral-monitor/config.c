/*
 * config.c: monitor.json (monitor.Config, as monitor.Start saved it) and
 * what the monitor reads of the bundle's config.json.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmon.h"

static int get_str(const struct jval *o, const char *key, char **out)
{
	struct jval v;
	int r = json_get(o, key, &v);
	*out = NULL;
	if (r <= 0 || v.type == J_NULL)
		return 0;
	return json_str(&v, out);
}

static int get_int(const struct jval *o, const char *key, long long *out)
{
	struct jval v;
	*out = 0;
	if (json_get(o, key, &v) <= 0 || v.type == J_NULL)
		return 0;
	return json_int(&v, out);
}

static int get_bool(const struct jval *o, const char *key, int *out)
{
	struct jval v;
	*out = 0;
	if (json_get(o, key, &v) <= 0 || v.type == J_NULL)
		return 0;
	return json_bool(&v, out);
}

static int console_size(const struct jval *o, struct config *c)
{
	struct jval v;
	if (json_get(o, "consoleSize", &v) <= 0 || v.type == J_NULL)
		return 0;
	if (v.type != J_ARR)
		return -1;
	long long hw[2] = {0, 0};
	size_t i = 1;
	for (int k = 0; k < 2; k++) {
		while (i < v.n && strchr(" \t\r\n,", v.p[i]))
			i++;
		size_t st = i;
		if (json_skip(v.p, v.n, &i) < 0)
			return -1;
		struct jval e;
		if (json_value(v.p + st, i - st, &e) < 0 || json_int(&e, &hw[k]) < 0)
			return -1;
	}
	c->console_h = (unsigned short)hw[0];
	c->console_w = (unsigned short)hw[1];
	return 0;
}

static int syslog_config(const struct jval *l, struct config *c)
{
	struct jval y;
	if (json_get(l, "syslog", &y) <= 0 || y.type == J_NULL)
		return 0;
	if (y.type != J_OBJ)
		return -1;
	if (get_str(&y, "network", &c->sl_network) < 0 || get_str(&y, "address", &c->sl_address) < 0 ||
	    get_str(&y, "tag", &c->sl_tag) < 0 || get_str(&y, "format", &c->sl_format) < 0 ||
	    get_int(&y, "facility", &c->sl_facility) < 0)
		return -1;
	return 0;
}

static int log_config(const struct jval *o, struct config *c)
{
	struct jval l;
	long long files = 0;
	if (json_get(o, "log", &l) <= 0 || l.type == J_NULL)
		return 0;
	if (l.type != J_OBJ)
		return -1;
	if (get_str(&l, "driver", &c->log_driver) < 0 || get_str(&l, "path", &c->log_path) < 0 ||
	    get_int(&l, "maxSize", &c->log_max_size) < 0 || get_int(&l, "maxFiles", &files) < 0 ||
	    syslog_config(&l, c) < 0)
		return -1;
	c->log_max_files = (int)files;
	return 0;
}

static int parse_config(const struct jval *o, struct config *c)
{
	if (get_str(o, "id", &c->id) < 0 || get_str(o, "stateDir", &c->state_dir) < 0 ||
	    get_str(o, "bundle", &c->bundle) < 0 || get_str(o, "runtimeRoot", &c->runtime_root) < 0 ||
	    get_str(o, "binary", &c->binary) < 0 || get_str(o, "debug", &c->debug) < 0 || get_bool(o, "openStdin", &c->open_stdin) < 0 ||
	    get_bool(o, "stdinOnce", &c->stdin_once) < 0 || get_bool(o, "noDelete", &c->no_delete) < 0 || get_int(o, "attachBuffer", &c->attach_buffer) < 0 ||
	    console_size(o, c) < 0 || log_config(o, c) < 0)
		return -1;
	return 0;
}

/* defaults fills in what withDefaults would have (Start saved them). */
static void defaults(struct config *c)
{
	if (c->log_max_size == 0)
		c->log_max_size = 10 << 20;
	if (c->log_max_files <= 0)
		c->log_max_files = 3;
	if (c->attach_buffer <= 0)
		c->attach_buffer = 1 << 20;
	if (!c->binary || !*c->binary) {
		free(c->binary);
		c->binary = strdup("/proc/self/exe");
	}
	if (c->log_driver && (strcmp(c->log_driver, "none") == 0 || strcmp(c->log_driver, "syslog") == 0)) {
		free(c->log_path);
		c->log_path = NULL;
	} else if (!c->log_path || !*c->log_path) {
		free(c->log_path);
		if (asprintf(&c->log_path, "%s/container-json.log", c->dir) < 0)
			c->log_path = NULL;
	}
}

/* config_load reads DIR/monitor.json. */
int config_load(const char *dir, struct config *c, struct err *e)
{
	struct buf b = {0};
	struct jval o;
	if (read_file("monitor.json", &b, 1 << 20) < 0) {
		err_set(e, errno == ENOENT ? "notfound" : NULL, "read monitor config: open %s/monitor.json: %s",
			dir, strerror(errno));
		buf_free(&b);
		return -1;
	}
	if (json_value(b.p, b.len, &o) < 0 || o.type != J_OBJ || parse_config(&o, c) < 0) {
		err_set(e, NULL, "read monitor config: bad JSON in %s/monitor.json", dir);
		buf_free(&b);
		return -1;
	}
	buf_free(&b);
	if (!c->id || !c->state_dir || !c->bundle || !*c->bundle) {
		err_set(e, "invalid", "monitor config: StateDir and Bundle are required");
		return -1;
	}
	if (asprintf(&c->dir, "%s/%s", c->state_dir, c->id) < 0) {
		err_set(e, NULL, "monitor config: out of memory");
		return -1;
	}
	defaults(c);
	return 0;
}

static int has_poststart(const struct jval *spec)
{
	struct jval hooks, ps;
	if (json_get(spec, "hooks", &hooks) <= 0 || hooks.type != J_OBJ)
		return 0;
	if (json_get(&hooks, "poststart", &ps) <= 0 || ps.type != J_ARR)
		return 0;
	for (size_t i = 1; i < ps.n; i++)
		if (!strchr(" \t\r\n]", ps.p[i]))
			return 1;
	return 0;
}

/* bundle_info reads process.terminal and whether there are poststart
 * hooks from the bundle's config.json. */
int bundle_info(const char *bundle, int *tty, int *poststart, struct err *e)
{
	char path[4096];
	struct buf b = {0};
	struct jval spec, proc, term;
	snprintf(path, sizeof path, "%s/config.json", bundle);
	*tty = *poststart = 0;
	if (read_file(path, &b, 64 << 20) < 0) {
		err_set(e, NULL, "read bundle config: open %s: %s", path, strerror(errno));
		buf_free(&b);
		return -1;
	}
	if (json_value(b.p, b.len, &spec) < 0 || spec.type != J_OBJ) {
		err_set(e, NULL, "read bundle config: bad JSON in %s", path);
		buf_free(&b);
		return -1;
	}
	if (json_get(&spec, "process", &proc) > 0 && proc.type == J_OBJ &&
	    json_get(&proc, "terminal", &term) > 0)
		*tty = term.type == J_TRUE;
	*poststart = has_poststart(&spec);
	buf_free(&b);
	return 0;
}
