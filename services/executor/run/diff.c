/*
 * diff.c - what the run changed, from git's index.
 *
 * After `git add -A` the staged diff is the run's output: name-status
 * gives the paths and change types, numstat the line counts, --stat the
 * summary line and the plain diff the patch.  Both listings are read in
 * their -z form, so paths with spaces, quotes or newlines need no
 * unquoting, and renames come as separate old and new fields.
 *
 * A scratch workspace (no git) has no index: every regular file the
 * backend left outside .opcenter/ counts as added, with its line count.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "opc/err.h"
#include "run.h"

void
diff_changes_fini(struct changes *cs)
{
	size_t i;

	for (i = 0; i < cs->n; i++)
		free(cs->v[i].path);
	free(cs->v);
	cs->v = NULL;
	cs->n = 0;
}

/* field returns the NUL-terminated field at *off and moves past it, or
 * NULL at the end of s or on a missing terminator. */
static const char *
field(const char *s, size_t len, size_t *off)
{
	const char *f, *end;

	if (*off >= len)
		return (NULL);
	f = s + *off;
	if ((end = memchr(f, '\0', len - *off)) == NULL)
		return (NULL);
	*off += (size_t) (end - f) + 1;
	return (f);
}

static const char *
change_type(char c)
{
	switch (c) {
	case 'A':
	case 'C':
		return ("added");
	case 'D':
		return ("deleted");
	case 'R':
		return ("renamed");
	default: /* M, T, U, X */
		return ("modified");
	}
}

int
diff_parse_name_status(struct changes *cs, const char *s, size_t len)
{
	const char    *st, *path;
	struct change *c;
	size_t         off = 0;

	while ((st = field(s, len, &off)) != NULL) {
		if (st[0] == '\0')
			return (ERR_PROTO);
		/* Renames and copies carry the old path first. */
		if ((st[0] == 'R' || st[0] == 'C') &&
		    field(s, len, &off) == NULL)
			return (ERR_PROTO);
		if ((path = field(s, len, &off)) == NULL)
			return (ERR_PROTO);
		cs->v    = xrealloc(cs->v, (cs->n + 1) * sizeof(*cs->v));
		c        = &cs->v[cs->n++];
		c->path  = xstrdup(path);
		c->type  = change_type(st[0]);
		c->added = c->removed = 0;
	}
	return (0);
}

static long
count(const char *s, const char **end)
{
	long n;

	if (*s == '-') {
		*end = s + 1;
		return (0); /* binary */
	}
	errno = 0;
	n     = strtol(s, (char **) end, 10);
	if (errno != 0 || *end == s || n < 0)
		*end = NULL;
	return (n);
}

int
diff_parse_numstat(struct changes *cs, const char *s, size_t len)
{
	const char *f, *p, *path;
	long        a, d;
	size_t      off = 0, i;

	while ((f = field(s, len, &off)) != NULL) {
		a = count(f, &p);
		if (p == NULL || *p != '\t')
			return (ERR_PROTO);
		d = count(p + 1, &p);
		if (p == NULL || *p != '\t')
			return (ERR_PROTO);
		path = p + 1;
		if (*path == '\0') {
			/* rename: "a\td\t\0old\0new\0" */
			if (field(s, len, &off) == NULL ||
			    (path = field(s, len, &off)) == NULL)
				return (ERR_PROTO);
		}
		for (i = 0; i < cs->n; i++) {
			if (strcmp(cs->v[i].path, path) == 0) {
				cs->v[i].added   = a;
				cs->v[i].removed = d;
				break;
			}
		}
	}
	return (0);
}

char *
diff_stat_last_line(const char *s, size_t len)
{
	const char *end = s + len, *b, *e;

	for (;;) {
		while (end > s &&
		    (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t' ||
		        end[-1] == '\r'))
			end--;
		if (end == s)
			return (NULL);
		for (b = end; b > s && b[-1] != '\n'; b--)
			;
		for (e = b; e < end && (*e == ' ' || *e == '\t'); e++)
			;
		if (e < end)
			return (xstrndup(e, (size_t) (end - e)));
		end = b;
	}
}

/* save writes b to ws/.opcenter/name, noting a truncation. */
static int
save(struct exec_run *x, const char *name, const struct proc_result *r)
{
	struct buf b;
	char      *p = run_ws_path(x, name);
	int        rv;

	buf_init(&b);
	buf_append(&b, r->out.data, r->out.len);
	if (r->out_truncated)
		buf_puts(&b, "\n[truncated]\n");
	rv = write_file_atomic(p, b.data != NULL ? b.data : "", b.len);
	if (rv != 0)
		run_fail(x, "infra_tooling", xasprintf("cannot write %s", p));
	free(p);
	buf_fini(&b);
	return (rv);
}

/* list_files appends every regular file under dir (rel: its path inside
 * the workspace, "" at the top) to cs as added; .opcenter/ is ours. */
static int
list_files(struct changes *cs, const char *dir, const char *rel)
{
	struct dirent *de;
	struct stat    st;
	struct change *c;
	DIR           *d;
	FILE          *f;
	char          *p, *r;
	int            ch, rv = 0;

	if ((d = opendir(dir)) == NULL)
		return (ERR_IO);
	while (rv == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    (rel[0] == '\0' && strcmp(de->d_name, ".opcenter") == 0))
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		r = rel[0] ? xasprintf("%s/%s", rel, de->d_name)
		           : xstrdup(de->d_name);
		if (lstat(p, &st) != 0)
			rv = ERR_IO;
		else if (S_ISDIR(st.st_mode))
			rv = list_files(cs, p, r);
		else if (S_ISREG(st.st_mode)) {
			cs->v = xrealloc(cs->v, (cs->n + 1) * sizeof(*cs->v));
			c     = &cs->v[cs->n++];
			c->path  = r;
			r        = NULL;
			c->type  = "added";
			c->added = c->removed = 0;
			if ((f = fopen(p, "r")) != NULL) {
				while ((ch = getc(f)) != EOF)
					c->added += ch == '\n';
				fclose(f);
			}
		}
		free(p);
		free(r);
	}
	closedir(d);
	return (rv);
}

static int
scratch_collect(struct exec_run *x)
{
	struct proc_result r;
	int                rv;

	if ((rv = list_files(&x->changes, x->ws, "")) != 0) {
		run_fail(x, "infra_tooling",
		    xasprintf("cannot list the workspace %s", x->ws));
		return (rv);
	}
	x->diff_stat_excerpt = xasprintf("%zu file%s in a scratch workspace "
	                                 "(no git)",
	    x->changes.n, x->changes.n == 1 ? "" : "s");
	memset(&r, 0, sizeof(r));
	buf_puts(&r.out, x->diff_stat_excerpt);
	buf_puts(&r.out, "\n");
	rv = save(x, "diff_stat.txt", &r);
	proc_result_fini(&r);
	if (rv == 0)
		x->diff_ok = 1;
	return (rv);
}

int
diff_collect(struct exec_run *x, struct buf *patch)
{
	struct proc_result r;
	char              *reason = NULL;
	int                rv;

	if (x->req->bk.scratch)
		return (scratch_collect(x));
	memset(&r, 0, sizeof(r));
	if ((rv = workspace_git(&r, x->ws, &reason, "add", "-A", NULL)) != 0)
		goto fail;
	proc_result_fini(&r);
	if ((rv = workspace_git(&r, x->ws, &reason, "diff", "--cached", "-M",
	         "--name-status", "-z", NULL)) != 0)
		goto fail;
	if ((rv = diff_parse_name_status(
	         &x->changes, r.out.data, r.out.len)) != 0) {
		reason = xstrdup("cannot parse git diff --name-status");
		goto fail;
	}
	proc_result_fini(&r);
	if ((rv = workspace_git(&r, x->ws, &reason, "diff", "--cached", "-M",
	         "--numstat", "-z", NULL)) != 0)
		goto fail;
	if ((rv = diff_parse_numstat(&x->changes, r.out.data, r.out.len)) !=
	    0) {
		reason = xstrdup("cannot parse git diff --numstat");
		goto fail;
	}
	proc_result_fini(&r);
	if ((rv = workspace_git(&r, x->ws, &reason, "diff", "--cached", "-M",
	         "--no-color", "--stat", NULL)) != 0)
		goto fail;
	x->diff_stat_excerpt = diff_stat_last_line(r.out.data, r.out.len);
	if ((rv = save(x, "diff_stat.txt", &r)) != 0)
		goto out;
	proc_result_fini(&r);
	if ((rv = workspace_git(&r, x->ws, &reason, "diff", "--cached", "-M",
	         "--no-color", "--no-ext-diff", NULL)) != 0)
		goto fail;
	if ((rv = save(x, "diff.patch", &r)) != 0)
		goto out;
	buf_append(patch, r.out.data, r.out.len);
	buf_cstr(patch);
	x->diff_ok = 1;
	goto out;

fail:
	run_fail(x, "infra_tooling", reason);
out:
	proc_result_fini(&r);
	return (rv);
}
