/*
 * cmd_task.c - `opc task add|list|show|move|comment|resume`: the local
 * board over
 * board-sync's ctl socket.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "opc.h"
#include "opc/err.h"
#include "opc/util.h"

/* What --goal-file reads at most: far more than board-sync accepts (64
 * KiB), well under the bus's frame limit. */
#define TASK_FILE_MAX (12u * 1024 * 1024)

static const char task_usage[] =
    "usage: opc task add --repo KEY --goal TEXT|--goal-file FILE\n"
    "                    [--kind goal|test|improve]\n"
    "                    [--title T] [--label L]... [--description D]\n"
    "                    [--state S] [--request-id ID]\n"
    "       (a retried add with the same --request-id returns the same task;\n"
    "       --goal-file - reads the goal from standard input; a goal holds\n"
    "       at most 64 KiB of UTF-8)\n"
    "       opc task list [--state S] [--limit N] [--json]\n"
    "       opc task show ID [--json]\n"
    "       opc task move ID STATE [--comment TEXT]\n"
    "       opc task comment ID TEXT\n"
    "       (a comment on a task that asked a question is the answer: a\n"
    "       Blocked task is queued again, the answer in its next prompt)\n"
    "       opc task resume ID\n"
    "       (lifts the self-healing pause of a task whose runs were\n"
    "       Blocked 3 times in a row)\n";

/* state_arg reads a board state named on the command line: 0, or an
 * error naming the states there are. */
static int
state_arg(const char *cmd, const char *s, enum msg_task_state *v)
{
	size_t i;

	if (msg_task_state_parse(s, v) == 0)
		return (0);
	fprintf(stderr, "%s: unknown state '%s' (", cmd, s);
	for (i = 1; msg_task_state_names[i] != NULL; i++)
		fprintf(stderr, "%s%s", i > 1 ? ", " : "",
		    msg_task_state_names[i]);
	fputs(")\n", stderr);
	return (ERR_INVAL);
}

static int
board_call(struct opc *o, enum msg_topic t, const void *body, json_t **data)
{
	const struct topo_inst *b;
	struct topo            *topo;
	char                    err[512];
	int                     rv;

	if ((topo = opc_topo(o)) == NULL)
		return (1);
	if ((b = opc_find_service(topo, "board-sync")) == NULL) {
		fprintf(stderr, "opc task: no board-sync instance in %s\n",
		    topo->config_path);
		return (1);
	}
	rv = opc_ctl(b->ctl, t, body, data, err, sizeof(err), OPC_CTL_TIMEOUT);
	if (rv == ERR_NOTFOUND && strstr(err, "not running") != NULL) {
		opc_not_up(o, err);
		return (1);
	}
	if (rv == ERR_NOSPACE) {
		/* err: "no space left on STATE_DIR" (ctl.c) */
		fprintf(stderr,
		    "opc task: %s: nothing was changed; free some "
		    "space there (opcenter resumes by itself)\n",
		    err);
		return (1);
	}
	if (rv != 0) {
		fprintf(stderr, "opc task: %s\n", err);
		return (1);
	}
	return (0);
}

static void
print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	printf("\n");
}

static int
task_add(struct opc *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "goal", required_argument, NULL, 'g' },
		{ "goal-file", required_argument, NULL, 'G' },
		{ "kind", required_argument, NULL, 'k' },
		{ "title", required_argument, NULL, 't' },
		{ "label", required_argument, NULL, 'l' },
		{ "description", required_argument, NULL, 'd' },
		{ "state", required_argument, NULL, 's' },
		{ "request-id", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	struct msg_board_task_add a;
	json_t                   *data = NULL;
	char                     *file = NULL;
	size_t                    len;
	int                       ch, rv;

	memset(&a, 0, sizeof(a));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			a.repo_key = optarg;
			break;
		case 'g':
			a.goal = optarg;
			break;
		case 'G':
			free(file);
			/* Read far past the limit, so board-sync (which
			 * bounds every client) says how big it was. */
			if ((rv = file_read(
			         &file, &len, optarg, TASK_FILE_MAX)) != 0) {
				fprintf(stderr, "opc task add: %s: %s\n",
				    optarg,
				    rv == ERR_TOOBIG
				        ? "more than 12 MiB; a goal holds at "
				          "most 64 KiB"
				        : strerror(errno));
				rv = 1;
				goto out;
			}
			if (strlen(file) != len) {
				fprintf(stderr,
				    "opc task add: %s holds a NUL "
				    "byte: a goal is text\n",
				    optarg);
				rv = 2;
				goto out;
			}
			a.goal = file;
			break;
		case 'k':
			a.kind = optarg;
			break;
		case 't':
			a.title = optarg;
			break;
		case 'l':
			msg_strs_add(&a.labels, optarg);
			break;
		case 'd':
			a.description = optarg;
			break;
		case 's':
			if (state_arg("opc task add", optarg, &a.state) != 0) {
				rv = 2;
				goto out;
			}
			break;
		case 'i':
			a.request_id = optarg;
			break;
		default:
			fputs(task_usage, stderr);
			rv = 2;
			goto out;
		}
	}
	if (a.repo_key == NULL || a.goal == NULL) {
		fprintf(stderr,
		    "opc task add: --repo and --goal are "
		    "required\n%s",
		    task_usage);
		rv = 2;
	} else if (!utf8_valid(a.goal, strlen(a.goal)) ||
	    (a.title != NULL && !utf8_valid(a.title, strlen(a.title))) ||
	    (a.description != NULL &&
	        !utf8_valid(a.description, strlen(a.description)))) {
		/* refused, never passed on with U+FFFD in place of bytes */
		fprintf(stderr,
		    "opc task add: the goal, title and description "
		    "must be UTF-8 text\n");
		rv = 2;
	} else if ((rv = board_call(o, MSG_BOARD_TASK_ADD, &a, &data)) == 0)
		printf("%s %s\n", opc_jstr(data, "task_id", ""),
		    opc_jstr(data, "state", ""));
out:
	free(file);
	for (size_t i = 0; i < a.labels.n; i++)
		free(a.labels.v[i]);
	free(a.labels.v);
	json_decref(data);
	return (rv);
}

static int
task_list(struct opc *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct msg_board_task_list l;
	json_t                    *data = NULL, *t;
	size_t                     i;
	bool                       json = false;
	int                        ch;

	memset(&l, 0, sizeof(l));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 's') {
			if (state_arg("opc task list", optarg, &l.state) != 0)
				return (2);
		} else if (ch == 'n')
			l.limit = strtol(optarg, NULL, 10);
		else if (ch == 'j')
			json = true;
		else {
			fputs(task_usage, stderr);
			return (2);
		}
	}
	if (board_call(o, MSG_BOARD_TASK_LIST, &l, &data) != 0)
		return (1);
	if (json)
		print_json(data);
	else {
		printf("%-8s %-14s %-8s %-10s %s\n", "ID", "STATE", "KIND",
		    "REPO", "TITLE");
		json_array_foreach (json_object_get(data, "tasks"), i, t)
			printf("%-8s %-14s %-8s %-10s %s\n",
			    opc_jstr(t, "task_id", ""),
			    opc_jstr(t, "state", ""), opc_jstr(t, "kind", ""),
			    opc_jstr(t, "repo_key", ""),
			    opc_jstr(t, "title", ""));
	}
	json_decref(data);
	return (0);
}

/* print_last_run prints the latest outcome of the task's runs (its
 * classification and the reason in people's words) and its self-healing
 * state. */
static void
print_last_run(const json_t *t)
{
	const json_t *r = json_object_get(t, "last_run");
	const json_t *h = json_object_get(t, "self_healing");

	if (json_is_object(r)) {
		printf("  last run: %s  %s  (%s)\n",
		    opc_jstr(r, "run_id", opc_jstr(t, "last_run_id", "-")),
		    opc_jstr(r, "status", "?"), opc_jstr(r, "at", ""));
		printf("  classification: %s\n",
		    opc_jstr(r, "classification", "none"));
		if (opc_jstr(r, "reason", NULL) != NULL)
			printf("  reason: %s\n", opc_jstr(r, "reason", ""));
	} else if (opc_jstr(t, "last_run_id", NULL) != NULL)
		printf("  last run: %s  (no outcome yet)\n",
		    opc_jstr(t, "last_run_id", ""));
	if (json_is_object(h))
		printf("  self-healing: %lld consecutive Blocked run(s)%s\n",
		    (long long) json_integer_value(
		        json_object_get(h, "consecutive_blocks")),
		    json_is_true(json_object_get(h, "paused"))
		        ? "; PAUSED (opc task resume ID lifts it)"
		        : "");
}

static int
task_show(struct opc *o, int argc, char **argv)
{
	struct msg_board_task_show s;
	json_t                    *data = NULL, *t, *c;
	size_t                     i;
	bool json = argc > 2 && strcmp(argv[2], "--json") == 0;

	if (argc < 2 || argc > 3 || (argc == 3 && !json)) {
		fputs(task_usage, stderr);
		return (2);
	}
	memset(&s, 0, sizeof(s));
	s.task_id = argv[1];
	if (board_call(o, MSG_BOARD_TASK_SHOW, &s, &data) != 0)
		return (1);
	if (json) {
		print_json(data);
		json_decref(data);
		return (0);
	}
	t = json_object_get(data, "task");
	printf("%s  [%s]  %s\n", opc_jstr(t, "task_id", ""),
	    opc_jstr(t, "state", ""), opc_jstr(t, "title", ""));
	printf("  kind: %s   repo: %s   attempt: %lld\n",
	    opc_jstr(t, "kind", ""), opc_jstr(t, "repo_key", ""),
	    (long long) json_integer_value(json_object_get(t, "attempt")));
	printf("  goal: %s\n", opc_jstr(t, "goal", ""));
	json_array_foreach (json_object_get(t, "labels"), i, c)
		printf("  label: %s\n", json_string_value(c));
	print_last_run(t);
	json_array_foreach (json_object_get(data, "comments"), i, c)
		printf("--- %s %s\n%s\n", opc_jstr(c, "at", ""),
		    opc_jstr(c, "author", ""), opc_jstr(c, "body", ""));
	json_decref(data);
	return (0);
}

static int
task_move(struct opc *o, int argc, char **argv)
{
	struct msg_board_task_move m;
	json_t                    *data = NULL;

	memset(&m, 0, sizeof(m));
	if (argc == 5 && strcmp(argv[3], "--comment") == 0)
		m.comment = argv[4];
	else if (argc != 3) {
		fputs(task_usage, stderr);
		return (2);
	}
	m.task_id = argv[1];
	if (state_arg("opc task move", argv[2], &m.state) != 0)
		return (2);
	if (board_call(o, MSG_BOARD_TASK_MOVE, &m, &data) != 0)
		return (1);
	printf("%s %s -> %s\n", opc_jstr(data, "task_id", ""),
	    opc_jstr(data, "prev_state", ""), opc_jstr(data, "state", ""));
	json_decref(data);
	return (0);
}

static int
task_comment(struct opc *o, int argc, char **argv)
{
	struct msg_board_task_comment c;
	json_t                       *data = NULL;

	if (argc != 3) {
		fputs(task_usage, stderr);
		return (2);
	}
	memset(&c, 0, sizeof(c));
	c.task_id = argv[1];
	c.body    = argv[2];
	if (board_call(o, MSG_BOARD_TASK_COMMENT, &c, &data) != 0)
		return (1);
	printf("%s: comment added%s; state %s\n",
	    opc_jstr(data, "task_id", ""),
	    json_is_true(json_object_get(data, "answer"))
	        ? " (the answer to its question)"
	        : "",
	    opc_jstr(data, "state", ""));
	json_decref(data);
	return (0);
}

static int
task_resume(struct opc *o, int argc, char **argv)
{
	struct msg_board_task_resume r;
	json_t                      *data = NULL;

	if (argc != 2) {
		fputs(task_usage, stderr);
		return (2);
	}
	memset(&r, 0, sizeof(r));
	r.task_id = argv[1];
	if (board_call(o, MSG_BOARD_TASK_RESUME, &r, &data) != 0)
		return (1);
	printf("%s %s\n", opc_jstr(data, "task_id", ""),
	    json_is_true(json_object_get(data, "was_paused"))
	        ? "resumed: self-healing pause lifted"
	        : "was not paused (its Blocked count is reset)");
	json_decref(data);
	return (0);
}

int
cmd_task(struct opc *o, int argc, char **argv)
{
	if (argc < 2) {
		fputs(task_usage, stderr);
		return (2);
	}
	if (strcmp(argv[1], "add") == 0)
		return (task_add(o, argc - 1, argv + 1));
	if (strcmp(argv[1], "list") == 0)
		return (task_list(o, argc - 1, argv + 1));
	if (strcmp(argv[1], "show") == 0)
		return (task_show(o, argc - 1, argv + 1));
	if (strcmp(argv[1], "move") == 0)
		return (task_move(o, argc - 1, argv + 1));
	if (strcmp(argv[1], "comment") == 0)
		return (task_comment(o, argc - 1, argv + 1));
	if (strcmp(argv[1], "resume") == 0)
		return (task_resume(o, argc - 1, argv + 1));
	fprintf(stderr, "opc task: unknown subcommand '%s'\n%s", argv[1],
	    task_usage);
	return (2);
}
