/*
 * plane_text.c - the pure text side of the Plane client (see plane.h):
 * comment HTML, HTML to text, Plane's datetimes and rate texts.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "opc/err.h"
#include "opc/util.h"
#include "plane.h"

/* ---------------------------------------------------------------- time */

/* digits reads exactly n decimal digits at s. */
static bool
digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char) s[i]))
			return (false);
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return (true);
}

int
plane_time(const char *s, int64_t *us)
{
	struct tm tm;
	int       y, mo, d, h, mi, se, oh, om, sign;
	int64_t   frac = 0, scale = 100000;
	time_t    t;

	/* YYYY-MM-DD[T ]HH:MM:SS */
	if (s == NULL || strlen(s) < 19 || !digits(s, 4, &y) || s[4] != '-' ||
	    !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != ' ') || !digits(s + 11, 2, &h) ||
	    s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, 2, &se) || mo < 1 || mo > 12 || d < 1 || d > 31 ||
	    h > 23 || mi > 59 || se > 60)
		return (ERR_PROTO);
	s += 19;
	if (*s == '.') { /* isoformat: 6 digits, or none when zero */
		if (!isdigit((unsigned char) s[1]))
			return (ERR_PROTO);
		for (s++; isdigit((unsigned char) *s); s++) {
			frac += (*s - '0') * scale;
			scale /= 10;
		}
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon  = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min  = mi;
	tm.tm_sec  = se;
	t          = timegm(&tm);
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (*s == '+' || *s == '-') {
		sign = *s == '-' ? -1 : 1;
		if (!digits(s + 1, 2, &oh) || oh > 23)
			return (ERR_PROTO);
		s += 3;
		if (*s == ':')
			s++;
		if (!digits(s, 2, &om) || om > 59)
			return (ERR_PROTO);
		s += 2;
		t -= sign * (oh * 3600 + om * 60);
	}
	if (*s != '\0')
		return (ERR_PROTO);
	*us = (int64_t) t * 1000000 + frac;
	return (0);
}

/* ---------------------------------------------------------------- rate */

int
plane_rate_parse(const char *s, int64_t *n, int64_t *ms)
{
	char     *end;
	long long v;

	if (s == NULL)
		return (ERR_INVAL);
	v = strtoll(s, &end, 10);
	if (end == s || *end != '/' || v < 1 || v > 1000000)
		return (ERR_INVAL);
	switch (end[1]) { /* rest_framework SimpleRateThrottle.parse_rate */
	case 's':
		*ms = 1000;
		break;
	case 'm':
		*ms = 60000;
		break;
	case 'h':
		*ms = 3600000;
		break;
	case 'd':
		*ms = 86400000;
		break;
	default:
		return (ERR_INVAL);
	}
	*n = v;
	return (0);
}

/* ---------------------------------------------------------------- text */

static void
escape(struct buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		switch (s[i]) {
		case '<':
			buf_puts(b, "&lt;");
			break;
		case '>':
			buf_puts(b, "&gt;");
			break;
		case '&':
			buf_puts(b, "&amp;");
			break;
		case '"':
			buf_puts(b, "&quot;");
			break;
		default:
			buf_append(b, s + i, 1);
		}
}

char *
plane_comment_html(const char *text)
{
	struct buf  b;
	const char *l       = text ? text : "", *e;
	bool        in_list = false, any = false;
	size_t      n;

	buf_init(&b);
	for (; *l != '\0'; l = *e ? e + 1 : e) {
		e = strchr(l, '\n');
		if (e == NULL)
			e = l + strlen(l);
		n = (size_t) (e - l);
		while (n > 0 && (l[n - 1] == ' ' || l[n - 1] == '\r'))
			n--;
		if (n == 0)
			continue;
		any = true;
		if (n >= 2 && l[0] == '-' && l[1] == ' ') {
			if (!in_list)
				buf_puts(&b, "<ul>");
			in_list = true;
			buf_puts(&b, "<li>");
			escape(&b, l + 2, n - 2);
			buf_puts(&b, "</li>");
			continue;
		}
		if (in_list)
			buf_puts(&b, "</ul>");
		in_list = false;
		buf_puts(&b, "<p>");
		escape(&b, l, n);
		buf_puts(&b, "</p>");
	}
	if (in_list)
		buf_puts(&b, "</ul>");
	if (!any)
		buf_puts(&b, "<p>(no summary)</p>");
	(void) buf_cstr(&b);
	return (b.data); /* the buffer's storage is the string */
}

char *
plane_text(const char *html)
{
	struct buf  b;
	const char *p  = html ? html : "", *gt;
	size_t      nl = 0;

	buf_init(&b);
	while (*p != '\0') {
		if (*p == '<' && (gt = strchr(p, '>')) != NULL) {
			if (strncmp(p, "<li", 3) == 0)
				buf_puts(&b, "\n- ");
			else if (strncmp(p, "<br", 3) == 0 ||
			    strncmp(p, "</p", 3) == 0 ||
			    strncmp(p, "</h", 3) == 0 ||
			    strncmp(p, "</ul", 4) == 0)
				buf_puts(&b, "\n");
			else if (p[1] == 'h' && p[2] >= '1' && p[2] <= '6')
				buf_puts(&b, "\n## ");
			p = gt + 1;
			continue;
		}
		if (strncmp(p, "&lt;", 4) == 0) {
			buf_puts(&b, "<");
			p += 4;
		} else if (strncmp(p, "&gt;", 4) == 0) {
			buf_puts(&b, ">");
			p += 4;
		} else if (strncmp(p, "&amp;", 5) == 0) {
			buf_puts(&b, "&");
			p += 5;
		} else if (strncmp(p, "&quot;", 6) == 0) {
			buf_puts(&b, "\"");
			p += 6;
		} else
			buf_append(&b, p++, 1);
	}
	/* collapse 3+ newlines, trim */
	{
		char  *s = buf_cstr(&b), *o = s, *q;
		size_t len;

		for (q = s; *q != '\0'; q++) {
			nl = *q == '\n' ? nl + 1 : 0;
			if (nl <= 2)
				*o++ = *q;
		}
		*o = '\0';
		while (*s == '\n' || *s == ' ')
			s++;
		len = strlen(s);
		while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' '))
			s[--len] = '\0';
		q = xstrdup(s);
		buf_fini(&b);
		return (q);
	}
}
