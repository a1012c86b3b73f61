/*
 * cmd_status.c - `opc status` and `opc heartbeat-check`.
 *
 * Both start from the supervisor's status (processes, heartbeat ages);
 * status adds each instance's own ctl status (journal seq, lag per
 * upstream, last error), and the instances of the other hosts of a
 * multi-host topology (ctl on tcp:// or tls+tcp://, not run by this
 * host's supervisor), each asked directly.  Under the table, what holds
 * work back (an operator's pause, the tasks self-healing paused) and the
 * router's spend: the last 24 h against the global and per-repo caps.
 */
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "opc.h"
#include "opc/bus.h"
#include "opc/err.h"
#include "opc/util.h"

static json_t *
supervisor_status(struct opc *o, struct topo *t)
{
	json_t *st = NULL;
	char    err[512];

	if (opc_ctl(t->supervisor.ctl, MSG_CTL_STATUS, NULL, &st, err,
	        sizeof(err), OPC_CTL_TIMEOUT) != 0) {
		opc_not_up(o, err);
		return (NULL);
	}
	return (st);
}

/* lag_text renders "up:lag,up:lag" of an instance status. */
static void
lag_text(json_t *ist, char *buf, size_t len)
{
	json_t     *ups = json_object_get(ist, "upstreams"), *u;
	const char *k;
	size_t      off = 0;

	buf[0] = '\0';
	json_object_foreach (ups, k, u) {
		int n = snprintf(buf + off, len - off, "%s%s:%lld",
		    off ? "," : "", k,
		    (long long) json_integer_value(json_object_get(u, "lag")));
		if (n < 0 || (size_t) n >= len - off)
			break;
		off += (size_t) n;
	}
	if (off == 0)
		snprintf(buf, len, "-");
}

/* row prints one instance line: its supervisor's view (state, pid,
 * restarts; -1 when unknown) and its own status ist (NULL: err). */
static void
row(const char *role, const char *state, json_int_t pid, json_int_t restarts,
    json_t *ist, const char *err)
{
	const char *le = json_string_value(json_object_get(ist, "last_error"));
	json_t     *pl = json_object_get(ist, "plane");
	const char *ps = json_string_value(json_object_get(pl, "state"));
	const char *pp = json_string_value(json_object_get(pl, "problem"));
	char        lag[256], pids[24] = "-", rs[24] = "-", pe[512];

	lag_text(ist, lag, sizeof(lag));
	if (pid >= 0)
		snprintf(pids, sizeof(pids), "%lld", (long long) pid);
	if (restarts >= 0)
		snprintf(rs, sizeof(rs), "%lld", (long long) restarts);
	/* a board-sync whose Plane is not ok says why (it runs: the
	 * process state alone would read fine) */
	if ((le == NULL || *le == '\0') && ps != NULL &&
	    strcmp(ps, "ok") != 0) {
		if (pp == NULL)
			pp = json_string_value(
			    json_object_get(pl, "last_error"));
		snprintf(pe, sizeof(pe), "plane %s: %s", ps, pp ? pp : "");
		le = pe;
	}
	printf("%-20s %-11s %7s %8s %8lld %-24s %s\n", role, state, pids, rs,
	    (long long) json_integer_value(
	        json_object_get(ist, "journal_seq")),
	    ist ? lag : "?",
	    ist ? (le && *le ? le : "-") : (err[0] ? err : "-"));
}

/* spend_scope renders one scope of the router's status "spend":
 * "$spent spent + $reserved reserved of $cap cap[: spend cap reached]". */
static void
spend_scope(struct buf *b, const char *name, const json_t *sc)
{
	const json_t *cap = json_object_get(sc, "cap_usd");

	buf_printf(b, "  %-22s $%.4f spent + $%.4f reserved", name,
	    json_number_value(json_object_get(sc, "spent_usd")),
	    json_number_value(json_object_get(sc, "reserved_usd")));
	if (json_is_number(cap))
		buf_printf(b, " of a $%.4f cap", json_number_value(cap));
	else
		buf_printf(b, ", no cap");
	if (json_is_true(json_object_get(sc, "held")))
		buf_printf(b, ": spend cap reached, %lld task(s) held",
		    (long long) json_integer_value(
		        json_object_get(sc, "held_tasks")));
	buf_printf(b, "\n");
}

/* pause_line renders one pause of a router's status "pause". */
static void
pause_line(struct buf *b, const char *role, const char *scope, const json_t *p)
{
	int64_t since = json_integer_value(json_object_get(p, "since_ms"));

	buf_printf(b,
	    "%s: dispatch PAUSED (%s) for %llds: %s%s; %lld task(s) "
	    "waiting\n",
	    role, scope, (long long) ((now_ms() - since) / 1000),
	    opc_jstr(p, "reason", "-"),
	    json_is_true(json_object_get(p, "stop_running"))
	        ? " (running work stopped)"
	        : "",
	    (long long) json_integer_value(json_object_get(p, "waiting")));
}

/* prq_lines renders an executor's queue of pull requests held by a
 * repo's caps (status "pr_queue": {repo: [rows, oldest first]}). */
static void
prq_lines(struct buf *b, const char *role, const json_t *ist)
{
	const json_t *q, *v;
	const char   *k;
	size_t        i;

	json_object_foreach (
	    (json_t *) json_object_get(ist, "pr_queue"), k, q) {
		buf_printf(b, "%s: %zu pull request(s) of %s waiting:\n", role,
		    json_array_size(q), k);
		json_array_foreach (q, i, v)
			buf_printf(b,
			    "  %zu. task %s branch %s, %llds%s: %s\n", i + 1,
			    opc_jstr(v, "task_id", "-"),
			    opc_jstr(v, "branch", "-"),
			    (long long) json_integer_value(
			        json_object_get(v, "waiting_ms")) /
			        1000,
			    json_is_true(json_object_get(v, "opening"))
			        ? " (opening now)"
			        : "",
			    opc_jstr(v, "reason", "-"));
	}
}

/* notes_lines adds what holds work back, from an instance's status ist:
 * a router's pauses (opc pause), a board-sync's tasks paused by
 * self-healing (its own table: the tasks that are paused now). */
static void
notes_lines(struct buf *b, const char *role, const json_t *ist)
{
	const json_t *pz = json_object_get(ist, "pause"), *v;
	const json_t *sh = json_object_get(ist, "self_heal_paused");
	const char   *k;
	size_t        i;

	prq_lines(b, role, ist);
	if (json_is_object(json_object_get(pz, "all")))
		pause_line(b, role, "all repos", json_object_get(pz, "all"));
	json_object_foreach ((json_t *) json_object_get(pz, "repos"), k, v)
		pause_line(b, role, k, v);
	if (json_array_size(sh) > 0) {
		buf_printf(b, "%s: %zu task(s) paused by self-healing:", role,
		    json_array_size(sh));
		json_array_foreach (sh, i, v)
			buf_printf(b, "%s %s", i > 0 ? "," : "",
			    json_string_value(v));
		buf_printf(b, " (`opc task resume ID` lifts it)\n");
	}
}

/* spend_lines adds the spend of a router instance's status ist (if it is
 * one) to b, and what holds work back (notes_lines). */
static void
spend_lines(struct buf *b, const char *role, const json_t *ist)
{
	const json_t *sp = json_object_get(ist, "spend"), *r;
	const char   *k;

	notes_lines(b, role, ist);
	if (!json_is_object(sp))
		return;
	buf_printf(b, "%s spend, last 24 h:\n", role);
	spend_scope(b, "all repos", json_object_get(sp, "global"));
	json_object_foreach ((json_t *) json_object_get(sp, "repos"), k, r)
		spend_scope(b, k, r);
}

/* remote_rows adds the instances another host's supervisor runs (their
 * ctl url is tcp or tls+tcp, and this host's supervisor does not list
 * them): each answers for itself, or is "unreachable".  Returns how many
 * did not answer. */
static int
remote_rows(struct topo *t, const bool *listed, json_t *all, bool json,
    struct buf *spend)
{
	char   err[512];
	size_t i;
	int    bad = 0;

	for (i = 0; i < t->ninst; i++) {
		const struct topo_inst *in  = &t->inst[i];
		json_t                 *ist = NULL;

		if (listed[i] || !in->enabled || !bus_url_remote(in->ctl))
			continue;
		err[0] = '\0';
		if (opc_ctl(in->ctl, MSG_CTL_STATUS, NULL, &ist, err,
		        sizeof(err), OPC_CTL_TIMEOUT) != 0)
			bad++;
		if (json)
			json_object_set_new(all, in->name,
			    json_pack("{s:s, s:b, s:b, s:s, s:O?}", "role",
			        in->name, "remote", 1, "alive", ist != NULL,
			        "state", ist ? "remote" : "unreachable",
			        "status", ist));
		else {
			row(in->name, ist ? "remote" : "unreachable",
			    ist ? json_integer_value(
			              json_object_get(ist, "pid"))
			        : -1,
			    -1, ist, err);
			spend_lines(spend, in->name, ist);
		}
		json_decref(ist);
	}
	return (bad);
}

int
cmd_status(struct opc *o, int argc, char **argv)
{
	struct topo *t;
	struct buf   spend;
	json_t      *st, *ps, *p, *ist, *all;
	char         err[512];
	const char  *role;
	size_t       i;
	bool         json = false, *listed;
	int          k, bad = 0;

	for (k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--json") == 0)
			json = true;
		else {
			fprintf(stderr, "opc status: unknown argument %s\n",
			    argv[k]);
			return (2);
		}
	}
	if ((t = opc_topo(o)) == NULL)
		return (1);
	if ((st = supervisor_status(o, t)) == NULL)
		return (1);
	ps  = json_object_get(st, "processes");
	all = json_object();
	buf_init(&spend);
	listed = xcalloc(t->ninst + 1, sizeof(*listed));
	if (!json)
		printf("%-20s %-11s %7s %8s %8s %-24s %s\n", "INSTANCE",
		    "STATE", "PID", "RESTARTS", "SEQ", "LAG", "LAST_ERROR");
	json_array_foreach (ps, i, p) {
		const struct topo_inst *in;

		role   = json_string_value(json_object_get(p, "role"));
		in     = role ? topo_find(t, role) : NULL;
		ist    = NULL;
		err[0] = '\0';
		if (in != NULL)
			listed[in - t->inst] = true;
		if (in != NULL && json_is_true(json_object_get(p, "alive")))
			(void) opc_ctl(in->ctl, MSG_CTL_STATUS, NULL, &ist,
			    err, sizeof(err), OPC_CTL_TIMEOUT);
		if (!json_is_true(json_object_get(p, "alive")))
			bad++;
		if (json) {
			json_t *e = json_deep_copy(p);

			json_object_set_new(
			    e, "status", ist ? json_incref(ist) : json_null());
			json_object_set_new(all, role ? role : "?", e);
		} else {
			row(role ? role : "?",
			    json_string_value(json_object_get(p, "state")),
			    json_integer_value(json_object_get(p, "pid")),
			    json_integer_value(
			        json_object_get(p, "restart_count")),
			    ist, err);
			spend_lines(&spend, role ? role : "?", ist);
		}
		json_decref(ist);
	}
	bad += remote_rows(t, listed, all, json, &spend);
	free(listed);
	if (!json && spend.len > 0)
		printf("\n%s", buf_cstr(&spend));
	buf_fini(&spend);
	if (json) {
		json_t *sup = json_deep_copy(st);

		json_object_del(sup, "processes");
		json_object_set_new(all, "supervisor", sup);
		json_dumpf(all, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("\n");
	}
	json_decref(all);
	json_decref(st);
	return (bad ? 1 : 0);
}

/* listen_heartbeats is the fallback when the supervisor is down: listen on
 * every pub for ms and mark who was heard. */
static void
listen_heartbeats(struct topo *t, int64_t ms, bool *heard)
{
	struct bus   **subs = xcalloc(t->ninst, sizeof(*subs));
	struct pollfd *pfd  = xcalloc(t->ninst, sizeof(*pfd));
	struct bus_msg bm;
	int64_t        end = mono_ms() + ms, left;
	size_t         i;

	for (i = 0; i < t->ninst; i++) {
		pfd[i].fd = -1;
		if (bus_open(&subs[i], BUS_SUB, t->inst[i].pub) == 0 &&
		    bus_subscribe(subs[i], "heartbeat") == 0)
			(void) bus_fd(subs[i], &pfd[i].fd);
		pfd[i].events = POLLIN;
	}
	while ((left = end - mono_ms()) > 0) {
		if (poll(pfd, t->ninst, (int) left) <= 0)
			continue;
		for (i = 0; i < t->ninst; i++)
			while (subs[i] != NULL &&
			    bus_recv(subs[i], &bm, BUS_NONBLOCK) == 0) {
				heard[i] = true;
				bus_msg_free(&bm);
			}
	}
	for (i = 0; i < t->ninst; i++)
		bus_close(&subs[i]);
	free(subs);
	free(pfd);
}

/* The original's freshness: a watcher that wrote no heartbeat for 5
 * minutes is stale (its heartbeat-check and supervisor).  Not the
 * supervisor's stale_after_ms, which restarts a silent daemon far sooner:
 * a cron check paging someone wants the looser bound. */
#define HEARTBEAT_MAX_AGE_MS (300 * 1000)

int
cmd_heartbeat_check(struct opc *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "max-age", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct topo *t;
	struct buf   stale, full;
	json_t      *st = NULL, *p;
	const char  *df;
	char         err[512], *end;
	double       max_age = -1;
	int64_t      max_ms, age;
	bool        *heard;
	size_t       i, nstale = 0, nfull = 0, n = 0;
	int          ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'm') {
			max_age = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(max_age > 0) ||
			    max_age > 1e9) {
				fprintf(stderr,
				    "opc heartbeat-check: --max-age "
				    "wants seconds > 0, not '%s'\n",
				    optarg);
				return (2);
			}
		} else
			return (2);
	}
	if ((t = opc_topo(o)) == NULL)
		return (1);
	max_ms =
	    max_age > 0 ? (int64_t) (max_age * 1000) : HEARTBEAT_MAX_AGE_MS;
	buf_init(&stale);
	buf_init(&full);
	if (opc_ctl(t->supervisor.ctl, MSG_CTL_STATUS, NULL, &st, err,
	        sizeof(err), OPC_CTL_TIMEOUT) == 0) {
		json_array_foreach (json_object_get(st, "processes"), i, p) {
			age = json_integer_value(
			    json_object_get(p, "heartbeat_age_ms"));
			n++;
			/* fresh, but it cannot write: not healthy */
			if ((df = json_string_value(
			         json_object_get(p, "disk_full"))) != NULL) {
				buf_printf(&full, "%s: disk full: %s\n",
				    json_string_value(
				        json_object_get(p, "role")),
				    df);
				nfull++;
			}
			if (!json_is_true(json_object_get(p, "alive")) ||
			    age < 0 || age > max_ms) {
				buf_printf(&stale, "%s%s", nstale ? ", " : "",
				    json_string_value(
				        json_object_get(p, "role")));
				nstale++;
			}
		}
		json_decref(st);
	} else {
		fprintf(stderr,
		    "opc: supervisor not answering (%s); "
		    "listening for heartbeats directly\n",
		    err);
		heard = xcalloc(t->ninst + 1, sizeof(*heard));
		listen_heartbeats(t,
		    max_ms < 2 * t->heartbeat_ms + 500
		        ? max_ms
		        : 2 * t->heartbeat_ms + 500,
		    heard);
		for (i = 0; i < t->ninst; i++) {
			if (!t->inst[i].enabled)
				continue;
			n++;
			if (!heard[i]) {
				buf_printf(&stale, "%s%s", nstale ? ", " : "",
				    t->inst[i].name);
				nstale++;
			}
		}
		free(heard);
	}
	if (nstale > 0)
		fprintf(stderr, "STALE watchers: %s\n", buf_cstr(&stale));
	if (nfull > 0)
		fprintf(stderr, "%s", buf_cstr(&full));
	if (nstale == 0 && nfull == 0)
		printf("OK: %zu watchers fresh (max age %.1fs)\n", n,
		    (double) max_ms / 1000);
	buf_fini(&stale);
	buf_fini(&full);
	return (nstale > 0 || nfull > 0 ? 1 : 0);
}
