/*
 * plane.h - a small asynchronous client of Plane's REST API v1 on the
 * service loop (opc_http), that spends the API key's rate limit well.
 *
 * Every path is relative to the project prefix
 * /api/v1/workspaces/{workspace_slug}/projects/{project_id}/ unless it
 * starts with "/".  Requests carry X-API-Key and JSON bodies.  List
 * endpoints are read with Plane's cursor pagination (per_page, cursor,
 * next_cursor, next_page_results), as far as the caller wants.
 *
 * One request is in flight at a time; queued requests go in priority
 * order (FIFO within a priority), so the steps of one caller's sequence
 * never overtake each other.  Plane limits each API key (60 requests a
 * minute by default, a sliding window): the client paces requests so
 * that the window never overflows (see struct plane_budget), follows the
 * X-RateLimit-Remaining the answers announce, and on a 429 waits for its
 * Retry-After and sends the same request again (a throttled request was
 * not executed), so a throttle never fails a caller's step.  A transport
 * error or 502/503/504 fails the request and every queued one (Plane is
 * away: their callers keep their durable state and retry) and holds the
 * queue for a backoff, 1 s doubling to 5 min.
 */
#ifndef OPC_PLANE_H
#define OPC_PLANE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "opc/http.h"

#define PLANE_MAX_PER_PAGE 1000 /* Plane's paginator: default and max */

struct plane;

/* Priorities: writes that finish work go first, then reading the board,
 * then new claims and new work items. */
enum plane_prio { PLANE_FINISH, PLANE_READ, PLANE_CLAIM, PLANE_NPRIO };

struct plane_cfg {
	const char *base_url;  /* e.g. http://localhost:8080 */
	const char *token;     /* the API key (a secret: never logged) */
	const char *workspace; /* workspace slug */
	const char *project;   /* project id */
	int64_t     timeout_ms;
	int64_t     per_page; /* list page size, 1..1000 (default 1000) */
	int64_t     rate;     /* requests per rate_ms: Plane's */
	int64_t     rate_ms;  /* API_KEY_RATE_LIMIT (default 60/minute) */
};

/* plane_done receives the HTTP status (0 on transport errors, with err
 * set), the parsed JSON body (NULL if none or not JSON; borrowed) and, for
 * lists, the results of the pages read in one array (an item seen twice,
 * because the list shifted between pages, is there once: its later
 * copy). */
typedef void (*plane_done)(
    struct plane *, int status, json_t *body, const char *err, void *arg);
/* plane_more sees each page of a list (Plane's paginated object,
 * borrowed) before the next is asked for; false stops there. */
typedef bool (*plane_more)(struct plane *, const json_t *page, void *arg);

/* plane_open returns 0, ERR_IO, or ERR_CONFIG for a bad rate. */
int  plane_open(struct plane **, struct loop *, const struct plane_cfg *);
void plane_close(struct plane **);

/* plane_call queues one request (body may be NULL; borrowed). */
void plane_call(struct plane *, enum plane_prio, const char *method,
    const char *path, json_t *body, plane_done done, void *arg);
/* plane_list queues a GET of path (which may carry a query string) page
 * by page, per_page results at a time (0: the configured size), while
 * more (may be NULL) says so and pages are left; done gets one array. */
void plane_list(struct plane *, enum plane_prio, const char *path,
    int64_t per_page, plane_more more, plane_done done, void *arg);
/* plane_page appends the results of one list page (a bare array, or
 * Plane's paginated object {results, next_cursor, next_page_results}) to
 * the array acc and returns the cursor of the next page (borrowed from
 * body), or NULL when this page is the last.  body may be anything. */
const char *plane_page(json_t *acc, const json_t *body);
/* plane_busy: requests queued or in flight (0 for NULL: a callback run
 * by plane_close() sees its owner's pointer already NULL). */
size_t plane_busy(const struct plane *);
/* plane_stats adds the client's counters and budget to obj: requests,
 * throttled (429s), errors, remaining (the last X-RateLimit-Remaining,
 * -1 before any), hold_ms (how long the queue still waits), queued. */
void plane_stats(const struct plane *, json_t *obj);

/*
 * struct plane_budget paces requests under a sliding-window limit of
 * `limit` requests per `window_ms` (Plane's throttle keeps a log of the
 * key's requests of the last window and refuses one more than the
 * limit).  A request may go when
 *   - the log of our own requests of the last window (plus a margin for
 *     clock and network skew) leaves room for one under limit - 1,
 *     counting what the server said others (or our previous run) used;
 *   - a token bucket (burst limit/10, refilled at (limit - 1)/window)
 *     has a token, which spreads a backlog evenly instead of spending
 *     the window in one burst;
 *   - no Retry-After or error backoff holds it.
 * Answers feed it: X-RateLimit-Remaining lower than our own count means
 * requests we did not make fill the window (another client of the key,
 * or this one before a restart); a limit the server shows to be higher
 * is learned.  Pure: the caller passes the time (ms).
 */
struct plane_budget {
	int64_t  limit, window_ms;
	int64_t *log; /* our send times, a ring of cap entries */
	size_t   cap, head, n;
	double   tokens, burst;
	int64_t  refill_at;
	int64_t  foreign, foreign_at; /* requests seen but not ours */
	int64_t  hold_until;          /* Retry-After or backoff */
	int64_t  remaining;           /* the server's, -1: none yet */
};

void plane_budget_init(
    struct plane_budget *, int64_t limit, int64_t window_ms, int64_t now);
void plane_budget_fini(struct plane_budget *);
/* plane_budget_wait returns how many ms to wait before the next request
 * (0: now). */
int64_t plane_budget_wait(struct plane_budget *, int64_t now);
/* plane_budget_sent records a request sent at now. */
void plane_budget_sent(struct plane_budget *, int64_t now);
/* plane_budget_answer records an answer: remaining is the
 * X-RateLimit-Remaining value (-1: absent), retry_ms a 429's Retry-After
 * (-1: absent or not a 429). */
void plane_budget_answer(struct plane_budget *, int64_t now, int status,
    int64_t remaining, int64_t retry_ms);
/* plane_budget_hold holds every request until now + ms. */
void plane_budget_hold(struct plane_budget *, int64_t now, int64_t ms);

/* plane_rate_parse reads "N/period" as Plane's API_KEY_RATE_LIMIT does
 * (Django REST framework: the period's first letter, s m h d) into
 * *n and *ms.  Returns 0 or ERR_INVAL. */
int plane_rate_parse(const char *s, int64_t *n, int64_t *ms);

/* plane_time parses a datetime as Plane renders it (ISO 8601 in the API
 * key owner's zone: "Z" or +HH:MM, the fraction left out when zero;
 * without a zone, UTC) into microseconds since the epoch.  Returns 0 or
 * ERR_PROTO.  Compare instants, never the text: two keys with different
 * zones see different texts for one instant, and a whole second sorts
 * after its own fractions as text. */
int plane_time(const char *s, int64_t *us);

/* plane_comment_html renders text as Plane comment_html: paragraphs for
 * plain lines, <ul><li> for "- " lines (every line kept, escaped; the
 * original dropped all but the first line and the bullets). */
char *plane_comment_html(const char *text);
/* plane_text strips HTML to text (for descriptions and comments). */
char *plane_text(const char *html);

#endif
