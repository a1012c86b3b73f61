/*
 * dep.h - a repo's dependency pins, what is installed, and the drift
 * between them (libopc_dep, common/dep.c).
 *
 * One reader for `opc dependency-check` and the observer's worker (whose
 * snapshot the proposer turns into dependency_update proposals).  It
 * reads the pins of requirements*.txt, pyproject.toml (PEP 621
 * [project] dependencies and [tool.poetry.*dependencies]), package.json
 * (dependencies, devDependencies) and go.mod (require); what is
 * installed from files only (a .venv/venv's *.dist-info, node_modules,
 * go.sum), or from `pip list --format=json` output a caller ran; and
 * each package's status against its pin.  A file it cannot read is an
 * error line in the report (file:line: why) and counted, never a crash.
 */
#ifndef OPC_DEP_H
#define OPC_DEP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* One pinned package.  Strings are owned (NULL: not known). */
struct dep_item {
	char       *eco;    /* "python" | "node" | "go" */
	char       *name;   /* as the manifest spells it */
	char       *file;   /* the manifest, relative to the repo */
	char       *spec;   /* the constraint as written ("==1.2", "^2.0") */
	char       *pinned; /* the version the spec names (its lower bound) */
	bool        exact;  /* the spec allows that version only */
	bool        dev;    /* a dev/optional dependency */
	char       *installed; /* what is installed, NULL: not found */
	char       *latest;    /* the registry's newest, when looked up */
	const char *status;    /* dep_status (static) */
	char       *note;      /* why the status, for people */
};

/* The pins of one repo and what is known of them. */
struct dep_report {
	struct dep_item *v;
	size_t           n;
	char           **errors; /* "file:line: why", owned */
	size_t           nerrors;
	/* which ecosystems have an installed set to look in (a venv or pip
	 * list, node_modules, go.sum): a pin absent from it is missing */
	bool have_python, have_node, have_go;
};

void dep_report_init(struct dep_report *);
void dep_report_fini(struct dep_report *);

/* dep_parse_requirements, dep_parse_pyproject, dep_parse_package_json
 * and dep_parse_gomod add the pins of one manifest's text (file names it
 * in the items and errors).  A line they cannot read adds an error and
 * is skipped; returns the number of errors added. */
int dep_parse_requirements(
    struct dep_report *, const char *file, const char *text);
int dep_parse_pyproject(
    struct dep_report *, const char *file, const char *text);
int dep_parse_package_json(
    struct dep_report *, const char *file, const char *text);
int dep_parse_gomod(struct dep_report *, const char *file, const char *text);

/* dep_read_repo reads every manifest dep knows under dir (its top
 * level: requirements*.txt, pyproject.toml, package.json, go.mod) and
 * what is installed there (dep_installed_files).  Returns the number of
 * errors added; a dir with no manifest adds none and no item. */
int dep_read_repo(struct dep_report *, const char *dir);

/* dep_installed_files fills each item's installed version from the
 * files under dir: .venv/ or venv/ lib/python* /site-packages/
 * *.dist-info names, node_modules/<name>/package.json, go.sum. */
void dep_installed_files(struct dep_report *, const char *dir);

/* dep_installed_pip_json fills the python items that have no installed
 * version yet from `pip list --format=json` output.  Returns 0, or -1
 * (an error added) when the text is not that list. */
int dep_installed_pip_json(struct dep_report *, const char *json);

/* dep_classify sets each item's status and note: "missing" (the
 * ecosystem has an installed set and the package is not in it),
 * "drift" (installed but not what the pin allows), "outdated" (the
 * registry has a newer version than the pin and what is installed),
 * "ok", or "unknown" (nothing installed to compare with). */
void dep_classify(struct dep_report *);

/* dep_task_kind returns the kind of task a status calls for: "breakage"
 * (missing), "drift", "update" (outdated), or NULL (no task). */
const char *dep_task_kind(const char *status);

/* dep_vercmp compares two version strings segment by segment (a leading
 * v or =, ^, ~ is skipped; numbers numerically): <0, 0 or >0. */
int dep_vercmp(const char *a, const char *b);

/* dep_norm_name returns the name compared across sources (python:
 * lower case, runs of -_. as one -; others as they are). */
char *dep_norm_name(const char *eco, const char *name);

/* dep_report_json returns the report's statuses and errors as a new
 * object {statuses: [{key, label, kind, name, file, spec,
 * pinned_version, installed_version, upstream_latest, status, healthy,
 * dev, notes[]}], errors: [], counts: {status: n}}; key is
 * "<repo>:<eco>:<name>". */
json_t *dep_report_json(const struct dep_report *, const char *repo);

#endif
