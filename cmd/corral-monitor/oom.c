/*
 * oom.c: the file that counts the OOM kills of the container's memory
 * cgroup, as monitor/oom.go: memory.oom_control (v1) or memory.events
 * (v2), both with an "oom_kill N" line, found from /proc/PID/cgroup and
 * the mount table; read once the container exited.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmon.h"

static int has_word(const char *list, const char *w)
{
	size_t l = strlen(w);
	for (const char *p = list; p && *p;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		if (n == l && strncmp(p, w, l) == 0)
			return 1;
		p = c ? c + 1 : NULL;
	}
	return 0;
}

/* memory_cgroup reads pid's cgroup paths: the v1 memory one (*v1 set) and
 * the unified one. */
static int memory_cgroup(int pid, char **v1, char **v2)
{
	char path[64];
	struct buf b = {0};
	snprintf(path, sizeof path, "/proc/%d/cgroup", pid);
	if (read_file(path, &b, 1 << 20) < 0) {
		buf_free(&b);
		return -1;
	}
	for (char *save = NULL, *line = strtok_r(b.p, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = *c2 = 0;
		if (strcmp(line, "0") == 0 && c1 + 1 == c2) {
			free(*v2);
			*v2 = strdup(c2 + 1);
		} else if (has_word(c1 + 1, "memory")) {
			free(*v1);
			*v1 = strdup(c2 + 1);
		}
	}
	buf_free(&b);
	return 0;
}

static void unescape_octal(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
		    p[3] <= '7') {
			*o++ = (char)((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0'));
			p += 3;
			continue;
		}
		*o++ = *p;
	}
	*o = 0;
}

static const char *trim_prefix(const char *s, const char *prefix)
{
	size_t l = strlen(prefix);
	return strncmp(s, prefix, l) == 0 ? s + l : s;
}

/* mount_match returns the counter file for one mountinfo line, or NULL. */
static char *mount_match(char *line, const char *v1, const char *v2)
{
	char *sep = strstr(line, " - ");
	char *f[6], *t[3], *save = NULL;
	int nf = 0, nt = 0;
	if (!sep || strncmp(sep + 3, "cgroup", 6) != 0)
		return NULL;
	*sep = 0;
	for (char *w = strtok_r(line, " ", &save); w && nf < 6; w = strtok_r(NULL, " ", &save))
		f[nf++] = w;
	for (char *w = strtok_r(sep + 3, " ", &save); w && nt < 3; w = strtok_r(NULL, " ", &save))
		t[nt++] = w;
	if (nf < 6 || nt < 3)
		return NULL;
	unescape_octal(f[3]);
	unescape_octal(f[4]);
	char *file = NULL;
	struct stat st;
	if (v1 && strcmp(t[0], "cgroup") == 0 && has_word(t[2], "memory")) {
		if (asprintf(&file, "%s/%s/memory.oom_control", f[4], trim_prefix(v1, f[3])) < 0)
			return NULL;
		return file;
	}
	if (!v1 && v2 && strcmp(t[0], "cgroup2") == 0) {
		if (asprintf(&file, "%s/%s/memory.events", f[4], trim_prefix(v2, f[3])) < 0)
			return NULL;
		if (stat(file, &st) == 0)
			return file;
		free(file);
	}
	return NULL;
}

/* oom_find locates the counter of process pid's memory cgroup; NULL when
 * there is none. */
char *oom_find(int pid)
{
	char *v1 = NULL, *v2 = NULL, *file = NULL;
	if (memory_cgroup(pid, &v1, &v2) < 0)
		return NULL;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (f) {
		char *line = NULL;
		size_t cap = 0;
		while (!file && getline(&line, &cap, f) > 0) {
			line[strcspn(line, "\n")] = 0;
			file = mount_match(line, v1, v2);
		}
		free(line);
		fclose(f);
	}
	free(v1);
	free(v2);
	return file;
}

/* oom_kills reads the number of OOM kills (0 when unknown). */
unsigned long long oom_kills(const char *file)
{
	struct buf b = {0};
	unsigned long long n = 0;
	if (!file || read_file(file, &b, 1 << 16) < 0) {
		buf_free(&b);
		return 0;
	}
	for (char *p = b.p; p && *p;) {
		if (strncmp(p, "oom_kill ", 9) == 0) {
			n = strtoull(p + 9, NULL, 10);
			break;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	buf_free(&b);
	return n;
}
