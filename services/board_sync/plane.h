/*
 * plane.h - a small asynchronous client of Plane's REST API v1 on the
 * service loop (opc_http).
 *
 * Every path is relative to the project prefix
 * /api/v1/workspaces/{workspace_slug}/projects/{project_id}/ unless it
 * starts with "/".  Requests carry X-API-Key and JSON bodies.  List
 * endpoints are read to the end with Plane's cursor pagination
 * (per_page, cursor, next_cursor, next_page_results): the original read
 * the first page only.  One request is in flight at a time per client;
 * calls queue behind it, so callers never interleave state changes.
 */
#ifndef OPC_PLANE_H
#define OPC_PLANE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "opc/http.h"

struct plane;

struct plane_cfg {
	const char *base_url;  /* e.g. http://localhost:8080 */
	const char *token;     /* the API key (a secret: never logged) */
	const char *workspace; /* workspace slug */
	const char *project;   /* project id */
	int64_t     timeout_ms;
	int64_t     per_page;  /* list page size, default 100 */
};

/* plane_done receives the HTTP status (0 on transport errors, with err
 * set), the parsed JSON body (NULL if none or not JSON; borrowed) and, for
 * lists, every page's results concatenated into one array. */
typedef void (*plane_done)(struct plane *, int status, json_t *body,
    const char *err, void *arg);

int  plane_open(struct plane **, struct loop *, const struct plane_cfg *);
void plane_close(struct plane **);

/* plane_call queues one request (body may be NULL; borrowed). */
void plane_call(struct plane *, const char *method, const char *path,
    json_t *body, plane_done done, void *arg);
/* plane_list queues a GET of every page of path (which may carry a query
 * string); done gets a JSON array of all results. */
void plane_list(struct plane *, const char *path, plane_done done,
    void *arg);
/* plane_page appends the results of one list page (a bare array, or
 * Plane's paginated object {results, next_cursor, next_page_results}) to
 * the array acc and returns the cursor of the next page (borrowed from
 * body), or NULL when this page is the last.  body may be anything. */
const char *plane_page(json_t *acc, const json_t *body);
/* plane_busy: requests queued or in flight (0 for NULL: a callback run
 * by plane_close() sees its owner's pointer already NULL). */
size_t plane_busy(const struct plane *);

/* plane_comment_html renders text as Plane comment_html: paragraphs for
 * plain lines, <ul><li> for "- " lines (every line kept, escaped; the
 * original dropped all but the first line and the bullets). */
char *plane_comment_html(const char *text);
/* plane_text strips HTML to text (for descriptions and comments). */
char *plane_text(const char *html);

#endif
