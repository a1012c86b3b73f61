/*
 * fuzz_plane.c - libFuzzer target: what board-sync reads from Plane.
 *
 * The first byte picks the parser, the rest is its input:
 *   0  JSON: one list page (plane_page, plane.c) of states, labels and
 *      work items; the states and labels maps (plane_index) and every
 *      item read as board-sync mirrors it (plane_item_read: state,
 *      "repo:" and "task-kind:" labels, description -> Execution block;
 *      an item with a state or label id not listed is not read, and
 *      says which; one of a repo not configured, here "demo" and "a",
 *      is not read and names the repo)
 *   1  text: a task description's "## Execution" block
 *      (board_parse_description, parse.c); the bytes after a NUL are the
 *      task's own goal field
 *   2  text: HTML -> text (plane_text) and text -> comment HTML
 *      (plane_comment_html)
 * Oracles: a page appends exactly its results and a cursor only with
 * more to come; a parsed description has a mode, a base branch, a list
 * of allowed paths and a non-empty goal; comment HTML escapes every
 * '<', '>', '&' and '"' of the text (only its own tags remain).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "board_plane.h"
#include "opc/err.h"
#include "opc/util.h"
#include "plane.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                             \
	do {                                                                 \
		if (!(c)) {                                                  \
			fprintf(stderr, "fuzz_plane: %s:%d: %s\n", __FILE__, \
			    __LINE__, #c);                                   \
			abort();                                             \
		}                                                            \
	} while (0)

static void
json_page(const char *p, size_t n)
{
	struct bplane     bp;
	struct plane_item pi;
	json_t           *body, *acc, *res, *it;
	const char       *next;
	size_t            i, before;

	body = json_loadb(p, n, 0, NULL);
	acc  = json_array();
	json_array_append_new(acc, json_string("earlier page"));
	before = json_array_size(acc);
	next   = plane_page(acc, body);
	res    = json_is_array(body) ? body : json_object_get(body, "results");
	CHECK(json_array_size(acc) ==
	    before + (json_is_array(res) ? json_array_size(res) : 0));
	CHECK(next == NULL ||
	    (json_array_size(res) > 0 && json_is_object(body)));

	memset(&bp, 0, sizeof(bp));
	bp.state_id   = json_object();
	bp.state_name = json_object();
	bp.label_id   = json_object();
	bp.label_name = json_object();
	bp.repos      = json_pack("{s:s, s:s}", "demo", "demo", "a", "a");
	plane_index(bp.state_id, bp.state_name, res);
	plane_index(bp.label_id, bp.label_name, res);
	CHECK(json_object_size(bp.state_id) <= json_array_size(res));
	json_array_foreach (res, i, it) {
		if (!plane_item_read(&pi, &bp, it)) {
			/* an unread item names the label it waits for */
			CHECK(pi.unknown_label == NULL ||
			    (pi.id != NULL && pi.names == NULL &&
			        json_object_get(
			            bp.label_name, pi.unknown_label) == NULL));
			CHECK(pi.unknown_state == NULL ||
			    (pi.id != NULL &&
			        json_object_get(
			            bp.state_name, pi.unknown_state) == NULL));
			CHECK(pi.other_repo[0] == '\0' || pi.id != NULL);
			continue;
		}
		CHECK(pi.id != NULL && pi.state != NULL && pi.repo != NULL);
		CHECK(pi.desc != NULL && pi.goal != NULL &&
		    json_is_array(pi.names));
		plane_item_fini(&pi);
	}
	json_decref(bp.state_id);
	json_decref(bp.state_name);
	json_decref(bp.label_id);
	json_decref(bp.label_name);
	json_decref(bp.repos);
	json_decref(acc);
	json_decref(body);
}

static void
description(const char *p, size_t n)
{
	char                      *desc = xstrndup(p, n);
	const char                *goal = NULL;
	struct msg_task_execution *ex, back;
	json_t                    *j;
	char                       err[256];
	int                        rv;

	if (strlen(desc) + 1 < n)
		goal = p + strlen(desc) + 1; /* may run to the end: copy */
	if (goal != NULL)
		goal = xstrndup(goal, n - strlen(desc) - 1);
	err[0] = '\0';
	rv     = board_parse_description(desc, goal, &ex, err, sizeof(err));
	if (rv != 0) {
		CHECK(rv == ERR_PROTO && ex == NULL && err[0] != '\0');
	} else {
		CHECK(ex->mode != NULL && ex->base_branch != NULL);
		CHECK(ex->goal != NULL && *ex->goal != '\0');
		/* what the bus carries must decode: valid UTF-8 throughout */
		j = msg_task_execution_to_json(ex);
		CHECK(j != NULL &&
		    msg_task_execution_from_json(&back, j, err, sizeof(err)) ==
		        0);
		msg_task_execution_fini(&back);
		json_decref(j);
		msg_task_execution_free(ex);
	}
	free((char *) goal);
	free(desc);
}

static const char *const tags[] = { "<p>", "</p>", "<ul>", "</ul>", "<li>",
	"</li>" };

static void
html(const char *p, size_t n)
{
	char       *in = xstrndup(p, n), *t, *h;
	const char *s;
	size_t      i, k;

	t = plane_text(in);
	CHECK(t != NULL);
	free(t);
	h = plane_comment_html(in);
	CHECK(h != NULL);
	for (s = h; *s != '\0'; s++) {
		if (*s == '<') {
			for (k = 0; k < nitems(tags); k++)
				if (strncmp(s, tags[k], strlen(tags[k])) == 0)
					break;
			CHECK(k < nitems(tags)); /* only our own tags */
			s += strlen(tags[k]) - 1;
			continue;
		}
		CHECK(*s != '>' && *s != '"');
		if (*s == '&')
			CHECK(strncmp(s, "&lt;", 4) == 0 ||
			    strncmp(s, "&gt;", 4) == 0 ||
			    strncmp(s, "&amp;", 5) == 0 ||
			    strncmp(s, "&quot;", 6) == 0);
	}
	for (i = 0; in[i] != '\0'; i++) /* no text, no list: a note */
		if (in[i] != '\n' && in[i] != ' ' && in[i] != '\r')
			break;
	if (in[i] == '\0')
		CHECK(strcmp(h, "<p>(no summary)</p>") == 0);
	free(h);
	free(in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *) data + 1;

	if (size < 1)
		return (0);
	switch (data[0] % 3) {
	case 0:
		json_page(p, size - 1);
		break;
	case 1:
		description(p, size - 1);
		break;
	default:
		html(p, size - 1);
		break;
	}
	return (0);
}
