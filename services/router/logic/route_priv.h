/*
 * route_priv.h - helpers shared by the router logic files (route.c,
 * policy.c, budget.c).  Not part of the daemon's API.
 *
 * Labels are compared in a normal form: lower case, surrounding blanks
 * trimmed, and "key:value" / "key :  value" written as "key: value", so
 * "Risk:High" and "risk: high" are the same label.
 */
#ifndef OPC_ROUTE_PRIV_H
#define OPC_ROUTE_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "opc/cfg.h"
#include "opc/msg.h"

#define ROUTE_LABEL_MAX 256

/* route_jstr returns the string member key of object o, or NULL when o is
 * not an object or the member is missing or not a string (borrowed). */
const char *route_jstr(const json_t *o, const char *key);

/* route_label_norm writes the normal form of label into out (truncated to
 * outlen) and returns out. */
char *route_label_norm(const char *label, char *out, size_t outlen);

/* route_label_eq compares two labels in normal form. */
bool route_label_eq(const char *a, const char *b);

/* route_has_label returns true when labels (may be NULL) holds want. */
bool route_has_label(const struct msg_strs *labels, const char *want);

/* route_repo returns the node repos.<key> of the config document root
 * (keys may contain dots), or NULL. */
const struct cfg_node *route_repo(
    const struct cfg_node *root, const char *key);

#endif
