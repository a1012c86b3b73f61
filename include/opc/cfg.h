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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct cfg;
struct cfg_node;

enum cfg_type { CFG_NONE, CFG_SCALAR, CFG_MAP, CFG_SEQ };

/* cfg_load parses the YAML file at path.  On error returns ERR_IO or
 * ERR_CONFIG and writes "path:line:col: message" into err.  Release with
 * cfg_close(). */
int cfg_load(struct cfg **cp, const char *path, char *err, size_t errlen);
/* cfg_parse parses text (len bytes); name is used in error messages. */
int  cfg_parse(struct cfg **cp, const char *name, const char *text, size_t len,
     char *err, size_t errlen);
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
/* cfg_where_key writes "file:line:col" of the key of map entry i (of n
 * itself when n is not a map or i is out of range). */
void cfg_where_key(const struct cfg_node *n, size_t i, char *buf, size_t len);
/* cfg_is_null: n is missing (NULL), the empty document or a YAML null. */
bool cfg_is_null(const struct cfg_node *n);

/* The scalar parsers behind the getters.  Each returns 0 with *out set,
 * ERR_TOOBIG when s is a number too large for its type, or ERR_CONFIG.
 * cfg_scan_ms reads a duration in milliseconds ("250ms", "5s", "2m",
 * "1h", "1d" or a bare number); cfg_scan_bool reads true/false, yes/no,
 * on/off, 1/0 (any case). */
int cfg_scan_int(const char *s, int64_t *out);
int cfg_scan_ms(const char *s, int64_t *out);
int cfg_scan_num(const char *s, double *out);
int cfg_scan_bool(const char *s, int *out);

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
int cfg_get_bool(const struct cfg_node *n, const char *path, int def, int *out,
    char *err, size_t errlen);
/* cfg_get_strs returns a newly allocated NULL-terminated array of the
 * scalars of a sequence at path (the strings point into the tree; free
 * only the array).  Missing key: *out = NULL, *n_out = 0, returns 0. */
int cfg_get_strs(const struct cfg_node *n, const char *path, const char ***out,
    size_t *n_out, char *err, size_t errlen);

/* cfg_secret reads key (whose name must end in "_env") under n and returns
 * getenv() of the variable it names, or NULL when the key or the variable
 * is missing.  The secret itself never comes from the file. */
const char *cfg_secret(const struct cfg_node *n, const char *key);

/*
 * Config tables (tmux's options-table.c): a service declares its
 * settings as a const array of struct cfg_key, one row per key with its
 * type, default, bounds and a line of help, ended by CFG_END.  The same
 * rows validate a section once at start (cfg_check: unknown keys with
 * the nearest known one, types, bounds, each naming file:line:col), give
 * the code its defaults (the cfg_tab_* getters), list the settings (`opc
 * config explain`) and say what differs from the defaults (cfg_drift).
 *
 * def, min and max are YAML text of the row's type ("30s", "0.8",
 * "true"), so a duration's bound reads as one; NULL means none (a key
 * whose default is computed says how in its help).  Keys that begin with
 * "x-" or "x_" are extensions: never reported, never read.
 */
enum cfg_ktype {
	CFG_K_END,     /* the row that ends a table */
	CFG_K_STR,     /* a scalar */
	CFG_K_ENUM,    /* one of choices ("a|b|c") */
	CFG_K_INT,     /* a 64-bit integer in [min, max] */
	CFG_K_MS,      /* a duration in ms (cfg_scan_ms) in [min, max] */
	CFG_K_NUM,     /* a number (double) in [min, max] */
	CFG_K_BOOL,    /* true or false */
	CFG_K_STRS,    /* a list of scalars */
	CFG_K_SECTION, /* a map whose keys are the rows of sub */
	CFG_K_MAP,     /* a map of names, each value as the row sub[0] */
	CFG_K_LIST,    /* a list, each item as the row sub[0] */
	CFG_K_ANY,     /* any value: its reader checks it */
	CFG_K_INCLUDE, /* the rows of sub belong to this table too */
};

struct cfg_key {
	const char           *name;
	enum cfg_ktype        type;
	const char           *def;       /* default (YAML text) or NULL */
	const char           *min, *max; /* bounds (YAML text) or NULL */
	const char           *choices;   /* CFG_K_ENUM: "a|b|c" */
	const char           *help;      /* one line */
	const struct cfg_key *sub;       /* SECTION, MAP, LIST, INCLUDE */
};

#define CFG_STR(n, d, h)                                                \
	{                                                               \
		.name = (n), .type = CFG_K_STR, .def = (d), .help = (h) \
	}
#define CFG_ENUM(n, d, c, h)                                                 \
	{                                                                    \
		.name = (n), .type = CFG_K_ENUM, .def = (d), .choices = (c), \
		.help = (h)                                                  \
	}
#define CFG_INT(n, d, lo, hi, h)                                         \
	{                                                                \
		.name = (n), .type = CFG_K_INT, .def = (d), .min = (lo), \
		.max = (hi), .help = (h)                                 \
	}
#define CFG_MS(n, d, lo, hi, h)                                         \
	{                                                               \
		.name = (n), .type = CFG_K_MS, .def = (d), .min = (lo), \
		.max = (hi), .help = (h)                                \
	}
#define CFG_NUM(n, d, lo, hi, h)                                         \
	{                                                                \
		.name = (n), .type = CFG_K_NUM, .def = (d), .min = (lo), \
		.max = (hi), .help = (h)                                 \
	}
#define CFG_BOOL(n, d, h)                                                \
	{                                                                \
		.name = (n), .type = CFG_K_BOOL, .def = (d), .help = (h) \
	}
#define CFG_STRS(n, h)                                       \
	{                                                    \
		.name = (n), .type = CFG_K_STRS, .help = (h) \
	}
#define CFG_SECTION(n, s, h)                                                \
	{                                                                   \
		.name = (n), .type = CFG_K_SECTION, .sub = (s), .help = (h) \
	}
#define CFG_MAP(n, e, h)                                                \
	{                                                               \
		.name = (n), .type = CFG_K_MAP, .sub = (e), .help = (h) \
	}
#define CFG_LIST(n, e, h)                                                \
	{                                                                \
		.name = (n), .type = CFG_K_LIST, .sub = (e), .help = (h) \
	}
#define CFG_ANY(n, h)                                       \
	{                                                   \
		.name = (n), .type = CFG_K_ANY, .help = (h) \
	}
#define CFG_INCLUDE(s)                                        \
	{                                                     \
		.name = "", .type = CFG_K_INCLUDE, .sub = (s) \
	}
#define CFG_END                                 \
	{                                       \
		.name = NULL, .type = CFG_K_END \
	}

/* cfg_check validates the map n against tab: every key known to tab or
 * an extension (x-*, x_*), every value of its row's type and within its
 * bounds, recursively.  Each problem is one line appended to errs:
 *   "file:line:col: unknown key 'max_paralell' in router (did you mean
 *    'max_parallel'?)"
 *   "file:line:col: router.max_parallel: expected an integer from 1 to
 *    256, got 'lots'"
 * name is the section's name in them.  A missing or null n is an empty
 * section.  Returns the number of problems (0: valid). */
int cfg_check(const struct cfg_node *n, const struct cfg_key *tab,
    const char *name, struct buf *errs);

/* cfg_drift appends to out one line "name.key: value (default D)" for
 * each key of n whose value differs from its row's default (keys without
 * a default are not compared, nor the entries of a map or list).
 * Returns their number. */
int cfg_drift(const struct cfg_node *n, const struct cfg_key *tab,
    const char *name, struct buf *out);

/* cfg_tab_find returns the row of tab at the dotted path ("budget.
 * max_per_hour": through sections and includes), or NULL. */
const struct cfg_key *cfg_tab_find(
    const struct cfg_key *tab, const char *path);

/* cfg_tab_suggest returns the key of tab closest to name (a Damerau-
 * Levenshtein distance of at most 1 for short names, 2 or 3 for longer
 * ones), or NULL when none is that close. */
const char *cfg_tab_suggest(const struct cfg_key *tab, const char *name);

/*
 * Typed getters through a table: the value at path under n (a row of tab
 * of that type: a programmer error otherwise), its row's default when it
 * is missing or null, refused outside the row's bounds or choices with
 * "file:line:col: path: expected ..." in err (ERR_CONFIG).  A string
 * points into the tree or the table.  A row without a default leaves
 * *out as it was when the key is missing.
 */
int cfg_tab_str(const struct cfg_key *tab, const struct cfg_node *n,
    const char *path, const char **out, char *err, size_t errlen);
int cfg_tab_int(const struct cfg_key *tab, const struct cfg_node *n,
    const char *path, int64_t *out, char *err, size_t errlen);
int cfg_tab_ms(const struct cfg_key *tab, const struct cfg_node *n,
    const char *path, int64_t *out, char *err, size_t errlen);
int cfg_tab_num(const struct cfg_key *tab, const struct cfg_node *n,
    const char *path, double *out, char *err, size_t errlen);
int cfg_tab_bool(const struct cfg_key *tab, const struct cfg_node *n,
    const char *path, int *out, char *err, size_t errlen);

/* cfg_quote writes the first 100 bytes of a scalar's text into out for an
 * error line: newlines, tabs and other control bytes escaped (\n, \x01),
 * so a message stays one line.  Returns out. */
const char *cfg_quote(const char *s, char *out, size_t outlen);

#endif
