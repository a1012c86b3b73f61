/*
 * cmd_config.c - `opc config check` and `opc config explain`: a config
 * file checked without starting anything, and every setting listed with
 * its default, from the same tables the daemons read (services/conf).
 *
 * opc_config_check is what opc up and opc doctor check too: the tables,
 * then what a table cannot say (the executors' backends, the router's
 * rules and repos, as the daemons check them at start).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "opc.h"
#include "opc/err.h"
#include "opc/util.h"
#include "route.h"
#include "spec.h"

#define COMMENT_COL 34 /* where explain's comments start */

int
opc_config_check(const struct topo *t, struct buf *errs)
{
	char   err[1024];
	size_t i;
	int    n, router = 0;

	if ((n = conf_check(t, errs)) > 0)
		return (n); /* the rest reads what the tables refused */
	for (i = 0; i < t->ninst; i++) {
		if (strcmp(t->inst[i].service, "router") == 0)
			router = 1;
		if (strcmp(t->inst[i].service, "executor") == 0 &&
		    backend_check(t->inst[i].node, err, sizeof(err)) != 0) {
			buf_printf(errs, "%s (in %s)\n", err, t->inst[i].name);
			n++;
		}
	}
	if (router &&
	    route_cfg_check(cfg_root(t->cfg), err, sizeof(err)) != 0) {
		buf_printf(errs, "%s (router)\n", err);
		n++;
	}
	return (n);
}

/* check: the file, not this host: opcenter.tls's files are read after
 * (a warning when they are not here), as every process reads them when
 * it starts. */
static int
check(struct opc *o)
{
	struct topo *t;
	struct buf   errs;
	char         err[1024];
	int          n;

	if (topo_load_flags(&t, o->config, TOPO_NO_TLS, err, sizeof(err)) !=
	    0) {
		fprintf(stderr, "%s\nopc config check: %s: 1 problem\n", err,
		    o->config);
		return (1);
	}
	buf_init(&errs);
	if ((n = opc_config_check(t, &errs)) > 0) {
		fputs(buf_cstr(&errs), stderr);
		fprintf(stderr, "opc config check: %s: %d problem%s\n",
		    t->config_path, n, n == 1 ? "" : "s");
	} else {
		printf("%s: ok (%zu instance%s)\n", t->config_path, t->ninst,
		    t->ninst == 1 ? "" : "s");
		topo_close(&t);
		if (topo_load(&t, o->config, err, sizeof(err)) != 0)
			printf("warning: not on this host: %s\n", err);
	}
	topo_close(&t);
	buf_fini(&errs);
	return (n > 0 ? 1 : 0);
}

/* ---------------------------------------------------------------- explain */

const char *
opc_cfg_type(const struct cfg_key *k)
{
	switch (k->type) {
	case CFG_K_STR:
		return ("string");
	case CFG_K_ENUM:
		return ("one of");
	case CFG_K_INT:
		return ("integer");
	case CFG_K_MS:
		return ("duration");
	case CFG_K_NUM:
		return ("number");
	case CFG_K_BOOL:
		return ("true|false");
	case CFG_K_STRS:
		return ("list of strings");
	case CFG_K_SECTION:
		return ("map");
	case CFG_K_MAP:
		return ("map of names");
	case CFG_K_LIST:
		return ("list");
	default:
		return ("any");
	}
}

/* line prints "<indent>head" and the comment "# what: help" at the
 * comment column. */
static void
line(int depth, const char *head, const struct cfg_key *k)
{
	int n;

	n = printf("%*s%s", 2 * depth, "", head);
	printf("%*s# %s", n < COMMENT_COL ? COMMENT_COL - n : 1, "",
	    opc_cfg_type(k));
	if (k->type == CFG_K_ENUM)
		printf(" %s", k->choices);
	if (k->min != NULL && k->max != NULL)
		printf(" from %s to %s", k->min, k->max);
	else if (k->min != NULL)
		printf(" >= %s", k->min);
	else if (k->max != NULL)
		printf(" <= %s", k->max);
	printf(": %s\n", k->help ? k->help : "");
}

static void explain_tab(const struct cfg_key *, int);

static void
explain_key(const struct cfg_key *k, const char *name, int depth)
{
	const char *colon = strcmp(name, "-") == 0 ? "" : ":";
	char       *head;

	switch (k->type) {
	case CFG_K_SECTION:
		head = xasprintf("%s%s", name, colon);
		line(depth, head, k);
		explain_tab(k->sub, depth + 1);
		break;
	case CFG_K_MAP:
	case CFG_K_LIST:
		head = xasprintf("%s%s", name, colon);
		line(depth, head, k);
		if (k->sub != NULL)
			explain_key(&k->sub[0],
			    k->type == CFG_K_MAP ? "<name>" : "-", depth + 1);
		break;
	default:
		head = k->def != NULL
		    ? xasprintf("%s%s %s", name, colon, k->def)
		    : xasprintf("%s%s", name, colon);
		line(depth, head, k);
		break;
	}
	free(head);
}

static void
explain_tab(const struct cfg_key *tab, int depth)
{
	const struct cfg_key *k;

	for (k = tab; k != NULL && k->type != CFG_K_END; k++) {
		if (k->type == CFG_K_INCLUDE)
			explain_tab(k->sub, depth);
		else
			explain_key(k, k->name, depth);
	}
}

static void
explain_service(const struct conf_service *s)
{
	printf("instances:\n  <name>:%*s# service %s: %s\n", COMMENT_COL - 9,
	    "", s->name, s->help);
	explain_tab(s->keys, 2);
	printf("    # and every instance's:\n");
	explain_tab(topo_inst_keys, 2);
}

static int
explain(const char *what)
{
	const struct conf_service *s;
	const struct cfg_key      *k;

	if (what == NULL) {
		printf("# opcenter's settings: `key: default  # type: help`; "
		       "a key without a\n# default is unset unless written.  "
		       "Keys x-* and x_* are extensions.\n");
		explain_tab(conf_root_keys, 0);
		for (s = conf_services; s->name != NULL; s++) {
			printf("\n");
			explain_service(s);
		}
		return (0);
	}
	for (s = conf_services; s->name != NULL; s++)
		if (strcmp(s->name, what) == 0) {
			explain_service(s);
			return (0);
		}
	if ((k = cfg_tab_find(conf_root_keys, what)) != NULL &&
	    strcmp(what, "instances") != 0) {
		explain_key(k, k->name, 0);
		return (0);
	}
	fprintf(stderr,
	    "opc config explain: no service or section '%s' "
	    "(services:",
	    what);
	for (s = conf_services; s->name != NULL; s++)
		fprintf(stderr, " %s", s->name);
	fprintf(stderr,
	    "; sections: opcenter, supervisor, plane, git, "
	    "github, repos, cost_per_execution_usd)\n");
	return (2);
}

int
cmd_config(struct opc *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	if (argc < 2) {
		fprintf(stderr,
		    "usage: opc config check [-c FILE] | explain "
		    "[SERVICE|SECTION]\n");
		return (2);
	}
	if (strcmp(argv[1], "explain") == 0) {
		if (argc > 3)
			return (2);
		return (explain(argc == 3 ? argv[2] : NULL));
	}
	if (strcmp(argv[1], "check") != 0) {
		fprintf(stderr,
		    "opc config: unknown subcommand '%s' (check, "
		    "explain)\n",
		    argv[1]);
		return (2);
	}
	optind = 2;
	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (ch == 'c')
			o->config = optarg;
		else
			return (2);
	}
	if (optind != argc)
		return (2);
	return (check(o));
}
