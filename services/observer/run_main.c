/*
 * run_main.c - opc-observe-run --spec SPEC.json --out SNAPSHOT.json
 *
 * The worker opc-observer spawns for each observation (see collect.h):
 * observes the checkout the spec names and writes the snapshot JSON
 * atomically.  Exit 0 once SNAPSHOT.json was written, whatever was
 * collected; exit 1 (with a message on stderr) when the arguments or the
 * spec are bad or the snapshot could not be written.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect.h"
#include "opc/proc.h"
#include "opc/strv.h"
#include "opc/util.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: opc-observe-run --spec SPEC.json --out SNAPSHOT.json\n"
	    "\n"
	    "Observes one repository checkout (git state, lint and type\n"
	    "checker findings, coverage report, TODO/FIXME counts) as the\n"
	    "spec written by opc-observer describes, and writes the snapshot\n"
	    "to SNAPSHOT.json.  Commands run without a shell, with the\n"
	    "checkout as working directory.  Exit status 0 when "
	    "SNAPSHOT.json\n"
	    "was written, 1 otherwise.\n");
}

/* git_env makes every git command look at the checkout itself: no
 * GIT_DIR and the like inherited from whoever started the daemon, and no
 * discovery above the checkout (a directory that is no repository must
 * not report the repository around it, e.g. a state dir inside the
 * source tree).  Observing never takes the index lock a refresh would,
 * and never waits for a password. */
static void
git_env(const char *path)
{
	static const char *const drop[] = { "GIT_DIR", "GIT_WORK_TREE",
		"GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR",
		"GIT_NAMESPACE" };
	char                    *parent = xstrdup(path), *slash;
	size_t                   i;

	for (i = 0; i < nitems(drop); i++)
		unsetenv(drop[i]);
	if ((slash = strrchr(parent, '/')) != NULL && slash != parent) {
		*slash = '\0';
		setenv("GIT_CEILING_DIRECTORIES", parent, 1);
	}
	free(parent);
	setenv("GIT_OPTIONAL_LOCKS", "0", 1);
	setenv("GIT_TERMINAL_PROMPT", "0", 1);
}

/* write_snapshot observes and writes the snapshot; 0 or 1 (exit code). */
static int
write_snapshot(const char *spec_path, const char *out)
{
	struct obs_spec s;
	json_error_t    je;
	json_t         *o, *snap;
	char            err[256], *text;
	int             rv = 1;

	if ((o = json_load_file(spec_path, 0, &je)) == NULL) {
		fprintf(stderr, "opc-observe-run: %s:%d: %s\n", spec_path,
		    je.line, je.text);
		return (1);
	}
	if (observe_spec_parse(&s, o, err, sizeof(err)) != 0) {
		fprintf(stderr, "opc-observe-run: %s: %s\n", spec_path, err);
		goto out;
	}
	git_env(s.path);
	snap = observe(&s);
	text = json_dumps(snap, JSON_COMPACT | JSON_SORT_KEYS);
	if (text != NULL && write_file_atomic(out, text, strlen(text)) == 0)
		rv = 0;
	else
		fprintf(stderr, "opc-observe-run: cannot write %s\n", out);
	free(text);
	json_decref(snap);
out:
	observe_spec_fini(&s);
	json_decref(o);
	return (rv);
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "spec", required_argument, NULL, 's' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spec = NULL, *out = NULL;
	int         c;

	while ((c = getopt_long(argc, argv, "s:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			spec = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			usage(stdout);
			return (0);
		default:
			usage(stderr);
			return (1);
		}
	}
	if (optind != argc || spec == NULL || out == NULL || *out == '\0') {
		usage(stderr);
		return (1);
	}
	proc_install_signals();
	return (write_snapshot(spec, out));
}
