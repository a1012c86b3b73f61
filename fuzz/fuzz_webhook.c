/*
 * fuzz_webhook.c - libFuzzer target: opc-webhook's request handling, as
 * httpsrv.c runs it once it has parsed the request line and headers: the
 * Content-Length check (httpsrv_length), the 413 short cut (hook_oversized)
 * and hook_classify (size, Content-Type, secret, HMAC, JSON or a
 * form-encoded payload field, GitHub/Plane event -> ci.check_run /
 * ci.pr_event / ci.pr_review / board.webhook, or an /ingest error report ->
 * ingest.error).  Then what decide() does with an accepted
 * verdict: pack the event as svc_emit journals it, and decode it as every
 * consumer will.
 *
 * Input: one flag byte, header lines "Name: value\n" up to an empty
 * line, then the body.  Flags: 0x01 Plane (else GitHub), 0x02 sign the
 * body with the configured secret (replaces the signature header, so
 * the fuzzer gets past the HMAC check to the JSON), 0x04 no secret
 * configured, 0x08 insecure, 0x10 upper-case hex, 0x20 set
 * Content-Length to the body's length (as any client does), 0x40 an
 * /ingest report (signed as GitHub signs; without 0x01).
 *
 * Oracles: httpsrv_length agrees with a reference parser; every answer is
 * one of the documented statuses with a text and a counter; nothing is
 * accepted under a secret unless its signature is the HMAC of the body,
 * and a correct signature is never answered 401; an accepted event
 * packs, decodes as the same topic and (when its text is valid UTF-8
 * without NULs, which the packer replaces) the same body.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hmac.h"
#include "opc/err.h"
#include "opc/httpsrv.h"
#include "opc/msg.h"
#include "opc/util.h"
#include "webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                     \
	do {                                                         \
		if (!(c)) {                                          \
			fprintf(stderr, "fuzz_webhook: %s:%d: %s\n", \
			    __FILE__, __LINE__, #c);                 \
			abort();                                     \
		}                                                    \
	} while (0)

#define SECRET "It's a Secret to Everybody"
#define MAX_BODY 8192

enum { H_CTYPE, H_SIG, H_EVENT, H_DELIVERY, H_LENGTH, H__COUNT };

struct req {
	bool        plane;
	bool        ingest;
	char       *h[H__COUNT];
	const char *body;
	size_t      blen;
};

static const char *const gh_names[H__COUNT] = { "Content-Type",
	"X-Hub-Signature-256", "X-GitHub-Event", "X-GitHub-Delivery",
	"Content-Length" };
static const char *const pl_names[H__COUNT] = { "Content-Type",
	"X-Plane-Signature", "X-Plane-Event", "X-Plane-Delivery",
	"Content-Length" };

/* headers splits "Name: value" lines until an empty line; the rest is
 * the body.  A repeated header: the last one wins. */
static void
headers(struct req *r, const char *p, size_t n)
{
	const char *const *names = r->plane ? pl_names : gh_names;
	const char        *end   = p + n, *nl, *colon, *v;
	size_t             k;

	r->body = end;
	r->blen = 0;
	while (p < end) {
		nl = memchr(p, '\n', (size_t) (end - p));
		if (nl == NULL)
			nl = end;
		if (nl == p) { /* empty line: the body follows */
			r->body = p + 1;
			r->blen = (size_t) (end - p - 1);
			return;
		}
		colon = memchr(p, ':', (size_t) (nl - p));
		if (colon != NULL) {
			for (k = 0; k < H__COUNT; k++) {
				if (strlen(names[k]) != (size_t) (colon - p) ||
				    strncasecmp(names[k], p,
				        (size_t) (colon - p)) != 0)
					continue;
				v = colon + 1;
				while (v < nl && (*v == ' ' || *v == '\t'))
					v++; /* nng strips leading blanks */
				free(r->h[k]);
				r->h[k] = xstrndup(v, (size_t) (nl - v));
			}
		}
		p = nl + (nl < end);
	}
}

/* ref_length: Content-Length by a different route (strtoull on a value
 * checked to be digits between blanks). */
static int
ref_length(const char *s, uint64_t *len)
{
	char  *t = xstrdup(s), *b = t, *e, *end;
	size_t n;
	int    rv = ERR_PROTO;

	while (*b == ' ' || *b == '\t')
		b++;
	n = strlen(b);
	while (n > 0 && (b[n - 1] == ' ' || b[n - 1] == '\t'))
		b[--n] = '\0';
	for (e = b; *e != '\0' && isdigit((unsigned char) *e); e++)
		;
	if (n > 0 && *e == '\0') {
		errno = 0;
		*len  = strtoull(b, &end, 10);
		if (errno == 0 && *end == '\0')
			rv = 0;
	}
	free(t);
	return (rv);
}

static bool
sig_matches(const struct req *r)
{
	char        hex[HMAC_SHA256_HEX];
	const char *s = r->h[H_SIG];

	CHECK(hmac_sha256_hex(hex, SECRET, r->body, r->blen) == 0);
	if (s == NULL)
		return (false);
	if (!r->plane) {
		if (strncmp(s, "sha256=", 7) != 0)
			return (false);
		s += 7;
	}
	return (strlen(s) == 64 && strcasecmp(s, hex) == 0);
}

static void
sign(struct req *r, bool upper)
{
	char   hex[HMAC_SHA256_HEX];
	size_t i;

	CHECK(hmac_sha256_hex(hex, SECRET, r->body, r->blen) == 0);
	for (i = 0; upper && hex[i] != '\0'; i++)
		hex[i] = (char) toupper((unsigned char) hex[i]);
	free(r->h[H_SIG]);
	r->h[H_SIG] = r->plane ? xstrdup(hex) : xasprintf("sha256=%s", hex);
}

/* has_nul: the JSON text of a payload mentions U+0000, which the packer
 * replaces (a C string cannot hold it). */
static bool
has_nul(const json_t *j)
{
	char *s   = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	bool  nul = s == NULL || strstr(s, "\\u0000") != NULL;

	free(s);
	return (nul);
}

static bool
text(const char *s)
{
	return (s == NULL || utf8_valid(s, strlen(s)));
}

/* emit: what decide() and the consumers do with an accepted verdict. */
static void
emit(const struct hook_verdict *v)
{
	struct msg_hdr hdr = { "webhook", 1, "webhook:1", 1, NULL };
	struct buf     b;
	struct msg     m;
	json_t        *a, *c;
	char           err[256];
	int            rv;

	buf_init(&b);
	CHECK(msg_pack(&b, v->topic, &hdr, &v->body) == 0);
	rv = msg_decode(&m, b.data, b.len, err, sizeof(err));
	if (rv != 0)
		fprintf(stderr,
		    "fuzz_webhook: journaled %s that consumers "
		    "reject: %s\n",
		    msg_topic_name(v->topic), err);
	CHECK(rv == 0 && m.topic == v->topic);
	/* the packer replaces invalid UTF-8 (header bytes) and U+0000 */
	if (text(v->event) && text(v->delivery) &&
	    (v->topic != MSG_BOARD_WEBHOOK || !has_nul(v->doc))) {
		a = msg_body_to_json(v->topic, &v->body);
		c = msg_body_to_json(m.topic, &m.body);
		CHECK(json_equal(a, c));
		json_decref(a);
		json_decref(c);
	}
	msg_fini(&m);
	buf_fini(&b);
}

static void
check_verdict(
    const struct hook_verdict *v, const struct req *r, const char *secret)
{
	switch (v->status) {
	case 200:
	case 202:
	case 400:
	case 401:
	case 413:
	case 415:
	case 503:
		break;
	default:
		CHECK(!"unexpected status");
	}
	CHECK(v->text != NULL && v->counter != NULL);
	CHECK(v->topic == MSG_NONE || v->status == 200);
	if (secret != NULL && v->status != 413 && v->status != 415 &&
	    v->status != 401)
		CHECK(sig_matches(r)); /* nothing passes a bad signature */
	if (secret != NULL && sig_matches(r))
		CHECK(v->status != 401);
	if (v->topic != MSG_NONE)
		emit(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hook_verdict v;
	struct hook_req     hr;
	struct req          r;
	const char         *secret;
	uint64_t            len = 0, ref = 0;
	uint8_t             fl;
	int                 rv;
	size_t              k;

	if (size < 1)
		return (0);
	fl = data[0];
	memset(&r, 0, sizeof(r));
	r.plane  = fl & 0x01;
	r.ingest = !r.plane && (fl & 0x40);
	headers(&r, (const char *) data + 1, size - 1);
	secret = (fl & 0x04) ? NULL : SECRET;
	if (fl & 0x20) {
		free(r.h[H_LENGTH]);
		r.h[H_LENGTH] = xasprintf("%zu", r.blen);
	}
	if (fl & 0x02)
		sign(&r, fl & 0x10);

	/* on_post: Content-Length, then 413 before reading the body */
	if (r.h[H_LENGTH] != NULL) {
		rv = httpsrv_length(r.h[H_LENGTH], &len);
		CHECK(rv == ref_length(r.h[H_LENGTH], &ref));
		CHECK(rv != 0 || len == ref);
		if (rv != 0)
			goto out; /* 400 Bad Content-Length */
	}
	if (len > MAX_BODY) {
		hook_oversized(
		    &v, r.h[H_EVENT], r.h[H_DELIVERY], (size_t) len);
		CHECK(v.status == 413 && v.topic == MSG_NONE);
		hook_verdict_fini(&v);
		goto out;
	}
	if (len > r.blen)
		goto out;      /* the client went away mid-body: dropped */
	r.blen = (size_t) len; /* httpd reads exactly Content-Length bytes */
	if (fl & 0x02)
		sign(&r, fl & 0x10); /* over what is actually read */

	memset(&hr, 0, sizeof(hr));
	hr.src = r.plane ? HOOK_PLANE : r.ingest ? HOOK_INGEST : HOOK_GITHUB;
	hr.content_type = r.h[H_CTYPE];
	hr.signature    = r.h[H_SIG];
	hr.event        = r.h[H_EVENT];
	hr.delivery     = r.h[H_DELIVERY];
	hr.body         = r.blen > 0 ? r.body : "";
	hr.len          = r.blen;
	hook_classify(&v, &hr, secret, fl & 0x08, MAX_BODY);
	check_verdict(&v, &r, secret);
	hook_verdict_fini(&v);
out:
	for (k = 0; k < H__COUNT; k++)
		free(r.h[k]);
	return (0);
}
