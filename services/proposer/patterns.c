/*
 * patterns.c - rejection patterns: what human reviewers said on the pull
 * requests of earlier proposals, per repo:family (the original's
 * state/rejection_patterns.json: {repo_key}:{family} -> patterns {name:
 * count} and last_seen {name: time}).
 *
 * board-sync journals review.feedback with the pattern classes of the
 * comments it had not counted before (services/board_sync/review.c);
 * each adds to the counts of its task's repo and family, with the time
 * seen.  A pull request closed without merge by a human counts as
 * closed_unmerged and rejects the task's dedup key for good, as a task
 * Cancelled on the board does (on_task_updated): the rejection store, and
 * the outcome "rejected" for the calibration.  The next proposals of that
 * repo and family carry the most frequent patterns in their goal, so the
 * backend meets the known objections first.
 */
#include <stdio.h>
#include <string.h>

#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/util.h"
#include "proposer.h"

#define NOTE_PATTERNS 5

static const struct {
	const char *name, *hint;
} hints[] = {
	{ "changes_requested", "reviewers requested changes" },
	{ "closed_unmerged", "pull requests were closed without merge" },
	{ "scope_too_large",
	    "keep the change small and on its subject; no unrelated edits" },
	{ "missing_tests", "add or update tests that cover the change" },
	{ "style", "follow the repo's style, naming and formatting" },
	{ "incorrect",
	    "make sure the change is correct: run the validation, check "
	    "edge cases" },
	{ "not_needed",
	    "check that the change is wanted and not already done" },
	{ "docs", "update the documentation the change affects" },
	{ "compatibility", "keep public interfaces backward compatible" },
	{ "security", "mind security: no secrets, no unsafe input handling" },
	{ "performance", "mind performance and memory" },
	{ "other", "see the earlier reviews" },
};

static const char *
hint_of(const char *name)
{
	size_t i;

	for (i = 0; i < nitems(hints); i++)
		if (strcmp(hints[i].name, name) == 0)
			return (hints[i].hint);
	return ("");
}

int
proposer_patterns_init(struct svc *svc)
{
	return (store_exec(svc_store(svc),
	    "CREATE TABLE IF NOT EXISTS review_pattern ("
	    " repo TEXT NOT NULL, family TEXT NOT NULL,"
	    " pattern TEXT NOT NULL, count INTEGER NOT NULL,"
	    " last_seen INTEGER NOT NULL,"
	    " PRIMARY KEY (repo, family, pattern));"));
}

static int
add(struct svc *svc, const char *repo, const char *family, const char *p,
    int64_t n, int64_t at)
{
	return (store_run(svc_store(svc),
	    "INSERT INTO review_pattern(repo, family, pattern, count,"
	    " last_seen) VALUES (?, ?, ?, ?, ?) ON CONFLICT(repo, family,"
	    " pattern) DO UPDATE SET count = count + excluded.count,"
	    " last_seen = max(last_seen, excluded.last_seen)",
	    "tttii", repo, family, p, n, at));
}

int
proposer_on_review(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_review_feedback *f = &m->body.review_feedback;
	const struct msg_tally           *t;
	char                             *why;
	size_t                            i;
	int                               rv = 0;

	(void) state;
	if (f->repo_key != NULL && f->family != NULL) {
		for (i = 0; i < f->patterns.n && rv == 0; i++) {
			t = &f->patterns.v[i];
			if (t->key != NULL && t->count > 0)
				rv = add(svc, f->repo_key, f->family, t->key,
				    t->count, m->ts);
		}
		if (rv == 0 && f->closed_unmerged)
			rv = add(svc, f->repo_key, f->family,
			    "closed_unmerged", 1, m->ts);
	}
	if (rv != 0 || !f->closed_unmerged)
		return (rv);
	/* a human closed it unmerged: as a Cancelled task, a rejection */
	why = xasprintf("pull request #%lld closed without merge by %s",
	    (long long) f->pr_number, f->closed_by ? f->closed_by : "a human");
	rv  = store_run(svc_store(svc),
	     "UPDATE emitted SET outcome = 'rejected', outcome_at = ? WHERE"
	      " task_id = ?",
	     "it", m->ts, f->task_id);
	if (rv == 0)
		rv = store_run(svc_store(svc),
		    "INSERT OR IGNORE INTO rejection(dedup_key, reason,"
		    " task_id, task_title, recorded_at) SELECT dedup_key, ?,"
		    " task_id, title, ? FROM emitted WHERE task_id = ?",
		    "tit", why, m->ts, f->task_id);
	if (rv == 0 && store_changes(svc_store(svc)) > 0)
		log_info("proposer.rejection", "%s: %s: its key is rejected",
		    f->task_id, why);
	free(why);
	return (rv);
}

char *
proposer_patterns_note(struct svc *svc, const char *repo, const char *family)
{
	struct store_stmt *st;
	struct buf         b;
	char               at[40];
	int                n = 0;

	if (store_prep(svc_store(svc), &st,
	        "SELECT pattern, count, last_seen FROM review_pattern WHERE"
	        " repo = ? AND family = ? ORDER BY count DESC, last_seen DESC,"
	        " pattern LIMIT ?") != 0)
		return (NULL);
	store_bind_text(st, 1, repo);
	store_bind_text(st, 2, family);
	store_bind_int(st, 3, NOTE_PATTERNS);
	buf_init(&b);
	while (store_step(st) == 1) {
		if (n++ == 0)
			buf_printf(&b,
			    "\n\n## Reviewer feedback on earlier %s "
			    "proposals in %s\n\nHuman reviewers of their pull "
			    "requests said, most often first:\n",
			    family, repo);
		buf_printf(&b, "- %s (%lld, last %s): %s\n",
		    store_col_text(st, 0), (long long) store_col_int(st, 1),
		    iso8601(store_col_int(st, 2), at, sizeof(at)),
		    hint_of(store_col_text(st, 0)));
	}
	store_done(st);
	if (n == 0) {
		buf_fini(&b);
		return (NULL);
	}
	return (buf_cstr(&b));
}

int
proposer_ctl_patterns(struct svc *svc, const struct msg *req, json_t **data,
    char *err, size_t errlen, void *state)
{
	const struct msg_proposer_patterns *q = &req->body.proposer_patterns;
	struct store_stmt                  *st;
	json_t                             *out = json_object(), *e, *list;
	char                                key[600], at[40];
	int                                 rv;

	(void) err;
	(void) errlen;
	(void) state;
	if ((rv = store_prep(svc_store(svc), &st,
	         "SELECT repo, family, pattern, count, last_seen FROM"
	         " review_pattern WHERE (?1 IS NULL OR repo = ?1) AND"
	         " (?2 IS NULL OR family = ?2) ORDER BY repo, family,"
	         " count DESC, pattern")) != 0) {
		json_decref(out);
		return (rv);
	}
	if (q->repo != NULL)
		store_bind_text(st, 1, q->repo);
	else
		store_bind_null(st, 1);
	if (q->family != NULL)
		store_bind_text(st, 2, q->family);
	else
		store_bind_null(st, 2);
	while (store_step(st) == 1) {
		snprintf(key, sizeof(key), "%s:%s", store_col_text(st, 0),
		    store_col_text(st, 1));
		if ((e = json_object_get(out, key)) == NULL) {
			e = json_pack("{s:s, s:s, s:{}, s:{}}", "repo",
			    store_col_text(st, 0), "family",
			    store_col_text(st, 1), "patterns", "last_seen");
			json_object_set_new(out, key, e);
		}
		json_object_set_new(json_object_get(e, "patterns"),
		    store_col_text(st, 2), json_integer(store_col_int(st, 3)));
		json_object_set_new(json_object_get(e, "last_seen"),
		    store_col_text(st, 2),
		    json_string(
		        iso8601(store_col_int(st, 4), at, sizeof(at))));
	}
	store_done(st);
	list  = out;
	*data = json_pack("{s:o}", "patterns", list);
	return (0);
}
