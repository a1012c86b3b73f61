/*
 * msg_sample.h - test helper: fill any topic's body with sample values by
 * walking its descriptor table, so every topic of proto/bus.yaml is
 * covered without a hand-written case per topic.
 */
#ifndef OPC_MSG_SAMPLE_H
#define OPC_MSG_SAMPLE_H

#include <stdio.h>
#include <string.h>

#include "opc/msg.h"

/* sample_fields fills the n fields of base with values derived from salt
 * (records too, down to their own fields). */
static inline void
sample_fields(
    const struct msg_field *fields, size_t n, char *base, unsigned salt)
{
	char   s[64];
	size_t i, k;

	for (i = 0; i < n; i++) {
		const struct msg_field *f  = &fields[i];
		void                   *at = base + f->off;

		snprintf(s, sizeof(s), "%s-%u-\xc3\xa9", f->name, salt);
		if (f->optional)
			*(bool *) (base + f->has_off) = true;
		switch (f->type) {
		case FT_STR:
			*(char **) at = xstrdup(s);
			break;
		case FT_INT:
			*(int64_t *) at =
			    (int64_t) salt * 1000003 - 7 - (int64_t) i;
			break;
		case FT_BOOL:
			*(bool *) at = (salt + i) % 2 == 0;
			break;
		case FT_F64:
			*(double *) at = salt * 0.5 + 0.25;
			break;
		case FT_OBJ:
			*(json_t **) at = json_pack("{s:s, s:[i, f, b, n], "
			                            "s:{s:s}}",
			    "k", s, "arr", (int) salt, 1.5, 1, "nested", "x",
			    "y");
			break;
		case FT_STRS:
			msg_strs_add(at, s);
			msg_strs_add(at, "");
			break;
		case FT_BIN: {
			struct msg_bin *b = at;

			b->len = 5;
			b->p   = xmalloc(6);
			memcpy(b->p, "a\0b\xff", 5);
			break;
		}
		case FT_BINS: {
			struct msg_bins *bs = at;

			bs->n        = 2;
			bs->v        = xcalloc(2, sizeof(*bs->v));
			bs->v[0].p   = xstrdup("one");
			bs->v[0].len = 3;
			bs->v[1].p   = xstrdup("");
			bs->v[1].len = 0;
			break;
		}
		case FT_ENUM:
			for (k = 1; f->names[k] != NULL; k++)
				;
			*(int *) at = 1 + (int) ((salt + i) % (k - 1));
			break;
		case FT_REC:
			*(void **) at = msg_rec_new(f->rec);
			sample_fields(f->rec->fields, f->rec->nfields,
			    *(char **) at, salt + 1);
			break;
		case FT_RECS: {
			struct msg_recs *rs = at;

			rs->n = 2;
			rs->v = xcalloc(2, f->rec->size);
			for (k = 0; k < 2; k++)
				sample_fields(f->rec->fields, f->rec->nfields,
				    (char *) rs->v + k * f->rec->size,
				    salt + 2 + (unsigned) k);
			break;
		}
		}
	}
}

/* sample_body fills body (of topic t) with values derived from salt. */
static inline void
sample_body(enum msg_topic t, void *body, unsigned salt)
{
	const struct msg_topic_def *d = &msg_topic_defs[t];

	memset(body, 0, d->size);
	sample_fields(d->fields, d->nfields, body, salt);
}

/* sample_frame packs a sample message of topic t into out. */
static inline int
sample_frame(struct buf *out, enum msg_topic t, unsigned salt)
{
	union msg_body b;
	struct msg_hdr h;
	char           id[32];
	int            rv;

	snprintf(id, sizeof(id), "src:%u", salt);
	memset(&h, 0, sizeof(h));
	h.src  = "src";
	h.seq  = msg_topic_defs[t].durable ? salt + 1 : 0;
	h.id   = id;
	h.ts   = 1700000000000 + salt;
	h.corr = salt % 2 ? "corr-1" : NULL;
	sample_body(t, &b, salt);
	rv = msg_pack(out, t, &h, &b);
	msg_body_fini(t, &b);
	return (rv);
}

#endif
