/*
 * test_plane_text.c - Plane comment rendering and HTML-to-text, starting
 * from the original's acceptance case (inventory section 8, case 1), and
 * without its defect of dropping every line that is not a bullet; and
 * how a work item is read (plane_item_read).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "board_plane.h"
#include "plane.h"

static void
test_comment_html(void **state)
{
	char *h;

	(void) state;
	h = plane_comment_html("Result\n- success: true\n- run_id: abc");
	assert_string_equal(h,
	    "<p>Result</p><ul><li>success: true</li>"
	    "<li>run_id: abc</li></ul>");
	free(h);
	/* plain lines after bullets are kept (the original dropped them) */
	h = plane_comment_html("Head\n- a\nmore <text> & \"quotes\"\n\n- b");
	assert_string_equal(h,
	    "<p>Head</p><ul><li>a</li></ul><p>more "
	    "&lt;text&gt; &amp; &quot;quotes&quot;</p>"
	    "<ul><li>b</li></ul>");
	free(h);
	h = plane_comment_html("  \n\n");
	assert_string_equal(h, "<p>(no summary)</p>");
	free(h);
	h = plane_comment_html(NULL);
	assert_string_equal(h, "<p>(no summary)</p>");
	free(h);
}

static void
test_text(void **state)
{
	char *t;

	(void) state;
	t = plane_text(
	    "<h2>Goal</h2><p>Do &lt;it&gt; &amp; more</p><ul><li>one"
	    "</li><li>two</li></ul><p>a<br/>b</p>");
	assert_string_equal(
	    t, "## Goal\nDo <it> & more\n\n- one\n- two\na\nb");
	free(t);
	t = plane_text(NULL);
	assert_string_equal(t, "");
	free(t);
	/* round trip of what we post */
	t = plane_text("<p>Result</p><ul><li>success: true</li></ul>");
	assert_string_equal(t, "Result\n\n- success: true");
	free(t);
}

/* An item is read with the labels and states listed this cycle; one
 * with a label id the list lacks (made since) is not read at all. */
static void
test_item_labels(void **state)
{
	struct bplane     bp;
	struct plane_item pi;
	json_t           *states, *labels, *item;

	(void) state;
	memset(&bp, 0, sizeof(bp));
	bp.state_id   = json_object();
	bp.state_name = json_object();
	bp.label_id   = json_object();
	bp.label_name = json_object();
	bp.repos      = json_pack("{s:s}", "demo", "demo");
	states        = json_loads(
	           "[{\"id\": \"s1\", \"name\": \"Ready for AI\"}]", 0, NULL);
	labels =
	    json_loads("[{\"id\": \"l1\", \"name\": \"repo: demo\"},"
	               " {\"id\": \"l2\", \"name\": \"task-kind: goal\"}]",
	        0, NULL);
	plane_index(bp.state_id, bp.state_name, states);
	plane_index(bp.label_id, bp.label_name, labels);

	item = json_loads("{\"id\": \"w1\", \"name\": \"Do it\", \"state\": "
	                  "\"s1\", \"labels\": [\"l1\", 7, \"l2\"]}",
	    0, NULL);
	assert_true(plane_item_read(&pi, &bp, item));
	assert_string_equal(pi.id, "w1");
	assert_string_equal(pi.state, "Ready for AI");
	assert_string_equal(pi.repo, "demo");
	assert_string_equal(pi.kind, "goal");
	assert_int_equal(json_array_size(pi.names), 2); /* 7 is no label */
	assert_null(pi.unknown_label);
	plane_item_fini(&pi);

	/* l3 was made after the labels list: the item waits for it */
	json_array_append_new(
	    json_object_get(item, "labels"), json_string("l3"));
	assert_false(plane_item_read(&pi, &bp, item));
	assert_string_equal(pi.id, "w1");
	assert_string_equal(pi.unknown_label, "l3");
	assert_null(pi.names);

	/* listed again: read, with it */
	json_array_append_new(
	    labels, json_pack("{s:s, s:s}", "id", "l3", "name", "asks"));
	plane_index(bp.label_id, bp.label_name, labels);
	assert_true(plane_item_read(&pi, &bp, item));
	assert_int_equal(json_array_size(pi.names), 3);
	assert_string_equal(
	    json_string_value(json_array_get(pi.names, 2)), "asks");
	plane_item_fini(&pi);

	/* another deployment's repo: left alone, and named */
	json_array_append_new(labels,
	    json_pack("{s:s, s:s}", "id", "l4", "name", "repo: other"));
	plane_index(bp.label_id, bp.label_name, labels);
	json_array_set_new(
	    json_object_get(item, "labels"), 0, json_string("l4"));
	assert_false(plane_item_read(&pi, &bp, item));
	assert_string_equal(pi.other_repo, "other");
	assert_string_equal(pi.id, "w1");
	assert_null(pi.names);

	/* a state made after the states list: waits for it, like a label */
	json_object_set_new(item, "state", json_string("s9"));
	json_array_set_new(
	    json_object_get(item, "labels"), 0, json_string("l1"));
	assert_false(plane_item_read(&pi, &bp, item));
	assert_string_equal(pi.unknown_state, "s9");
	json_object_set_new(item, "state", json_string("s1"));

	/* no repo label: not a task for us, and nothing unknown */
	json_array_clear(json_object_get(item, "labels"));
	assert_false(plane_item_read(&pi, &bp, item));
	assert_null(pi.unknown_label);
	assert_string_equal(pi.other_repo, "");

	json_decref(item);
	json_decref(states);
	json_decref(labels);
	json_decref(bp.state_id);
	json_decref(bp.state_name);
	json_decref(bp.label_id);
	json_decref(bp.label_name);
	json_decref(bp.repos);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_comment_html),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_item_labels),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
