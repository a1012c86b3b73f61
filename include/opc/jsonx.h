/*
 * jsonx.h - the few jansson helpers every service wrote for itself
 * (common/jsonx.c): a member's string, a string or null, a compact dump,
 * a JSON column of the store.
 */
#ifndef OPC_JSONX_H
#define OPC_JSONX_H

#include <jansson.h>

struct store_stmt;

/* jsonx_str returns o[key] when it is a string (borrowed from o), else
 * NULL (o NULL, no such key, another type). */
const char *jsonx_str(const json_t *o, const char *key);

/* jsonx_str_or_null returns a new JSON string of s, or null for NULL.
 * s must be UTF-8 (utf8_lossy() makes it so). */
json_t *jsonx_str_or_null(const char *s);

/* jsonx_dumps returns the compact JSON text of j with sorted keys (the
 * caller frees it), or NULL for NULL. */
char *jsonx_dumps(const json_t *j);

/* jsonx_col parses column i of st's current row as JSON: a new
 * reference, or NULL when the column is NULL or not valid JSON. */
json_t *jsonx_col(struct store_stmt *st, int i);

#endif
