/*
 * strv.h - NULL-terminated vectors of owned strings (common/strv.c):
 * argv lists, environments, path lists.  v[n] is NULL as soon as one
 * element exists, so v can go straight to execvp().
 */
#ifndef OPC_STRV_H
#define OPC_STRV_H

#include <stddef.h>

struct strv {
	char **v; /* v[n] == NULL once anything was pushed */
	size_t n;
};

/* strv_push appends a copy of s. */
void strv_push(struct strv *sv, const char *s);
/* strv_push_owned appends s and takes ownership of it. */
void strv_push_owned(struct strv *sv, char *s);
/* strv_free frees every string and the vector, leaving it empty. */
void strv_free(struct strv *sv);
/* strv_join returns a new string: the elements separated by sep. */
char *strv_join(const struct strv *sv, const char *sep);
/* strv_split_ws appends the whitespace-separated words of s. */
void strv_split_ws(struct strv *sv, const char *s);
/* strv_setenv sets "name=value" in an environment vector, replacing an
 * existing entry for name. */
void strv_setenv(struct strv *sv, const char *name, const char *value);

#endif
