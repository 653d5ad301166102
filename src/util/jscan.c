#include "util/jscan.h"

#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

/* Ends a number or literal. */
static bool
is_delim(char c)
{
	return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' ||
	    c == '\r' || c == '\n';
}

void
jscan_ws(struct jscan *j)
{
	while (j->pos < j->len && (j->s[j->pos] == ' ' ||
	    j->s[j->pos] == '\t' || j->s[j->pos] == '\n' ||
	    j->s[j->pos] == '\r'))
		j->pos++;
}

/* At '"': the raw contents go to start and n; pos moves past the quote. */
int
jscan_string(struct jscan *j, size_t *start, size_t *n)
{
	if (j->pos >= j->len || j->s[j->pos] != '"')
		return -1;
	*start = ++j->pos;
	while (j->pos < j->len && j->s[j->pos] != '"') {
		/* an escape takes the next byte, if there is one */
		if (j->s[j->pos] == '\\' && j->pos + 1 < j->len)
			j->pos++;
		j->pos++;
	}
	if (j->pos >= j->len)
		return -1;
	*n = j->pos - *start;
	j->pos++;
	return 0;
}

int
jscan_value(struct jscan *j, int depth)
{
	size_t	st, n;
	char	open, close;

	jscan_ws(j);
	if (j->pos >= j->len || depth > 4096)
		return -1;
	switch (j->s[j->pos]) {
	case '"':
		return jscan_string(j, &st, &n);
	case '{':
	case '[':
		open = j->s[j->pos];
		close = open == '{' ? '}' : ']';
		j->pos++;
		for (;;) {
			jscan_ws(j);
			if (j->pos >= j->len)
				return -1;
			if (j->s[j->pos] == close) {
				j->pos++;
				return 0;
			}
			if (j->s[j->pos] == ',') {
				j->pos++;
				continue;
			}
			if (open == '{') {
				if (jscan_string(j, &st, &n) == -1)
					return -1;
				jscan_ws(j);
				if (j->pos >= j->len || j->s[j->pos] != ':')
					return -1;
				j->pos++;
			}
			if (jscan_value(j, depth + 1) == -1)
				return -1;
		}
	default:
		/*
		 * A number or literal: up to a delimiter.  Not strchr(), which
		 * finds a NUL byte in its set's terminator.  Nothing consumed
		 * (a stray } or ]) is an error, never an empty value: each call
		 * either advances or fails, so every loop over it ends.
		 */
		st = j->pos;
		while (j->pos < j->len && !is_delim(j->s[j->pos]))
			j->pos++;
		return j->pos > st ? 0 : -1;
	}
}

/* Append the UTF-8 form of code point cp. */
static void
put_utf8(struct strbuf *sb, unsigned long cp)
{
	if (cp < 0x80)
		strbuf_appendc(sb, (char)cp);
	else if (cp < 0x800) {
		strbuf_appendc(sb, (char)(0xc0 | (cp >> 6)));
		strbuf_appendc(sb, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		strbuf_appendc(sb, (char)(0xe0 | (cp >> 12)));
		strbuf_appendc(sb, (char)(0x80 | ((cp >> 6) & 0x3f)));
		strbuf_appendc(sb, (char)(0x80 | (cp & 0x3f)));
	} else {
		strbuf_appendc(sb, (char)(0xf0 | (cp >> 18)));
		strbuf_appendc(sb, (char)(0x80 | ((cp >> 12) & 0x3f)));
		strbuf_appendc(sb, (char)(0x80 | ((cp >> 6) & 0x3f)));
		strbuf_appendc(sb, (char)(0x80 | (cp & 0x3f)));
	}
}

static unsigned long
hex4(const char *p)
{
	char	buf[5];

	memcpy(buf, p, 4);
	buf[4] = '\0';
	return strtoul(buf, NULL, 16);
}

/* Does the raw JSON string s[0..n) decode to key? */
bool
jscan_key_equals(const char *s, size_t n, const char *key)
{
	struct strbuf	sb = { 0 };
	unsigned long	cp, lo;
	size_t		i;
	bool		eq;

	for (i = 0; i < n; i++) {
		if (s[i] != '\\' || i + 1 >= n) {
			strbuf_appendc(&sb, s[i]);
			continue;
		}
		switch (s[++i]) {
		case 'b': strbuf_appendc(&sb, '\b'); break;
		case 'f': strbuf_appendc(&sb, '\f'); break;
		case 'n': strbuf_appendc(&sb, '\n'); break;
		case 'r': strbuf_appendc(&sb, '\r'); break;
		case 't': strbuf_appendc(&sb, '\t'); break;
		case 'u':
			if (i + 4 >= n)
				break;
			cp = hex4(s + i + 1);
			i += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < n &&
			    s[i + 1] == '\\' && s[i + 2] == 'u') {
				lo = hex4(s + i + 3);
				i += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
			}
			put_utf8(&sb, cp);
			break;
		default:
			strbuf_appendc(&sb, s[i]);
			break;
		}
	}
	eq = strcmp(strbuf_str(&sb), key) == 0;
	strbuf_free(&sb);
	return eq;
}


int
jscan_members(struct jscan *j, jscan_member_fn *fn, void *arg)
{
	size_t	ns, nn, vs;

	jscan_ws(j);
	if (j->pos >= j->len || j->s[j->pos] != '{')
		return -1;
	j->pos++;
	for (;;) {
		jscan_ws(j);
		if (j->pos >= j->len)
			return -1;
		if (j->s[j->pos] == '}') {
			j->pos++;
			return 0;
		}
		if (j->s[j->pos] == ',') {
			j->pos++;
			continue;
		}
		if (jscan_string(j, &ns, &nn) == -1)
			return -1;
		jscan_ws(j);
		if (j->pos >= j->len || j->s[j->pos] != ':')
			return -1;
		j->pos++;
		jscan_ws(j);
		vs = j->pos;
		if (jscan_value(j, 1) == -1)
			return -1;
		if (fn(j->s + ns, nn, vs, j->pos, arg) == -1)
			return -1;
	}
}
