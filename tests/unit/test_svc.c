/*
 * test_svc.c - the service skeleton through real descriptors in-process:
 * durable hop, catch-up by replay, restart, truncation alarm, duplicate
 * and gap handling, bad frames, ctl inject and status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "opc/bus.h"
#include "opc/err.h"
#include "opc/log.h"
#include "opc/store.h"
#include "testbed.h"
#include "testsvc.h"

#define WAIT 20000 /* ms: only to avoid hanging */

static char *
yaml(const char *dir, const char *tag, int produce, int retention,
    const char *cons_extra)
{
	return (xasprintf("opcenter:\n"
	                  "  state_dir: %s/state\n"
	                  "  heartbeat_ms: 50\n"
	                  "  journal_retention: %d\n"
	                  "instances:\n"
	                  "  prod:\n"
	                  "    pub: inproc://%s-prod.pub\n"
	                  "    ctl: inproc://%s-prod.ctl\n"
	                  "    produce: %d\n"
	                  "    batch: 50\n"
	                  "    idle_ms: 10\n"
	                  "  cons:\n"
	                  "    upstreams: [prod]\n"
	                  "    pub: inproc://%s-cons.pub\n"
	                  "    ctl: inproc://%s-cons.ctl\n"
	                  "    idle_ms: 10\n"
	                  "%s",
	    dir, retention, tag, tag, produce, tag, tag,
	    cons_extra ? cons_extra : ""));
}

/* check_exactly_once asserts the consumer's table holds n = first..last,
 * each once, in order. */
static void
check_exactly_once(const char *dir, int64_t first, int64_t last)
{
	struct store *s;
	char         *path = xasprintf("%s/state/cons.db", dir);
	int64_t       cnt, dist, lo, hi, bad;

	assert_int_equal(store_open(&s, path), 0);
	assert_int_equal(
	    store_int(s, &cnt, 0, "SELECT count(*) FROM got", NULL), 0);
	assert_int_equal(
	    store_int(s, &dist, 0, "SELECT count(DISTINCT n) FROM got", NULL),
	    0);
	assert_int_equal(
	    store_int(s, &lo, 0, "SELECT min(n) FROM got", NULL), 0);
	assert_int_equal(
	    store_int(s, &hi, 0, "SELECT max(n) FROM got", NULL), 0);
	assert_int_equal(store_int(s, &bad, 0,
	                     "SELECT count(*) FROM got a JOIN got b"
	                     " ON b.id = (SELECT min(id) FROM got WHERE id > "
	                     "a.id) WHERE b.n != a.n + 1",
	                     NULL),
	    0);
	assert_int_equal(cnt, last - first + 1);
	assert_int_equal(dist, cnt);
	assert_int_equal(lo, first);
	assert_int_equal(hi, last);
	assert_int_equal(bad, 0);
	store_close(&s);
	free(path);
}

static void
test_durable_hop(void **state)
{
	char          *dir = tb_dir(), *y = yaml(dir, "hop", 2000, 100000, 0);
	struct topo   *t = tb_topo(dir, y);
	struct tb_svc *prod, *cons;

	UNUSED(state);
	cons = tb_start(&testcons_service, t, "cons");
	prod = tb_start(&testprod_service, t, "prod");
	assert_int_equal(tb_wait_int(t, "cons", "got", 2000, WAIT), 2000);
	assert_int_equal(
	    tb_wait_int(t, "cons", "upstreams.prod.cursor", 2000, WAIT), 2000);
	assert_int_equal(tb_status_int(t, "prod", "journal_seq"), 2000);
	assert_int_equal(tb_wait_int(t, "cons", "caught_up", 1, WAIT), 1);
	tb_stop(&prod);
	tb_stop(&cons);
	check_exactly_once(dir, 1, 2000);
	topo_close(&t);
	tb_rmrf(dir);
	free(y);
	free(dir);
}

static void
test_catch_up_and_restart(void **state)
{
	char          *dir = tb_dir(), *y = yaml(dir, "cu", 3000, 100000, 0);
	struct topo   *t = tb_topo(dir, y);
	struct tb_svc *prod, *cons;

	UNUSED(state);
	/* The consumer is absent while everything is produced: it must
	 * catch up by replay alone. */
	prod = tb_start(&testprod_service, t, "prod");
	assert_int_equal(
	    tb_wait_int(t, "prod", "journal_seq", 3000, WAIT), 3000);
	cons = tb_start(&testcons_service, t, "cons");
	assert_int_equal(tb_wait_int(t, "cons", "got", 3000, WAIT), 3000);
	assert_true(tb_status_int(t, "cons", "counters.replays") >= 1);
	assert_true(tb_status_int(t, "cons", "counters.replayed") >= 1);
	tb_stop(&cons);
	tb_stop(&prod);

	/* Both restart on the same dbs: nothing is applied twice. */
	prod = tb_start(&testprod_service, t, "prod");
	cons = tb_start(&testcons_service, t, "cons");
	assert_int_equal(tb_wait_int(t, "cons", "caught_up", 1, WAIT), 1);
	assert_int_equal(tb_status_int(t, "cons", "got"), 3000);
	tb_stop(&cons);
	tb_stop(&prod);
	check_exactly_once(dir, 1, 3000);
	topo_close(&t);
	tb_rmrf(dir);
	free(y);
	free(dir);
}

static void
test_truncated_raises_data_loss(void **state)
{
	char          *dir = tb_dir(), *y = yaml(dir, "tr", 1000, 100, 0);
	struct topo   *t = tb_topo(dir, y);
	struct tb_svc *prod, *cons;
	int64_t        first;

	UNUSED(state);
	prod = tb_start(&testprod_service, t, "prod");
	assert_int_equal(
	    tb_wait_int(t, "prod", "journal_seq", 1000, WAIT), 1000);
	/* The idle loop trims to the retention. */
	assert_int_equal(
	    tb_wait_int(t, "prod", "journal_first", 901, WAIT), 901);
	cons = tb_start(&testcons_service, t, "cons");
	assert_int_equal(tb_wait_int(t, "cons", "got", 100, WAIT), 100);
	assert_int_equal(tb_status_int(t, "cons", "counters.truncated"), 1);
	/* The alarm is a durable event in the consumer's own journal. */
	assert_int_equal(tb_status_int(t, "cons", "journal_seq"), 1);
	first = tb_status_int(t, "prod", "journal_first");
	tb_stop(&cons);
	tb_stop(&prod);
	check_exactly_once(dir, first, 1000);
	topo_close(&t);
	tb_rmrf(dir);
	free(y);
	free(dir);
}

static void
send_frame(struct bus *pub, uint64_t seq, int64_t n)
{
	struct msg_test_event ev  = { .n = n };
	struct msg_hdr        hdr = {
		       .src = "prod", .seq = seq, .id = "prod:x", .ts = 1
	};
	struct buf b;

	buf_init(&b);
	assert_int_equal(msg_pack(&b, MSG_TEST_EVENT, &hdr, &ev), 0);
	assert_int_equal(bus_send(pub, b.data, b.len, 0), 0);
	buf_fini(&b);
}

static void
test_bad_frames_duplicates_and_gaps(void **state)
{
	char             *dir = tb_dir(), *y = yaml(dir, "bad", 0, 1000, 0);
	struct topo      *t = tb_topo(dir, y);
	struct tb_svc    *cons;
	struct bus       *pub;
	static const char junk1[] = "test.event\0\xc1\xc1\xff";
	static const char junk2[] = "test.event";
	char              big[512];
	int               i;
	struct timespec   ts = { 0, 200 * 1000 * 1000 };

	UNUSED(state);
	/* The test plays the producer on its pub url (no ctl: replays stay
	 * unanswered, which is what we want to observe). */
	assert_int_equal(bus_open(&pub, BUS_PUB, "inproc://bad-prod.pub"), 0);
	cons = tb_start(&testcons_service, t, "cons");
	nanosleep(&ts, NULL); /* let the SUB connect (inproc is instant) */
	assert_int_equal(bus_send(pub, junk1, sizeof(junk1) - 1, 0), 0);
	assert_int_equal(bus_send(pub, junk2, sizeof(junk2) - 1, 0), 0);
	for (i = 0; i < (int) sizeof(big); i++)
		big[i] = (char) (i * 7 + 3);
	memcpy(big, "test.event\0", 11);
	assert_int_equal(bus_send(pub, big, sizeof(big), 0), 0);
	send_frame(pub, 1, 1);
	send_frame(pub, 2, 2);
	send_frame(pub, 2, 2);
	send_frame(pub, 1, 1);
	send_frame(pub, 3, 3);
	assert_int_equal(tb_wait_int(t, "cons", "got", 3, WAIT), 3);
	assert_int_equal(
	    tb_wait_int(t, "cons", "counters.decode_errors", 3, WAIT), 3);
	assert_int_equal(tb_status_int(t, "cons", "counters.duplicates"), 2);
	/* A gap: seq 5 after 3 is not applied; a replay is requested. */
	send_frame(pub, 5, 5);
	assert_int_equal(tb_wait_int(t, "cons", "counters.gaps", 1, WAIT), 1);
	assert_int_equal(tb_status_int(t, "cons", "got"), 3);
	assert_int_equal(tb_status_int(t, "cons", "upstreams.prod.cursor"), 3);
	assert_int_equal(
	    tb_status_int(t, "cons", "upstreams.prod.replaying"), 1);
	tb_stop(&cons);
	bus_close(&pub);
	check_exactly_once(dir, 1, 3);
	topo_close(&t);
	tb_rmrf(dir);
	free(y);
	free(dir);
}

/* send_old sends a frame of topic t as the oldest protocol this build
 * reads packed it: ours with the envelope's "v" made MSG_PROTO_MIN. */
static void
send_old(struct bus *pub, enum msg_topic t, uint64_t seq, const void *body)
{
	struct msg_hdr hdr = {
		.src = "prod", .seq = seq, .id = "prod:old", .ts = 1
	};
	struct buf b;
	char      *v;

	buf_init(&b);
	assert_int_equal(msg_pack(&b, t, &hdr, body), 0);
	/* "v" packs as fixstr a1 76, then a positive fixint */
	for (v = b.data; v + 2 < b.data + b.len; v++)
		if (v[0] == '\xa1' && v[1] == 'v')
			break;
	assert_true(v + 2 < b.data + b.len);
	assert_int_equal(v[2], MSG_PROTO_VERSION);
	v[2] = MSG_PROTO_MIN;
	assert_int_equal(bus_send(pub, b.data, b.len, 0), 0);
	buf_fini(&b);
}

/* A peer of an older protocol this build reads: its events are applied
 * (what the journals held at an upgrade is not skipped) and its
 * heartbeats say that it must be upgraded. */
static void
test_older_peer(void **state)
{
	char          *dir = tb_dir(), *y = yaml(dir, "old", 0, 1000, 0);
	struct topo   *t = tb_topo(dir, y);
	struct tb_svc *cons;
	struct bus    *pub;
	struct msg_test_event ev = { .n = 1 };
	struct msg_heartbeat  hb = { .service = "prod", .last_seq = 1 };
	struct timespec       ts = { 0, 200 * 1000 * 1000 };
	json_t               *st;

	UNUSED(state);
	if (MSG_PROTO_MIN == MSG_PROTO_VERSION)
		skip(); /* no older protocol is read */
	assert_int_equal(bus_open(&pub, BUS_PUB, "inproc://old-prod.pub"), 0);
	cons = tb_start(&testcons_service, t, "cons");
	nanosleep(&ts, NULL); /* let the SUB connect */
	send_old(pub, MSG_TEST_EVENT, 1, &ev);
	assert_int_equal(tb_wait_int(t, "cons", "got", 1, WAIT), 1);
	assert_int_equal(
	    tb_status_int(t, "cons", "counters.decode_errors"), 0);
	send_old(pub, MSG_HEARTBEAT, 0, &hb);
	assert_int_equal(tb_wait_int(t, "cons",
	                     "counters.old_protocol_heartbeats", 1, WAIT),
	    1);
	st = tb_status(t, "cons");
	assert_non_null(tb_str(st, "last_error"));
	assert_non_null(strstr(tb_str(st, "last_error"),
	    "upstream prod speaks protocol 1 (this build 2): upgrade it"));
	json_decref(st);
	tb_stop(&cons);
	bus_close(&pub);
	check_exactly_once(dir, 1, 1);
	topo_close(&t);
	tb_rmrf(dir);
	free(y);
	free(dir);
}

static void
test_ctl_inject_and_errors(void **state)
{
	char          *dir = tb_dir(), *y = yaml(dir, "inj", 0, 1000, 0);
	struct topo   *t = tb_topo(dir, y);
	struct tb_svc *cons, *prod;
	struct msg_ctl_inject in;
	const char           *url = topo_find(t, "cons")->ctl;
	char                  err[256];
	json_t               *body;

	UNUSED(state);
	prod = tb_start(&testprod_service, t, "prod");
	cons = tb_start(&testcons_service, t, "cons");
	memset(&in, 0, sizeof(in));
	in.topic = "test.event";
	in.body = body = json_pack("{s:i}", "n", 7);
	assert_int_equal(
	    ctl_call(url, MSG_CTL_INJECT, &in, NULL, err, sizeof(err), WAIT),
	    0);
	assert_int_equal(tb_status_int(t, "cons", "got"), 1);
	json_decref(body);

	in.body = body = json_pack("{s:s}", "payload", "no n");
	assert_int_equal(
	    ctl_call(url, MSG_CTL_INJECT, &in, NULL, err, sizeof(err), WAIT),
	    ERR_PROTO);
	assert_non_null(strstr(err, "missing required field 'n'"));
	json_decref(body);

	in.topic = "no.such.topic";
	in.body  = NULL;
	assert_int_equal(
	    ctl_call(url, MSG_CTL_INJECT, &in, NULL, err, sizeof(err), WAIT),
	    ERR_UNKNOWN);
	assert_non_null(strstr(err, "unknown topic"));

	in.topic = "test.event";
	assert_int_equal(ctl_call(topo_find(t, "prod")->ctl, MSG_CTL_INJECT,
	                     &in, NULL, err, sizeof(err), WAIT),
	    ERR_NOTFOUND);
	assert_non_null(strstr(err, "does not handle"));

	/* An operation the service does not have. */
	assert_int_equal(ctl_call(url, MSG_CTL_SHUTDOWN, NULL, NULL, err,
	                     sizeof(err), WAIT),
	    ERR_NOTFOUND);
	assert_true(tb_status_int(t, "cons", "counters.ctl_errors") >= 3);
	tb_stop(&cons);
	tb_stop(&prod);
	topo_close(&t);
	tb_rmrf(dir);
	free(y);
	free(dir);
}

/* A plain tcp:// ctl listener does not know its peer: it answers status
 * (and replay, and read-only queries) but refuses inject and every other
 * state change, unless opcenter.insecure_ctl says otherwise. */
static void
tcp_ctl_case(int insecure, int want)
{
	char                 *dir = tb_dir(), *y;
	struct topo          *t;
	struct tb_svc        *cons;
	struct msg_ctl_inject in;
	const char           *url;
	char                  err[256];
	json_t               *body, *st = NULL;
	int port = 20000 + (int) (getpid() % 20000) + insecure;

	y    = xasprintf("opcenter:\n"
	                    "  state_dir: %s/state\n"
	                    "  heartbeat_ms: 50\n"
	                    "  insecure_ctl: %s\n"
	                    "instances:\n"
	                    "  prod:\n"
	                    "    pub: inproc://tcpctl%d-prod.pub\n"
	                    "    ctl: inproc://tcpctl%d-prod.ctl\n"
	                    "  cons:\n"
	                    "    upstreams: [prod]\n"
	                    "    pub: inproc://tcpctl%d-cons.pub\n"
	                    "    ctl: tcp://127.0.0.1:%d\n",
	       dir, insecure ? "true" : "false", insecure, insecure, insecure,
	       port);
	t    = tb_topo(dir, y);
	url  = topo_find(t, "cons")->ctl;
	cons = tb_start(&testcons_service, t, "cons");
	assert_int_equal(
	    ctl_call(url, MSG_CTL_STATUS, NULL, &st, err, sizeof(err), WAIT),
	    0);
	json_decref(st);
	memset(&in, 0, sizeof(in));
	in.topic = "test.event";
	in.body = body = json_pack("{s:i}", "n", 7);
	assert_int_equal(
	    ctl_call(url, MSG_CTL_INJECT, &in, NULL, err, sizeof(err), WAIT),
	    want);
	if (want != 0) {
		assert_non_null(strstr(err, "plain tcp"));
		assert_int_equal(tb_status_int(t, "cons", "got"), 0);
		assert_int_equal(
		    tb_status_int(t, "cons", "counters.ctl_refused"), 1);
	} else
		assert_int_equal(tb_status_int(t, "cons", "got"), 1);
	json_decref(body);
	tb_stop(&cons);
	topo_close(&t);
	tb_rmrf(dir);
	free(y);
	free(dir);
}

static void
test_ctl_plain_tcp(void **state)
{
	UNUSED(state);
	tcp_ctl_case(0, ERR_REFUSED);
	tcp_ctl_case(1, 0);
}

/* A handler that fails after writing and emitting leaves nothing behind
 * (savepoint), the rest of its batch stands, and the message is consumed. */
static void
test_failing_handler_rolls_back(void **state)
{
	struct tb_svc *prod, *cons;
	struct topo   *t;
	struct store  *s;
	char          *dir = tb_dir(), *y, *path;
	int64_t        rows, poisoned;

	(void) state;
	y    = yaml(dir, "poison", 100, 1000000,
	       "    fail_every: 10\n    echo: true\n");
	t    = tb_topo(dir, y);
	cons = tb_start(&testcons_service, t, "cons");
	prod = tb_start(&testprod_service, t, "prod");
	assert_int_equal(
	    tb_wait_int(t, "cons", "upstreams.prod.cursor", 100, WAIT), 100);
	assert_int_equal(
	    tb_status_int(t, "cons", "counters.handler_errors"), 10);
	/* 90 echoes journaled, none of the poisoned ones */
	assert_int_equal(tb_status_int(t, "cons", "journal_seq"), 90);
	tb_stop(&prod);
	tb_stop(&cons);
	path = xasprintf("%s/state/cons.db", dir);
	assert_int_equal(store_open(&s, path), 0);
	assert_int_equal(
	    store_int(s, &rows, 0, "SELECT count(*) FROM got", NULL), 0);
	assert_int_equal(
	    store_int(s, &poisoned, 0,
	        "SELECT count(*) FROM got WHERE n % 10 = 0", NULL),
	    0);
	assert_int_equal(rows, 90);
	assert_int_equal(poisoned, 0);
	assert_int_equal(
	    store_int(s, &rows, 0,
	        "SELECT count(*) FROM journal WHERE frame IS NULL", NULL),
	    0);
	store_close(&s);
	topo_close(&t);
	tb_rmrf(dir);
	free(path);
	free(y);
	free(dir);
}

/* A disk that fills while a consumer applies a stream: a handler whose
 * write was refused is not a poison message (nothing is consumed, no
 * handler error), the consumer pauses (counter disk_full, "disk full:
 * PATH" in status) and, once there is room, resumes by itself: every
 * event exactly once, svc.disk_full journaled. */
static void
test_disk_full_pauses_and_resumes(void **state)
{
	struct tb_svc *prod, *cons;
	struct topo   *t;
	json_t        *st;
	char          *dir = tb_dir(), *y, *want, err[256];
	int64_t        n   = 0;
	int            i;

	(void) state;
	y    = yaml(dir, "full", 300, 1000000,
	       "    full_at: 100\n    full_ms: 1500\n");
	t    = tb_topo(dir, y);
	cons = tb_start(&testcons_service, t, "cons");
	prod = tb_start(&testprod_service, t, "prod");
	for (i = 0; i < WAIT / 10 &&
	     tb_status_int(t, "cons", "counters.disk_full") < 1;
	     i++)
		usleep(10000);
	assert_true(tb_status_int(t, "cons", "counters.disk_full") >= 1);
	want = xasprintf("disk full: %s/state", dir);
	assert_int_equal(ctl_call(topo_find(t, "cons")->ctl, MSG_CTL_STATUS,
	                     NULL, &st, err, sizeof(err), WAIT),
	    0);
	/* paused at the first refused write, or already probing again */
	if (json_object_get(st, "disk_full") != NULL)
		assert_string_equal(
		    json_string_value(json_object_get(st, "last_error")),
		    want);
	json_decref(st);
	assert_int_equal(
	    tb_wait_int(t, "cons", "upstreams.prod.cursor", 300, WAIT), 300);
	assert_int_equal(
	    tb_status_int(t, "cons", "counters.handler_errors"), 0);
	assert_int_equal(tb_wait_int(t, "cons", "got", 300, WAIT), 300);
	tb_stop(&prod);
	tb_stop(&cons);
	check_exactly_once(dir, 1, 300);
	{
		struct store *s;
		char         *path = xasprintf("%s/state/cons.db", dir);

		assert_int_equal(store_open(&s, path), 0);
		assert_int_equal(store_int(s, &n, 0,
		                     "SELECT count(*) FROM"
		                     " journal WHERE topic ="
		                     " 'svc.disk_full'",
		                     NULL),
		    0);
		store_close(&s);
		free(path);
	}
	assert_true(n >= 1);
	topo_close(&t);
	tb_rmrf(dir);
	free(want);
	free(y);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failing_handler_rolls_back),
		cmocka_unit_test(test_durable_hop),
		cmocka_unit_test(test_catch_up_and_restart),
		cmocka_unit_test(test_truncated_raises_data_loss),
		cmocka_unit_test(test_bad_frames_duplicates_and_gaps),
		cmocka_unit_test(test_older_peer),
		cmocka_unit_test(test_ctl_inject_and_errors),
		cmocka_unit_test(test_ctl_plain_tcp),
		cmocka_unit_test(test_disk_full_pauses_and_resumes),
	};

	log_init("test_svc", NULL, LOG_WARN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
