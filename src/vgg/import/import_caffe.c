/* Caffe .caffemodel (a binary NetParameter protobuf) -> stylize_weights.
 *
 * Hand-written decoder of the protobuf wire format, streaming through the
 * reader: a first pass walks the top-level fields and records, for the
 * layers named conv1_1 .. conv5_4, where their blobs are; only those blobs
 * are decoded, in a second pass, after every shape has been checked and the
 * weights allocated. Other layers (fc6 is 400 MB) are skipped by length.
 *
 * Fields used (caffe.proto):
 *   NetParameter:     layer = 100 (LayerParameter), layers = 2 (V1LayerParameter)
 *   LayerParameter:   name = 1, type = 2 (string), blobs = 7
 *   V1LayerParameter: name = 4, type = 5 (enum, CONVOLUTION = 4), blobs = 6,
 *                     layer = 1 (V0LayerParameter: name = 1, type = 2, blobs = 50)
 *   BlobProto:        num = 1, channels = 2, height = 3, width = 4,
 *                     data = 5 (float, packed or not), double_data = 8,
 *                     shape = 7 (BlobShape: dim = 1, int64, packed or not)
 * Input convention: Caffe's (BGR, 0..255, mean-subtracted); the weights are
 * kept as they are (the first layer's input channels are B, G, R). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vgg/import/import_internal.h"

#define PB_MAX_DIMS 8
#define PB_MAX_BLOBS 2

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5 };

typedef struct {
    uint64_t off, len; /* the BlobProto message */
} blob_ref;

typedef struct {
    int seen;
    int nblobs;
    blob_ref blobs[PB_MAX_BLOBS];
    int64_t dims[PB_MAX_BLOBS][PB_MAX_DIMS];
    int ndims[PB_MAX_BLOBS];
    uint64_t count[PB_MAX_BLOBS]; /* values in the blob */
} conv_info;

typedef struct {
    imp_reader *r;
    uint64_t pos, end;
} pb;

static stylize_status truncated(stylize_error *err)
{
    return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                             "truncated or damaged caffemodel (a field runs past its message)");
}

static stylize_status pb_byte(pb *p, unsigned char *b, stylize_error *err)
{
    if (p->pos >= p->end)
        return truncated(err);
    stylize_status s = imp_read(p->r, p->pos, b, 1, "caffemodel", err);
    if (!s)
        p->pos++;
    return s;
}

static stylize_status pb_varint(pb *p, uint64_t *v, stylize_error *err)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        unsigned char b;
        stylize_status s = pb_byte(p, &b, err);
        if (s)
            return s;
        if (shift == 63 && (b & 0x7e))
            break;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return STYLIZE_OK;
        }
    }
    return stylize_error_set(err, STYLIZE_ERR_FORMAT, "damaged caffemodel (varint overflow)");
}

/* Reads a tag; *field 0 and *wt 0 at the end of the message. */
static stylize_status pb_tag(pb *p, uint64_t *field, int *wt, stylize_error *err)
{
    uint64_t t;
    if (p->pos >= p->end) {
        *field = 0;
        *wt = 0;
        return STYLIZE_OK;
    }
    stylize_status s = pb_varint(p, &t, err);
    if (s)
        return s;
    *field = t >> 3;
    *wt = (int)(t & 7);
    if (*field == 0 || *field > 536870911u)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "damaged caffemodel (bad field number)");
    return STYLIZE_OK;
}

/* Reads the length of a length-delimited field, checked against the message. */
static stylize_status pb_len(pb *p, uint64_t *len, stylize_error *err)
{
    stylize_status s = pb_varint(p, len, err);
    if (s)
        return s;
    if (*len > p->end - p->pos)
        return truncated(err);
    return STYLIZE_OK;
}

static stylize_status pb_skip(pb *p, int wt, stylize_error *err)
{
    uint64_t v;
    switch (wt) {
    case WT_VARINT:
        return pb_varint(p, &v, err);
    case WT_I64:
        v = 8;
        break;
    case WT_I32:
        v = 4;
        break;
    case WT_LEN: {
        stylize_status s = pb_len(p, &v, err);
        if (s)
            return s;
        break;
    }
    default:
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "damaged caffemodel (unsupported wire type %d)", wt);
    }
    if (v > p->end - p->pos)
        return truncated(err);
    p->pos += v;
    return STYLIZE_OK;
}

static stylize_status wrong_type(stylize_error *err)
{
    return stylize_error_set(err, STYLIZE_ERR_FORMAT, "damaged caffemodel (unexpected wire type)");
}

/* ---- BlobProto ------------------------------------------------------------ */

/* A dimension that does not fit an int32. */
static stylize_status bad_dimension(stylize_error *err)
{
    return stylize_error_set(err, STYLIZE_ERR_FORMAT, "bad blob dimension");
}

/* Appends the values of one BlobShape dim field (wire type wt, its tag just
 * read from q) to dims[*ndim ..]: a packed run of varints, or exactly one. */
static stylize_status shape_dims(pb *q, int wt, int64_t *dims, int *ndim, stylize_error *err)
{
    stylize_status s;
    uint64_t pend = q->end;
    if (wt == WT_LEN) { /* packed */
        uint64_t plen;
        if ((s = pb_len(q, &plen, err)))
            return s;
        pend = q->pos + plen;
    } else if (wt != WT_VARINT) {
        return wrong_type(err);
    }
    /* packed: varints up to pend; unpacked: exactly one */
    pb d = {q->r, q->pos, pend};
    for (int first = 1; wt == WT_LEN ? d.pos < d.end : first; first = 0) {
        uint64_t v;
        if ((s = pb_varint(&d, &v, err)))
            return s;
        if (v > INT32_MAX)
            return bad_dimension(err);
        if (*ndim >= PB_MAX_DIMS)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT, "blob has more than %d dimensions",
                                     PB_MAX_DIMS);
        dims[(*ndim)++] = (int64_t)v;
    }
    q->pos = d.pos;
    return STYLIZE_OK;
}

/* Walks the BlobShape message q: its dims (field 1, int64, packed or not)
 * replace dims[0 .. *ndim); other fields are skipped. */
static stylize_status shape_walk(pb *q, int64_t *dims, int *ndim, stylize_error *err)
{
    uint64_t field;
    int wt;
    stylize_status s;
    *ndim = 0;
    for (;;) {
        if ((s = pb_tag(q, &field, &wt, err)))
            return s;
        if (!field)
            break;
        if (field != 1)
            s = pb_skip(q, wt, err);
        else
            s = shape_dims(q, wt, dims, ndim, err);
        if (s)
            return s;
    }
    return STYLIZE_OK;
}

/* Reads m little-endian doubles at off into dst as floats. */
static stylize_status read_doubles(imp_reader *r, uint64_t off, float *dst, uint64_t m,
                                   stylize_error *err)
{
    for (uint64_t i = 0; i < m; i++) {
        unsigned char b[8];
        double dv;
        stylize_status s = imp_read(r, off + 8 * i, b, 8, "caffemodel blob", err);
        if (s)
            return s;
        uint64_t bits = imp_le64(b);
        memcpy(&dv, &bits, sizeof dv);
        dst[i] = (float)dv;
    }
    return STYLIZE_OK;
}

/* One data (esz 4, float) or double_data (esz 8) field of a BlobProto,
 * wire type wt, its tag just read from p: packed or a single value. Adds
 * the field's value count to *n; with dst (room for count values), stores
 * the values at dst[*n ..] first. */
static stylize_status blob_data(pb *p, int wt, int esz, float *dst, uint64_t count, uint64_t *n,
                                stylize_error *err)
{
    stylize_status s;
    uint64_t m, at;
    if (wt == WT_LEN) {
        uint64_t len;
        if ((s = pb_len(p, &len, err)))
            return s;
        if (len % (uint64_t)esz)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "damaged caffemodel (packed data of %llu bytes)",
                                     (unsigned long long)len);
        m = len / (uint64_t)esz;
    } else if (wt == (esz == 4 ? WT_I32 : WT_I64)) {
        if ((uint64_t)esz > p->end - p->pos)
            return truncated(err);
        m = 1;
    } else {
        return wrong_type(err);
    }
    at = p->pos;
    p->pos += m * (uint64_t)esz;
    if (dst) {
        if (m > count - *n)
            return stylize_error_set(err, STYLIZE_ERR_INTERNAL, "blob changed between passes");
        if (esz == 4)
            s = imp_read_f32(p->r, at, dst + *n, (size_t)m, "caffemodel blob", err);
        else
            s = read_doubles(p->r, at, dst + *n, m, err);
        if (s)
            return s;
    }
    *n += m;
    return STYLIZE_OK;
}

/* Walks a BlobProto. With dst == NULL: records shape and value count in
 * *dims / *ndim / *count (the shape field's dims, else the legacy num,
 * channels, height, width if any were given). With dst: stores the count
 * values into dst. */
static stylize_status blob_walk(imp_reader *r, blob_ref ref, int64_t *dims, int *ndim,
                                uint64_t *count, float *dst, stylize_error *err)
{
    pb p = {r, ref.off, ref.off + ref.len};
    int64_t legacy[4] = {0, 0, 0, 0};
    int has_shape = 0, has_legacy = 0, has_float = 0, has_double = 0;
    uint64_t n = 0, field;
    int wt;
    stylize_status s;
    if (!dst)
        *ndim = 0;
    for (;;) {
        if ((s = pb_tag(&p, &field, &wt, err)))
            return s;
        if (!field)
            break;
        if (field >= 1 && field <= 4) { /* num, channels, height, width */
            uint64_t v;
            if (wt != WT_VARINT)
                return wrong_type(err);
            if ((s = pb_varint(&p, &v, err)))
                return s;
            if (v > INT32_MAX)
                return bad_dimension(err);
            legacy[field - 1] = (int64_t)v;
            has_legacy = 1;
        } else if (field == 7) { /* shape */
            uint64_t len;
            if (wt != WT_LEN)
                return wrong_type(err);
            if ((s = pb_len(&p, &len, err)))
                return s;
            pb q = {r, p.pos, p.pos + len};
            p.pos += len;
            if (dst)
                continue;
            has_shape = 1;
            if ((s = shape_walk(&q, dims, ndim, err)))
                return s;
        } else if (field == 5 || field == 8) { /* data (float) / double_data */
            if (field == 5)
                has_float = 1;
            else
                has_double = 1;
            if (has_float && has_double)
                return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                         "blob has both float and double data");
            if ((s = blob_data(&p, wt, field == 5 ? 4 : 8, dst, dst ? *count : 0, &n, err)))
                return s;
        } else if ((s = pb_skip(&p, wt, err))) {
            return s;
        }
    }
    if (dst) {
        if (n != *count)
            return stylize_error_set(err, STYLIZE_ERR_INTERNAL, "blob changed between passes");
        return STYLIZE_OK;
    }
    if (!has_shape && has_legacy) {
        *ndim = 4;
        memcpy(dims, legacy, sizeof legacy);
    }
    *count = n;
    return STYLIZE_OK;
}

/* ---- layers --------------------------------------------------------------- */

/* Which message kind a layer is, for its field numbers. */
typedef enum { LAYER_NEW, LAYER_V1, LAYER_V0 } layer_kind;

static stylize_status read_layer(imp_reader *r, uint64_t off, uint64_t len, layer_kind kind,
                                 conv_info info[], int *nconv, stylize_error *err)
{
    pb p = {r, off, off + len};
    const uint64_t f_name = kind == LAYER_V1 ? 4 : 1;
    const uint64_t f_blobs = kind == LAYER_NEW ? 7 : kind == LAYER_V1 ? 6 : 50;
    const uint64_t f_type = kind == LAYER_V1 ? 5 : 2;
    char name[32] = "";
    int have_name = 0, type_ok = -1; /* -1: no type field */
    blob_ref blobs[PB_MAX_BLOBS];
    int nblobs = 0, extra_blobs = 0;
    uint64_t field;
    int wt;
    stylize_status s;
    for (;;) {
        if ((s = pb_tag(&p, &field, &wt, err)))
            return s;
        if (!field)
            break;
        if (kind == LAYER_V1 && field == 1 && wt == WT_LEN) {
            /* a V0 layer nested in a V1 one */
            uint64_t l;
            if ((s = pb_len(&p, &l, err)) ||
                (s = read_layer(r, p.pos, l, LAYER_V0, info, nconv, err)))
                return s;
            p.pos += l;
        } else if (field == f_name && wt == WT_LEN) {
            uint64_t l;
            if ((s = pb_len(&p, &l, err)))
                return s;
            if (l < sizeof name) {
                if ((s = imp_read(r, p.pos, name, (size_t)l, "layer name", err)))
                    return s;
                name[l] = '\0';
                have_name = memchr(name, 0, (size_t)l) == NULL;
            } else {
                have_name = 0;
            }
            p.pos += l;
        } else if (field == f_type && kind == LAYER_V1 && wt == WT_VARINT) {
            uint64_t v;
            if ((s = pb_varint(&p, &v, err)))
                return s;
            type_ok = v == 4; /* CONVOLUTION */
        } else if (field == f_type && kind != LAYER_V1 && wt == WT_LEN) {
            uint64_t l;
            char type[16] = "";
            if ((s = pb_len(&p, &l, err)))
                return s;
            if (l < sizeof type && (s = imp_read(r, p.pos, type, (size_t)l, "layer type", err)))
                return s;
            type_ok =
                l < sizeof type && (strcmp(type, "Convolution") == 0 || strcmp(type, "conv") == 0);
            p.pos += l;
        } else if (field == f_blobs && wt == WT_LEN) {
            uint64_t l;
            if ((s = pb_len(&p, &l, err)))
                return s;
            if (nblobs < PB_MAX_BLOBS)
                blobs[nblobs++] = (blob_ref){p.pos, l};
            else
                extra_blobs++;
            p.pos += l;
        } else if ((s = pb_skip(&p, wt, err))) {
            return s;
        }
    }
    int i = have_name ? stylize_vgg19_conv_index(name) : -1;
    if (i < 0)
        return STYLIZE_OK;
    if (info[i].seen)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "layer %s appears twice", name);
    if (type_ok == 0)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "layer %s is not a convolution", name);
    if (nblobs != 2 || extra_blobs)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "layer %s has %d blobs, expected 2 (weight and bias)", name,
                                 nblobs + extra_blobs);
    conv_info *c = &info[i];
    c->seen = 1;
    c->nblobs = nblobs;
    for (int b = 0; b < nblobs; b++) {
        c->blobs[b] = blobs[b];
        if ((s = blob_walk(r, blobs[b], c->dims[b], &c->ndims[b], &c->count[b], NULL, err))) {
            stylize_error_prefix(err, "layer %s %s", name, b ? "bias" : "weight");
            return s;
        }
    }
    (*nconv)++;
    return STYLIZE_OK;
}

static stylize_status check_shapes(const conv_info info[], int out_ch[], stylize_error *err)
{
    int in = 3;
    for (int i = 0; i < STYLIZE_VGG19_NCONV; i++) {
        const char *name = stylize_vgg19_conv_name(i);
        const conv_info *c = &info[i];
        if (!c->seen)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "layer %s not found: not a VGG-19 caffemodel", name);
        const int64_t *d = c->dims[0];
        if (c->ndims[0] != 4)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "layer %s weight has %d dimensions, expected 4", name,
                                     c->ndims[0]);
        if (d[2] != 3 || d[3] != 3)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "layer %s has a %" PRId64 "x%" PRId64 " kernel, expected 3x3",
                                     name, d[2], d[3]);
        if (d[0] < 1 || d[0] > 4096)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "layer %s has %" PRId64 " output channels (must be 1..4096)",
                                     name, d[0]);
        if (d[1] != in)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "layer %s has %" PRId64 " input channels, expected %d (%s)",
                                     name, d[1], in,
                                     i ? "the previous layer's output channels" : "BGR");
        uint64_t nw = (uint64_t)d[0] * (uint64_t)d[1] * 9;
        if (c->count[0] != nw)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "layer %s weight holds %llu values, its shape needs %llu",
                                     name, (unsigned long long)c->count[0], (unsigned long long)nw);
        /* bias: (out) or legacy (1, 1, 1, out): every dim 1 but one */
        uint64_t prod = 1;
        int big = 0;
        for (int k = 0; k < c->ndims[1]; k++) {
            prod *= (uint64_t)c->dims[1][k];
            big += c->dims[1][k] != 1;
        }
        if (c->ndims[1] == 0 || prod != (uint64_t)d[0] || big > 1)
            return stylize_error_set(
                err, STYLIZE_ERR_FORMAT,
                "layer %s bias shape does not match its %" PRId64 " output channels", name, d[0]);
        if (c->count[1] != (uint64_t)d[0])
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "layer %s bias holds %llu values, expected %" PRId64, name,
                                     (unsigned long long)c->count[1], d[0]);
        out_ch[i] = (int)d[0];
        in = (int)d[0];
    }
    return STYLIZE_OK;
}

stylize_status imp_caffe(stylize_weights **out, imp_reader *r, const char *name, stylize_error *err)
{
    conv_info info[STYLIZE_VGG19_NCONV];
    memset(info, 0, sizeof info);
    pb p = {r, 0, r->size};
    int nconv = 0, n_new = 0, n_v1 = 0;
    uint64_t field;
    int wt;
    stylize_status s;
    for (;;) {
        if ((s = pb_tag(&p, &field, &wt, err)))
            return s;
        if (!field)
            break;
        if ((field == 100 || field == 2) && wt == WT_LEN) {
            uint64_t len;
            if ((s = pb_len(&p, &len, err)) ||
                (s = read_layer(r, p.pos, len, field == 100 ? LAYER_NEW : LAYER_V1, info, &nconv,
                                err)))
                return s;
            p.pos += len;
            if (field == 100)
                n_new++;
            else
                n_v1++;
        } else if (field == 100 || field == 2) {
            return wrong_type(err);
        } else if ((s = pb_skip(&p, wt, err))) {
            return s;
        }
    }
    if (!n_new && !n_v1)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "not a caffemodel (no layers)");
    int out_ch[STYLIZE_VGG19_NCONV];
    if ((s = check_shapes(info, out_ch, err)))
        return s;
    stylize_weights *w;
    if ((s = stylize_weights_alloc(&w, out_ch, err)))
        return s;
    stylize_convention_caffe(&w->input);
    for (int i = 0; i < STYLIZE_VGG19_NCONV && !s; i++) {
        int nd;
        int64_t dims[PB_MAX_DIMS];
        s = blob_walk(r, info[i].blobs[0], dims, &nd, &info[i].count[0], w->layers[i].weight, err);
        if (!s)
            s = blob_walk(r, info[i].blobs[1], dims, &nd, &info[i].count[1], w->layers[i].bias,
                          err);
    }
    if (!s)
        s = imp_check_finite(w, err);
    if (s) {
        stylize_weights_free(w);
        return s;
    }
    imp_set_source(w, "caffe model", name, n_new ? "layer format" : "V1 layers format");
    *out = w;
    return STYLIZE_OK;
}
