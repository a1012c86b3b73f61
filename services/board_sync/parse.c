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

int
board_parse_description(const char *desc, const char *goal_field,
    json_t **out, char *err, size_t errlen)
{
	struct buf  goal, cons;
	json_t     *ex = json_object(), *paths = NULL;
	char       *copy, *line, *next, *t, *colon, *v;
	const char *mode = NULL;
	bool        in_block = false, had_block = false, in_paths = false;
	bool        blank_pending = false;
	int         rv = 0;

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
		if (!had_block && strncasecmp(t, "## execution", 12) == 0 &&
		    trim(t + 12)[0] == '\0') {
			in_block = had_block = true;
			blank_pending = false;
			continue;
		}
		if (in_block && blank_pending)
			in_block = false;
		if (in_block) {
			if (in_paths && t[0] == '-' ) {
				json_array_append_new(paths,
				    json_string(trim(t + 1)));
				continue;
			}
			in_paths = false;
			if ((colon = strchr(t, ':')) == NULL) {
				in_block = false; /* prose right after: goal */
			} else {
				*colon = '\0';
				v = trim(colon + 1);
				t = trim(t);
				if (strcasecmp(t, "allowed_paths") == 0) {
					paths = json_array();
					json_object_set_new(ex,
					    "allowed_paths", paths);
					in_paths = true;
					if (*v != '\0') /* inline a, b */
						for (char *p = strtok(v, ",");
						     p; p = strtok(NULL, ","))
							json_array_append_new(
							    paths, json_string(
							        trim(p)));
				} else if (strcasecmp(t, "open_pr") == 0)
					json_object_set_new(ex, "open_pr",
					    json_boolean(truthy(v)));
				else if (strcasecmp(t, "mode") == 0) {
					if ((mode = mode_map(v)) == NULL) {
						snprintf(err, errlen,
						    "Unsupported execution "
						    "mode: %s", v);
						rv = ERR_PROTO;
						goto out;
					}
					json_object_set_new(ex, "mode",
					    json_string(mode));
				} else if (*v != '\0')
					json_object_set_new(ex, t,
					    json_string(v));
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
	if (mode == NULL)
		json_object_set_new(ex, "mode", json_string("goal"));
	if (json_object_get(ex, "base_branch") == NULL)
		json_object_set_new(ex, "base_branch", json_string(""));
	if (json_object_get(ex, "allowed_paths") == NULL)
		json_object_set_new(ex, "allowed_paths", json_array());
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
	json_object_set_new(ex, "goal", json_string(buf_cstr(&goal)));
	json_object_set_new(ex, "constraints",
	    cons.len ? json_string(buf_cstr(&cons)) : json_null());
	json_object_set_new(ex, "has_block", json_boolean(had_block));
	*out = ex;
	ex = NULL;
out:
	json_decref(ex);
	free(copy);
	buf_fini(&goal);
	buf_fini(&cons);
	return (rv);
}
