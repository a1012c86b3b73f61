/*
 * report.c - retained JSON artifacts of the autonomy stages (see
 * report.h).  Names sort by time (the UTC timestamp with milliseconds
 * first), so retention is "keep the last keep names".
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "opc/err.h"
#include "opc/log.h"
#include "opc/report.h"
#include "opc/util.h"

static int
cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *) a, *(char *const *) b));
}

/* prune removes the oldest reports of dir beyond keep. */
static void
prune(const char *dir, int64_t keep)
{
	DIR           *d = opendir(dir);
	struct dirent *e;
	char         **v = NULL, *p;
	size_t         n = 0, i, len;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		len = strlen(e->d_name);
		if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		v      = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp);
	for (i = 0; i < n; i++) {
		if ((int64_t) (n - i) > keep) {
			p = xasprintf("%s/%s", dir, v[i]);
			if (unlink(p) != 0 && errno != ENOENT)
				log_warn("report.prune",
				    "cannot remove %s: %s", p,
				    strerror(errno));
			free(p);
		}
		free(v[i]);
	}
	free(v);
}

int
report_write(char **pathp, const char *state_dir, const char *stage,
    const json_t *doc, int64_t keep)
{
	struct stat sb;
	struct tm   tm;
	time_t      s;
	int64_t     ms = now_ms();
	char        ts[32], *dir, *path = NULL, *text;
	int         i, rv;

	if (pathp != NULL)
		*pathp = NULL;
	s = (time_t) (ms / 1000);
	gmtime_r(&s, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%S", &tm);
	dir = xasprintf("%s/reports/%s", state_dir, stage);
	if (mkdirs(dir, 0700) != 0) {
		free(dir);
		return (ERR_IO);
	}
	for (i = 0; i < 100; i++) {
		free(path);
		path = i == 0
		    ? xasprintf("%s/%s.%03dZ.json", dir, ts, (int) (ms % 1000))
		    : xasprintf("%s/%s.%03dZ-%d.json", dir, ts,
		          (int) (ms % 1000), i);
		if (stat(path, &sb) != 0)
			break;
	}
	text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	rv   = text != NULL ? write_file_atomic(path, text, strlen(text))
	                    : ERR_IO;
	free(text);
	if (rv != 0) {
		free(path);
		free(dir);
		return (ERR_IO);
	}
	if (keep > 0)
		prune(dir, keep);
	free(dir);
	if (pathp != NULL)
		*pathp = path;
	else
		free(path);
	return (0);
}
