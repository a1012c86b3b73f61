/*
 * cfg.h - YAML documents as a read-only tree.
 *
 * common/cfg.c is the only libyaml user.  A document is loaded whole into a
 * tree of scalars, maps and sequences; every node remembers its file, line
 * and column so that errors read "file:line:col: what is wrong".  Anchors
 * and aliases are rejected (configs stay explicit).  Keys `*_env` hold the
 * NAME of an environment variable carrying a secret: cfg_secret() reads it.
 */
#ifndef OPC_CFG_H
#define OPC_CFG_H

#include <stddef.h>
#include <stdint.h>

struct cfg;
struct cfg_node;

enum cfg_type { CFG_NONE, CFG_SCALAR, CFG_MAP, CFG_SEQ };

/* cfg_load parses the YAML file at path.  On error returns ERR_IO or
 * ERR_CONFIG and writes "path:line:col: message" into err.  Release with
 * cfg_close(). */
int cfg_load(struct cfg **cp, const char *path, char *err, size_t errlen);
/* cfg_parse parses text (len bytes); name is used in error messages. */
int  cfg_parse(struct cfg **cp, const char *name, const char *text,
     size_t len, char *err, size_t errlen);
void cfg_close(struct cfg **cp);

/* cfg_root returns the document's root node (a map, a sequence, a scalar,
 * or a node of type CFG_NONE for an empty document).  Never NULL. */
const struct cfg_node *cfg_root(const struct cfg *);
/* cfg_path returns the file name the document was loaded from. */
const char *cfg_path(const struct cfg *);

enum cfg_type cfg_type(const struct cfg_node *);
/* cfg_get follows a dotted path of map keys ("a.b.c") from n.  Returns NULL
 * when any step is missing or not a map.  n may be NULL (returns NULL). */
const struct cfg_node *cfg_get(const struct cfg_node *n, const char *path);
/* cfg_len returns the number of entries of a map or sequence, else 0. */
size_t cfg_len(const struct cfg_node *);
/* cfg_at returns item i of a sequence or the value of entry i of a map. */
const struct cfg_node *cfg_at(const struct cfg_node *, size_t i);
/* cfg_key_at returns the key of map entry i (NULL for other types). */
const char *cfg_key_at(const struct cfg_node *, size_t i);
/* cfg_str returns the text of a scalar, NULL otherwise.  A YAML null
 * ("~", "null" or empty, unquoted) is a scalar whose text is "". */
const char *cfg_str(const struct cfg_node *);
/* cfg_where writes "file:line:col" of n into buf. */
void cfg_where(const struct cfg_node *, char *buf, size_t len);

/*
 * Typed getters.  Each looks up path under n.  A missing key (or YAML null)
 * yields def and returns 0.  A value of the wrong type or out of range
 * returns ERR_CONFIG with "file:line:col: path: expected ..., got '...'"
 * in err.  Strings returned point into the tree (valid until cfg_close).
 * Integers accept an optional suffix for durations and sizes when the
 * getter says so: cfg_get_ms accepts "250ms", "5s", "2m", "1h", "1d" or a
 * bare number of milliseconds.
 */
int cfg_get_str(const struct cfg_node *n, const char *path, const char *def,
    const char **out, char *err, size_t errlen);
int cfg_get_int(const struct cfg_node *n, const char *path, int64_t def,
    int64_t *out, char *err, size_t errlen);
int cfg_get_ms(const struct cfg_node *n, const char *path, int64_t def,
    int64_t *out, char *err, size_t errlen);
int cfg_get_double(const struct cfg_node *n, const char *path, double def,
    double *out, char *err, size_t errlen);
int cfg_get_bool(const struct cfg_node *n, const char *path, int def,
    int *out, char *err, size_t errlen);
/* cfg_get_strs returns a newly allocated NULL-terminated array of the
 * scalars of a sequence at path (the strings point into the tree; free
 * only the array).  Missing key: *out = NULL, *n_out = 0, returns 0. */
int cfg_get_strs(const struct cfg_node *n, const char *path,
    const char ***out, size_t *n_out, char *err, size_t errlen);

/* cfg_secret reads key (whose name must end in "_env") under n and returns
 * getenv() of the variable it names, or NULL when the key or the variable
 * is missing.  The secret itself never comes from the file. */
const char *cfg_secret(const struct cfg_node *n, const char *key);

#endif
