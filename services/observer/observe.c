/*
 * observe.c - one observation of one checkout: the body of opc-observe-run.
 *
 * Collectors run one after another: git state, lint, type, coverage,
 * tests (from the spec) and TODO counting.  Each command is an argv run
 * with cwd = the checkout (proc_run: never a shell, its own process
 * group), limited by the per-command timeout and by what is left of the
 * spec's deadline, so the worker writes a snapshot before the daemon would
 * kill it.  A collector that fails leaves its section null/unavailable
 * and a line in errors; the others still run.  After SIGTERM (proc_stop)
 * the running command is stopped and the rest are skipped as
 * "interrupted".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collect.h"
#include "opc/dep.h"
#include "opc/err.h"
#include "opc/proc.h"
#include "opc/strv.h"
#include "opc/util.h"

#define MAX_OUTPUT (16u * 1024 * 1024) /* per stream of a tool */
#define MAX_COVERAGE (64 * 1024 * 1024)
#define TODO_MAX_SIZE (1024 * 1024)
#define GRACE_MS 2000
#define ERR_MAX 300 /* bytes of a tool's message kept in errors */

/* ------------------------------------------------------------- spec */

static int
spec_str(
    char **out, const json_t *o, const char *key, char *err, size_t errlen)
{
	const char *v = json_string_value(json_object_get(o, key));

	if (v == NULL || *v == '\0') {
		snprintf(
		    err, errlen, "spec: '%s' must be a non-empty string", key);
		return (ERR_INVAL);
	}
	*out = xstrdup(v);
	return (0);
}

/* spec_argv checks an optional command: null or an array of strings. */
static int
spec_argv(json_t **out, const json_t *o, const char *key, bool empty_ok,
    char *err, size_t errlen)
{
	json_t *a = json_object_get(o, key);
	size_t  i;

	if (a == NULL || json_is_null(a))
		return (0);
	if (!json_is_array(a) || (!empty_ok && json_array_size(a) == 0))
		goto bad;
	for (i = 0; i < json_array_size(a); i++)
		if (!json_is_string(json_array_get(a, i)))
			goto bad;
	*out = json_incref(a);
	return (0);
bad:
	snprintf(err, errlen, "spec: '%s' must be an array of strings", key);
	return (ERR_INVAL);
}

int
observe_spec_parse(
    struct obs_spec *s, const json_t *o, char *err, size_t errlen)
{
	json_t *t;
	int     rv;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(o)) {
		snprintf(err, errlen, "spec: not a JSON object");
		return (ERR_INVAL);
	}
	if ((rv = spec_str(&s->run_id, o, "run_id", err, errlen)) != 0 ||
	    (rv = spec_str(&s->repo, o, "repo", err, errlen)) != 0 ||
	    (rv = spec_str(&s->path, o, "path", err, errlen)) != 0 ||
	    (rv = spec_argv(
	         &s->lint_cmd, o, "lint_command", false, err, errlen)) != 0 ||
	    (rv = spec_argv(
	         &s->type_cmd, o, "type_command", false, err, errlen)) != 0 ||
	    (rv = spec_argv(&s->coverage_paths, o, "coverage_paths", true, err,
	         errlen)) != 0)
		return (rv);
	s->observed_at = json_integer_value(json_object_get(o, "observed_at"));
	s->deadline_ms = json_integer_value(json_object_get(o, "deadline_ms"));
	s->cmd_timeout_ms =
	    json_integer_value(json_object_get(o, "command_timeout_ms"));
	s->todo_max_files =
	    json_is_integer(json_object_get(o, "todo_max_files"))
	    ? json_integer_value(json_object_get(o, "todo_max_files"))
	    : TODO_MAX_FILES;
	if (s->observed_at <= 0)
		s->observed_at = now_ms();
	if (s->cmd_timeout_ms <= 0)
		s->cmd_timeout_ms = 300000;
	if (s->deadline_ms <= 0)
		s->deadline_ms = s->observed_at + 2 * s->cmd_timeout_ms;
	if (s->coverage_paths == NULL)
		s->coverage_paths =
		    json_pack("[s, s]", "coverage.xml", "coverage.txt");
	if (json_is_object(t = json_object_get(o, "tests")))
		s->tests = json_incref(t);
	return (0);
}

void
observe_spec_fini(struct obs_spec *s)
{
	free(s->run_id);
	free(s->repo);
	free(s->path);
	json_decref(s->lint_cmd);
	json_decref(s->type_cmd);
	json_decref(s->coverage_paths);
	json_decref(s->tests);
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------- runs */

/* run runs argv in the checkout with the per-command timeout, cut to what
 * is left before the deadline.  Returns 0 when the command ran (whatever
 * its exit status) and ERR_IO with a new reason in *why otherwise (could
 * not start, timed out, killed, no time left, interrupted).  r is always
 * filled; release it with proc_result_fini(). */
static int
run(struct proc_result *r, const struct obs_spec *s, char *const *argv,
    char **why)
{
	struct proc_opts o;
	int64_t          left = s->deadline_ms - now_ms(), tmo;

	memset(r, 0, sizeof(*r));
	*why = NULL;
	if (proc_stop) {
		*why = xstrdup("interrupted");
		return (ERR_IO);
	}
	if (left < 100) {
		*why = xstrdup("skipped: the observation ran out of time");
		return (ERR_IO);
	}
	if (access(s->path, X_OK) != 0) {
		/* else it reads "<tool>: could not start" */
		*why = xasprintf("cannot enter the checkout %s: %s", s->path,
		    strerror(errno));
		return (ERR_IO);
	}
	tmo = s->cmd_timeout_ms < left ? s->cmd_timeout_ms : left;
	memset(&o, 0, sizeof(o));
	o.argv       = argv;
	o.cwd        = s->path;
	o.timeout_ms = tmo;
	o.grace_ms   = GRACE_MS;
	o.max_output = MAX_OUTPUT;
	(void) proc_run(r, &o);
	if (r->spawn_errno != 0 || r->interrupted || r->signo != 0 ||
	    r->timed_out) {
		char *d = proc_describe(r);

		if (r->timed_out)
			*why = xasprintf("%s: timed out after %lld ms",
			    argv[0], (long long) tmo);
		else
			*why = xasprintf("%s: %s", argv[0], d);
		free(d);
		return (ERR_IO);
	}
	return (0);
}

/* git runs one git command; on failure *why explains (new string). */
static int
git(struct proc_result *r, const struct obs_spec *s, char **why, ...)
{
	struct strv sv;
	va_list     ap;
	const char *a;
	char       *msg;
	int         rv;

	memset(&sv, 0, sizeof(sv));
	strv_push(&sv, "git");
	va_start(ap, why);
	while ((a = va_arg(ap, const char *)) != NULL)
		strv_push(&sv, a);
	va_end(ap);
	rv = run(r, s, sv.v, why);
	if (rv == 0 && r->exit_code != 0) {
		msg  = collect_first_line(r->err.data, r->err.len, ERR_MAX);
		*why = xasprintf("%s exited %d%s%s", sv.v[1], r->exit_code,
		    msg ? ": " : "", msg ? msg : "");
		free(msg);
		rv = ERR_IO;
	}
	strv_free(&sv);
	return (rv);
}

static void
set_err(json_t *errors, const char *key, char *why)
{
	if (why != NULL && json_object_get(errors, key) == NULL)
		json_object_set_new(errors, key, json_string(why));
	free(why);
}

/* out_json returns r's stdout without trailing blanks as a new JSON
 * string. */
static json_t *
out_json(const struct proc_result *r)
{
	size_t  n = r->out.len;
	char   *t;
	json_t *j;

	while (n > 0 &&
	    (r->out.data[n - 1] == '\n' || r->out.data[n - 1] == '\r' ||
	        r->out.data[n - 1] == ' '))
		n--;
	t = collect_text_dup(r->out.data ? r->out.data : "", n);
	j = json_string(t);
	free(t);
	return (j);
}

/* ------------------------------------------------------- collectors */

static json_t *
collect_git(const struct obs_spec *s, json_t *errors)
{
	struct proc_result r;
	json_t            *o;
	char              *why = NULL, *subject = NULL;
	int64_t            ct;

	o = json_pack("{s:s, s:s, s:n, s:n, s:b, s:I, s:n, s:n, s:n}", "name",
	    s->repo, "path", s->path, "branch", "head", "is_dirty", 0,
	    "dirty_files", (json_int_t) 0, "last_commit_at",
	    "last_commit_age_s", "last_commit_subject");
	if (git(&r, s, &why, "rev-parse", "--git-dir", NULL) != 0) {
		proc_result_fini(&r);
		set_err(
		    errors, "git", xasprintf("not a git checkout: %s", why));
		free(why);
		return (o);
	}
	proc_result_fini(&r);
	if (git(&r, s, &why, "rev-parse", "--abbrev-ref", "HEAD", NULL) == 0)
		json_object_set_new(o, "branch", out_json(&r));
	proc_result_fini(&r);
	set_err(errors, "git", why);
	if (git(&r, s, &why, "rev-parse", "HEAD", NULL) == 0)
		json_object_set_new(o, "head", out_json(&r));
	proc_result_fini(&r);
	set_err(errors, "git", why);
	if (git(&r, s, &why, "status", "--porcelain", NULL) == 0) {
		ct = collect_count_lines(r.out.data, r.out.len);
		json_object_set_new(o, "is_dirty", json_boolean(ct > 0));
		json_object_set_new(o, "dirty_files", json_integer(ct));
	}
	proc_result_fini(&r);
	set_err(errors, "git", why);
	if (git(&r, s, &why, "log", "-1", "--format=%ct%x00%s", NULL) == 0 &&
	    collect_git_log(r.out.data, r.out.len, &ct, &subject) == 0) {
		json_object_set_new(
		    o, "last_commit_at", json_integer(ct * 1000));
		json_object_set_new(o, "last_commit_age_s",
		    json_integer((s->observed_at - ct * 1000) / 1000));
		json_object_set_new(
		    o, "last_commit_subject", json_string(subject));
	}
	free(subject);
	proc_result_fini(&r);
	set_err(errors, "git", why);
	return (o);
}

static json_t *
tool_empty(const char *source)
{
	return (json_pack("{s:s, s:I, s:I, s:[], s:[], s:o}", "status",
	    "unavailable", "count", (json_int_t) 0, "distinct_files",
	    (json_int_t) 0, "top_files", "top_violations", "source",
	    source ? json_string(source) : json_null()));
}

/* collect_tool runs a lint or type checker.  Its exit status is not a
 * verdict (they exit 1 when they find something); only a tool that
 * exits >= 2 without a single finding is taken as broken. */
static json_t *
collect_tool(const struct obs_spec *s, const json_t *cmd, const char *key,
    const char *found, json_t *errors)
{
	struct proc_result r;
	struct findings    fs;
	struct strv        argv;
	json_t            *o;
	char              *src, *why = NULL, *msg;
	size_t             i;

	if (cmd == NULL)
		return (tool_empty(NULL));
	memset(&argv, 0, sizeof(argv));
	for (i = 0; i < json_array_size(cmd); i++)
		strv_push(&argv, json_string_value(json_array_get(cmd, i)));
	src = strv_join(&argv, " ");
	memset(&fs, 0, sizeof(fs));
	if (run(&r, s, argv.v, &why) != 0) {
		o = tool_empty(src);
		goto out;
	}
	collect_lint_parse(&fs, r.out.data, r.out.len);
	collect_lint_parse(&fs, r.err.data, r.err.len);
	if (fs.n == 0 && r.exit_code >= 2) {
		msg = collect_first_line(r.err.len ? r.err.data : r.out.data,
		    r.err.len ? r.err.len : r.out.len, ERR_MAX);
		why = xasprintf("%s: exited %d without findings%s%s",
		    argv.v[0], r.exit_code, msg ? ": " : "", msg ? msg : "");
		free(msg);
		o = tool_empty(src);
		goto out;
	}
	o = collect_lint_summary(&fs);
	json_object_set_new(
	    o, "status", json_string(fs.n > 0 ? found : "clean"));
	json_object_set_new(o, "source", json_string(src));
	if (r.out_truncated || r.err_truncated)
		why = xasprintf(
		    "output cut at %u bytes: counts are partial", MAX_OUTPUT);
out:
	set_err(errors, key, why);
	collect_findings_fini(&fs);
	proc_result_fini(&r);
	strv_free(&argv);
	free(src);
	return (o);
}

/* read_file reads a regular file of at most max bytes under dir, never
 * following a symlink or blocking on a fifo.  Returns 0, ERR_NOTFOUND,
 * ERR_TOOBIG, ERR_INVAL (not a regular file) or ERR_IO (*eno = errno). */
static int
read_file(
    struct buf *b, const char *dir, const char *rel, size_t max, int *eno)
{
	struct stat st;
	char       *p = xasprintf("%s/%s", dir, rel), tmp[65536];
	ssize_t     n;
	int         fd, rv = 0;

	*eno = 0;
	fd   = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		*eno = errno;
		rv   = errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
	} else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		rv = ERR_INVAL;
	else if ((size_t) st.st_size > max)
		rv = ERR_TOOBIG;
	while (rv == 0 && (n = read(fd, tmp, sizeof(tmp))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			*eno = errno;
		if (n < 0 || b->len + (size_t) n > max)
			rv = n < 0 ? ERR_IO : ERR_TOOBIG;
		else
			buf_append(b, tmp, (size_t) n);
	}
	if (fd >= 0)
		close(fd);
	free(p);
	buf_cstr(b);
	return (rv);
}

static const char *
read_error(int rv, int eno)
{
	if (rv == ERR_TOOBIG)
		return ("too big");
	if (rv == ERR_INVAL)
		return ("not a regular file");
	return (strerror(eno));
}

/* safe_rel: a relative path that stays inside the checkout. */
static bool
safe_rel(const char *p)
{
	return (p[0] != '\0' && p[0] != '/' && strcmp(p, "..") != 0 &&
	    strncmp(p, "../", 3) != 0 && strstr(p, "/../") == NULL &&
	    (strlen(p) < 3 || strcmp(p + strlen(p) - 3, "/..") != 0));
}

static json_t *
collect_coverage(const struct obs_spec *s, json_t *errors)
{
	struct coverage c;
	struct buf      b;
	json_t         *v, *o = NULL;
	const char     *rel;
	char            err[256];
	size_t          i;
	int             rv, eno;

	json_array_foreach (s->coverage_paths, i, v) {
		rel = json_string_value(v);
		if (!safe_rel(rel)) {
			set_err(errors, "coverage",
			    xasprintf("%s: not a path "
			              "inside the checkout",
			        rel));
			continue;
		}
		buf_init(&b);
		rv = read_file(&b, s->path, rel, MAX_COVERAGE, &eno);
		if (rv == 0 &&
		    cov_parse(&c, b.data, b.len, err, sizeof(err)) == 0) {
			o = cov_json(&c, rel);
			coverage_fini(&c);
		} else if (rv == 0)
			set_err(
			    errors, "coverage", xasprintf("%s: %s", rel, err));
		else if (rv != ERR_NOTFOUND)
			set_err(errors, "coverage",
			    xasprintf("%s: %s", rel, read_error(rv, eno)));
		buf_fini(&b);
		if (o != NULL || rv != ERR_NOTFOUND)
			break; /* the first report present decides */
	}
	if (o == NULL)
		o = json_pack("{s:s, s:n, s:I, s:f, s:[], s:o}", "status",
		    "unavailable", "total_pct", "uncovered_count",
		    (json_int_t) 0, "threshold_pct", COVERAGE_THRESHOLD,
		    "top_uncovered", "source",
		    i < json_array_size(s->coverage_paths)
		        ? json_string(json_string_value(
		              json_array_get(s->coverage_paths, i)))
		        : json_null());
	return (o);
}

static json_t *
collect_tests(const struct obs_spec *s)
{
	const json_t *t  = s->tests;
	const char   *st = json_string_value(json_object_get(t, "status"));

	if (st == NULL ||
	    (strcmp(st, "passed") != 0 && strcmp(st, "failed") != 0))
		return (json_pack("{s:s, s:n, s:n, s:n, s:n}", "status",
		    "unknown", "source", "name", "observed_at", "head_sha"));
	/* name: the failing checks of the commit, else its passing ones */
	return (json_pack("{s:s, s:s, s:O?, s:O?, s:O?}", "status", st,
	    "source", "ci.check_run", "name", json_object_get(t, "name"),
	    "observed_at", json_object_get(t, "observed_at"), "head_sha",
	    json_object_get(t, "head_sha")));
}

/* todo_file counts one listed file (regular, <= 1 MiB, not binary). */
static int64_t
todo_file(
    const struct obs_spec *s, const char *rel, int64_t *todo, int64_t *fixme)
{
	struct buf b;
	int64_t    t = 0, f = 0;
	int        eno;

	buf_init(&b);
	if (read_file(&b, s->path, rel, TODO_MAX_SIZE, &eno) == 0 &&
	    !collect_todo_binary(b.data, b.len))
		collect_todo_count(b.data, b.len, &t, &f);
	buf_fini(&b);
	*todo += t;
	*fixme += f;
	return (t + f);
}

static json_t *
collect_todo(const struct obs_spec *s, json_t *errors)
{
	struct proc_result r;
	struct pcount     *pc = NULL;
	const char        *p, *end;
	char              *why  = NULL;
	int64_t            todo = 0, fixme = 0, n, files = 0;
	size_t             np = 0;
	json_t            *o;

	if (git(&r, s, &why, "ls-files", "-z", NULL) == 0) {
		end = r.out.data + r.out.len;
		for (p = r.out.data; p < end && files < s->todo_max_files;
		     p += strlen(p) + 1, files++) {
			if (proc_stop || now_ms() >= s->deadline_ms) {
				why = xasprintf("stopped after %lld files: %s",
				    (long long) files,
				    proc_stop ? "interrupted" : "out of time");
				break;
			}
			if ((n = todo_file(s, p, &todo, &fixme)) == 0)
				continue;
			pc             = xrealloc(pc, (np + 1) * sizeof(*pc));
			pc[np].path    = collect_text_dup(p, strlen(p));
			pc[np++].count = n;
		}
	}
	set_err(errors, "todo", why);
	o = json_pack("{s:I, s:I, s:o}", "todo_count", (json_int_t) todo,
	    "fixme_count", (json_int_t) fixme, "top_files",
	    collect_top_counts(pc, np, TOP_N));
	collect_pcounts_free(pc, np);
	proc_result_fini(&r);
	return (o);
}

/* collect_deps reads the checkout's dependency pins and what is
 * installed there (opc/dep.h: files only, no registry, no child): the
 * statuses that call for a task (at most 100), the counts, and the
 * manifests it could not read (errors.dependencies, the first). */
static json_t *
collect_deps(const struct obs_spec *s, json_t *errors)
{
	struct dep_report r;
	json_t           *rep, *bad = json_array(), *st, *o;
	size_t            i;

	dep_report_init(&r);
	(void) dep_read_repo(&r, s->path);
	dep_classify(&r);
	rep = dep_report_json(&r, s->repo);
	json_array_foreach (json_object_get(rep, "statuses"), i, st)
		if (!json_is_true(json_object_get(st, "healthy")) &&
		    json_array_size(bad) < 100)
			json_array_append(bad, st);
	if (r.nerrors > 0)
		set_err(errors, "dependencies",
		    xasprintf(
		        "%zu manifest error(s): %s", r.nerrors, r.errors[0]));
	o = json_pack("{s:s, s:I, s:O, s:o, s:I}", "status",
	    r.n == 0                       ? "unavailable"
	        : json_array_size(bad) > 0 ? "drift"
	                                   : "ok",
	    "checked", (json_int_t) r.n, "counts",
	    json_object_get(rep, "counts"), "unhealthy", bad, "errors",
	    (json_int_t) r.nerrors);
	json_decref(rep);
	dep_report_fini(&r);
	return (o);
}

json_t *
observe(const struct obs_spec *s)
{
	json_t *errors = json_object(), *snap;

	snap = json_pack("{s:i, s:s, s:I}", "observer_version",
	    OBSERVER_VERSION, "run_id", s->run_id, "observed_at",
	    (json_int_t) s->observed_at);
	json_object_set_new(snap, "repo", collect_git(s, errors));
	json_object_set_new(snap, "lint",
	    collect_tool(s, s->lint_cmd, "lint", "violations", errors));
	json_object_set_new(snap, "type",
	    collect_tool(s, s->type_cmd, "type", "errors", errors));
	json_object_set_new(snap, "coverage", collect_coverage(s, errors));
	json_object_set_new(snap, "tests", collect_tests(s));
	json_object_set_new(snap, "todo", collect_todo(s, errors));
	json_object_set_new(snap, "dependencies", collect_deps(s, errors));
	json_object_set_new(snap, "errors", errors);
	return (snap);
}
