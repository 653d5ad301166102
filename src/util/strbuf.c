#include "util/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

void
strbuf_grow(struct strbuf *b, size_t more)
{
	size_t	need = b->len + more + 1;
	size_t	cap = b->cap == 0 ? 64 : b->cap;

	if (need <= b->cap)
		return;
	while (cap < need)
		cap *= 2;
	if (b->wipe && b->s != NULL) {
		/* realloc would leave the old copy behind unwiped. */
		char	*s = xmalloc(cap);

		memcpy(s, b->s, b->len + 1);
		freezero(b->s, b->cap);
		b->s = s;
	} else
		b->s = xreallocarray(b->s, 1, cap);
	b->cap = cap;
}

void
strbuf_reserve(struct strbuf *b, size_t n)
{
	strbuf_grow(b, n);
	b->s[b->len] = '\0';
}

void
strbuf_append(struct strbuf *b, const char *s)
{
	strbuf_appendn(b, s, strlen(s));
}

void
strbuf_appendc(struct strbuf *b, char c)
{
	strbuf_appendn(b, &c, 1);
}

void
strbuf_appendf(struct strbuf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	strbuf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Length of a valid UTF-8 sequence starting at p, or 0. */
static size_t
utf8_seq_len(const unsigned char *p, size_t n)
{
	size_t	len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

void
strbuf_append_json(struct strbuf *b, const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, l;

	strbuf_appendc(b, '"');
	while (i < n) {
		switch (p[i]) {
		case '"':
			strbuf_append(b, "\\\"");
			break;
		case '\\':
			strbuf_append(b, "\\\\");
			break;
		case '\n':
			strbuf_append(b, "\\n");
			break;
		case '\r':
			strbuf_append(b, "\\r");
			break;
		case '\t':
			strbuf_append(b, "\\t");
			break;
		default:
			if (p[i] < 0x20 || p[i] == 0x7f) {
				strbuf_appendf(b, "\\u%04x", p[i]);
				break;
			}
			l = utf8_seq_len(p + i, n - i);
			if (l == 0) {
				strbuf_appendf(b, "\\u%04x", p[i]);
				break;
			}
			strbuf_appendn(b, p + i, l);
			i += l;
			continue;
		}
		i++;
	}
	strbuf_appendc(b, '"');
}

void
strbuf_reset(struct strbuf *b)
{
	b->len = 0;
	if (b->s != NULL)
		b->s[0] = '\0';
}

const char *
strbuf_str(const struct strbuf *b)
{
	return b->s == NULL ? "" : b->s;
}

char *
strbuf_steal(struct strbuf *b)
{
	char	*s = b->s;

	if (s == NULL)
		s = xstrdup("");
	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

void
strbuf_free(struct strbuf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

void
strbuf_freezero(struct strbuf *b)
{
	if (b->s != NULL)
		explicit_bzero(b->s, b->cap);
	strbuf_free(b);
}
