/*
 * review.c - review feedback: what humans say on a proposed task's pull
 * request, fetched from GitHub and journaled as review.feedback.
 *
 * A run that opened a pull request (exec.finished's pull_request_url,
 * ".../<owner>/<name>/pull/<n>") is remembered per task (task_pr).  When
 * a review or a review comment arrives for that pull request
 * (ci.pr_review), or it is closed without merge (ci.pr_event closed,
 * merged false), and the task is a proposal's (a "source-family:" label),
 * a fetch is queued (review_fetch, one row per task, debounced by
 * review_fetch_delay).  The effect loop, once caught up, runs one fetch at
 * a time through GitHub's REST API (docs.github.com, REST: "List reviews
 * for a pull request" GET /repos/{o}/{r}/pulls/{n}/reviews, "List review
 * comments on a pull request" GET .../pulls/{n}/comments, "List issue
 * comments" GET .../issues/{n}/comments; "Using pagination": per_page=100
 * and the Link header's rel="next", followed only on the same API base,
 * at most REVIEW_PAGES pages each), with github.api_url and the repo's
 * token (repos.<key>.token_env, else git.token_env).
 *
 * It reads the pull request first (GET .../pulls/{n}: its author, whose
 * own replies are no objections).  Each comment by a human (user.type
 * not "Bot", login not "...[bot]", not the author; approvals and pending
 * reviews skipped) counted for the first time
 * (review_seen) adds one to each pattern class its body matches
 * (board_review_classify), a review requesting changes to
 * changes_requested.  The fetch's row goes, its comments are marked seen
 * and review.feedback {task_id, repo_key, family, repo, pr_number,
 * patterns, comments, closed_unmerged, closed_by, fetch_error} is
 * journaled in one transaction.  A fetch that fails is retried
 * (5 s doubling, 5 attempts); one that cannot succeed (no token, 404,
 * 401) ends with fetch_error, so a human's close still reaches the
 * proposer as a rejection.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "board_int.h"
#include "conf.h"
#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/github.h"
#include "opc/http.h"
#include "opc/log.h"
#include "opc/store.h"
#include "opc/util.h"

#define REVIEW_PAGES 20
#define REVIEW_ATTEMPTS 5
#define REVIEW_BACKOFF_MS 5000

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS task_pr("
    " task_id TEXT PRIMARY KEY, repo TEXT NOT NULL,"
    " pr_number INTEGER NOT NULL, branch TEXT, url TEXT);"
    "CREATE INDEX IF NOT EXISTS task_pr_pr ON task_pr(repo, pr_number);"
    "CREATE TABLE IF NOT EXISTS review_fetch("
    " task_id TEXT PRIMARY KEY, repo TEXT NOT NULL,"
    " pr_number INTEGER NOT NULL, closed_unmerged INTEGER NOT NULL"
    " DEFAULT 0, closed_by TEXT, next_ms INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, gen INTEGER NOT NULL"
    " DEFAULT 1);"
    "CREATE TABLE IF NOT EXISTS review_seen("
    " repo TEXT NOT NULL, kind TEXT NOT NULL, id INTEGER NOT NULL,"
    " task_id TEXT, at INTEGER NOT NULL, PRIMARY KEY (repo, kind, id));";

/* The pattern classes: a comment is in a class when its text holds one
 * of the phrases at a word's start (case-insensitive). */
static const struct {
	const char *name;
	const char *phrases[12];
} classes[] = {
	{ "scope_too_large",
	    { "too large", "too big", "split", "smaller pr", "too many change",
	        "unrelated", "out of scope", "scope creep", NULL } },
	{ "missing_tests", { "test", "coverage", NULL } },
	{ "style",
	    { "style", "naming", "nit", "format", "lint", "typo", NULL } },
	{ "incorrect",
	    { "bug", "wrong", "incorrect", "broken", "breaks", "regression",
	        "doesn't work", "does not work", "fails", NULL } },
	{ "not_needed",
	    { "not needed", "unnecessary", "no need", "won't fix", "wontfix",
	        "don't want", "do not want", "not useful", "duplicate",
	        "already", NULL } },
	{ "docs",
	    { "document", "docs", "readme", "changelog", "docstring", NULL } },
	{ "compatibility",
	    { "breaking change", "backward", "compatib", "api change",
	        NULL } },
	{ "security",
	    { "security", "secret", "unsafe", "vulnerab", "injection",
	        NULL } },
	{ "performance", { "slow", "performance", "memory", NULL } },
};

/* has_word: phrase occurs in low at the start of a word. */
static bool
has_word(const char *low, const char *phrase)
{
	const char *p = low;
	size_t      n = strlen(phrase);

	while ((p = strstr(p, phrase)) != NULL) {
		if (p == low || !isalnum((unsigned char) p[-1]))
			return (true);
		p += n;
	}
	return (false);
}

void
board_review_classify(const char *text, json_t *counts)
{
	char  *low;
	size_t i, j;
	bool   any = false;

	if (text == NULL || *text == '\0')
		return;
	low = xstrdup(text);
	for (i = 0; low[i] != '\0'; i++)
		low[i] = (char) tolower((unsigned char) low[i]);
	for (i = 0; i < nitems(classes); i++)
		for (j = 0; classes[i].phrases[j] != NULL; j++)
			if (has_word(low, classes[i].phrases[j])) {
				json_object_set_new(counts, classes[i].name,
				    json_integer(
				        json_integer_value(json_object_get(
				            counts, classes[i].name)) +
				        1));
				any = true;
				break;
			}
	if (!any)
		json_object_set_new(counts, "other",
		    json_integer(
		        json_integer_value(json_object_get(counts, "other")) +
		        1));
	free(low);
}

/* ------------------------------------------------------------- handlers */

struct breview {
	struct http *http;
	bool         busy;
	/* the fetch in flight */
	char   *task_id, *repo, *repo_key, *family, *closed_by, *api;
	char   *token;
	char   *author; /* who opened the pull request */
	int64_t pr, gen, attempts;
	bool    closed;
	int     stage, pages;
	json_t *items[3];
};

int
board_review_init(struct svc *svc, struct board *b)
{
	b->review = xcalloc(1, sizeof(*b->review));
	return (store_exec(svc_store(svc), schema));
}

static void
fetch_clear(struct breview *r)
{
	size_t i;

	free(r->task_id);
	free(r->repo);
	free(r->repo_key);
	free(r->family);
	free(r->closed_by);
	free(r->api);
	free(r->token);
	free(r->author);
	for (i = 0; i < nitems(r->items); i++)
		json_decref(r->items[i]);
	memset(&r->task_id, 0, sizeof(*r) - offsetof(struct breview, task_id));
	r->busy = false;
}

void
board_review_fini(struct board *b)
{
	if (b->review == NULL)
		return;
	http_close(&b->review->http); /* runs no callback of ours: cleared */
	fetch_clear(b->review);
	free(b->review);
	b->review = NULL;
}

/* pr_of parses ".../<owner>/<name>/pull/<n>"; 0 or ERR_INVAL. */
static int
pr_of(const char *url, char *repo, size_t len, int64_t *n)
{
	const char *p = url ? strstr(url, "/pull/") : NULL, *o;
	char       *end;
	int         slashes = 0;

	if (p == NULL)
		return (ERR_INVAL);
	*n = strtoll(p + 6, &end, 10);
	if (*n <= 0 || (*end != '\0' && *end != '/' && *end != '#'))
		return (ERR_INVAL);
	for (o = p; o > url; o--)
		if (o[-1] == '/' && ++slashes == 2)
			break;
	if (slashes != 2 || (size_t) (p - o) >= len)
		return (ERR_INVAL);
	snprintf(repo, len, "%.*s", (int) (p - o), o);
	return (0);
}

int
board_review_note(
    struct svc *svc, const char *task_id, const struct msg_exec_finished *f)
{
	char    repo[300];
	int64_t n;

	if (f->pull_request_url == NULL ||
	    pr_of(f->pull_request_url, repo, sizeof(repo), &n) != 0)
		return (0);
	return (store_run(svc_store(svc),
	    "INSERT OR REPLACE INTO task_pr(task_id, repo, pr_number, branch,"
	    " url) VALUES (?, ?, ?, ?, ?)",
	    "ttitt", task_id, repo, n, f->branch_name, f->pull_request_url));
}

/* family_of returns the task's source family (from its labels), or NULL;
 * the caller frees it. */
static char *
family_of(const struct task *t)
{
	json_t     *l = json_loads(t->labels ? t->labels : "[]", 0, NULL), *v;
	const char *s;
	char       *fam = NULL;
	size_t      i;

	json_array_foreach (l, i, v) {
		s = json_string_value(v);
		if (s != NULL && strncasecmp(s, "source-family:", 14) == 0) {
			s += 14;
			while (*s == ' ')
				s++;
			if (*s != '\0')
				fam = xstrdup(s);
			break;
		}
	}
	json_decref(l);
	return (fam);
}

/* queue asks for a fetch of the task's pull request. */
static int
queue(struct svc *svc, const char *repo, int64_t pr, const char *head_ref,
    bool closed, const char *closed_by)
{
	struct store_stmt *st;
	struct task        t;
	char              *tid   = NULL, *fam;
	int64_t            delay = 5000;
	char               err[128];
	int                rv;

	if (store_prep(svc_store(svc), &st,
	        "SELECT task_id FROM task_pr WHERE (lower(repo) = lower(?1)"
	        " AND pr_number = ?2) OR (?3 IS NOT NULL AND branch = ?3)"
	        " ORDER BY (pr_number = ?2) DESC LIMIT 1") != 0)
		return (ERR_IO);
	store_bind_text(st, 1, repo);
	store_bind_int(st, 2, pr);
	if (head_ref != NULL)
		store_bind_text(st, 3, head_ref);
	else
		store_bind_null(st, 3);
	if (store_step(st) == 1)
		tid = xstrdup(store_col_text(st, 0));
	store_done(st);
	if (tid == NULL)
		return (0); /* not a pull request of ours */
	if ((rv = board_task_get(svc, tid, &t)) != 0) {
		free(tid);
		return (rv == ERR_NOTFOUND ? 0 : rv);
	}
	fam = family_of(&t);
	board_task_fini(&t);
	if (fam == NULL) { /* not a proposal: no family to learn for */
		free(tid);
		return (0);
	}
	(void) cfg_tab_ms(board_sync_keys, svc_cfg(svc), "review_fetch_delay",
	    &delay, err, sizeof(err));
	rv = store_run(svc_store(svc),
	    "INSERT INTO review_fetch(task_id, repo, pr_number,"
	    " closed_unmerged, closed_by, next_ms) VALUES (?, ?, ?, ?, ?, ?)"
	    " ON CONFLICT(task_id) DO UPDATE SET closed_unmerged ="
	    " max(closed_unmerged, excluded.closed_unmerged), closed_by ="
	    " coalesce(excluded.closed_by, closed_by), next_ms ="
	    " excluded.next_ms, attempts = 0, gen = gen + 1",
	    "ttiiti", tid, repo, pr, (int64_t) closed, closed_by,
	    now_ms() + delay);
	if (rv == 0)
		log_info("board.review",
		    "%s: %s#%lld %s: feedback fetch queued", tid, repo,
		    (long long) pr, closed ? "closed unmerged" : "reviewed");
	free(tid);
	free(fam);
	return (rv);
}

/* human: a GitHub account that is not an app's bot. */
static bool
human(const char *login, const char *type)
{
	size_t n = login ? strlen(login) : 0;

	if (type != NULL && strcasecmp(type, "Bot") == 0)
		return (false);
	return (n > 0 && !(n > 5 && strcmp(login + n - 5, "[bot]") == 0));
}

int
board_on_pr_review(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_ci_pr_review *r = &m->body.ci_pr_review;

	(void) state;
	if (!human(r->sender, r->sender_type))
		return (0);
	return (queue(svc, r->repo, r->pr_number, r->head_ref, false, NULL));
}

int
board_on_pr_event(struct svc *svc, const struct msg *m, void *state)
{
	const struct msg_ci_pr_event *p = &m->body.ci_pr_event;

	(void) state;
	if (p->action == NULL || strcmp(p->action, "closed") != 0 || p->merged)
		return (0);
	/* a bot closing it (a stale-bot, our own cleanup) rejects nothing */
	if (!human(p->sender, p->sender_type))
		return (0);
	return (
	    queue(svc, p->repo, p->pr_number, p->head_ref, true, p->sender));
}

/* --------------------------------------------------------------- fetch */

static void fetch_next(struct svc *, struct breview *, const char *url);

/* finish journals what the fetch found (or err) and drops its row. */
static void
finish(struct svc *svc, struct breview *r, const char *err)
{
	static const char *const   kinds[] = { "review", "review_comment",
		  "issue_comment" };
	struct msg_review_feedback fb;
	json_t                    *counts = json_object(), *it;
	struct store              *st     = svc_store(svc);
	const char                *login, *type, *state, *body;
	int64_t                    comments = 0, id, seen;
	size_t                     k, i;
	int                        rv;

	if ((rv = svc_begin(svc)) != 0)
		goto out;
	for (k = 0; k < nitems(kinds) && err == NULL; k++)
		json_array_foreach (r->items[k], i, it) {
			id    = json_integer_value(json_object_get(it, "id"));
			login = json_string_value(json_object_get(
			    json_object_get(it, "user"), "login"));
			type  = json_string_value(json_object_get(
			     json_object_get(it, "user"), "type"));
			state =
			    json_string_value(json_object_get(it, "state"));
			body = json_string_value(json_object_get(it, "body"));
			/* the author's replies are no objections */
			if (id <= 0 || !human(login, type) ||
			    (login != NULL && r->author != NULL &&
			        strcasecmp(login, r->author) == 0) ||
			    (state != NULL &&
			        (strcmp(state, "APPROVED") == 0 ||
			            strcmp(state, "PENDING") == 0)))
				continue;
			seen = 0;
			(void) store_int(st, &seen, 0,
			    "SELECT count(*) FROM review_seen WHERE repo = ?"
			    " AND kind = ? AND id = ?",
			    "tti", r->repo, kinds[k], id);
			if (seen > 0)
				continue;
			if ((rv = store_run(st,
			         "INSERT INTO review_seen(repo, kind, id,"
			         " task_id, at) VALUES (?, ?, ?, ?, ?)",
			         "ttiti", r->repo, kinds[k], id, r->task_id,
			         now_ms())) != 0)
				goto fail;
			comments++;
			if (state != NULL &&
			    strcmp(state, "CHANGES_REQUESTED") == 0)
				json_object_set_new(counts,
				    "changes_requested",
				    json_integer(
				        json_integer_value(json_object_get(
				            counts, "changes_requested")) +
				        1));
			board_review_classify(body, counts);
		}
	if ((rv = store_run(st,
	         "DELETE FROM review_fetch WHERE task_id = ? AND gen = ?",
	         "ti", r->task_id, r->gen)) != 0)
		goto fail;
	if (json_object_size(counts) > 0 || r->closed || err != NULL) {
		memset(&fb, 0, sizeof(fb));
		fb.task_id         = r->task_id;
		fb.repo_key        = r->repo_key;
		fb.family          = r->family;
		fb.repo            = r->repo;
		fb.pr_number       = r->pr;
		fb.comments        = comments;
		fb.closed_unmerged = r->closed;
		fb.closed_by       = r->closed_by;
		fb.fetch_error     = (char *) err;
		msg_tally_add_obj(&fb.patterns, counts);
		rv = svc_emit(svc, MSG_REVIEW_FEEDBACK, r->task_id, &fb);
		msg_tally_list_fini(&fb.patterns);
		if (rv != 0)
			goto fail;
	}
	if ((rv = svc_commit(svc)) != 0)
		goto out;
	log_info("board.review_feedback",
	    "%s: %s#%lld: %lld new comment(s)%s%s%s", r->task_id, r->repo,
	    (long long) r->pr, (long long) comments,
	    r->closed ? ", closed unmerged" : "", err ? ": " : "",
	    err ? err : "");
	goto out;
fail:
	(void) svc_rollback(svc);
out:
	if (rv != 0)
		log_warn("board.review", "%s: cannot record the feedback: %s",
		    r->task_id, err_str(rv));
	json_decref(counts);
	fetch_clear(r);
}

/* retry gives the fetch back to the queue, or ends it after the last
 * attempt. */
static void
retry(struct svc *svc, struct breview *r, const char *why)
{
	char msg[300];

	if (r->attempts + 1 >= REVIEW_ATTEMPTS) {
		snprintf(msg, sizeof(msg), "gave up after %d attempts: %s",
		    REVIEW_ATTEMPTS, why);
		finish(svc, r, msg);
		return;
	}
	log_warn("board.review", "%s: %s#%lld: %s (retrying)", r->task_id,
	    r->repo, (long long) r->pr, why);
	(void) store_run(svc_store(svc),
	    "UPDATE review_fetch SET attempts = attempts + 1, next_ms = ?"
	    " WHERE task_id = ?",
	    "it", now_ms() + (REVIEW_BACKOFF_MS << r->attempts), r->task_id);
	fetch_clear(r);
}

struct fetch_arg {
	struct svc     *svc;
	struct breview *r;
};

static void
on_page(struct http *h, const struct http_resp *resp, void *arg)
{
	struct fetch_arg *a   = arg;
	struct svc       *svc = a->svc;
	struct breview   *r   = a->r;
	json_t           *j;
	char              why[300], *next;

	(void) h;
	free(a);
	if (resp->err == ERR_CLOSED)
		return;
	if (resp->err != 0 || resp->status >= 500 || resp->status == 429 ||
	    resp->status == 403) {
		snprintf(why, sizeof(why), "GitHub: %s",
		    resp->err ? resp->errmsg : "status");
		if (resp->err == 0)
			snprintf(why, sizeof(why), "GitHub answered %d",
			    resp->status);
		retry(svc, r, why);
		return;
	}
	if (resp->status != 200) {
		snprintf(why, sizeof(why), "GitHub answered %d", resp->status);
		finish(svc, r, why);
		return;
	}
	j = json_loadb(
	    resp->body.data ? resp->body.data : "", resp->body.len, 0, NULL);
	if (r->stage == 0) { /* the pull request: who opened it */
		r->author = xstrdup_null(json_string_value(
		    json_object_get(json_object_get(j, "user"), "login")));
		json_decref(j);
		r->stage++;
		fetch_next(svc, r, NULL);
		return;
	}
	if (!json_is_array(j)) {
		json_decref(j);
		retry(svc, r, "GitHub's answer is not a list");
		return;
	}
	json_array_extend(r->items[r->stage - 1], j);
	json_decref(j);
	next = github_link_next(http_header(resp, "Link"));
	if (next != NULL && ++r->pages < REVIEW_PAGES &&
	    strncmp(next, r->api, strlen(r->api)) == 0) {
		fetch_next(svc, r, next);
		free(next);
		return;
	}
	free(next);
	r->pages = 0;
	if (++r->stage > (int) nitems(r->items)) {
		finish(svc, r, NULL);
		return;
	}
	fetch_next(svc, r, NULL);
}

/* fetch_next asks for url, or for the first page of the current stage. */
static void
fetch_next(struct svc *svc, struct breview *r, const char *url)
{
	static const char *const paths[][2] = { { "pulls", "reviews" },
		{ "pulls", "comments" }, { "issues", "comments" } };
	struct http_req          req;
	struct fetch_arg        *a;
	char                    *u, *auth, path[64];
	const char              *hdrs[4];

	if (url == NULL && r->stage == 0)
		u = xasprintf("%s/repos/%s/pulls/%lld", r->api, r->repo,
		    (long long) r->pr);
	else if (url == NULL) {
		snprintf(path, sizeof(path), "%s/%lld/%s",
		    paths[r->stage - 1][0], (long long) r->pr,
		    paths[r->stage - 1][1]);
		u = xasprintf(
		    "%s/repos/%s/%s?per_page=100", r->api, r->repo, path);
	} else
		u = xstrdup(url);
	auth    = xasprintf("Authorization: Bearer %s", r->token);
	hdrs[0] = auth;
	hdrs[1] = "Accept: application/vnd.github+json";
	hdrs[2] = "X-GitHub-Api-Version: 2022-11-28";
	hdrs[3] = NULL;
	memset(&req, 0, sizeof(req));
	req.method     = "GET";
	req.url        = u;
	req.headers    = hdrs;
	req.timeout_ms = 30000;
	a              = xcalloc(1, sizeof(*a));
	a->svc         = svc;
	a->r           = r;
	if (http_send(r->http, &req, on_page, a) == 0) {
		free(a);
		free(u);
		free(auth);
		finish(svc, r, "bad GitHub URL (github.api_url)");
		return;
	}
	free(u);
	free(auth);
}

/* token_of returns repos.<key>.token_env's secret, else git.token_env's. */
static const char *
token_of(struct svc *svc, const char *repo_key)
{
	const struct cfg_node *root = svc_cfg_root(svc);
	const char            *t =
	    cfg_secret(cfg_get(cfg_get(root, "repos"), repo_key), "token_env");

	if (t == NULL || *t == '\0')
		t = cfg_secret(cfg_get(root, "git"), "token_env");
	return (t != NULL && *t != '\0' ? t : NULL);
}

void
board_review_idle(struct svc *svc, struct board *b)
{
	struct breview    *r = b->review;
	struct store_stmt *st;
	struct task        t;
	const char        *api = NULL, *tok;
	char               err[256];
	size_t             i;

	if (r == NULL || r->busy)
		return;
	if (store_prep(svc_store(svc), &st,
	        "SELECT task_id, repo, pr_number, closed_unmerged, closed_by,"
	        " attempts, gen FROM review_fetch WHERE next_ms <= ?"
	        " ORDER BY next_ms LIMIT 1") != 0)
		return;
	store_bind_int(st, 1, now_ms());
	if (store_step(st) == 1) {
		r->busy      = true;
		r->task_id   = store_col_dup(st, 0);
		r->repo      = store_col_dup(st, 1);
		r->pr        = store_col_int(st, 2);
		r->closed    = store_col_int(st, 3) != 0;
		r->closed_by = store_col_dup(st, 4);
		r->attempts  = store_col_int(st, 5);
		r->gen       = store_col_int(st, 6);
	}
	store_done(st);
	if (!r->busy)
		return;
	for (i = 0; i < nitems(r->items); i++)
		r->items[i] = json_array();
	if (board_task_get(svc, r->task_id, &t) == 0) {
		r->repo_key = xstrdup(t.repo_key);
		r->family   = family_of(&t);
		board_task_fini(&t);
	}
	if (r->repo_key == NULL) {
		finish(svc, r, "the task is gone");
		return;
	}
	if ((tok = token_of(svc, r->repo_key)) == NULL) {
		finish(svc, r, "no GitHub token (git.token_env)");
		return;
	}
	(void) cfg_tab_str(executor_github_keys,
	    cfg_get(svc_cfg_root(svc), "github"), "api_url", &api, err,
	    sizeof(err));
	r->api   = xstrdup(api ? api : "https://api.github.com");
	r->token = xstrdup(tok);
	if (r->api[0] != '\0' && r->api[strlen(r->api) - 1] == '/')
		r->api[strlen(r->api) - 1] = '\0';
	if (r->http == NULL && http_open(&r->http, svc_loop(svc)) != 0) {
		retry(svc, r, "cannot open an HTTP client");
		return;
	}
	fetch_next(svc, r, NULL);
}

void
board_review_status(struct svc *svc, json_t *obj)
{
	int64_t n = 0;

	(void) store_int(
	    svc_store(svc), &n, 0, "SELECT count(*) FROM review_fetch", NULL);
	json_object_set_new(obj, "review_fetches", json_integer(n));
}
