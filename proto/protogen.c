/*
 * protogen.c - proto/bus.yaml -> msg_gen.h + msg_gen.c (build time).
 *
 * The schema is the single source of truth for topics and fields; this
 * generator validates it (file:line:col errors) and emits the enum, one
 * body struct per topic, the body union and the descriptor tables the
 * table-driven codec in common/msg.c walks.  Output is deterministic.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "opc/cfg.h"
#include "opc/err.h"
#include "opc/util.h"

/* The most fields a topic or record may have (msg.c tracks which it has
 * seen in an array this long): written into msg_gen.h. */
#define MAX_FIELDS 128

static const struct {
	const char *name;
	const char *ft;
	const char *ctype;
} types[] = {
	{ "str", "FT_STR", "char *" }, { "int", "FT_INT", "int64_t " },
	{ "bool", "FT_BOOL", "bool " }, { "f64", "FT_F64", "double " },
	{ "strs", "FT_STRS", "struct msg_strs " },
	{ "obj", "FT_OBJ", "json_t *" },
	{ "bin", "FT_BIN", "struct msg_bin " },
	{ "bins", "FT_BINS", "struct msg_bins " },
	{ "rec", "FT_REC", NULL },   /* struct msg_<rec> * */
	{ "recs", "FT_RECS", NULL }, /* struct msg_<rec>_list */
	{ "enum", "FT_ENUM", NULL }, /* enum msg_<enum> */
};
#define T_INT 1
#define T_STRS 4
#define T_BOOL 2
#define T_F64 3
#define T_REC 8
#define T_RECS 9
#define T_ENUM 10

struct field {
	const char *name;
	int         type;
	int         required;
	int         optional; /* int/bool/f64/strs/recs: a has_<name> flag */
	const char *ref; /* the record or enum a rec/recs/enum field names */
	const char *key; /* recs: a map on the wire keyed by this str field */
	const char *value; /* keyed recs: each map value is this field alone */
};

/* A record (`records:`) or a topic (`topics:`): a name and fields. */

struct topic {
	const char   *name;
	char         *cname; /* task.ready -> task_ready */
	int           durable;
	int           retired;
	int           nulls; /* a record whose JSON form says null */
	struct field *f;
	size_t        nf;
};

/* An enum (`enums:`): its values' wire names. */
struct enumdef {
	const char  *name;
	const char **vals;
	size_t       nv;
};

/* The schema: what load() read. */
struct schema {
	int64_t         version;
	int64_t         min_version; /* the oldest version still read */
	struct enumdef *e;
	size_t          ne;
	struct topic   *r; /* records, in order: each uses only earlier ones */
	size_t          nr;
	struct topic   *t;
	size_t          nt;
};

/* Names a record or enum may not take: generated functions msg_<name>_*
 * would collide with the codec's own. */
static const char *const reserved[] = { "body", "topic", "rec", "enum",
	"field", "strs", "bin", "bins", "recs", "obj", "hdr", "frame", "pack",
	"decode", "encode", "present", "to", "fini", NULL };

static int
die(const struct cfg_node *n, const char *msg, const char *arg)
{
	char where[300];

	cfg_where(n, where, sizeof(where));
	fprintf(stderr, "protogen: %s: %s%s%s\n", where, msg, arg ? " " : "",
	    arg ? arg : "");
	return (1);
}

static int
ident_ok(const char *s, int allow_dot)
{
	if (!islower((unsigned char) *s))
		return (0);
	for (; *s != '\0'; s++)
		if (!islower((unsigned char) *s) &&
		    !isdigit((unsigned char) *s) && *s != '_' &&
		    !(allow_dot && *s == '.'))
			return (0);
	return (1);
}

static int
errout(const char *err)
{
	fprintf(stderr, "protogen: %s\n", err);
	return (1);
}

static int
is_reserved(const char *s)
{
	size_t i;

	for (i = 0; reserved[i] != NULL; i++)
		if (strcmp(reserved[i], s) == 0)
			return (1);
	return (0);
}

/* find_rec returns the index of record name among the first n, or -1. */
static int
find_rec(const struct schema *sc, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(sc->r[i].name, name) == 0)
			return ((int) i);
	return (-1);
}

static int
find_enum(const struct schema *sc, const char *name)
{
	size_t i;

	for (i = 0; i < sc->ne; i++)
		if (strcmp(sc->e[i].name, name) == 0)
			return ((int) i);
	return (-1);
}

/* key_field reads a recs field's `key:`: the name of a str field of its
 * record, which is then not required (the map key carries it).  Such a
 * list is a map on the wire and in JSON, {key: {the other fields}}. */
static int
key_field(const struct schema *sc, struct field *fd, const struct cfg_node *f)
{
	const struct topic *r;
	const char         *s;
	char                err[512];
	size_t              j;

	if (cfg_get_str(f, "key", NULL, &s, err, sizeof(err)) != 0)
		return (errout(err));
	if (s == NULL)
		return (0);
	if (fd->type != T_RECS)
		return (die(f, "key: only goes with type recs", s));
	r = &sc->r[find_rec(sc, sc->nr, fd->ref)];
	for (j = 0; j < r->nf; j++)
		if (strcmp(r->f[j].name, s) == 0 && r->f[j].type == 0 &&
		    !r->f[j].required)
			break;
	if (j == r->nf)
		return (die(f,
		    "key: names a str field of the record that is not "
		    "required",
		    s));
	fd->key = s;
	if (cfg_get_str(f, "value", NULL, &s, err, sizeof(err)) != 0)
		return (errout(err));
	if (s == NULL)
		return (0);
	/* the value field stands for the whole record: every other field
	 * but the key is left at its zero */
	for (j = 0; j < r->nf; j++)
		if (strcmp(r->f[j].name, s) == 0 &&
		    strcmp(r->f[j].name, fd->key) != 0 && !r->f[j].required &&
		    (r->f[j].type == 0 || r->f[j].type == T_INT ||
		        r->f[j].type == T_BOOL || r->f[j].type == T_F64) &&
		    !r->f[j].optional && r->nf == 2)
			break;
	if (j == r->nf)
		return (die(f,
		    "value: names the other field of a two-field record "
		    "(a str, int, bool or f64, not required nor optional)",
		    s));
	fd->value = s;
	return (0);
}

/* load_fields reads the `fields:` list of node t into x; nrec is how many
 * records a field may refer to (those declared before). */
static int
load_fields(const struct schema *sc, size_t nrec, const struct cfg_node *t,
    struct topic *x)
{
	const struct cfg_node *fl = cfg_get(t, "fields"), *f;
	const char            *s;
	char                   err[512];
	size_t                 k, j;

	if (fl != NULL && cfg_type(fl) != CFG_SEQ &&
	    !(cfg_type(fl) == CFG_SCALAR && *cfg_str(fl) == '\0'))
		return (die(fl, "fields: expected a list", NULL));
	x->nf = cfg_type(fl) == CFG_SEQ ? cfg_len(fl) : 0;
	if (x->nf > MAX_FIELDS)
		return (die(fl, "too many fields in", x->name));
	x->f = xcalloc(x->nf + 1, sizeof(*x->f));
	for (k = 0; k < x->nf; k++) {
		f = cfg_at(fl, k);
		if (cfg_get_str(f, "name", NULL, &s, err, sizeof(err)) != 0 ||
		    s == NULL || !ident_ok(s, 0))
			return (die(f, "field needs a name", s));
		x->f[k].name = s;
		for (j = 0; j < k; j++)
			if (strcmp(x->f[j].name, s) == 0)
				return (die(f, "duplicate field", s));
		if (cfg_get_str(f, "type", NULL, &s, err, sizeof(err)) != 0 ||
		    s == NULL)
			return (die(f, "field needs a type", NULL));
		x->f[k].type = -1;
		for (j = 0; j < nitems(types); j++)
			if (strcmp(types[j].name, s) == 0)
				x->f[k].type = (int) j;
		if (x->f[k].type < 0)
			return (die(f, "unknown field type", s));
		if (cfg_get_bool(f, "required", 0, &x->f[k].required, err,
		        sizeof(err)) != 0 ||
		    cfg_get_bool(f, "optional", 0, &x->f[k].optional, err,
		        sizeof(err)) != 0)
			return (errout(err));
		if (x->f[k].optional &&
		    ((x->f[k].type != T_INT && x->f[k].type != T_BOOL &&
		         x->f[k].type != T_F64 && x->f[k].type != T_RECS &&
		         x->f[k].type != T_STRS) ||
		        x->f[k].required))
			return (die(f,
			    "optional: only int, bool, f64, strs and recs "
			    "fields "
			    "that are not required have it",
			    x->f[k].name));
		if (x->f[k].type == T_REC || x->f[k].type == T_RECS) {
			if (cfg_get_str(
			        f, "rec", NULL, &s, err, sizeof(err)) != 0 ||
			    s == NULL || find_rec(sc, nrec, s) < 0)
				return (die(f,
				    "a rec/recs field names a record "
				    "declared before it with rec:",
				    s));
			x->f[k].ref = s;
			if (key_field(sc, &x->f[k], f) != 0)
				return (1);
		} else if (x->f[k].type == T_ENUM) {
			if (cfg_get_str(
			        f, "enum", NULL, &s, err, sizeof(err)) != 0 ||
			    s == NULL || find_enum(sc, s) < 0)
				return (die(f,
				    "an enum field names an enum "
				    "with enum:",
				    s));
			x->f[k].ref = s;
		} else if (cfg_get(f, "rec") != NULL ||
		    cfg_get(f, "enum") != NULL)
			return (die(f,
			    "rec:/enum: only go with types "
			    "rec, recs and enum",
			    NULL));
	}
	return (0);
}

static int
load_enums(const struct cfg_node *root, struct schema *sc)
{
	const struct cfg_node *el = cfg_get(root, "enums"), *e;
	size_t                 i, k, j;

	if (el == NULL)
		return (0);
	if (cfg_type(el) != CFG_MAP)
		return (die(el, "enums: expected a map of lists", NULL));
	sc->ne = cfg_len(el);
	sc->e  = xcalloc(sc->ne + 1, sizeof(*sc->e));
	for (i = 0; i < sc->ne; i++) {
		e             = cfg_at(el, i);
		sc->e[i].name = cfg_key_at(el, i);
		if (!ident_ok(sc->e[i].name, 0) || is_reserved(sc->e[i].name))
			return (die(
			    e, "bad or reserved enum name", sc->e[i].name));
		if (cfg_type(e) != CFG_SEQ || cfg_len(e) == 0)
			return (die(
			    e, "an enum is a non-empty list of names", NULL));
		sc->e[i].nv   = cfg_len(e);
		sc->e[i].vals = xcalloc(sc->e[i].nv + 1, sizeof(char *));
		for (k = 0; k < sc->e[i].nv; k++) {
			if (cfg_type(cfg_at(e, k)) != CFG_SCALAR ||
			    *cfg_str(cfg_at(e, k)) == '\0')
				return (die(cfg_at(e, k),
				    "enum value must be "
				    "a non-empty string",
				    NULL));
			sc->e[i].vals[k] = cfg_str(cfg_at(e, k));
			for (j = 0; j < k; j++)
				if (strcmp(sc->e[i].vals[j],
				        sc->e[i].vals[k]) == 0)
					return (die(cfg_at(e, k),
					    "duplicate enum value",
					    sc->e[i].vals[k]));
		}
	}
	return (0);
}

static int
load_records(const struct cfg_node *root, struct schema *sc)
{
	const struct cfg_node *rl = cfg_get(root, "records"), *r;
	const char            *s;
	char                   err[512];
	size_t                 i;

	if (rl == NULL)
		return (0);
	if (cfg_type(rl) != CFG_SEQ)
		return (die(rl, "records: expected a list", NULL));
	sc->nr = cfg_len(rl);
	sc->r  = xcalloc(sc->nr + 1, sizeof(*sc->r));
	for (i = 0; i < sc->nr; i++) {
		r = cfg_at(rl, i);
		if (cfg_get_str(r, "name", NULL, &s, err, sizeof(err)) != 0 ||
		    s == NULL || !ident_ok(s, 0) || is_reserved(s))
			return (die(r,
			    "record needs a lowercase, "
			    "unreserved name",
			    s));
		if (find_rec(sc, i, s) >= 0 || find_enum(sc, s) >= 0)
			return (die(r, "name already used", s));
		sc->r[i].name  = s;
		sc->r[i].cname = xstrdup(s);
		if (cfg_get_bool(
		        r, "nulls", 0, &sc->r[i].nulls, err, sizeof(err)) != 0)
			return (errout(err));
		if (load_fields(sc, i, r, &sc->r[i]) != 0)
			return (1);
	}
	return (0);
}

static int
load(const struct cfg_node *root, struct schema *sc)
{
	const struct cfg_node *tl = cfg_get(root, "topics"), *t;
	struct topic          *ts;
	const char            *s;
	char                   err[512];
	size_t                 i, k, n;

	if (cfg_get_int(root, "version", 0, &sc->version, err, sizeof(err)) !=
	        0 ||
	    sc->version < 1)
		return (
		    errout(sc->version < 1 ? "version: must be >= 1" : err));
	if (cfg_get_int(root, "min_version", sc->version, &sc->min_version,
	        err, sizeof(err)) != 0)
		return (errout(err));
	if (sc->min_version < 1 || sc->min_version > sc->version)
		return (errout("min_version: must be from 1 to version"));
	if (load_enums(root, sc) != 0 || load_records(root, sc) != 0)
		return (1);
	if (cfg_type(tl) != CFG_SEQ)
		return (die(root, "topics: expected a list", NULL));
	n  = cfg_len(tl);
	ts = sc->t = xcalloc(n + 1, sizeof(*ts));
	sc->nt     = n;
	for (i = 0; i < n; i++) {
		t = cfg_at(tl, i);
		if (cfg_get_str(t, "name", NULL, &s, err, sizeof(err)) != 0 ||
		    s == NULL || !ident_ok(s, 1))
			return (die(t, "topic needs a lowercase name", s));
		ts[i].name  = s;
		ts[i].cname = xstrdup(s);
		for (k = 0; ts[i].cname[k] != '\0'; k++)
			if (ts[i].cname[k] == '.')
				ts[i].cname[k] = '_';
		for (k = 0; k < i; k++)
			if (strcmp(ts[k].cname, ts[i].cname) == 0)
				return (die(t, "duplicate topic", s));
		if (find_rec(sc, sc->nr, ts[i].cname) >= 0 ||
		    find_enum(sc, ts[i].cname) >= 0)
			return (die(t, "a record or enum has this name", s));
		if (cfg_get_bool(t, "durable", 0, &ts[i].durable, err,
		        sizeof(err)) != 0 ||
		    cfg_get_bool(t, "retired", 0, &ts[i].retired, err,
		        sizeof(err)) != 0)
			return (errout(err));
		if (load_fields(sc, sc->nr, t, &ts[i]) != 0)
			return (1);
	}
	return (0);
}

static void
upper(FILE *o, const char *s)
{
	for (; *s != '\0'; s++)
		fputc(toupper((unsigned char) *s), o);
}

/* ctype prints field f's C type (with the trailing space or star). */
static void
ctype(FILE *o, const struct field *f)
{
	if (f->type == T_REC)
		fprintf(o, "struct msg_%s *", f->ref);
	else if (f->type == T_RECS)
		fprintf(o, "struct msg_%s_list ", f->ref);
	else if (f->type == T_ENUM)
		fprintf(o, "enum msg_%s ", f->ref);
	else
		fputs(types[f->type].ctype, o);
}

/* enum_ident prints a value's C name: upper case, other bytes '_'. */
static void
enum_ident(FILE *o, const char *e, const char *v)
{
	fprintf(o, "MSG_");
	upper(o, e);
	fputc('_', o);
	for (; *v != '\0'; v++)
		fputc(isalnum((unsigned char) *v) ? toupper((unsigned char) *v)
		                                  : '_',
		    o);
}

static void
gen_struct(FILE *o, const char *name, const struct topic *x)
{
	size_t k;

	fprintf(o, "struct msg_%s {\n", name);
	if (x->nf == 0)
		fprintf(o, "\tchar _unused;\n");
	for (k = 0; k < x->nf; k++) {
		fputc('\t', o);
		ctype(o, &x->f[k]);
		fprintf(o, "%s;\n", x->f[k].name);
		if (x->f[k].optional)
			fprintf(o, "\tbool has_%s;\n", x->f[k].name);
	}
	fprintf(o, "};\n\n");
}

static int
gen_h(FILE *o, const struct schema *sc)
{
	const struct enumdef *e;
	const char           *r;
	size_t                i, k;

	fprintf(o,
	    "/* GENERATED by protogen from proto/bus.yaml - do not "
	    "edit. */\n#ifndef OPC_MSG_GEN_H\n#define "
	    "OPC_MSG_GEN_H\n\n#include <string.h>\n\n"
	    "#define MSG_PROTO_VERSION %lld\n#define MSG_PROTO_MIN "
	    "%lld\n#define MSG_MAX_FIELDS %d\n\n",
	    (long long) sc->version, (long long) sc->min_version, MAX_FIELDS);
	fprintf(o, "enum msg_topic {\n\tMSG_NONE = 0,\n");
	for (i = 0; i < sc->nt; i++) {
		fprintf(o, "\tMSG_");
		upper(o, sc->t[i].cname);
		fprintf(o, ", /* %s */\n", sc->t[i].name);
	}
	fprintf(o, "\tMSG__COUNT\n};\n\n");
	for (i = 0; i < sc->ne; i++) {
		e = &sc->e[i];
		fprintf(o, "enum msg_%s {\n\tMSG_", e->name);
		upper(o, e->name);
		fprintf(o, "__UNSET = 0,\n");
		for (k = 0; k < e->nv; k++) {
			fputc('\t', o);
			enum_ident(o, e->name, e->vals[k]);
			fprintf(o, ", /* %s */\n", e->vals[k]);
		}
		fprintf(o,
		    "};\nextern const char *const msg_%s_names[];\n\n"
		    "static inline const char *\nmsg_%s_name(enum "
		    "msg_%s v)\n{\n\treturn (msg_enum_name(msg_%s_names,"
		    " (int) v));\n}\n\n"
		    "static inline int\nmsg_%s_parse(const char *s, enum "
		    "msg_%s *v)\n{\n\tint i = 0, rv = msg_enum_parse("
		    "msg_%s_names, s, strlen(s), &i);\n\n\t*v = (enum "
		    "msg_%s) i;\n\treturn (rv);\n}\n\n",
		    e->name, e->name, e->name, e->name, e->name, e->name,
		    e->name, e->name);
	}
	for (i = 0; i < sc->nr; i++)
		fprintf(o,
		    "struct msg_%s;\nstruct msg_%s_list {\n\tsize_t "
		    "n;\n\tstruct msg_%s *v;\n};\n",
		    sc->r[i].name, sc->r[i].name, sc->r[i].name);
	if (sc->nr > 0)
		fputc('\n', o);
	for (i = 0; i < sc->nr; i++) {
		r = sc->r[i].name;
		gen_struct(o, r, &sc->r[i]);
		fprintf(o,
		    "extern const struct msg_rec_def msg_rec_%s;\n\n"
		    "static inline struct msg_%s *\nmsg_%s_new(void)\n{"
		    "\n\treturn (msg_rec_new(&msg_rec_%s));\n}\n\n"
		    "static inline void\nmsg_%s_free(struct msg_%s *p)\n{"
		    "\n\tmsg_rec_free(&msg_rec_%s, p);\n}\n\n"
		    "static inline void\nmsg_%s_fini(struct msg_%s *p)\n{"
		    "\n\tmsg_rec_fini(&msg_rec_%s, p);\n}\n\n"
		    "static inline json_t *\nmsg_%s_to_json(const struct "
		    "msg_%s *p)\n{\n\treturn (msg_rec_to_json(&msg_rec_%s,"
		    " p));\n}\n\n"
		    "static inline int\nmsg_%s_from_json(struct msg_%s *p, "
		    "const json_t *o, char *err,\n    size_t errlen)\n{\n"
		    "\treturn (msg_rec_from_json(&msg_rec_%s, p, o, err, "
		    "errlen));\n}\n\n"
		    "static inline struct msg_%s *\nmsg_%s_push(struct "
		    "msg_%s_list *l)\n{\n\treturn (msg_recs_push(&msg_rec_%s,"
		    " (struct msg_recs *) (void *) l));\n}\n\n"
		    "static inline void\nmsg_%s_list_fini(struct "
		    "msg_%s_list *l)\n{\n\tmsg_recs_fini(&msg_rec_%s,"
		    " (struct msg_recs *) (void *) l);\n}\n\n",
		    r, r, r, r, r, r, r, r, r, r, r, r, r, r, r, r, r, r, r, r,
		    r, r, r);
	}
	for (i = 0; i < sc->nt; i++)
		gen_struct(o, sc->t[i].cname, &sc->t[i]);
	fprintf(o, "union msg_body {\n");
	for (i = 0; i < sc->nt; i++)
		fprintf(o, "\tstruct msg_%s %s;\n", sc->t[i].cname,
		    sc->t[i].cname);
	fprintf(o, "};\n\n#endif\n");
	return (ferror(o) ? 1 : 0);
}

/* gen_fields prints the descriptor table of x's fields as prefix_name. */
static void
gen_fields(
    FILE *o, const char *prefix, const char *name, const struct topic *x)
{
	const struct field *f;
	size_t              k;

	fprintf(
	    o, "static const struct msg_field %s_%s[] = {\n", prefix, name);
	for (k = 0; k < x->nf; k++) {
		f = &x->f[k];
		fprintf(o, "\t{ \"%s\", %s, offsetof(struct msg_%s, %s), %s, ",
		    f->name, types[f->type].ft, name, f->name,
		    f->required ? "true" : "false");
		if (f->type == T_REC || f->type == T_RECS)
			fprintf(o, "&msg_rec_%s, NULL", f->ref);
		else if (f->type == T_ENUM)
			fprintf(o, "NULL, msg_%s_names", f->ref);
		else
			fprintf(o, "NULL, NULL");
		if (f->optional)
			fprintf(o, ", true, offsetof(struct msg_%s, has_%s)",
			    name, f->name);
		else
			fprintf(o, ", false, 0");
		if (f->key != NULL)
			fprintf(o, ", \"%s\"", f->key);
		else
			fprintf(o, ", NULL");
		if (f->value != NULL)
			fprintf(o, ", \"%s\" },\n", f->value);
		else
			fprintf(o, ", NULL },\n");
	}
	fprintf(o, "};\n\n");
}

static int
gen_c(FILE *o, const struct schema *sc)
{
	const struct topic *t;
	size_t              i, k;

	fprintf(o,
	    "/* GENERATED by protogen from proto/bus.yaml - do not "
	    "edit. */\n#include <stddef.h>\n\n#include "
	    "\"opc/msg.h\"\n\n");
	for (i = 0; i < sc->ne; i++) {
		fprintf(o,
		    "_Static_assert(sizeof(enum msg_%s) == sizeof(int), "
		    "\"msg.c stores enums as int\");\n"
		    "const char *const msg_%s_names[] = {\n\t\"\",\n",
		    sc->e[i].name, sc->e[i].name);
		for (k = 0; k < sc->e[i].nv; k++)
			fprintf(o, "\t\"%s\",\n", sc->e[i].vals[k]);
		fprintf(o, "\tNULL,\n};\n\n");
	}
	for (i = 0; i < sc->nr; i++) {
		t = &sc->r[i];
		if (t->nf > 0)
			gen_fields(o, "r", t->name, t);
		fprintf(o,
		    "const struct msg_rec_def msg_rec_%s = { \"%s\", "
		    "sizeof(struct msg_%s), %s%s, %zu, %s };\n\n",
		    t->name, t->name, t->name, t->nf ? "r_" : "NULL",
		    t->nf ? t->name : "", t->nf, t->nulls ? "true" : "false");
	}
	for (i = 0; i < sc->nt; i++)
		if (sc->t[i].nf > 0)
			gen_fields(o, "f", sc->t[i].cname, &sc->t[i]);
	fprintf(o,
	    "const struct msg_topic_def msg_topic_defs[MSG__COUNT] = "
	    "{\n\t{ \"\", false, 0, NULL, 0, false },\n");
	for (i = 0; i < sc->nt; i++) {
		t = &sc->t[i];
		if (t->nf == 0)
			fprintf(o,
			    "\t{ \"%s\", %s, sizeof(struct msg_%s), NULL, 0, "
			    "%s },\n",
			    t->name, t->durable ? "true" : "false", t->cname,
			    t->retired ? "true" : "false");
		else
			fprintf(o,
			    "\t{ \"%s\", %s, sizeof(struct msg_%s), f_%s, "
			    "%zu, %s },\n",
			    t->name, t->durable ? "true" : "false", t->cname,
			    t->cname, t->nf, t->retired ? "true" : "false");
	}
	fprintf(o, "};\n");
	return (ferror(o) ? 1 : 0);
}

/* emit writes to path.tmp and renames, so a failed run leaves no half
 * file for the build to pick up. */
static int
emit(const char *dir, const char *file, const struct schema *sc)
{
	char *path = xasprintf("%s/%s", dir, file);
	char *tmp  = xasprintf("%s.tmp", path);
	FILE *o;
	int   rv;

	if ((o = fopen(tmp, "w")) == NULL) {
		fprintf(stderr, "protogen: cannot write %s\n", tmp);
		free(path);
		free(tmp);
		return (1);
	}
	rv = strstr(file, ".h") ? gen_h(o, sc) : gen_c(o, sc);
	if (fclose(o) != 0 || rv != 0 || rename(tmp, path) != 0)
		rv = 1;
	free(path);
	free(tmp);
	return (rv);
}

static void
free_topics(struct topic *x, size_t n)
{
	size_t i;

	for (i = 0; x != NULL && i < n; i++) {
		free(x[i].cname);
		free(x[i].f);
	}
	free(x);
}

int
main(int argc, char **argv)
{
	struct cfg   *c;
	struct schema sc;
	char          err[1024];
	size_t        i;
	int           rv;

	if (argc != 3) {
		fprintf(stderr, "usage: protogen SCHEMA.yaml OUTDIR\n");
		return (2);
	}
	if (cfg_load(&c, argv[1], err, sizeof(err)) != 0) {
		fprintf(stderr, "protogen: %s\n", err);
		return (1);
	}
	memset(&sc, 0, sizeof(sc));
	rv = load(cfg_root(c), &sc);
	if (rv == 0)
		rv = emit(argv[2], "msg_gen.h", &sc) ||
		    emit(argv[2], "msg_gen.c", &sc);
	free_topics(sc.t, sc.nt);
	free_topics(sc.r, sc.nr);
	for (i = 0; sc.e != NULL && i < sc.ne; i++)
		free(sc.e[i].vals);
	free(sc.e);
	cfg_close(&c);
	return (rv);
}
