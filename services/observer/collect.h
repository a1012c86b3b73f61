/*
 * collect.h - the observer's parsers and snapshot builder (private to
 * services/observer).
 *
 * collect.c and coverage.c hold pure functions over strings: lint/type
 * output lines, Cobertura XML and coverage.py text reports, TODO/FIXME
 * counting and the git outputs the worker reads.  They never touch files or
 * processes, so unit tests call them directly.  observe.c is the
 * opc-observe-run worker: it runs the commands of a spec (never through a
 * shell), feeds their output to these parsers and builds the snapshot JSON
 * whose shape is the contract with the insighter (every key always present,
 * null when unknown).
 */
#ifndef OPC_OBSERVER_COLLECT_H
#define OPC_OBSERVER_COLLECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define OBSERVER_VERSION 1
#define TOP_N 10
#define COVERAGE_THRESHOLD 80.0
#define TODO_MAX_FILES 2000 /* files counted when the config says nothing */

#define MAX_DIGITS 18 /* fits int64_t */

/* collect_dec_len returns the number of decimal digits at s[0..n). */
size_t collect_dec_len(const char *s, size_t n);
/* collect_dec_value returns the value of n (<= MAX_DIGITS) decimal digits. */
int64_t collect_dec_value(const char *s, size_t n);

/* collect_utf8_fix replaces, in place, every byte of s that starts no valid
 * UTF-8 sequence with '?' and returns s: JSON strings must be UTF-8, tool
 * output and file names need not be. */
char *collect_utf8_fix(char *s);
/* collect_text_dup returns collect_utf8_fix() of a new copy of s[0..n) (up to
 * a NUL). */
char *collect_text_dup(const char *s, size_t n);

/* One finding of a lint or type checker.  Owns its strings (valid
 * UTF-8). */
struct finding {
	char   *path; /* without a leading "./" */
	int64_t line;
	int64_t col;     /* -1: none */
	char   *code;    /* e.g. "E501", or NULL */
	char   *message; /* without a leading "error:"/"warning:" */
};

struct findings {
	struct finding *v;
	size_t          n, cap;
};

/* collect_lint_parse_line parses one line of len bytes (no newline) of the
 * form "path:line[:col]: message" into f (which it owns on success).  Returns
 * true for a finding; false, with f untouched, for anything else
 * (summaries, notes, lines without a message). */
bool collect_lint_parse_line(struct finding *f, const char *line, size_t len);
/* collect_lint_parse appends the findings of every line of text. */
void collect_lint_parse(struct findings *fs, const char *text, size_t len);
void collect_findings_fini(struct findings *fs);

/* collect_lint_summary returns a new JSON object {count, distinct_files,
 * top_files, top_violations} of fs: top_files by count desc then path,
 * top_violations the first TOP_N in output order. */
json_t *collect_lint_summary(const struct findings *fs);

/* A path and how often something was found in it. */
struct pcount {
	char   *path; /* owned */
	int64_t count;
};

/* collect_top_counts sorts v (count desc, then path) and returns a new JSON
 * array of the first max as {path, count}. */
json_t *collect_top_counts(struct pcount *v, size_t n, size_t max);
void    collect_pcounts_free(struct pcount *v, size_t n);

/* Coverage of one file, in percent. */
struct cov_file {
	char  *path;
	double pct;
};

struct coverage {
	bool             have_total;
	double           total_pct;
	struct cov_file *files;
	size_t           n;
};

/* cov_parse_xml parses a Cobertura report (root <coverage line-rate=..>,
 * per file <class filename=.. line-rate=..>).  Returns 0, or ERR_PROTO
 * with a reason in err for anything truncated or malformed; c is then
 * empty.  Release with coverage_fini(). */
int cov_parse_xml(struct coverage *c, const char *text, size_t len, char *err,
    size_t errlen);
/* cov_parse_text parses a `coverage report` table (rows "path stmts miss
 * [branch brpart] cover% [missing]", a TOTAL row).  Same contract. */
int cov_parse_text(struct coverage *c, const char *text, size_t len, char *err,
    size_t errlen);
/* cov_parse picks the parser by content (XML starts with '<'). */
int  cov_parse(struct coverage *c, const char *text, size_t len, char *err,
     size_t errlen);
void coverage_fini(struct coverage *c);
/* cov_json returns a new coverage section of a measured report. */
json_t *cov_json(const struct coverage *c, const char *source);

/* collect_todo_binary: a NUL byte in the first 8 KiB. */
bool collect_todo_binary(const char *text, size_t len);
/* collect_todo_count adds the occurrences of "TODO" and "FIXME" in text. */
void collect_todo_count(
    const char *text, size_t len, int64_t *todo, int64_t *fixme);

/* collect_count_lines returns the number of non-empty lines of text. */
int64_t collect_count_lines(const char *text, size_t len);
/* collect_git_log parses `git log -1 --format=%ct%x00%s` output: commit
 * time (unix seconds) and subject (new string).  0 or ERR_PROTO. */
int collect_git_log(const char *text, size_t len, int64_t *ct, char **subject);
/* collect_first_line returns a new copy of the first non-empty line of text,
 * trimmed and cut to max bytes (never inside a UTF-8 character), or
 * NULL when there is none. */
char *collect_first_line(const char *text, size_t len, size_t max);

/*
 * observe.c: the worker.
 */

/* What the daemon asks the worker to observe (the spec file). */
struct obs_spec {
	char   *run_id, *repo, *path;
	int64_t observed_at;    /* unix ms */
	int64_t deadline_ms;    /* unix ms: finish by then */
	int64_t cmd_timeout_ms; /* per command */
	int64_t todo_max_files;
	json_t *lint_cmd; /* array of strings or NULL */
	json_t *type_cmd;
	json_t *coverage_paths; /* array of strings */
	json_t *tests;          /* the tests section or NULL */
};

/* observe_spec_parse fills s from a spec object.  Returns 0 or ERR_INVAL with
 * a reason in err; release with observe_spec_fini() in both cases. */
int observe_spec_parse(
    struct obs_spec *s, const json_t *o, char *err, size_t errlen);
void observe_spec_fini(struct obs_spec *s);

/* observe returns a new snapshot of s (never NULL): what could not be
 * collected is null/unavailable and explained in its errors map. */
json_t *observe(const struct obs_spec *s);

#endif
