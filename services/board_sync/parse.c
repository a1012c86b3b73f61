/*
 * parse.c - the task description's optional "## Execution" block, with the
 * original's rules and error texts (task_parser):
 *
 *   ## Execution
 *   repo: repo_a
 *   base_branch: main
 *   mode: GOAL
 *   allowed_paths:
 *     - src/
 *   open_pr: true
 *
 *   Do the thing.
 *
 *   - Keep tests green.
 *
 * The block runs to the first blank line.  The rest of the description is
 * the goal text (unless the task has its own goal field, which wins);
 * lines starting with "- " are constraints.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "board.h"
#include "opc/err.h"
#include "opc/util.h"

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char) *s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char) e[-1]))
		*--e = '\0';
	return (s);
}

/* mode_map turns a mode as written into the execution mode, or NULL. */
static const char *
mode_map(const char *m)
{
	static const struct {
		const char *in, *out;
	} modes[] = {
		{ "goal", "goal" },
		{ "fix_pr", "fix_pr" },
		{ "test", "test_campaign" },
		{ "test_campaign", "test_campaign" },
		{ "improve", "improve_campaign" },
		{ "improve_campaign", "improve_campaign" },
	};
	size_t i;

	for (i = 0; i < nitems(modes); i++)
		if (strcasecmp(modes[i].in, m) == 0)
			return (modes[i].out);
	return (NULL);
}

static bool
truthy(const char *v)
{
	return (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
	    strcmp(v, "1") == 0);
}

/* append adds line to b, separated by sep when b is not empty. */
static void
append(struct buf *b, const char *sep, const char *line)
{
	if (b->len > 0)
		buf_puts(b, sep);
	buf_puts(b, line);
}

/* set replaces *at with a copy of v, made valid UTF-8 (a record's text
 * must be: the bus refuses what is not). */
static void
set(char **at, const char *v)
{
	free(*at);
	*at = utf8_lossy(v);
}

static void
add_path(struct msg_strs *ps, const char *v)
{
	char *p = utf8_lossy(v);

	msg_strs_add(ps, p);
	free(p);
}

int
board_parse_description(const char *desc, const char *goal_field,
    struct msg_task_execution **out, char *err, size_t errlen)
{
	struct msg_task_execution *ex = msg_task_execution_new();
	struct buf                 goal, cons;
	char                      *copy, *line, *next, *t, *colon, *v;
	const char                *mode = NULL;
	bool in_block = false, had_block = false, in_paths = false;
	bool blank_pending = false;
	int  rv            = 0;

	*out = NULL;
	buf_init(&goal);
	buf_init(&cons);
	copy = xstrdup(desc ? desc : "");
	for (line = copy; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		t = trim(line);
		if (*t == '\0') {
			blank_pending = true;
			continue;
		}
		/* the proposer's provenance: metadata for readers, neither
		 * goal nor constraints (it closes the description) */
		if (strncasecmp(t, "## proposal provenance", 22) == 0 &&
		    trim(t + 22)[0] == '\0')
			break;
		if (!had_block && strncasecmp(t, "## execution", 12) == 0 &&
		    trim(t + 12)[0] == '\0') {
			in_block = had_block = true;
			blank_pending        = false;
			continue;
		}
		if (in_block && blank_pending)
			in_block = false;
		if (in_block) {
			if (in_paths && t[0] == '-') {
				add_path(&ex->allowed_paths, trim(t + 1));
				continue;
			}
			in_paths = false;
			if ((colon = strchr(t, ':')) == NULL) {
				in_block = false; /* prose right after: goal */
			} else {
				*colon = '\0';
				v      = trim(colon + 1);
				t      = trim(t);
				if (strcasecmp(t, "allowed_paths") == 0) {
					in_paths = true;
					if (*v != '\0') /* inline a, b */
						for (char *p = strtok(v, ",");
						     p; p = strtok(NULL, ","))
							add_path(
							    &ex->allowed_paths,
							    trim(p));
				} else if (strcasecmp(t, "open_pr") == 0) {
					ex->has_open_pr = true;
					ex->open_pr     = truthy(v);
				} else if (strcasecmp(t, "mode") == 0) {
					if ((mode = mode_map(v)) == NULL) {
						snprintf(err, errlen,
						    "Unsupported execution "
						    "mode: %s",
						    v);
						rv = ERR_PROTO;
						goto out;
					}
				} else if (*v == '\0')
					;
				else if (strcasecmp(t, "repo") == 0)
					set(&ex->repo, v);
				else if (strcasecmp(t, "base_branch") == 0)
					set(&ex->base_branch, v);
				else if (strcasecmp(t, "max_changed_files") ==
				    0)
					set(&ex->max_changed_files, v);
				/* any other key: not one opcenter reads */
				blank_pending = false;
				continue;
			}
		}
		if (strncmp(t, "- ", 2) == 0)
			append(&cons, "\n", t);
		else
			append(&goal, blank_pending ? "\n\n" : "\n", t);
		blank_pending = false;
	}
	set(&ex->mode, mode != NULL ? mode : "goal");
	if (ex->base_branch == NULL)
		set(&ex->base_branch, "");
	if (goal_field != NULL && *goal_field != '\0') {
		buf_reset(&goal);
		buf_puts(&goal, goal_field);
	}
	if (goal.len == 0) {
		snprintf(err, errlen, "Missing goal text");
		rv = ERR_PROTO;
		goto out;
	}
	if (!utf8_valid(goal.data, goal.len)) { /* JSON cannot hold it */
		snprintf(err, errlen, "Goal text is not valid UTF-8");
		rv = ERR_PROTO;
		goto out;
	}
	set(&ex->goal, buf_cstr(&goal));
	if (cons.len > 0)
		set(&ex->constraints, buf_cstr(&cons));
	ex->has_block = had_block;
	*out          = ex;
	ex            = NULL;
out:
	msg_task_execution_free(ex);
	free(copy);
	buf_fini(&goal);
	buf_fini(&cons);
	return (rv);
}
