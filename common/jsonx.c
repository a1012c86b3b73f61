/*
 * jsonx.c - jansson helpers shared by the services (see opc/jsonx.h).
 * Nothing here keeps state; every returned json_t is a new reference the
 * caller releases with json_decref().
 */
#include "opc/jsonx.h"
#include "opc/store.h"

const char *
jsonx_str(const json_t *o, const char *key)
{
	return (json_string_value(json_object_get(o, key)));
}

json_t *
jsonx_str_or_null(const char *s)
{
	return (s != NULL ? json_string(s) : json_null());
}

char *
jsonx_dumps(const json_t *j)
{
	return (j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL);
}

json_t *
jsonx_col(struct store_stmt *st, int i)
{
	const char *s = store_col_text(st, i);

	return (s ? json_loads(s, 0, NULL) : NULL);
}
