/*
 * cmd_bus.c - `opc sub` (monitor every pub) and `opc pub` (inject).
 */
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "opc.h"
#include "opc/bus.h"
#include "opc/err.h"
#include "opc/util.h"

static volatile sig_atomic_t stop;

static void
on_int(int sig)
{
	UNUSED(sig);
	stop = 1;
}

static void
print_msg(const struct msg *m, bool json)
{
	json_t *j;
	char   *s, ts[40];

	if (json) {
		j = msg_to_json(m);
		s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	} else {
		j = msg_body_to_json(m->topic, &m->body);
		s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		iso8601(m->ts, ts, sizeof(ts));
	}
	if (json)
		printf("%s\n", s ? s : "{}");
	else if (m->seq > 0)
		printf("%s %s#%llu %s %s\n", ts + 11, m->src,
		    (unsigned long long) m->seq, msg_topic_name(m->topic),
		    s ? s : "{}");
	else
		printf("%s %s %s %s\n", ts + 11, m->src,
		    msg_topic_name(m->topic), s ? s : "{}");
	fflush(stdout);
	free(s);
	json_decref(j);
}

int
cmd_sub(struct opc *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct topo   *t;
	struct bus   **subs;
	struct pollfd *pfd;
	struct bus_msg bm;
	struct msg     m;
	const char   **urls;
	char           err[256];
	long           count = -1, got = 0;
	double         timeout_s = -1;
	int64_t        end;
	bool           json = false;
	size_t         i, k, n;
	int            ch, rv = 0, np;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'n')
			count = strtol(optarg, NULL, 10);
		else if (ch == 'j')
			json = true;
		else if (ch == 't')
			timeout_s = strtod(optarg, NULL);
		else
			return (2);
	}
	if ((t = opc_topo(o)) == NULL)
		return (1);
	n       = t->ninst + 1;
	urls    = xcalloc(n, sizeof(*urls));
	subs    = xcalloc(n, sizeof(*subs));
	pfd     = xcalloc(n, sizeof(*pfd));
	urls[0] = t->supervisor.pub;
	for (i = 0; i < t->ninst; i++)
		urls[i + 1] = t->inst[i].pub;
	for (i = 0; i < n; i++) {
		pfd[i].fd     = -1;
		pfd[i].events = POLLIN;
		if (bus_open(&subs[i], BUS_SUB, urls[i]) != 0) {
			fprintf(stderr, "opc sub: cannot dial %s\n", urls[i]);
			rv = 1;
			goto out;
		}
		if (optind >= argc)
			(void) bus_subscribe(subs[i], "");
		for (k = (size_t) optind; k < (size_t) argc; k++)
			(void) bus_subscribe(subs[i], argv[k]);
		(void) bus_fd(subs[i], &pfd[i].fd);
	}
	signal(SIGINT, on_int);
	signal(SIGTERM, on_int);
	end = timeout_s > 0 ? mono_ms() + (int64_t) (timeout_s * 1000) : -1;
	while (!stop && (count < 0 || got < count)) {
		int64_t left = end < 0 ? 1000 : end - mono_ms();

		if (left <= 0) {
			rv = count >= 0 ? 1 : 0;
			break;
		}
		if ((np = poll(pfd, n, (int) (left > 1000 ? 1000 : left))) <=
		    0)
			continue;
		for (i = 0; i < n && (count < 0 || got < count); i++)
			while ((count < 0 || got < count) &&
			    bus_recv(subs[i], &bm, BUS_NONBLOCK) == 0) {
				if (msg_decode(&m, bm.data, bm.len, err,
				        sizeof(err)) != 0)
					fprintf(stderr,
					    "opc sub: bad message "
					    "from %s: %s\n",
					    urls[i], err);
				else {
					print_msg(&m, json);
					got++;
				}
				msg_fini(&m);
				bus_msg_free(&bm);
			}
	}
out:
	for (i = 0; i < n; i++)
		bus_close(&subs[i]);
	free(subs);
	free(pfd);
	free(urls);
	return (rv);
}

int
cmd_pub(struct opc *o, int argc, char **argv)
{
	struct msg_ctl_inject   in;
	const struct topo_inst *inst;
	struct topo            *t;
	json_error_t            jerr;
	json_t                 *body, *data = NULL;
	char                    err[512], *s;
	const char             *corr = NULL;
	int                     rv;

	if (argc == 6 && strcmp(argv[4], "--corr") == 0)
		corr = argv[5];
	else if (argc != 4) {
		fprintf(stderr,
		    "usage: opc pub INSTANCE TOPIC JSON "
		    "[--corr ID]\n");
		return (2);
	}
	if ((t = opc_topo(o)) == NULL)
		return (1);
	if ((inst = topo_find(t, argv[1])) == NULL) {
		fprintf(stderr, "opc pub: no instance '%s' in %s\n", argv[1],
		    t->config_path);
		return (1);
	}
	if ((body = json_loads(argv[3], 0, &jerr)) == NULL) {
		fprintf(stderr, "opc pub: JSON body: line %d column %d: %s\n",
		    jerr.line, jerr.column, jerr.text);
		return (1);
	}
	memset(&in, 0, sizeof(in));
	in.topic = argv[2];
	in.body  = body;
	in.corr  = (char *) corr;
	rv = opc_ctl(inst->ctl, MSG_CTL_INJECT, &in, &data, err, sizeof(err),
	    OPC_CTL_TIMEOUT);
	json_decref(body);
	if (rv == ERR_NOTFOUND && strstr(err, "not running") != NULL) {
		opc_not_up(o, err);
		return (1);
	}
	if (rv != 0) {
		fprintf(stderr, "opc pub: %s: %s\n", argv[1], err);
		return (1);
	}
	s = data ? json_dumps(data, JSON_COMPACT) : NULL;
	printf("ok%s%s\n", s ? " " : "", s ? s : "");
	free(s);
	json_decref(data);
	return (0);
}
