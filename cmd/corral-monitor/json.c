/*
 * json.c: a minimal JSON scanner: validate and skip values, look up a key
 * of an object (as encoding/json: the last of equal keys wins, keys match
 * case-insensitively), decode strings, integers and booleans, and keep
 * nested values as the raw spans they came as.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmon.h"

#define MAX_DEPTH 256

static void skip_ws(const char *s, size_t n, size_t *i)
{
	while (*i < n && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\n' || s[*i] == '\r'))
		(*i)++;
}

static int skip_string(const char *s, size_t n, size_t *i)
{
	(*i)++; /* the quote */
	while (*i < n) {
		unsigned char c = (unsigned char)s[*i];
		if (c == '"') {
			(*i)++;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			(*i)++;
			continue;
		}
		if (++(*i) >= n)
			return -1;
		c = (unsigned char)s[*i];
		if (c == 'u') {
			for (int k = 1; k <= 4; k++)
				if (*i + k >= n || !isxdigit((unsigned char)s[*i + k]))
					return -1;
			*i += 5;
		} else if (strchr("\"\\/bfnrt", c) && c) {
			(*i)++;
		} else {
			return -1;
		}
	}
	return -1;
}

static int skip_number(const char *s, size_t n, size_t *i)
{
	size_t st = *i;
	if (*i < n && s[*i] == '-')
		(*i)++;
	if (*i >= n || !isdigit((unsigned char)s[*i]))
		return -1;
	if (s[*i] == '0')
		(*i)++;
	else
		while (*i < n && isdigit((unsigned char)s[*i]))
			(*i)++;
	if (*i < n && s[*i] == '.') {
		(*i)++;
		if (*i >= n || !isdigit((unsigned char)s[*i]))
			return -1;
		while (*i < n && isdigit((unsigned char)s[*i]))
			(*i)++;
	}
	if (*i < n && (s[*i] == 'e' || s[*i] == 'E')) {
		(*i)++;
		if (*i < n && (s[*i] == '+' || s[*i] == '-'))
			(*i)++;
		if (*i >= n || !isdigit((unsigned char)s[*i]))
			return -1;
		while (*i < n && isdigit((unsigned char)s[*i]))
			(*i)++;
	}
	return *i > st ? 0 : -1;
}

static int skip_word(const char *s, size_t n, size_t *i, const char *w)
{
	size_t l = strlen(w);
	if (n - *i < l || memcmp(s + *i, w, l) != 0)
		return -1;
	*i += l;
	return 0;
}

static int skip_value(const char *s, size_t n, size_t *i, int depth);

static int skip_container(const char *s, size_t n, size_t *i, int depth)
{
	char close = s[*i] == '{' ? '}' : ']';
	int obj = close == '}';
	(*i)++;
	skip_ws(s, n, i);
	if (*i < n && s[*i] == close) {
		(*i)++;
		return 0;
	}
	for (;;) {
		skip_ws(s, n, i);
		if (obj) {
			if (*i >= n || s[*i] != '"' || skip_string(s, n, i) < 0)
				return -1;
			skip_ws(s, n, i);
			if (*i >= n || s[*i] != ':')
				return -1;
			(*i)++;
		}
		if (skip_value(s, n, i, depth + 1) < 0)
			return -1;
		skip_ws(s, n, i);
		if (*i < n && s[*i] == ',') {
			(*i)++;
			continue;
		}
		if (*i < n && s[*i] == close) {
			(*i)++;
			return 0;
		}
		return -1;
	}
}

static int skip_value(const char *s, size_t n, size_t *i, int depth)
{
	skip_ws(s, n, i);
	if (*i >= n || depth > MAX_DEPTH)
		return -1;
	switch (s[*i]) {
	case '{':
	case '[':
		return skip_container(s, n, i, depth);
	case '"':
		return skip_string(s, n, i);
	case 't':
		return skip_word(s, n, i, "true");
	case 'f':
		return skip_word(s, n, i, "false");
	case 'n':
		return skip_word(s, n, i, "null");
	}
	return skip_number(s, n, i);
}

/* json_skip skips one value at *i (and the space before it). */
int json_skip(const char *s, size_t n, size_t *i)
{
	return skip_value(s, n, i, 0);
}

static int type_of(char c)
{
	switch (c) {
	case '{':
		return J_OBJ;
	case '[':
		return J_ARR;
	case '"':
		return J_STR;
	case 't':
		return J_TRUE;
	case 'f':
		return J_FALSE;
	case 'n':
		return J_NULL;
	}
	return J_NUM;
}

/* json_value reads s as one whole JSON value (space around it allowed). */
int json_value(const char *s, size_t n, struct jval *v)
{
	size_t i = 0;
	skip_ws(s, n, &i);
	size_t st = i;
	if (skip_value(s, n, &i, 0) < 0)
		return -1;
	v->p = s + st;
	v->n = i - st;
	v->type = type_of(s[st]);
	skip_ws(s, n, &i);
	return i == n ? 0 : -1;
}

int json_valid(const char *s, size_t n)
{
	struct jval v;
	return json_value(s, n, &v) == 0;
}

/* key_is compares a raw key (quotes included) with key, as encoding/json
 * matches field names: case-insensitively. */
static int key_is(const char *raw, size_t n, const char *key)
{
	size_t l = strlen(key);
	if (memchr(raw, '\\', n)) {
		struct jval v = {raw, n, J_STR};
		char *k = NULL;
		int eq = json_str(&v, &k) == 0 && strcasecmp(k, key) == 0;
		free(k);
		return eq;
	}
	return n == l + 2 && strncasecmp(raw + 1, key, l) == 0;
}

/* json_get finds key in the object obj: 1 found, 0 not there, -1 obj is
 * not an object. */
int json_get(const struct jval *obj, const char *key, struct jval *out)
{
	const char *s = obj->p;
	size_t n = obj->n, i = 1;
	int found = 0;
	if (obj->type != J_OBJ)
		return -1;
	for (;;) {
		skip_ws(s, n, &i);
		if (i >= n || s[i] == '}')
			return found;
		if (s[i] == ',') {
			i++;
			skip_ws(s, n, &i);
		}
		size_t ks = i;
		if (skip_string(s, n, &i) < 0)
			return -1;
		size_t ke = i;
		skip_ws(s, n, &i);
		i++; /* ':' */
		skip_ws(s, n, &i);
		size_t vs = i;
		if (skip_value(s, n, &i, 0) < 0)
			return -1;
		if (key_is(s + ks, ke - ks, key)) {
			out->p = s + vs;
			out->n = i - vs;
			out->type = type_of(s[vs]);
			found = 1;
		}
	}
}

static int hexval(const char *p)
{
	char h[5] = {p[0], p[1], p[2], p[3], 0};
	return (int)strtol(h, NULL, 16);
}

static void put_utf8(struct buf *b, unsigned r)
{
	unsigned char u[4];
	size_t n;
	if (r < 0x80)
		u[0] = (unsigned char)r, n = 1;
	else if (r < 0x800)
		u[0] = (unsigned char)(0xc0 | r >> 6), u[1] = (unsigned char)(0x80 | (r & 0x3f)), n = 2;
	else if (r < 0x10000)
		u[0] = (unsigned char)(0xe0 | r >> 12), u[1] = (unsigned char)(0x80 | ((r >> 6) & 0x3f)),
		u[2] = (unsigned char)(0x80 | (r & 0x3f)), n = 3;
	else
		u[0] = (unsigned char)(0xf0 | r >> 18), u[1] = (unsigned char)(0x80 | ((r >> 12) & 0x3f)),
		u[2] = (unsigned char)(0x80 | ((r >> 6) & 0x3f)), u[3] = (unsigned char)(0x80 | (r & 0x3f)), n = 4;
	buf_add(b, u, n);
}

static unsigned unicode_escape(const char *p, size_t left, size_t *used)
{
	unsigned r = (unsigned)hexval(p);
	*used = 4;
	if (r >= 0xd800 && r < 0xdc00 && left >= 10 && p[4] == '\\' && p[5] == 'u') {
		unsigned lo = (unsigned)hexval(p + 6);
		if (lo >= 0xdc00 && lo < 0xe000) {
			*used = 10;
			return 0x10000 + ((r - 0xd800) << 10) + (lo - 0xdc00);
		}
	}
	if (r >= 0xd800 && r < 0xe000)
		return 0xfffd;
	return r;
}

static char simple_escape(char c)
{
	switch (c) {
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	}
	return c;
}

/* json_str decodes a string value into a new NUL-terminated string. */
int json_str(const struct jval *v, char **out)
{
	struct buf b = {0};
	if (v->type != J_STR)
		return -1;
	const char *s = v->p + 1;
	size_t n = v->n - 2;
	buf_grow(&b, n);
	b.p[0] = 0; /* "" decodes to an empty, terminated string */
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\') {
			buf_add(&b, s + i, 1);
			continue;
		}
		i++;
		if (s[i] == 'u') {
			size_t used;
			put_utf8(&b, unicode_escape(s + i + 1, n - i - 1, &used));
			i += used;
			continue;
		}
		char c = simple_escape(s[i]);
		buf_add(&b, &c, 1);
	}
	*out = b.p;
	return 0;
}

int json_int(const struct jval *v, long long *out)
{
	char tmp[32];
	if (v->type != J_NUM || v->n >= sizeof tmp)
		return -1;
	memcpy(tmp, v->p, v->n);
	tmp[v->n] = 0;
	char *end;
	errno = 0;
	*out = strtoll(tmp, &end, 10);
	return errno || *end ? -1 : 0;
}

int json_bool(const struct jval *v, int *out)
{
	if (v->type != J_TRUE && v->type != J_FALSE)
		return -1;
	*out = v->type == J_TRUE;
	return 0;
}
