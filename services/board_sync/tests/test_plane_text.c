/*
 * test_plane_text.c - Plane comment rendering and HTML-to-text, starting
 * from the original's acceptance case (inventory section 8, case 1), and
 * without its defect of dropping every line that is not a bullet.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "plane.h"

static void
test_comment_html(void **state)
{
	char *h;

	(void) state;
	h = plane_comment_html("Result\n- success: true\n- run_id: abc");
	assert_string_equal(h, "<p>Result</p><ul><li>success: true</li>"
	                       "<li>run_id: abc</li></ul>");
	free(h);
	/* plain lines after bullets are kept (the original dropped them) */
	h = plane_comment_html("Head\n- a\nmore <text> & \"quotes\"\n\n- b");
	assert_string_equal(h, "<p>Head</p><ul><li>a</li></ul><p>more "
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
	t = plane_text("<h2>Goal</h2><p>Do &lt;it&gt; &amp; more</p><ul><li>one"
	               "</li><li>two</li></ul><p>a<br/>b</p>");
	assert_string_equal(t, "## Goal\nDo <it> & more\n\n- one\n- two\na\nb");
	free(t);
	t = plane_text(NULL);
	assert_string_equal(t, "");
	free(t);
	/* round trip of what we post */
	t = plane_text("<p>Result</p><ul><li>success: true</li></ul>");
	assert_string_equal(t, "Result\n\n- success: true");
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_comment_html),
		cmocka_unit_test(test_text),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
