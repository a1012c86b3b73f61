/*
 * cmd_usage.c - `opc usage`: the usage store's events (what ran, how it
 * ended, quota events, quality warnings, scope violations), filtered by
 * kind, repo and time, read over the recorder's ctl socket (never its
 * database), as a table or as JSON.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "opc.h"
#include "opc/err.h"
#include "opc/util.h"

static const char usage_usage[] =
    "usage: opc usage [--kind K] [--repo R] [--since D] [--limit N] "
    "[--json]\n"
    "  K: execution, execution_outcome, quota_event,\n"
    "     executor_quality_warning, scope_violation (default: all)\n"
    "  D: 2026-11-25, 2026-11-25T15:04[:05][Z] (UTC), or an age: 30m, "
    "24h, 7d\n";

/* days_from_civil: days since 1970-01-01 of y-m-d (proleptic
 * Gregorian; Howard Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468);
}

/* parse_since sets *ms (unix ms) from a date, a UTC time or an age
 * before now_ms; -1 when s is none of them. */
static int
parse_since(const char *s, int64_t now_ms, int64_t *ms)
{
	int  y, mo, d, h = 0, mi = 0, se = 0, n = 0;
	long v;
	char unit, *end;

	if (isdigit((unsigned char) s[0]) && strlen(s) >= 2 &&
	    strchr("smhd", s[strlen(s) - 1]) != NULL &&
	    strchr(s, '-') == NULL) {
		v    = strtol(s, &end, 10);
		unit = *end;
		if (end == s || end[1] != '\0' || v < 0 || v > 36500L * 24)
			return (-1);
		*ms = now_ms -
		    (int64_t) v *
		        (unit == 's'          ? 1000
		                : unit == 'm' ? 60000
		                : unit == 'h' ? 3600000
		                              : 86400000);
		return (0);
	}
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || mo < 1 ||
	    mo > 12 || d < 1 || d > 31)
		return (-1);
	s += n;
	if (*s == 'T' || *s == ' ') {
		n = 0;
		if (sscanf(s + 1, "%2d:%2d%n", &h, &mi, &n) != 2)
			return (-1);
		s += 1 + n;
		if (*s == ':') {
			n = 0;
			if (sscanf(s + 1, "%2d%n", &se, &n) != 1)
				return (-1);
			s += 1 + n;
		}
		if (*s == 'Z')
			s++;
		if (h > 23 || mi > 59 || se > 60)
			return (-1);
	}
	if (*s != '\0')
		return (-1);
	*ms = ((days_from_civil(y, mo, d) * 86400) + h * 3600 + mi * 60 + se) *
	    1000;
	return (0);
}

static long
parse_count(const char *s)
{
	char *end;
	long  v = strtol(s, &end, 10);

	return (*s != '\0' && *end == '\0' && v > 0 ? v : -1);
}

/* detail renders what is particular to an event's kind into b. */
static void
detail(struct buf *b, const json_t *e)
{
	const char   *k = opc_jstr(e, "kind", "");
	const json_t *v;
	char         *js;
	size_t        i;

	if (strcmp(k, "execution") == 0)
		buf_printf(b, "lane %s, backend %s", opc_jstr(e, "lane", "-"),
		    opc_jstr(e, "backend", "-"));
	else if (strcmp(k, "execution_outcome") == 0)
		buf_printf(b, "%s%s%s",
		    json_is_true(json_object_get(e, "succeeded")) ? "succeeded"
		                                                  : "failed",
		    json_object_get(e, "failure_category") != NULL &&
		            !json_is_null(
		                json_object_get(e, "failure_category"))
		        ? ": "
		        : "",
		    opc_jstr(e, "failure_category", ""));
	else if (strcmp(k, "quota_event") == 0)
		buf_printf(b, "%s, backend %s",
		    opc_jstr(e, "failure_category", "quota"),
		    opc_jstr(e, "backend", "-"));
	else if (strcmp(k, "executor_quality_warning") == 0) {
		js = json_dumps(json_object_get(e, "suppression_counts"),
		    JSON_COMPACT | JSON_PRESERVE_ORDER);
		buf_printf(b, "%s", js != NULL ? js : "{}");
		free(js);
	} else if (strcmp(k, "scope_violation") == 0) {
		buf_printf(b, "%lld file(s):",
		    (long long) json_integer_value(
		        json_object_get(e, "violated_count")));
		json_array_foreach (json_object_get(e, "violated_files"), i, v)
			buf_printf(b, "%s %s", i > 0 ? "," : "",
			    json_string_value(v));
	}
}

static void
print_table(const json_t *d)
{
	const json_t *e;
	struct buf    b;
	size_t        i;

	if (json_array_size(json_object_get(d, "events")) == 0) {
		printf("no events\n");
		return;
	}
	printf("%-20s %-24s %-12s %-8s %-12s %s\n", "TIME", "KIND", "TASK",
	    "RUN", "REPO", "DETAIL");
	buf_init(&b);
	json_array_foreach (json_object_get(d, "events"), i, e) {
		buf_reset(&b);
		detail(&b, e);
		printf("%-20.19s %-24s %-12s %-8.8s %-12s %s\n",
		    opc_jstr(e, "timestamp", "-"), opc_jstr(e, "kind", "-"),
		    opc_jstr(e, "task_id", "-"), opc_jstr(e, "run_id", "-"),
		    opc_jstr(e, "repo_key", "-"), buf_cstr(&b));
	}
	buf_fini(&b);
}

int
cmd_usage(struct opc *o, int argc, char **argv)
{
	struct msg_recorder_usage q;
	json_t                   *data;
	bool                      json = false;
	int                       k;

	memset(&q, 0, sizeof(q));
	for (k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--json") == 0)
			json = true;
		else if (strcmp(argv[k], "--kind") == 0 && k + 1 < argc)
			q.kind = argv[++k];
		else if (strcmp(argv[k], "--repo") == 0 && k + 1 < argc)
			q.repo_key = argv[++k];
		else if (strcmp(argv[k], "--since") == 0 && k + 1 < argc) {
			if (parse_since(argv[++k], (int64_t) time(NULL) * 1000,
			        &q.since_ms) != 0) {
				fprintf(stderr,
				    "opc usage: --since: not a date, a "
				    "time or an age: %s\n%s",
				    argv[k], usage_usage);
				return (2);
			}
		} else if (strcmp(argv[k], "--limit") == 0 && k + 1 < argc) {
			if ((q.limit = parse_count(argv[++k])) < 0) {
				fprintf(stderr,
				    "opc usage: --limit wants a "
				    "positive number\n");
				return (2);
			}
		} else {
			fprintf(stderr, "opc usage: unknown argument %s\n%s",
			    argv[k], usage_usage);
			return (2);
		}
	}
	if (opc_call(o, "usage", "recorder", MSG_RECORDER_USAGE, &q, &data,
	        OPC_CTL_TIMEOUT) != 0)
		return (1);
	if (json) {
		json_dumpf(data, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("\n");
	} else
		print_table(data);
	json_decref(data);
	return (0);
}
