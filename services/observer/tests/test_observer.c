/*
 * test_observer.c - the observer through its real descriptor in-process,
 * forking the real opc-observe-run against real git checkouts.
 *
 * The webhook upstream exists in the topology but is never started: CI
 * events are fed with ctl inject.  Snapshots are read back the way any
 * consumer would, by replaying the observer's journal over ctl; the
 * history table is read from its sqlite file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "observer.h"
#include "opc/bus.h"
#include "opc/err.h"
#include "opc/store.h"
#include "testbed.h"

#define WAIT 30000 /* ms: only to avoid hanging */
#define LINT "[grep, -rnH, --include=*.py, \"print(\", .]"

struct fx {
	char          *dir;
	char          *yaml;
	struct topo   *topo;
	struct tb_svc *obs;
	const char    *url;
};

static char *
git_head(const char *repo)
{
	char buf[128] = "", *cmd = xasprintf("git -C %s rev-parse HEAD", repo);
	FILE *p = popen(cmd, "r");

	assert_non_null(p);
	assert_non_null(fgets(buf, sizeof(buf), p));
	pclose(p);
	free(cmd);
	buf[strcspn(buf, "\n")] = '\0';
	return (xstrdup(buf));
}

#define GIT                                                  \
	"git -c user.name=t -c user.email=t@example.com -c " \
	"commit.gpgsign=false"

/* make_repos: repo/ is a git checkout with 4 "print(" lines in 3 .py
 * files, a TODO, a FIXME, a coverage.xml, then one modified and one
 * untracked file; repo/plain/ (excluded from the checkout) is no
 * checkout of its own: it must not pass for the repository around it. */
static void
make_repos(const char *dir)
{
	tb_sh(
	    "set -e; cd %s; mkdir -p repo/sub repo/plain; cd repo;"
	    " git init -q -b main .; echo plain/ >> .git/info/exclude;"
	    " printf 'print(1)\\nx = 2  # TODO: y\\nprint(2)\\n' > a.py;"
	    " printf 'print(3)\\n' > b.py; printf 'print(4)\\n' > sub/c.py;"
	    " printf 'notes FIXME\\n' > README;"
	    " printf '<coverage line-rate=\"0.75\"><classes><class"
	    " filename=\"a.py\" line-rate=\"0.5\"/></classes></coverage>\\n'"
	    " > coverage.xml;"
	    " git add -A; " GIT " commit -q -m 'first commit';"
	    " printf 'changed\\n' >> README; printf 'new\\n' > untracked.txt",
	    dir);
}

/* fx_start runs the observer; extra replaces "interval: 0". */
static void
fx_start(struct fx *f, const char *tag, const char *extra, const char *worker)
{
	f->dir = tb_dir();
	make_repos(f->dir);
	f->yaml =
	    xasprintf("opcenter:\n"
	              "  state_dir: %s/state\n"
	              "  heartbeat_ms: 50\n"
	              "repos:\n"
	              "  demo:\n"
	              "    local_path: repo\n"
	              "    github_repo: acme/demo\n"
	              "    observe:\n"
	              "      lint_command: " LINT "\n"
	              "  plain:\n"
	              "    clone_url: %s/repo/plain\n"
	              "    observe:\n"
	              "      lint_command: [no-such-linter-xyz, --check]\n"
	              "      type_command: [sleep, '10']\n"
	              "  remote:\n"
	              "    clone_url: https://github.com/acme/remote.git\n"
	              "instances:\n"
	              "  webhook:\n"
	              "    pub: inproc://%s-wh.pub\n"
	              "    ctl: inproc://%s-wh.ctl\n"
	              "  observer:\n"
	              "    upstreams: [webhook]\n"
	              "    pub: inproc://%s-obs.pub\n"
	              "    ctl: inproc://%s-obs.ctl\n"
	              "    catchup_grace_ms: 50\n"
	              "    command_timeout: 2s\n"
	              "    max_parallel: 3\n"
	              "    worker: %s\n"
	              "%s",
	        f->dir, f->dir, tag, tag, tag, tag,
	        worker ? worker : OBSERVE_RUN_BIN,
	        extra ? extra : "    interval: 0\n");
	f->topo = tb_topo(f->dir, f->yaml);
	f->obs  = tb_start(&observer_def, f->topo, "observer");
	f->url  = topo_find(f->topo, "observer")->ctl;
	assert_int_equal(
	    tb_wait_int(f->topo, "observer", "caught_up", 1, WAIT), 1);
}

static void
fx_stop(struct fx *f)
{
	tb_stop(&f->obs);
	topo_close(&f->topo);
	tb_rmrf(f->dir);
	free(f->yaml);
	free(f->dir);
}

/* observe asks for an observation of repo (NULL: all); returns the reply
 * data, asserting success. */
static json_t *
observe_req(struct fx *f, const char *repo)
{
	struct msg_observer_observe rq   = { (char *) repo };
	json_t                     *data = NULL;
	char                        err[256];

	if (ctl_call(f->url, MSG_OBSERVER_OBSERVE, &rq, &data, err,
	        sizeof(err), WAIT) != 0)
		fail_msg("observer.observe: %s", err);
	assert_non_null(data);
	return (data);
}

/* observe_one asks for repo and returns its run id (new string). */
static char *
observe_one(struct fx *f, const char *repo)
{
	json_t *d = observe_req(f, repo), *s;
	char   *id;

	s = json_array_get(json_object_get(d, "started"), 0);
	assert_int_equal(json_array_size(json_object_get(d, "started")), 1);
	assert_string_equal(
	    json_string_value(json_object_get(s, "repo")), repo);
	id = xstrdup(json_string_value(json_object_get(s, "run_id")));
	/* obs_YYYYmmddTHHMMSSZ_xxxxxx */
	assert_int_equal(strlen(id), 27);
	assert_int_equal(strncmp(id, "obs_", 4), 0);
	assert_int_equal(id[12], 'T');
	assert_int_equal(id[19], 'Z');
	json_decref(d);
	return (id);
}

/* snapshots replays the observer's journal and returns every
 * observe.snapshot body (a new array). */
static json_t *
snapshots(struct fx *f)
{
	struct msg_ctl_replay rq = { 1, 1000, 0 };
	struct msg_hdr        h  = { "test", 0, "test:replay", 0, NULL };
	struct bus_msg        bm;
	struct msg            rep, m;
	struct buf            b;
	json_t               *out = json_array();
	char                  err[256];
	size_t                i;

	h.ts = now_ms();
	buf_init(&b);
	assert_int_equal(msg_pack(&b, MSG_CTL_REPLAY, &h, &rq), 0);
	assert_int_equal(bus_request(f->url, b.data, b.len, &bm, WAIT), 0);
	buf_fini(&b);
	assert_int_equal(
	    msg_decode(&rep, bm.data, bm.len, err, sizeof(err)), 0);
	bus_msg_free(&bm);
	assert_int_equal(rep.topic, MSG_CTL_REPLAY_BATCH);
	for (i = 0; i < rep.body.ctl_replay_batch.frames.n; i++) {
		const struct msg_bin *fr =
		    &rep.body.ctl_replay_batch.frames.v[i];

		assert_int_equal(
		    msg_decode(&m, fr->p, fr->len, err, sizeof(err)), 0);
		if (m.topic == MSG_OBSERVE_SNAPSHOT) {
			assert_string_equal(
			    m.corr, m.body.observe_snapshot.run_id);
			json_array_append_new(
			    out, msg_body_to_json(m.topic, &m.body));
		}
		msg_fini(&m);
	}
	msg_fini(&rep);
	return (out);
}

/* wait_snapshot polls the journal until run_id's snapshot event is there
 * and returns its snapshot object (new reference). */
static json_t *
wait_snapshot(struct fx *f, const char *run_id)
{
	struct timespec ts       = { 0, 50 * 1000 * 1000 };
	int64_t         deadline = mono_ms() + WAIT;
	json_t         *all, *ev, *snap = NULL;
	size_t          i;

	while (snap == NULL) {
		if (mono_ms() > deadline)
			fail_msg("no observe.snapshot for %s", run_id);
		all = snapshots(f);
		json_array_foreach (all, i, ev) {
			if (strcmp(json_string_value(
			               json_object_get(ev, "run_id")),
			        run_id) != 0)
				continue;
			snap = json_incref(json_object_get(ev, "snapshot"));
			assert_int_equal(json_integer_value(json_object_get(
			                     ev, "observed_at")),
			    json_integer_value(
			        json_object_get(snap, "observed_at")));
		}
		json_decref(all);
		if (snap == NULL)
			nanosleep(&ts, NULL);
	}
	assert_true(json_is_object(snap));
	assert_string_equal(
	    json_string_value(json_object_get(snap, "run_id")), run_id);
	return (snap);
}

static const char *
js(const json_t *o, const char *path)
{
	char       *p = xstrdup(path), *t, *save = NULL;
	const char *r;

	for (t = strtok_r(p, ".", &save); t != NULL;
	     t = strtok_r(NULL, ".", &save))
		o = json_object_get(o, t);
	free(p);
	r = json_string_value(o);
	return (r ? r : "(not a string)");
}

static int64_t
ji(const json_t *o, const char *a, const char *b)
{
	return (json_integer_value(json_object_get(json_object_get(o, a), b)));
}

/* check_shape: every key of the contract is present ("a.b" = key b of
 * object a). */
static void
check_shape(const json_t *s)
{
	static const char *const keys[] = { "observer_version", "run_id",
		"observed_at", "repo", "lint", "type", "coverage", "tests",
		"todo", "errors", "repo.name", "repo.path", "repo.branch",
		"repo.head", "repo.is_dirty", "repo.dirty_files",
		"repo.last_commit_at", "repo.last_commit_age_s",
		"repo.last_commit_subject", "lint.status", "lint.count",
		"lint.distinct_files", "lint.top_files", "lint.top_violations",
		"lint.source", "type.status", "type.count",
		"type.distinct_files", "type.top_files", "type.top_violations",
		"type.source", "coverage.status", "coverage.total_pct",
		"coverage.uncovered_count", "coverage.threshold_pct",
		"coverage.top_uncovered", "coverage.source", "tests.status",
		"tests.source", "tests.name", "tests.observed_at",
		"tests.head_sha", "todo.todo_count", "todo.fixme_count",
		"todo.top_files" };
	const json_t            *o;
	const char              *dot;
	char                    *top;
	size_t                   i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if ((dot = strchr(keys[i], '.')) == NULL)
			o = json_object_get(s, keys[i]);
		else {
			top = xstrndup(keys[i], (size_t) (dot - keys[i]));
			o = json_object_get(json_object_get(s, top), dot + 1);
			free(top);
		}
		if (o == NULL)
			fail_msg("snapshot without %s", keys[i]);
	}
	assert_int_equal(
	    json_integer_value(json_object_get(s, "observer_version")), 1);
	assert_true(json_is_object(json_object_get(s, "errors")));
}

static int64_t
history_count(struct fx *f, const char *run_id)
{
	struct store *st = NULL;
	char         *db = xasprintf("%s/state/observer.db", f->dir);
	int64_t       n  = -1;

	assert_int_equal(store_open(&st, db), 0);
	assert_int_equal(
	    store_int(st, &n, 0,
	        "SELECT count(*) FROM snapshot WHERE run_id = ? AND"
	        " json_extract(json, '$.run_id') = ?",
	        "tt", run_id, run_id),
	    0);
	store_close(&st);
	free(db);
	return (n);
}

/* history_rows counts the history rows of repo. */
static int64_t
history_rows(struct fx *f, const char *repo)
{
	struct store *st = NULL;
	char         *db = xasprintf("%s/state/observer.db", f->dir);
	int64_t       n  = -1;

	assert_int_equal(store_open(&st, db), 0);
	assert_int_equal(
	    store_int(st, &n, 0,
	        "SELECT count(*) FROM snapshot WHERE repo = ?", "t", repo),
	    0);
	store_close(&st);
	free(db);
	return (n);
}

static void
inject_sha(struct fx *f, const char *repo, const char *name,
    const char *conclusion, const char *sha)
{
	struct msg_ctl_inject in;
	char                  err[256];

	memset(&in, 0, sizeof(in));
	in.topic = "ci.check_run";
	in.body = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "repo", repo, "name",
	    name, "status", "completed", "conclusion", conclusion, "head_sha",
	    sha);
	if (ctl_call(f->url, MSG_CTL_INJECT, &in, NULL, err, sizeof(err),
	        WAIT) != 0)
		fail_msg("inject: %s", err);
	json_decref(in.body);
}

static void
inject_check(
    struct fx *f, const char *repo, const char *name, const char *conclusion)
{
	inject_sha(f, repo, name, conclusion, NULL);
}

/* wait_new_snapshot waits for snapshot number known + 1 of repo in the
 * journal and returns it (a new reference). */
static json_t *
wait_new_snapshot(struct fx *f, const char *repo, size_t known)
{
	struct timespec ts       = { 0, 50 * 1000 * 1000 };
	int64_t         deadline = mono_ms() + WAIT;
	json_t         *all, *ev, *snap = NULL;
	size_t          i, n;

	while (snap == NULL) {
		if (mono_ms() > deadline)
			fail_msg("no new observe.snapshot of %s", repo);
		all = snapshots(f);
		n   = 0;
		json_array_foreach (all, i, ev) {
			if (strcmp(js(ev, "repo"), repo) != 0 || n++ < known)
				continue;
			snap = json_incref(json_object_get(ev, "snapshot"));
			break;
		}
		json_decref(all);
		if (snap == NULL)
			nanosleep(&ts, NULL);
	}
	return (snap);
}

static void
test_observe_repo(void **state)
{
	struct fx f;
	json_t   *s, *st, *tf, *v;
	char     *repo, *head, *id, *id2;
	size_t    i;

	(void) state;
	fx_start(&f, "obs", NULL, NULL);
	repo = xasprintf("%s/repo", f.dir);
	head = git_head(repo);

	/* only repos with a checkout are observed */
	st = tb_status(f.topo, "observer");
	assert_non_null(json_object_get(json_object_get(st, "repos"), "demo"));
	assert_non_null(
	    json_object_get(json_object_get(st, "repos"), "plain"));
	assert_null(json_object_get(json_object_get(st, "repos"), "remote"));
	json_decref(st);

	id = observe_one(&f, "demo");
	s  = wait_snapshot(&f, id);
	check_shape(s);
	assert_string_equal(js(s, "repo.name"), "demo");
	assert_string_equal(js(s, "repo.path"), repo);
	assert_string_equal(js(s, "repo.head"), head);
	assert_string_equal(js(s, "repo.branch"), "main");
	assert_string_equal(js(s, "repo.last_commit_subject"), "first commit");
	assert_true(json_is_true(
	    json_object_get(json_object_get(s, "repo"), "is_dirty")));
	assert_int_equal(ji(s, "repo", "dirty_files"), 2);
	assert_true(ji(s, "repo", "last_commit_at") > 0);
	assert_true(ji(s, "repo", "last_commit_age_s") >= 0);
	assert_string_equal(js(s, "lint.status"), "violations");
	assert_int_equal(ji(s, "lint", "count"), 4);
	assert_int_equal(ji(s, "lint", "distinct_files"), 3);
	assert_string_equal(
	    js(s, "lint.source"), "grep -rnH --include=*.py print( .");
	tf = json_object_get(json_object_get(s, "lint"), "top_files");
	assert_string_equal(js(json_array_get(tf, 0), "path"), "a.py");
	assert_int_equal(json_integer_value(
	                     json_object_get(json_array_get(tf, 0), "count")),
	    2);
	/* grep's order is the directory's: find a.py:1 among them */
	json_array_foreach (
	    json_object_get(json_object_get(s, "lint"), "top_violations"), i,
	    v)
		if (strcmp(js(v, "path"), "a.py") == 0 &&
		    json_integer_value(json_object_get(v, "line")) == 1)
			break;
	assert_true(i < 4);
	assert_string_equal(js(v, "message"), "print(1)");
	assert_true(json_is_null(json_object_get(v, "code")));
	assert_string_equal(js(s, "type.status"), "unavailable");
	assert_true(json_is_null(
	    json_object_get(json_object_get(s, "type"), "source")));
	assert_string_equal(js(s, "coverage.status"), "measured");
	assert_string_equal(js(s, "coverage.source"), "coverage.xml");
	assert_true(json_real_value(json_object_get(
	                json_object_get(s, "coverage"), "total_pct")) == 75.0);
	assert_int_equal(ji(s, "coverage", "uncovered_count"), 1);
	assert_string_equal(js(s, "tests.status"), "unknown");
	assert_true(json_is_null(
	    json_object_get(json_object_get(s, "tests"), "source")));
	assert_int_equal(ji(s, "todo", "todo_count"), 1);
	assert_int_equal(ji(s, "todo", "fixme_count"), 1);
	assert_int_equal(json_object_size(json_object_get(s, "errors")), 0);
	json_decref(s);
	assert_int_equal(history_count(&f, id), 1);
	st = tb_status(f.topo, "observer");
	assert_string_equal(js(st, "repos.demo.last_run_id"), id);
	json_decref(st);

	/* more lines committed: the next observation sees them */
	tb_sh("set -e; cd %s; printf 'print(5)\\nprint(6)\\n' > e.py;"
	      " git add e.py; " GIT " commit -q -m 'second'",
	    repo);
	free(head);
	head = git_head(repo);
	id2  = observe_one(&f, "demo");
	assert_string_not_equal(id, id2);
	s = wait_snapshot(&f, id2);
	assert_int_equal(ji(s, "lint", "count"), 6);
	assert_int_equal(ji(s, "lint", "distinct_files"), 4);
	assert_string_equal(js(s, "repo.head"), head);
	assert_string_equal(js(s, "repo.last_commit_subject"), "second");
	assert_int_equal(ji(s, "repo", "dirty_files"), 2);
	json_decref(s);
	assert_int_equal(history_count(&f, id2), 1);

	free(id);
	free(id2);
	free(head);
	free(repo);
	fx_stop(&f);
}

/* A CI check run of the repo (by its GitHub name, any case) triggers an
 * observation that carries the verdict. */
static void
test_ci_trigger(void **state)
{
	struct fx f;
	json_t   *s;

	(void) state;
	fx_start(&f, "ci", NULL, NULL);
	inject_check(&f, "Acme/Demo", "unit-tests", "failure");
	s = wait_new_snapshot(&f, "demo", 0);
	assert_string_equal(js(s, "tests.status"), "failed");
	assert_string_equal(js(s, "tests.source"), "ci.check_run");
	assert_string_equal(js(s, "tests.name"), "unit-tests");
	assert_true(ji(s, "tests", "observed_at") > 0);
	json_decref(s);
	inject_check(&f, "acme/demo", "unit-tests", "success");
	s = wait_new_snapshot(&f, "demo", 1);
	assert_string_equal(js(s, "tests.status"), "passed");
	json_decref(s);
	/* an unrelated repo is ignored */
	inject_check(&f, "someone/else", "x", "success");
	assert_int_equal(
	    tb_wait_int(f.topo, "observer", "counters.ci_ignored", 1, WAIT),
	    1);
	fx_stop(&f);
}

/* Check runs are judged per commit: a passing check of a commit does not
 * hide another check of that commit that failed, until that one is run
 * again and passes; a new commit starts afresh, and a late event about an
 * older commit does not speak for the newest one. */
static void
test_ci_per_commit(void **state)
{
	struct fx f;
	json_t   *s;
	size_t    n = 0;

	(void) state;
	fx_start(&f, "sha", NULL, NULL);
	inject_sha(&f, "acme/demo", "lint", "failure", "aaa111");
	json_decref(wait_new_snapshot(&f, "demo", n++));
	inject_sha(&f, "acme/demo", "build", "success", "aaa111");
	s = wait_new_snapshot(&f, "demo", n++);
	assert_string_equal(js(s, "tests.status"), "failed"); /* was passed */
	assert_string_equal(js(s, "tests.name"), "lint");
	assert_string_equal(js(s, "tests.head_sha"), "aaa111");
	json_decref(s);
	/* lint re-runs and passes: the commit passes */
	inject_sha(&f, "acme/demo", "lint", "success", "aaa111");
	s = wait_new_snapshot(&f, "demo", n++);
	assert_string_equal(js(s, "tests.status"), "passed");
	assert_string_equal(js(s, "tests.name"), "build, lint");
	json_decref(s);
	/* the next commit fails its build; a late re-run of the old commit
	 * passing says nothing about it */
	inject_sha(&f, "acme/demo", "build", "failure", "bbb222");
	s = wait_new_snapshot(&f, "demo", n++);
	assert_string_equal(js(s, "tests.status"), "failed");
	assert_string_equal(js(s, "tests.head_sha"), "bbb222");
	json_decref(s);
	inject_sha(&f, "acme/demo", "build", "success", "aaa111");
	s = wait_new_snapshot(&f, "demo", n++);
	assert_string_equal(js(s, "tests.status"), "failed");
	assert_string_equal(js(s, "tests.head_sha"), "bbb222");
	json_decref(s);
	fx_stop(&f);
}

/* Tools that cannot run, a command that times out and a directory that
 * is no git checkout still give a snapshot, with reasons. */
static void
test_failures_reported(void **state)
{
	struct fx   f;
	json_t     *s, *errs;
	const char *e;
	char       *id;

	(void) state;
	fx_start(&f, "fail", NULL, NULL);
	id = observe_one(&f, "plain");
	s  = wait_snapshot(&f, id);
	check_shape(s);
	errs = json_object_get(s, "errors");
	assert_string_equal(js(s, "lint.status"), "unavailable");
	assert_string_equal(
	    js(s, "lint.source"), "no-such-linter-xyz --check");
	e = js(errs, "lint");
	assert_non_null(strstr(e, "no-such-linter-xyz"));
	assert_string_equal(js(s, "type.status"), "unavailable");
	assert_non_null(strstr(js(errs, "type"), "timed out"));
	assert_non_null(strstr(js(errs, "git"), "not a git checkout"));
	assert_true(
	    json_is_null(json_object_get(json_object_get(s, "repo"), "head")));
	assert_true(json_is_null(
	    json_object_get(json_object_get(s, "repo"), "branch")));
	assert_true(json_is_false(
	    json_object_get(json_object_get(s, "repo"), "is_dirty")));
	assert_int_equal(ji(s, "repo", "dirty_files"), 0);
	assert_string_equal(js(s, "coverage.status"), "unavailable");
	assert_int_equal(ji(s, "todo", "todo_count"), 0);
	json_decref(s);
	free(id);
	fx_stop(&f);
}

/* While one observation runs, every further request joins one queued
 * observation. */
static void
test_debounce(void **state)
{
	struct fx f;
	json_t   *all, *st;
	char     *a, *b, *c, *d;

	(void) state;
	fx_start(&f, "deb", NULL, NULL);
	a = observe_one(&f, "plain"); /* about 2 s: its sleep times out */
	assert_int_equal(
	    tb_wait_int(f.topo, "observer", "repos.plain.in_flight", 1, WAIT),
	    1);
	b = observe_one(&f, "plain");
	c = observe_one(&f, "plain");
	d = observe_one(&f, "plain");
	assert_string_not_equal(a, b);
	assert_string_equal(b, c);
	assert_string_equal(b, d);
	json_decref(wait_snapshot(&f, a));
	json_decref(wait_snapshot(&f, b));
	assert_int_equal(
	    tb_wait_int(f.topo, "observer", "repos.plain.in_flight", 0, WAIT),
	    0);
	st = tb_status(f.topo, "observer");
	assert_true(json_is_null(json_object_get(
	    json_object_get(json_object_get(st, "repos"), "plain"),
	    "queued")));
	json_decref(st);
	all = snapshots(&f);
	assert_int_equal(json_array_size(all), 2);
	json_decref(all);
	free(a);
	free(b);
	free(c);
	free(d);
	fx_stop(&f);
}

/* ctl: all repos at once; unknown repo; malformed body. */
static void
test_ctl_errors(void **state)
{
	struct msg_observer_observe rq = { "nope" };
	struct msg_hdr              h  = { "test", 0, "test:bad", 0, NULL };
	struct bus_msg              bm;
	struct msg                  rep;
	struct fx                   f;
	struct buf                  b;
	json_t                     *d, *data = NULL;
	char                        err[256];
	size_t                      n;

	(void) state;
	fx_start(&f, "ctl", NULL, NULL);
	d = observe_req(&f, NULL);
	assert_int_equal(json_array_size(json_object_get(d, "started")), 2);
	json_decref(d);

	assert_int_equal(ctl_call(f.url, MSG_OBSERVER_OBSERVE, &rq, &data, err,
	                     sizeof(err), WAIT),
	    ERR_NOTFOUND);
	assert_string_equal(err, "unknown repo 'nope'");
	assert_null(data);

	/* repo must be a string: pack "abc", then make it the integer 5 */
	rq.repo = "abc";
	h.ts    = now_ms();
	buf_init(&b);
	assert_int_equal(msg_pack(&b, MSG_OBSERVER_OBSERVE, &h, &rq), 0);
	n = b.len;
	assert_true(n > 9 &&
	    memcmp(b.data + n - 9,
	        "\xa4repo\xa3"
	        "abc",
	        9) == 0);
	b.data[n - 4] = 0x05;
	b.len         = n - 3;
	assert_int_equal(bus_request(f.url, b.data, b.len, &bm, WAIT), 0);
	buf_fini(&b);
	assert_int_equal(
	    msg_decode(&rep, bm.data, bm.len, err, sizeof(err)), 0);
	bus_msg_free(&bm);
	assert_int_equal(rep.topic, MSG_CTL_REPLY);
	assert_false(rep.body.ctl_reply.ok);
	assert_int_equal(rep.body.ctl_reply.code, ERR_PROTO);
	assert_non_null(strstr(rep.body.ctl_reply.error, "repo"));
	msg_fini(&rep);
	fx_stop(&f);
}

/* Periodic observation (only the listed repo), and a worker that cannot
 * run: counted, logged, no event. */
static void
test_periodic_and_lost_worker(void **state)
{
	struct fx f;
	json_t   *st;

	(void) state;
	fx_start(&f, "per",
	    "    interval: 1s\n    repos: [demo]\n    history_keep: 2\n",
	    NULL);
	/* the first at once (no history), then one a second */
	assert_true(tb_wait_int(f.topo, "observer", "counters.snapshots", 3,
	                WAIT) == 3);
	st = tb_status(f.topo, "observer");
	assert_null(json_object_get(json_object_get(st, "repos"), "plain"));
	/* pruned to the newest history_keep, the last one kept */
	assert_int_equal(history_rows(&f, "demo"), 2);
	assert_int_equal(
	    history_count(&f, js(st, "repos.demo.last_run_id")), 1);
	json_decref(st);
	fx_stop(&f);

	fx_start(&f, "lost", NULL, "/nonexistent/opc-observe-run");
	json_decref(observe_req(&f, "demo"));
	assert_int_equal(tb_wait_int(f.topo, "observer",
	                     "counters.observe_failed", 1, WAIT),
	    1);
	assert_int_equal(
	    tb_wait_int(f.topo, "observer", "repos.demo.in_flight", 0, WAIT),
	    0);
	st = snapshots(&f);
	assert_int_equal(json_array_size(st), 0);
	json_decref(st);
	fx_stop(&f);
}

/* A config that would silently observe nothing, or every 0.6 s, is
 * refused at start. */
static void
test_config_refused(void **state)
{
	static const char *const bad[] = {
		"repos: { demo: { local_path: r } }\n"
		"instances: { observer: { repos: [nope] } }\n",
		"repos: { demo: { clone_url: https://github.com/a/b } }\n"
		"instances: { observer: { repos: [demo] } }\n",
		"repos: { demo: { local_path: r } }\n"
		"instances: { observer: { interval: 600 } }\n",
		"repos: { demo: { local_path: r, observe: { lint_command: [] "
		"} } "
		"}\n"
		"instances: { observer: {} }\n",
		"repos: { demo: { local_path: r, observe: { lint_command: "
		"ruff } } "
		"}\n"
		"instances: { observer: {} }\n",
		"repos: { demo: { local_path: r, observe: { todo_max_files: "
		"-1 } } "
		"}\n"
		"instances: { observer: {} }\n",
	};
	struct topo *t;
	struct svc  *svc = NULL;
	char        *dir, *yaml;
	size_t       i;

	(void) state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dir  = tb_dir();
		yaml = xasprintf(
		    "opcenter: { state_dir: %s/st }\n%s", dir, bad[i]);
		t = tb_topo(dir, yaml);
		if (svc_open(&svc, &observer_def, t, "observer", NULL) == 0)
			fail_msg("accepted: %s", bad[i]);
		svc_close(&svc);
		topo_close(&t);
		tb_rmrf(dir);
		free(yaml);
		free(dir);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_observe_repo),
		cmocka_unit_test(test_ci_trigger),
		cmocka_unit_test(test_ci_per_commit),
		cmocka_unit_test(test_failures_reported),
		cmocka_unit_test(test_debounce),
		cmocka_unit_test(test_ctl_errors),
		cmocka_unit_test(test_periodic_and_lost_worker),
		cmocka_unit_test(test_config_refused),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
