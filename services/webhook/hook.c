/*
 * hook.c - classify one webhook POST (pure: no I/O, no service state).
 *
 * Order of checks: size (413), Content-Type (415), secret configured (503
 * unless insecure), signature (401), JSON object (400), event type.
 * GitHub sends either content type its hook is set to: application/json
 * (the body is the JSON) or application/x-www-form-urlencoded, the
 * default of a new hook (the JSON is the form field "payload");
 * docs.github.com, "Creating webhooks".  The signature is always over the
 * raw body as sent, so it is checked before the form is decoded.  Plane
 * sends JSON only.
 * GitHub check_run and check_suite become ci.check_run (a suite is named
 * "suite:<app>"), pull_request becomes ci.pr_event, pull_request_review
 * and pull_request_review_comment become ci.pr_review (payloads as in
 * octokit/webhooks: pull_request.number, review.state, sender.login and
 * sender.type), ping is answered 200, any other event 202.  An /ingest
 * report is signed as a GitHub delivery is and checked by ingest.c.  Plane
 * deliveries become board.webhook (400 when nested deeper than the bus codec
 * carries).  The verdict's message fields borrow the parsed document it owns.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "hmac.h"
#include "opc/err.h"
#include "webhook.h"

static void
answer(
    struct hook_verdict *v, int status, const char *text, const char *counter)
{
	v->status  = status;
	v->text    = text;
	v->counter = counter;
	v->topic   = MSG_NONE;
}

static void
ids(struct hook_verdict *v, const char *event, const char *delivery,
    size_t size)
{
	memset(v, 0, sizeof(*v));
	if (event != NULL && *event != '\0')
		v->event = xstrndup(event, 64);
	if (delivery != NULL && *delivery != '\0')
		v->delivery = xstrndup(delivery, 128);
	v->size = size;
}

void
hook_reject(struct hook_verdict *v, int status, const char *text,
    const char *counter, const char *event, const char *delivery, size_t size)
{
	ids(v, event, delivery, size);
	answer(v, status, text, counter);
}

void
hook_oversized(struct hook_verdict *v, const char *event, const char *delivery,
    size_t size)
{
	hook_reject(
	    v, 413, "Payload too large", "oversized", event, delivery, size);
}

/* media_is: the media type of Content-Type ct (parameters aside) is
 * want, compared without case (RFC 9110, 8.3.1). */
static bool
media_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	if (ct == NULL)
		return (false);
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, want, n) != 0)
		return (false);
	return (
	    ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

/* form_decode appends the decoded form component s[0..n) to out. */
static int
form_decode(struct buf *out, const char *s, size_t n)
{
	size_t i;
	int    hi, lo;
	char   c;

	for (i = 0; i < n; i++) {
		if (s[i] == '+')
			c = ' ';
		else if (s[i] != '%')
			c = s[i];
		else if (i + 2 < n &&
		    (hi = hmac_hexval((unsigned char) s[i + 1])) >= 0 &&
		    (lo = hmac_hexval((unsigned char) s[i + 2])) >= 0) {
			c = (char) (hi << 4 | lo);
			i += 2;
		} else
			return (ERR_PROTO);
		buf_append(out, &c, 1);
	}
	return (0);
}

int
hook_form_payload(struct buf *out, const char *body, size_t len)
{
	const char *p = body, *end = body + len, *amp, *eq;
	struct buf  key;
	int         rv = ERR_NOTFOUND, found = 0;

	buf_init(&key);
	while (p < end) {
		amp = memchr(p, '&', (size_t) (end - p));
		if (amp == NULL)
			amp = end;
		eq = memchr(p, '=', (size_t) (amp - p));
		buf_reset(&key);
		if (form_decode(&key, p, (size_t) ((eq ? eq : amp) - p)) !=
		    0) {
			rv = ERR_PROTO;
			break;
		}
		if (key.len == 7 && memcmp(key.data, "payload", 7) == 0) {
			if (found || eq == NULL ||
			    form_decode(
			        out, eq + 1, (size_t) (amp - eq - 1)) != 0) {
				rv = ERR_PROTO; /* twice, empty or malformed */
				break;
			}
			found = 1;
			rv    = 0;
		}
		p = amp + 1;
	}
	buf_fini(&key);
	return (rv);
}

/* str returns the string at a dotted path of objects under o, or NULL. */
static const char *
str(const json_t *o, const char *a, const char *b)
{
	json_t *j = json_object_get(o, a);

	if (b != NULL)
		j = json_object_get(j, b);
	return (json_string_value(j));
}

static int64_t
first_pr(const json_t *obj)
{
	json_t *prs = json_object_get(obj, "pull_requests");

	return (json_integer_value(
	    json_object_get(json_array_get(prs, 0), "number")));
}

static void
github(struct hook_verdict *v, const struct hook_req *r)
{
	const json_t *d    = v->doc;
	const char   *repo = str(d, "repository", "full_name");
	json_t       *o;

	if (strcmp(r->event, "ping") == 0) {
		answer(v, 200, "pong", "pings");
		return;
	}
	if (strcmp(r->event, "check_run") == 0 ||
	    strcmp(r->event, "check_suite") == 0) {
		struct msg_ci_check_run *c     = &v->body.check_run;
		bool                     suite = r->event[6] == 's';

		o = json_object_get(d, suite ? "check_suite" : "check_run");
		if (repo == NULL || !json_is_object(o)) {
			answer(v, 400, "Malformed event", "malformed");
			return;
		}
		c->repo = (char *) repo;
		if (suite) {
			/* one suite per app and commit: name it by its app,
			 * so that one app's passing suite does not hide
			 * another's failing one */
			const char *app = str(o, "app", "slug");

			if (app == NULL)
				app = str(o, "app", "name");
			v->name = app != NULL ? xasprintf("suite:%.100s", app)
			                      : xstrdup("suite");
			c->name = v->name;
		} else
			c->name = (char *) str(o, "name", NULL);
		c->status      = (char *) str(o, "status", NULL);
		c->conclusion  = (char *) str(o, "conclusion", NULL);
		c->head_sha    = (char *) str(o, "head_sha", NULL);
		c->pr_number   = first_pr(o);
		c->delivery_id = v->delivery;
		v->topic       = MSG_CI_CHECK_RUN;
	} else if (strcmp(r->event, "pull_request") == 0) {
		struct msg_ci_pr_event *p = &v->body.pr_event;

		o = json_object_get(d, "pull_request");
		if (repo == NULL || !json_is_object(o)) {
			answer(v, 400, "Malformed event", "malformed");
			return;
		}
		p->repo   = (char *) repo;
		p->action = (char *) str(d, "action", NULL);
		p->pr_number =
		    json_integer_value(json_object_get(d, "number"));
		if (p->pr_number == 0)
			p->pr_number =
			    json_integer_value(json_object_get(o, "number"));
		p->merged      = json_is_true(json_object_get(o, "merged"));
		p->head_ref    = (char *) str(o, "head", "ref");
		p->delivery_id = v->delivery;
		p->sender      = (char *) str(d, "sender", "login");
		p->sender_type = (char *) str(d, "sender", "type");
		v->topic       = MSG_CI_PR_EVENT;
	} else if (strcmp(r->event, "pull_request_review") == 0 ||
	    strcmp(r->event, "pull_request_review_comment") == 0) {
		struct msg_ci_pr_review *p = &v->body.pr_review;
		bool                     c = r->event[19] == '_';

		o = json_object_get(d, "pull_request");
		if (repo == NULL || !json_is_object(o)) {
			answer(v, 400, "Malformed event", "malformed");
			return;
		}
		p->repo   = (char *) repo;
		p->kind   = c ? "review_comment" : "review";
		p->action = (char *) str(d, "action", NULL);
		p->pr_number =
		    json_integer_value(json_object_get(o, "number"));
		p->state       = c ? NULL : (char *) str(d, "review", "state");
		p->sender      = (char *) str(d, "sender", "login");
		p->sender_type = (char *) str(d, "sender", "type");
		p->head_ref    = (char *) str(o, "head", "ref");
		p->delivery_id = v->delivery;
		v->topic       = MSG_CI_PR_REVIEW;
	} else {
		answer(v, 202, "Ignored", "ignored_events");
		return;
	}
	v->status  = 200;
	v->text    = "OK";
	v->counter = "accepted";
}

static void
plane(struct hook_verdict *v)
{
	struct msg_board_webhook *b = &v->body.board;

	if (!msg_obj_ok(v->doc)) { /* it would journal, but never decode */
		answer(v, 400, "Malformed event", "malformed");
		return;
	}
	if (v->event == NULL) {
		const char *e = str(v->doc, "event", NULL);

		if (e == NULL || *e == '\0') {
			answer(v, 400, "Missing event", "malformed");
			return;
		}
		v->event = xstrdup(e);
	}
	b->event       = v->event;
	b->delivery_id = v->delivery;
	b->payload     = v->doc;
	v->topic       = MSG_BOARD_WEBHOOK;
	v->status      = 200;
	v->text        = "OK";
	v->counter     = "accepted";
}

void
hook_classify(struct hook_verdict *v, const struct hook_req *r,
    const char *secret, bool insecure, size_t max_body)
{
	json_error_t jerr;
	struct buf   form;
	bool         is_form;
	int          rv;

	ids(v, r->event, r->delivery, r->len);
	if (r->len > max_body) {
		answer(v, 413, "Payload too large", "oversized");
		return;
	}
	is_form = r->src == HOOK_GITHUB &&
	    media_is(r->content_type, "application/x-www-form-urlencoded");
	if (!is_form && !media_is(r->content_type, "application/json")) {
		answer(v, 415,
		    r->src == HOOK_GITHUB
		        ? "Content-Type must be application/json or "
		          "application/x-www-form-urlencoded"
		        : "Content-Type must be application/json",
		    "unsupported_media");
		return;
	}
	if (secret == NULL || *secret == '\0') {
		if (!insecure) {
			answer(v, 503, "Webhook secret not configured",
			    "refused_no_secret");
			return;
		}
	} else if (!(r->src != HOOK_PLANE
	                   ? hmac_verify(r->signature, secret, r->body, r->len)
	                   : hmac_verify_hex(
	                         r->signature, secret, r->body, r->len))) {
		answer(v, 401, "Invalid signature", "rejected_signature");
		return;
	}
	if (r->src == HOOK_GITHUB && v->event == NULL) {
		answer(v, 400, "Missing X-GitHub-Event", "malformed");
		return;
	}
	if (is_form) {
		buf_init(&form);
		if ((rv = hook_form_payload(&form, r->body, r->len)) != 0) {
			buf_fini(&form);
			answer(v, 400,
			    rv == ERR_NOTFOUND ? "Missing payload field"
			                       : "Malformed form body",
			    "malformed");
			return;
		}
		v->doc =
		    json_loadb(form.data ? form.data : "", form.len, 0, &jerr);
		buf_fini(&form);
	} else
		v->doc = json_loadb(r->body, r->len, 0, &jerr);
	if (!json_is_object(v->doc)) {
		answer(v, 400, "Malformed JSON", "malformed");
		return;
	}
	if (r->src == HOOK_GITHUB)
		github(v, r);
	else if (r->src == HOOK_INGEST)
		ingest_parse(v);
	else
		plane(v);
}

void
hook_verdict_fini(struct hook_verdict *v)
{
	free(v->event);
	free(v->delivery);
	free(v->name);
	json_decref(v->doc);
	memset(v, 0, sizeof(*v));
}
