/*
 * test_exec_run.c - the real opc-exec-run binary against real local git
 * repositories under a mkdtemp() directory: a "src" repository with one
 * commit on main and a bare clone of it, "origin.git", which is the
 * request's clone_url and receives pushes.  Backends are the stub or small
 * shell scripts the test writes (passed as argv[0]; the worker itself never
 * runs a shell).  No network; GIT_CONFIG_NOSYSTEM=1 and HOME=<tmp> keep the
 * user's git configuration out.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "exec_fx.h"
#include "opc/util.h"

#ifndef EXEC_RUN_BIN
#error EXEC_RUN_BIN must name the opc-exec-run binary
#endif

#define BRANCH "opcenter/goal/T-1-abcdef12"

struct fx {
	char *root;
	char *origin; /* bare */
	char *ws, *req, *out;
};

static int
setup(void **state)
{
	struct fx *fx;
	char      *tmpl = exfx_root("opc-exec-run");

	if (tmpl == NULL)
		return (-1);
	fx         = xcalloc(1, sizeof(*fx));
	fx->root   = tmpl;
	fx->origin = xasprintf("%s/origin.git", tmpl);
	fx->ws     = xasprintf("%s/ws", tmpl);
	fx->req    = xasprintf("%s/req.json", tmpl);
	fx->out    = xasprintf("%s/result.json", tmpl);
	*state     = fx;
	return (
	    exfx_sh("set -e; cd %s; git init -q -b main src; cd src; "
	            "echo hello > README.md; mkdir -p src/workflow; "
	            "echo 'x = 1' > src/workflow/task.py; git add -A; "
	            "git -c user.name=t -c user.email=t@example.com commit -q "
	            "-m init; cd ..; git clone -q --bare src origin.git",
	        tmpl) == 0
	        ? 0
	        : -1);
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	exfx_unroot(fx->root);
	free(fx->origin);
	free(fx->ws);
	free(fx->req);
	free(fx->out);
	free(fx);
	return (0);
}

/* base_request returns a request for the stub backend; callers adjust. */
static json_t *
base_request(const struct fx *fx)
{
	return (json_pack("{s:s, s:s, s:s, s:s, s:s, s:n, s:s, s:s, s:s, s:s, "
	                  "s:[], s:n, s:i, s:[], s:i, s:s, s:s, s:b, "
	                  "s:{s:s}, s:{s:s, s:s}}",
	    "run_id", "abcdef12-0000-4000-8000-000000000001", "task_id", "T-1",
	    "proposal_id", "p-1", "decision_id", "d-1", "goal_text",
	    "Add the demo   artifact\nwith details below", "constraints_text",
	    "repo_key", "demo", "clone_url", fx->origin, "base_branch", "main",
	    "task_branch", BRANCH, "allowed_paths", "max_changed_files",
	    "timeout_seconds", 60, "validation_commands",
	    "validation_timeout_seconds", 30, "lane", "local", "backend",
	    "demo_stub", "push_on_success", 0, "backend_spec", "kind", "stub",
	    "git", "author_name", "Test Bot", "author_email",
	    "bot@example.com"));
}

/* script writes an executable backend script and returns its path. */
static char *
script(const struct fx *fx, const char *body)
{
	char *path = xasprintf("%s/backend.sh", fx->root);
	FILE *f    = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	chmod(path, 0755);
	return (path);
}

static void
use_command(const struct fx *fx, json_t *req, const char *body)
{
	char *path = script(fx, body);

	json_object_set_new(req, "backend_spec",
	    json_pack("{s:s, s:[s, s], s:i}", "kind", "command", "argv", path,
	        "{goal}", "kill_grace_seconds", 1));
	free(path);
}

/* run writes req, runs the binary and returns its exit status. */
static int
run(const struct fx *fx, json_t *req)
{
	int rv;

	if (req != NULL)
		assert_int_equal(
		    json_dump_file(req, fx->req, JSON_INDENT(2)), 0);
	rv = exfx_sh("%s --request %s --workspace %s --out %s > %s/worker.log "
	             "2>&1",
	    EXEC_RUN_BIN, fx->req, fx->ws, fx->out, fx->root);
	if (rv != 0 && rv != 1)
		(void) exfx_sh("cat %s/worker.log >&2", fx->root);
	return (rv);
}

static json_t *
result(const struct fx *fx)
{
	return (exfx_result(fx->out, NULL));
}

static void
assert_nothing_committed(const struct fx *fx)
{
	char *cmd, *head, *main_;

	cmd  = xasprintf("git -C %s rev-parse HEAD", fx->ws);
	head = exfx_capture(cmd);
	free(cmd);
	cmd   = xasprintf("git -C %s rev-parse main", fx->ws);
	main_ = exfx_capture(cmd);
	free(cmd);
	assert_non_null(head);
	assert_non_null(main_);
	assert_string_equal(head, main_);
	free(head);
	free(main_);
	assert_int_not_equal(exfx_sh("git --git-dir=%s rev-parse -q --verify "
	                             "refs/heads/%s > /dev/null",
	                         fx->origin, BRANCH),
	    0);
}

static void
test_stub_success(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = base_request(fx), *r, *cf, *files;
	char      *cmd, *sha, *msg;

	json_object_set_new(req, "push_on_success", json_true());
	assert_int_equal(run(fx, req), 0);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "status"), "succeeded");
	assert_true(json_is_true(json_object_get(r, "success")));
	assert_true(json_is_null(json_object_get(r, "failure_category")));
	assert_string_equal(exfx_rstr(r, "diff_stat_excerpt"),
	    "1 file changed, 6 insertions(+)");
	assert_string_equal(exfx_rstr(r, "branch_name"), BRANCH);
	assert_string_equal(exfx_rstr(r, "changed_files_source"), "git_diff");
	assert_true(json_is_true(json_object_get(r, "branch_pushed")));
	assert_string_equal(exfx_rstr(r, "proposal_id"), "p-1");
	assert_string_equal(exfx_rstr(r, "workspace_path"), fx->ws);
	cf = json_object_get(r, "changed_files");
	assert_int_equal(json_array_size(cf), 1);
	assert_string_equal(exfx_rstr(json_array_get(cf, 0), "path"),
	    "artifacts/demo_result.txt");
	assert_string_equal(
	    exfx_rstr(json_array_get(cf, 0), "change_type"), "added");
	assert_int_equal(json_integer_value(json_object_get(
	                     json_array_get(cf, 0), "lines_added")),
	    6);
	assert_string_equal(
	    exfx_rstr(json_object_get(r, "validation"), "status"), "skipped");
	files = json_object_get(r, "files");
	assert_non_null(exfx_rstr(files, "patch"));
	assert_non_null(exfx_rstr(files, "diff_stat"));
	assert_null(exfx_rstr(files, "validation_output"));
	assert_true(json_array_size(json_object_get(r, "artifacts")) >= 2);

	/* committed on the task branch, .opcenter/ left out, pushed */
	sha = xstrdup(exfx_rstr(r, "commit_sha"));
	cmd = xasprintf("git -C %s rev-parse refs/heads/%s", fx->ws, BRANCH);
	msg = exfx_capture(cmd);
	assert_non_null(msg);
	assert_string_equal(msg, sha);
	free(msg);
	free(cmd);
	cmd = xasprintf(
	    "git --git-dir=%s rev-parse refs/heads/%s", fx->origin, BRANCH);
	msg = exfx_capture(cmd);
	assert_non_null(msg);
	assert_string_equal(msg, sha);
	free(msg);
	free(cmd);
	assert_int_equal(
	    exfx_sh("git -C %s show %s:artifacts/demo_result.txt | "
	            "grep -q '^backend: demo_stub$'",
	        fx->ws, sha),
	    0);
	assert_int_equal(exfx_sh("test \"$(git -C %s show %s:artifacts/"
	                         "demo_result.txt | wc -l)\" = 6",
	                     fx->ws, sha),
	    0);
	assert_int_not_equal(exfx_sh("git -C %s ls-tree -r --name-only %s | "
	                             "grep -q opcenter",
	                         fx->ws, sha),
	    0);
	cmd = xasprintf("git -C %s log -1 --format=%%B %s", fx->ws, sha);
	msg = exfx_capture(cmd);
	assert_non_null(msg);
	assert_string_equal(msg,
	    "Add the demo artifact\n\nRun: "
	    "abcdef12-0000-4000-8000-000000000001\n"
	    "Task: T-1");
	free(msg);
	free(cmd);
	cmd = xasprintf("git -C %s log -1 --format=%%an/%%ae %s", fx->ws, sha);
	msg = exfx_capture(cmd);
	assert_string_equal(msg, "Test Bot/bot@example.com");
	free(msg);
	free(cmd);
	free(sha);
	json_decref(r);
	json_decref(req);
}

static void
test_scope_violation(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = base_request(fx), *r, *v;

	json_object_set_new(
	    req, "allowed_paths", json_pack("[s]", "src/workflow/"));
	json_object_set_new(req, "push_on_success", json_true());
	use_command(fx, req,
	    "set -e\nmkdir -p deployment\n"
	    "echo 'y = 2' >> src/workflow/task.py\n"
	    "echo 'services: {}' > deployment/docker-compose.yml");
	assert_int_equal(run(fx, req), 0);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "status"), "failed");
	assert_false(json_is_true(json_object_get(r, "success")));
	assert_string_equal(exfx_rstr(r, "failure_category"), "scope_policy");
	v = json_object_get(r, "scope_violations");
	assert_int_equal(json_array_size(v), 1);
	assert_string_equal(json_string_value(json_array_get(v, 0)),
	    "deployment/docker-compose.yml");
	assert_true(json_is_null(json_object_get(r, "commit_sha")));
	assert_false(json_is_true(json_object_get(r, "branch_pushed")));
	assert_int_equal(
	    json_array_size(json_object_get(r, "changed_files")), 2);
	assert_int_equal(
	    json_integer_value(json_object_get(r, "executor_exit_code")), 0);
	assert_nothing_committed(fx);
	json_decref(r);
	json_decref(req);
}

static void
test_validation_passes(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = base_request(fx), *r, *v;

	json_object_set_new(req, "validation_commands",
	    json_pack("[[s], s]", "true", "test -f README.md"));
	assert_int_equal(run(fx, req), 0);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "status"), "succeeded");
	v = json_object_get(r, "validation");
	assert_string_equal(exfx_rstr(v, "status"), "passed");
	assert_int_equal(
	    json_integer_value(json_object_get(v, "commands_run")), 2);
	assert_int_equal(
	    json_integer_value(json_object_get(v, "commands_passed")), 2);
	assert_true(json_is_null(json_object_get(v, "failure_excerpt")));
	assert_non_null(
	    exfx_rstr(json_object_get(r, "files"), "validation_output"));
	assert_non_null(exfx_rstr(r, "commit_sha"));
	assert_false(json_is_true(json_object_get(r, "branch_pushed")));
	json_decref(r);
	json_decref(req);
}

static void
test_validation_fails(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = base_request(fx), *r, *v;

	json_object_set_new(req, "validation_commands",
	    json_pack("[[s, s, s]]", "sh", "-c", "echo boom; exit 1"));
	assert_int_equal(run(fx, req), 0);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "status"), "failed");
	assert_string_equal(
	    exfx_rstr(r, "failure_category"), "validation_failure");
	v = json_object_get(r, "validation");
	assert_string_equal(exfx_rstr(v, "status"), "failed");
	assert_int_equal(
	    json_integer_value(json_object_get(v, "commands_failed")), 1);
	assert_non_null(strstr(exfx_rstr(v, "failure_excerpt"), "boom"));
	assert_true(json_is_null(json_object_get(r, "commit_sha")));
	assert_nothing_committed(fx);
	assert_int_equal(exfx_sh("grep -q '^\\[exit 1\\]$' "
	                         "%s/.opcenter/validation_output.txt",
	                     fx->ws),
	    0);
	json_decref(r);
	json_decref(req);
}

static void
test_validation_flaky(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = base_request(fx), *r;

	json_object_set_new(req, "validation_commands",
	    json_pack("[[s, s, s]]", "sh", "-c", "exit 1"));
	json_object_set_new(req, "validation_history",
	    json_pack("{s:[b, b, b, b]}", "sh -c exit 1", 1, 0, 1, 0));
	assert_int_equal(run(fx, req), 0);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "failure_category"), "flaky_test");
	json_decref(r);
	json_decref(req);
}

static void
test_timeout_kills_group(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = base_request(fx), *r;
	int64_t    t0;
	char      *body, *tag;
	int        i, alive = 1;

	/* the backend runs in a pid namespace of its own: its pids mean
	 * nothing here, so the grandchild is found by a unique argument */
	tag  = xasprintf("300.%d", (int) getpid());
	body = xasprintf("sleep %s &\nsleep 30", tag);
	json_object_set_new(req, "timeout_seconds", json_integer(1));
	use_command(fx, req, body);
	t0 = mono_ms();
	assert_int_equal(run(fx, req), 0);
	assert_true(mono_ms() - t0 < 15000);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "status"), "timed_out");
	assert_string_equal(exfx_rstr(r, "failure_category"), "timeout");
	assert_non_null(exfx_rstr(r, "executor_signal"));
	assert_true(strcmp(exfx_rstr(r, "executor_signal"), "SIGTERM") == 0 ||
	    strcmp(exfx_rstr(r, "executor_signal"), "SIGKILL") == 0);
	assert_true(json_is_null(json_object_get(r, "commit_sha")));
	for (i = 0; i < 50 && alive; i++) {
		alive = exfx_sh("pgrep -f '[s]leep %s' > /dev/null", tag) == 0;
		if (alive)
			usleep(100 * 1000);
	}
	assert_false(alive);
	free(tag);
	free(body);
	json_decref(r);
	json_decref(req);
}

/* timeout_seconds is the backend's own, counted from its start: a slow
 * workspace (git clone stalled 5 s here, as a first mirror of a big
 * repository is) leaves a 1.5 s backend its 4 s.  Counted from the
 * worker's start, it had 1 s left and was "timed out after 4s". */
static void
test_timeout_from_backend_start(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = base_request(fx), *r;
	FILE      *f;
	char      *git = xasprintf("%s/fakebin/git", fx->root);

	assert_int_equal(exfx_sh("mkdir -p %s/fakebin", fx->root), 0);
	assert_non_null(f = fopen(git, "w"));
	fputs("#!/bin/sh\nfor a; do [ \"$a\" = clone ] && sleep 5; done\n"
	      "exec /usr/bin/git \"$@\"\n",
	    f);
	fclose(f);
	assert_int_equal(chmod(git, 0755), 0);
	json_object_set_new(req, "timeout_seconds", json_integer(4));
	use_command(fx, req, "sleep 1.5\necho slow > slow.txt");
	assert_int_equal(json_dump_file(req, fx->req, JSON_INDENT(2)), 0);
	assert_int_equal(
	    exfx_sh("PATH=%s/fakebin:$PATH %s --request %s "
	            "--workspace %s --out %s > %s/worker.log 2>&1",
	        fx->root, EXEC_RUN_BIN, fx->req, fx->ws, fx->out, fx->root),
	    0);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "status"), "succeeded");
	assert_int_equal(exfx_sh("test -s %s/slow.txt", fx->ws), 0);
	json_decref(r);
	json_decref(req);
	free(git);
}

static void
test_question(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = base_request(fx), *r;

	use_command(fx, req,
	    "echo 'thinking'\necho '<!-- cp:question: Which API? -->'\n"
	    "echo partial > notes.txt");
	assert_int_equal(run(fx, req), 0);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "status"), "failed");
	assert_string_equal(
	    exfx_rstr(r, "failure_category"), "awaiting_input");
	assert_string_equal(exfx_rstr(r, "question"), "Which API?");
	assert_true(json_is_null(json_object_get(r, "commit_sha")));
	assert_nothing_committed(fx);
	json_decref(r);
	json_decref(req);
}

/* workspace: scratch -> the backend runs in an empty directory: no
 * clone, no commit, no push; its files are listed as the changes. */
static void
test_scratch(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = base_request(fx), *r, *cf;

	json_object_set_new(req, "push_on_success", json_true());
	use_command(fx, req,
	    "test -z \"$(ls -A | grep -vx .opcenter)\" || exit 9\n"
	    "mkdir -p src && echo out > src/out.txt && echo n > a.txt");
	json_object_set_new(json_object_get(req, "backend_spec"), "workspace",
	    json_string("scratch"));
	assert_int_equal(run(fx, req), 0);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "status"), "succeeded");
	assert_true(json_is_true(json_object_get(r, "success")));
	assert_string_equal(
	    exfx_rstr(r, "changed_files_source"), "workspace_listing");
	cf = json_object_get(r, "changed_files");
	assert_int_equal(json_array_size(cf), 2);
	assert_true(json_is_null(json_object_get(r, "branch_name")));
	assert_true(json_is_null(json_object_get(r, "commit_sha")));
	assert_false(json_is_true(json_object_get(r, "branch_pushed")));
	assert_non_null(strstr(exfx_rstr(r, "diff_stat_excerpt"), "2 files"));
	/* no clone: no .git in the workspace, nothing in the origin */
	assert_int_not_equal(exfx_sh("test -e %s/.git", fx->ws), 0);
	assert_int_not_equal(exfx_sh("git --git-dir=%s rev-parse -q --verify "
	                             "refs/heads/%s > /dev/null",
	                         fx->origin, BRANCH),
	    0);
	json_decref(r);
	json_decref(req);
}

/* A backend that cannot be run is "could not start", not "exited 127". */
static void
test_backend_missing(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = base_request(fx), *r;

	json_object_set_new(req, "backend_spec",
	    json_pack("{s:s, s:[s, s]}", "kind", "command", "argv",
	        "opc-no-such-backend", "{goal}"));
	assert_int_equal(run(fx, req), 0);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "status"), "failed");
	assert_non_null(strstr(exfx_rstr(r, "failure_reason"),
	    "opc-no-such-backend could not start: No such "
	    "file or directory"));
	assert_true(json_is_null(json_object_get(r, "executor_exit_code")));
	assert_nothing_committed(fx);
	json_decref(r);
	json_decref(req);
}

static void
test_backend_exit(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = base_request(fx), *r;
	char      *argv_goal;

	use_command(fx, req,
	    "printf '%s\\n' \"$1\" > goal.txt\n"
	    "echo \"ModuleNotFoundError: No module named 'foo'\" >&2\nexit 3");
	assert_int_equal(run(fx, req), 0);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "status"), "failed");
	assert_string_equal(
	    exfx_rstr(r, "failure_category"), "dependency_missing");
	assert_int_equal(
	    json_integer_value(json_object_get(r, "executor_exit_code")), 3);
	assert_true(json_is_null(json_object_get(r, "executor_signal")));
	assert_non_null(
	    strstr(exfx_rstr(r, "failure_reason"), "backend exited 3"));
	assert_non_null(
	    strstr(exfx_rstr(r, "failure_reason"), "No module named"));
	/* {goal} arrived as one argv element, newline and all */
	argv_goal = xasprintf("%s/goal.txt", fx->ws);
	assert_int_equal(exfx_sh("test \"$(head -1 %s)\" = 'Add the demo   "
	                         "artifact'",
	                     argv_goal),
	    0);
	free(argv_goal);
	assert_int_equal(exfx_sh("grep -q 'ModuleNotFoundError' "
	                         "%s/.opcenter/backend_stderr.txt",
	                     fx->ws),
	    0);
	assert_int_equal(
	    exfx_sh("grep -q '^## Goal$' %s/.opcenter/prompt.md", fx->ws), 0);
	json_decref(r);
	json_decref(req);
}

/* A backend that fails for want of space (it says ENOSPC): interrupted,
 * retried, never a failure of the task. */
static void
test_no_space(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = base_request(fx), *r;

	use_command(fx, req,
	    "echo \"sh: 1: cannot create out.txt: No space left on device\" "
	    ">&2\nexit 2");
	assert_int_equal(run(fx, req), 0);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "status"), "interrupted");
	assert_string_equal(exfx_rstr(r, "failure_category"), "interrupted");
	assert_false(json_is_true(json_object_get(r, "success")));
	assert_non_null(strstr(
	    exfx_rstr(r, "failure_reason"), "no space left on device under"));
	assert_non_null(
	    strstr(exfx_rstr(r, "failure_reason"), "backend exited 2"));
	assert_nothing_committed(fx);
	json_decref(r);
	json_decref(req);
}

static void
test_too_wide(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = base_request(fx), *r;

	json_object_set_new(req, "limits",
	    json_pack("{s:i, s:i}", "max_files", 1, "max_lines", 100));
	use_command(fx, req, "echo a > a.txt\necho b > b.txt");
	assert_int_equal(run(fx, req), 0);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "status"), "failed");
	assert_string_equal(
	    exfx_rstr(r, "failure_category"), "scope_too_wide");
	assert_non_null(strstr(exfx_rstr(r, "failure_reason"), "2 files"));
	assert_int_equal(exfx_sh("grep -q '\"n_lines\": 2' "
	                         "%s/.opcenter/scope-too-wide.json",
	                     fx->ws),
	    0);
	assert_nothing_committed(fx);
	json_decref(r);
	json_decref(req);
}

/* Three suppressions (a bare pass among them) reach the threshold: the
 * result carries the [quality] note, the run still succeeds; two do
 * not. */
static void
test_quality_note(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = base_request(fx), *r;

	use_command(fx, req,
	    "printf 'import os  # noqa\\ndef f():\\n    pass\\n"
	    "x = g()  # type: ignore\\n' > mod.py");
	assert_int_equal(run(fx, req), 0);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "status"), "succeeded");
	assert_string_equal(exfx_rstr(r, "quality_note"),
	    "[quality] This run added 3 quality suppressions: "
	    "{\"noqa\": 1, \"type_ignore\": 1, \"pass\": 1}. "
	    "Review before merging.");
	json_decref(r);
	use_command(fx, req, "printf 'def f():\\n    pass\\n' > other.py");
	(void) exfx_sh("rm -rf %s", fx->ws);
	assert_int_equal(run(fx, req), 0);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "status"), "succeeded");
	assert_true(json_is_null(json_object_get(r, "quality_note")));
	json_decref(r);
	json_decref(req);
}

static void
test_git_failure(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = base_request(fx), *r;

	json_object_set_new(req, "base_branch", json_string("no-such-branch"));
	assert_int_equal(run(fx, req), 0);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "status"), "failed");
	assert_string_equal(exfx_rstr(r, "failure_category"), "infra_tooling");
	assert_non_null(strstr(exfx_rstr(r, "failure_reason"),
	    "git checkout --quiet no-such-branch"));
	json_decref(r);
	json_decref(req);
}

static void
test_bad_request(void **state)
{
	struct fx *fx = *state;
	json_t    *req;
	FILE      *f;

	f = fopen(fx->req, "w");
	assert_non_null(f);
	fputs("{ not json", f);
	fclose(f);
	assert_int_equal(run(fx, NULL), 1);
	assert_int_not_equal(access(fx->out, F_OK), 0);

	req = base_request(fx);
	json_object_del(req, "task_branch");
	assert_int_equal(run(fx, req), 1);
	assert_int_not_equal(access(fx->out, F_OK), 0);
	assert_int_equal(
	    exfx_sh("grep -q task_branch %s/worker.log", fx->root), 0);
	json_decref(req);

	assert_int_equal(
	    exfx_sh("%s --request %s > /dev/null 2>&1", EXEC_RUN_BIN, fx->req),
	    1);
	assert_int_equal(
	    exfx_sh("%s --help | grep -q usage", EXEC_RUN_BIN), 0);
}

/* A backend that exits 0 and changes nothing did nothing: Blocked as
 * no_op, unless the task expects no change. */
static void
test_no_op(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = base_request(fx), *r;

	use_command(fx, req, "echo 'I looked around and saw nothing to do'");
	assert_int_equal(run(fx, req), 0);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "status"), "failed");
	assert_false(json_is_true(json_object_get(r, "success")));
	assert_string_equal(exfx_rstr(r, "failure_category"), "no_op");
	assert_non_null(
	    strstr(exfx_rstr(r, "failure_reason"), "changed nothing"));
	assert_nothing_committed(fx);
	json_decref(r);
	json_object_set_new(req, "expect_changes", json_false());
	(void) rmtree(fx->ws);
	assert_int_equal(run(fx, req), 0);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "status"), "succeeded");
	json_decref(r);
	json_decref(req);
}

/* fake_agent makes backend_spec a profile whose program is a script that
 * records how it was started (argv, stdin, environment) and then runs
 * body. */
static void
fake_agent(const struct fx *fx, json_t *req, const char *kind,
    const char *body, json_t *extra)
{
	char   *text, *path;
	json_t *spec;

	text = xasprintf("for a in \"$@\"; do printf '%%s\\n' \"$a\"; done > "
	                 "%s/argv.txt\ncat > %s/stdin.txt\nenv > %s/env.txt\n"
	                 "pwd > %s/cwd.txt\n%s",
	    fx->root, fx->root, fx->root, fx->root, body);
	path = script(fx, text);
	/* it reports through files beside the workspace: the one path
	 * outside it the sandbox lets it write */
	spec = json_pack("{s:s, s:s, s:s, s:i, s:[s]}", "kind", kind, "bin",
	    path, "api_key_env", "OPC_TEST_AGENT_KEY", "kill_grace_seconds", 1,
	    "sandbox_rw_paths", fx->root);
	if (extra != NULL)
		json_object_update(spec, extra);
	json_decref(extra);
	json_object_set_new(req, "backend_spec", spec);
	free(path);
	free(text);
}

static json_t *
agent_of(const json_t *r)
{
	json_t *a = json_object_get(r, "agent");

	assert_true(json_is_object(a));
	return (a);
}

/* Claude Code's result line as `-p --output-format stream-json` prints
 * it (the shape of the captures in data/claude/). */
#define CLAUDE_INIT                                                 \
	"{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":" \
	"\"s-1\",\"model\":\"claude-sonnet-4-5\",\"tools\":[\"Write\"]}"

static void
test_claude_profile(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = base_request(fx), *r, *a;

	setenv("OPC_TEST_AGENT_KEY", "sk-ant-test-secret", 1);
	fake_agent(fx, req, "claude_cli",
	    "mkdir -p src && echo hi > src/hello.txt\n"
	    "echo \"my key is $ANTHROPIC_API_KEY\" >&2\n"
	    "echo '" CLAUDE_INIT "'\n"
	    "echo '{\"type\":\"result\",\"subtype\":\"success\","
	    "\"is_error\":false,\"num_turns\":2,\"result\":\"Wrote "
	    "src/hello.txt\",\"session_id\":\"s-1\",\"total_cost_usd\":"
	    "0.0123,\"usage\":{\"input_tokens\":100,\"output_tokens\":20,"
	    "\"cache_read_input_tokens\":7,"
	    "\"cache_creation_input_tokens\":3},"
	    "\"permission_denials\":[]}'",
	    json_pack("{s:i, s:f, s:[s]}", "max_turns", 7, "max_budget_usd",
	        0.5, "argv", "--extra"));
	assert_int_equal(run(fx, req), 0);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "status"), "succeeded");
	a = agent_of(r);
	assert_string_equal(exfx_rstr(a, "cli"), "claude_cli");
	assert_string_equal(exfx_rstr(a, "session_id"), "s-1");
	assert_string_equal(exfx_rstr(a, "model"), "claude-sonnet-4-5");
	assert_string_equal(exfx_rstr(a, "cost_source"), "reported");
	assert_true(json_real_value(json_object_get(a, "cost_usd")) > 0.0122 &&
	    json_real_value(json_object_get(a, "cost_usd")) < 0.0124);
	assert_int_equal(json_integer_value(json_object_get(a, "turns")), 2);
	assert_int_equal(
	    json_integer_value(json_object_get(a, "input_tokens")), 100);
	assert_int_equal(
	    json_integer_value(json_object_get(a, "cache_read_tokens")), 7);
	/* headless argv, prompt on stdin, the key under Claude's name, a
	 * HOME of its own, the workspace as cwd */
	assert_int_equal(
	    exfx_sh("grep -qx -- -p %s/argv.txt && grep -qx "
	            "acceptEdits %s/argv.txt && grep -qx stream-json "
	            "%s/argv.txt && grep -qx 7 %s/argv.txt && grep "
	            "-qx 0.5000 %s/argv.txt && tail -1 %s/argv.txt | "
	            "grep -qx -- --extra",
	        fx->root, fx->root, fx->root, fx->root, fx->root, fx->root),
	    0);
	assert_int_equal(
	    exfx_sh("! grep -q 'Add the demo' %s/argv.txt && grep -q "
	            "'^## Goal' %s/stdin.txt",
	        fx->root, fx->root),
	    0);
	assert_int_equal(
	    exfx_sh("grep -qx ANTHROPIC_API_KEY=sk-ant-test-secret "
	            "%s/env.txt && grep -qx HOME=%s/.opcenter/home "
	            "%s/env.txt && grep -qx "
	            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 "
	            "%s/env.txt && ! grep -q OPC_TEST_AGENT_KEY "
	            "%s/env.txt && grep -qx %s %s/cwd.txt",
	        fx->root, fx->ws, fx->root, fx->root, fx->root, fx->ws,
	        fx->root),
	    0);
	/* the key is in no file the run leaves, even when the agent
	 * prints it */
	assert_int_equal(exfx_sh("grep -q 'my key is \\[REDACTED\\]' "
	                         "%s/.opcenter/backend_stderr.txt",
	                     fx->ws),
	    0);
	assert_int_not_equal(
	    exfx_sh("grep -rq sk-ant-test-secret %s/.opcenter %s", fx->ws,
	        fx->out),
	    0);
	json_decref(r);
	json_decref(req);
}

/* What the CLI says decides, not its exit status. */
static void
claude_says(const struct fx *fx, const char *result_json, const char *category,
    const char *reason_part)
{
	json_t *req = base_request(fx), *r;
	char   *body;

	body = xasprintf("echo '%s'", result_json);
	fake_agent(fx, req, "claude_cli", body, NULL);
	assert_int_equal(run(fx, req), 0);
	r = result(fx);
	assert_string_equal(exfx_rstr(r, "status"), "failed");
	assert_string_equal(exfx_rstr(r, "failure_category"), category);
	if (strstr(exfx_rstr(r, "failure_reason"), reason_part) == NULL)
		fail_msg("reason '%s' lacks '%s'",
		    exfx_rstr(r, "failure_reason"), reason_part);
	assert_nothing_committed(fx);
	json_decref(r);
	json_decref(req);
	free(body);
	(void) rmtree(fx->ws);
}

static void
test_claude_outcomes(void **state)
{
	struct fx *fx = *state;

	setenv("OPC_TEST_AGENT_KEY", "sk-ant-test-secret", 1);
	/* -p without a permission mode: every edit refused, exit 0 */
	claude_says(fx,
	    "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":"
	    "false,\"result\":\"I need permission to write\","
	    "\"permission_denials\":[{\"tool_name\":\"Write\"},"
	    "{\"tool_name\":\"Write\"},{\"tool_name\":\"Bash\"}]}",
	    "tool_failure", "refused 3 tool calls (Write, Bash)");
	/* subtype success, is_error true: an API error ended the turn */
	claude_says(fx,
	    "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":"
	    "true,\"result\":\"API Error: 429 {\\\"type\\\":\\\"error\\\","
	    "\\\"error\\\":{\\\"type\\\":\\\"rate_limit_error\\\","
	    "\\\"message\\\":\\\"slow down\\\"}}\"}",
	    "model_error", "API Error: 429");
	claude_says(fx,
	    "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":"
	    "true,\"result\":\"Invalid API key - API Error: 401 "
	    "{\\\"type\\\":\\\"error\\\",\\\"error\\\":{\\\"type\\\":"
	    "\\\"authentication_error\\\",\\\"message\\\":\\\"invalid "
	    "x-api-key\\\"}}\"}",
	    "infra_tooling", "invalid x-api-key");
	claude_says(fx,
	    "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":"
	    "true,\"result\":\"API Error: 400 Your credit balance is "
	    "too low to access the Anthropic API.\"}",
	    "quota_exhausted", "credit balance is too low");
	claude_says(fx,
	    "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":"
	    "true,\"result\":\"API Error: 400 prompt is too long: "
	    "250000 tokens > 200000 maximum\"}",
	    "context_limit", "prompt is too long");
	claude_says(fx,
	    "{\"type\":\"result\",\"subtype\":\"error_max_turns\","
	    "\"is_error\":false,\"num_turns\":3}",
	    "budget_exceeded", "turn limit");
	/* exit 0 and no result at all */
	claude_says(fx, "not json", "unknown", "without a result");
	/* the key's variable unset: the CLI is not even started */
	unsetenv("OPC_TEST_AGENT_KEY");
	claude_says(
	    fx, "{}", "infra_tooling", "OPC_TEST_AGENT_KEY is not set");
}

/* Codex reports tokens as it goes; with prices the executor computes
 * the spend and stops the run when it passes the cap, without waiting
 * for the CLI to finish. */
static void
test_codex_spend_cap(void **state)
{
	struct fx *fx  = *state;
	json_t    *req = base_request(fx), *r, *a;
	int64_t    t0;

	setenv("OPC_TEST_AGENT_KEY", "sk-test-secret", 1);
	fake_agent(fx, req, "codex_cli",
	    "echo '{\"type\":\"thread.started\",\"thread_id\":\"th-1\"}'\n"
	    "echo '{\"type\":\"turn.started\"}'\n"
	    "echo '{\"type\":\"turn.completed\",\"usage\":{"
	    "\"input_tokens\":1000000,\"cached_input_tokens\":0,"
	    "\"output_tokens\":100000}}'\n"
	    "echo hi > late.txt\nsleep 30\n",
	    json_pack("{s:f, s:{s:f, s:f}}", "max_budget_usd", 1.0, "prices",
	        "input_per_mtok", 1.25, "output_per_mtok", 10.0));
	t0 = mono_ms();
	assert_int_equal(run(fx, req), 0);
	assert_true(mono_ms() - t0 < 25000);
	r = result(fx);
	assert_string_equal(
	    exfx_rstr(r, "failure_category"), "budget_exceeded");
	assert_non_null(strstr(exfx_rstr(r, "failure_reason"), "per-run cap"));
	a = agent_of(r);
	assert_string_equal(exfx_rstr(a, "session_id"), "th-1");
	assert_string_equal(exfx_rstr(a, "cost_source"), "computed");
	/* 1M in at $1.25 + 100k out at $10 = $2.25 */
	assert_true(json_real_value(json_object_get(a, "cost_usd")) > 2.24 &&
	    json_real_value(json_object_get(a, "cost_usd")) < 2.26);
	assert_nothing_committed(fx);
	/* Codex's provider lives in its own config file under the run's
	 * HOME; the key is only in the environment */
	assert_int_equal(
	    exfx_sh("grep -q 'wire_api = \"responses\"' "
	            "%s/.opcenter/home/.codex/config.toml && grep -qx "
	            "CODEX_HOME=%s/.opcenter/home/.codex %s/env.txt && "
	            "grep -qx OPENAI_API_KEY=sk-test-secret %s/env.txt",
	        fx->ws, fx->ws, fx->root, fx->root),
	    0);
	json_decref(r);
	json_decref(req);
	unsetenv("OPC_TEST_AGENT_KEY");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_stub_success, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_scope_violation, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_validation_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_validation_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_validation_flaky, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_timeout_kills_group, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_question, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scratch, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_timeout_from_backend_start, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_backend_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_backend_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_no_space, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_too_wide, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_quality_note, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_git_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_bad_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_op, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_claude_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_claude_outcomes, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_codex_spend_cap, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
