/*
 * ingest.c - error reports POSTed to /ingest: validation (pure) and the
 * fingerprint dedup (the loop-thread half).
 *
 * A report is a JSON object {service, message, stack?, fingerprint, repo}
 * (other keys ignored), signed like a GitHub delivery: X-Hub-Signature-256
 * "sha256=" + hex HMAC-SHA256 of the raw body under the secret that
 * ingest_secret_env names (hook.c checks it before this file sees the
 * body).  Bounds: fingerprint 1..128 bytes of [A-Za-z0-9._:/+=-], repo a
 * repo key (letters, digits, ._-), service 1..128 bytes, message 1..4096,
 * stack at most 32768; anything else is 400 (counter ingest_invalid).
 *
 * Dedup: the table ingest_seen keeps, per "<repo>:<fingerprint>", when a
 * task was last asked for (created_ms), the reports since and the last
 * one's time.  A report whose key was asked for within ingest_dedup_window
 * is a duplicate (200 "duplicate", counter ingest_duplicates); any other
 * journals ingest.error in the same transaction as its row (200 "ok",
 * counter ingest_accepted), so a restart, a crash or a redelivered report
 * never asks twice, and board-sync makes exactly one improve task of each
 * ingest.error it consumes.
 */
#include <stdio.h>
#include <string.h>

#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/svc.h"
#include "webhook.h"

#define FP_MAX 128
#define SERVICE_MAX 128
#define REPO_MAX 256
#define MESSAGE_MAX 4096
#define STACK_MAX 32768

static bool
fp_ok(const char *s)
{
	size_t n = strlen(s);

	return (n > 0 && n <= FP_MAX &&
	    strspn(s,
	        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	        "0123456789._:/+=-") == n);
}

/* field reads key of o as a string of min..max bytes; NULL (with *why)
 * when it is not one. */
static const char *
field(
    const json_t *o, const char *key, size_t min, size_t max, const char **why)
{
	json_t     *j = json_object_get(o, key);
	const char *s;
	size_t      n;

	if (j == NULL || json_is_null(j)) {
		if (min > 0 && *why == NULL)
			*why = "missing field";
		return (NULL);
	}
	if (!json_is_string(j)) {
		if (*why == NULL)
			*why = "a field is not a string";
		return (NULL);
	}
	s = json_string_value(j);
	n = json_string_length(j);
	if (n < min || n > max || strlen(s) != n) {
		if (*why == NULL)
			*why = n < min ? "empty field" : "field too long";
		return (NULL);
	}
	return (s);
}

void
ingest_parse(struct hook_verdict *v)
{
	struct msg_ingest_error *e   = &v->body.ingest;
	const char              *why = NULL;

	e->service = (char *) field(v->doc, "service", 1, SERVICE_MAX, &why);
	e->message = (char *) field(v->doc, "message", 1, MESSAGE_MAX, &why);
	e->stack   = (char *) field(v->doc, "stack", 0, STACK_MAX, &why);
	e->fingerprint =
	    (char *) field(v->doc, "fingerprint", 1, FP_MAX, &why);
	e->repo = (char *) field(v->doc, "repo", 1, REPO_MAX, &why);
	if (why == NULL && !fp_ok(e->fingerprint))
		why = "bad fingerprint (1-128 of A-Z a-z 0-9 . _ : / + = -)";
	if (why == NULL && !id_valid(e->repo))
		why = "bad repo key";
	if (why != NULL) {
		v->status  = 400;
		v->text    = why;
		v->counter = "ingest_invalid";
		v->topic   = MSG_NONE;
		return;
	}
	v->name      = xasprintf("%s:%s", e->repo, e->fingerprint);
	e->dedup_key = v->name;
	v->event     = v->event ? v->event : xstrdup("ingest");
	v->topic     = MSG_INGEST_ERROR;
	v->status    = 200;
	v->text      = "ok";
	v->counter   = "ingest_accepted";
}

int
ingest_init(struct svc *svc)
{
	return (store_exec(svc_store(svc),
	    "CREATE TABLE IF NOT EXISTS ingest_seen("
	    " dedup_key TEXT PRIMARY KEY, repo TEXT NOT NULL,"
	    " fingerprint TEXT NOT NULL, service TEXT,"
	    " created_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,"
	    " reports INTEGER NOT NULL, duplicates INTEGER NOT NULL"
	    " DEFAULT 0)"));
}

int
ingest_journal(struct svc *svc, struct hook_verdict *v, int64_t window_ms)
{
	struct msg_ingest_error *e   = &v->body.ingest;
	struct store            *st  = svc_store(svc);
	int64_t                  now = now_ms(), created = 0;
	int                      rv;

	if ((rv = svc_begin(svc)) != 0)
		return (rv);
	if ((rv = store_int(st, &created, 0,
	         "SELECT created_ms FROM ingest_seen WHERE dedup_key = ?", "t",
	         e->dedup_key)) != 0)
		goto fail;
	if (created > 0 && now - created < window_ms) {
		rv = store_run(st,
		    "UPDATE ingest_seen SET last_ms = ?, reports = reports + "
		    "1,"
		    " duplicates = duplicates + 1 WHERE dedup_key = ?",
		    "it", now, e->dedup_key);
		if (rv == 0 && (rv = svc_commit(svc)) == 0)
			return (ERR_EXISTS);
		goto fail;
	}
	if ((rv = store_run(st,
	         "INSERT INTO ingest_seen(dedup_key, repo, fingerprint,"
	         " service, created_ms, last_ms, reports) VALUES (?, ?, ?, ?,"
	         " ?, ?, 1) ON CONFLICT(dedup_key) DO UPDATE SET"
	         " created_ms = excluded.created_ms, last_ms ="
	         " excluded.last_ms, reports = reports + 1",
	         "ttttii", e->dedup_key, e->repo, e->fingerprint, e->service,
	         now, now)) != 0)
		goto fail;
	e->first_seen = now;
	if ((rv = svc_emit(svc, MSG_INGEST_ERROR, e->dedup_key, e)) != 0)
		goto fail;
	return (svc_commit(svc));

fail:
	(void) svc_rollback(svc);
	return (rv);
}

void
ingest_prune(struct svc *svc, int64_t window_ms)
{
	/* a key past its window asks again anyway: its row is history */
	if (store_run(svc_store(svc),
	        "DELETE FROM ingest_seen WHERE last_ms < ?", "i",
	        now_ms() - window_ms - 24 * 3600 * 1000LL) != 0)
		log_warn("webhook.prune", "cannot prune ingest fingerprints");
}
