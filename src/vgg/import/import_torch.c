/* PyTorch checkpoints (torch.save) -> stylize_weights.
 *
 * Zip format (torch >= 1.6): a zip archive holding <prefix>/data.pkl (the
 * pickled object, with storages as persistent ids) and one stored
 * (uncompressed) record <prefix>/data/<key> per storage. The central
 * directory is parsed here (zip64 included); compressed or encrypted
 * records are rejected.
 *
 * Legacy format (torch < 1.6, e.g. torchvision's vgg19-dcbb9e9d.pth): a
 * sequence of pickles - the magic number 0x1950a86a20f9469cfc6c, the
 * protocol version 1001, a sys_info dict, the object, the list of storage
 * keys - followed, for each key in that order, by an int64 element count and
 * the storage's raw little-endian bytes.
 *
 * Both: the object is a state dict (optionally wrapped in a dict under
 * "state_dict", "model" or "model_state_dict", keys optionally prefixed
 * "module.") with features.N.weight / features.N.bias float32 tensors.
 * Only those 32 tensors are read from the file. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vgg/import/import_internal.h"
#include "vgg/import/import_pickle.h"


/* Where a root storage's bytes are in the file. */
typedef struct {
    uint64_t off;   /* first byte */
    uint64_t bytes; /* length available */
} storage_loc;

typedef struct {
    const pk_obj *w[STYLIZE_VGG19_NCONV]; /* PK_TENSOR */
    const pk_obj *b[STYLIZE_VGG19_NCONV];
    storage_loc wloc[STYLIZE_VGG19_NCONV];
    storage_loc bloc[STYLIZE_VGG19_NCONV];
} torch_tensors;

/* ---- state dict -------------------------------------------------------- */

static int dict_has_features(const pk_obj *d)
{
    for (size_t i = 0; d && d->type == PK_DICT && i + 1 < d->n; i += 2) {
        const pk_obj *k = d->items[i];
        if (k->type != PK_STR)
            continue;
        const char *s = k->s;
        while (strncmp(s, "module.", 7) == 0)
            s += 7;
        if (strncmp(s, "features.", 9) == 0)
            return 1;
    }
    return 0;
}

static stylize_status find_state_dict(const pk_obj *root, const pk_obj **sd, stylize_error *err)
{
    static const char *const wrappers[] = {"state_dict", "model_state_dict", "model"};
    if (!root || root->type != PK_DICT)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "the checkpoint is not a state dict (a whole pickled model? save "
                                 "model.state_dict() instead)");
    if (dict_has_features(root)) {
        *sd = root;
        return STYLIZE_OK;
    }
    for (size_t i = 0; i < sizeof wrappers / sizeof wrappers[0]; i++) {
        const pk_obj *d = pk_dict_get(root, wrappers[i]);
        if (dict_has_features(d)) {
            *sd = d;
            return STYLIZE_OK;
        }
    }
    return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                             "no features.N.weight tensors: not a torchvision VGG-19 state dict");
}

/* "features.N.weight" (after any "module." prefixes) -> conv index and
 * which (0 weight, 1 bias); -1 if not a VGG-19 conv key. */
static int parse_key(const pk_obj *k, int *which)
{
    if (k->type != PK_STR || k->len > 64 || memchr(k->s, 0, k->len))
        return -1;
    const char *s = k->s;
    while (strncmp(s, "module.", 7) == 0)
        s += 7;
    if (strncmp(s, "features.", 9) != 0)
        return -1;
    s += 9;
    int n = 0, digits = 0;
    while (*s >= '0' && *s <= '9' && digits < 3)
        n = n * 10 + (*s++ - '0'), digits++;
    if (!digits || *s != '.')
        return -1;
    s++;
    if (strcmp(s, "weight") == 0)
        *which = 0;
    else if (strcmp(s, "bias") == 0)
        *which = 1;
    else
        return -1;
    for (int i = 0; i < STYLIZE_VGG19_NCONV; i++)
        if (stylize_vgg19_conv_layer(i) == n)
            return i;
    return -1;
}

static stylize_status check_tensor(const pk_obj *t, const char *key, int conv, int is_bias,
                                   stylize_error *err)
{
    const char *what = is_bias ? "bias" : "weight";
    const char *name = stylize_vgg19_conv_name(conv);
    if (t->type != PK_TENSOR)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "%s (%s %s) is not a tensor", key, name,
                                 what);
    const pk_storage *st = &t->u.t.storage->u.st;
    if (strcmp(st->type_name, "FloatStorage") != 0 || st->elem_size != 4)
        return stylize_error_set(
            err, STYLIZE_ERR_FORMAT,
            "%s (%s %s) is a %s tensor; only float32 (FloatStorage) is supported", key, name, what,
            st->type_name);
    int want_ndim = is_bias ? 1 : 4;
    if (t->u.t.ndim != want_ndim)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "%s (%s %s) has %d dimensions, expected %d", key, name, what,
                                 t->u.t.ndim, want_ndim);
    if (!is_bias && (t->u.t.size[2] != 3 || t->u.t.size[3] != 3))
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "%s (%s weight) has a %" PRId64 "x%" PRId64
                                 " kernel, expected 3x3",
                                 key, name, t->u.t.size[2], t->u.t.size[3]);
    /* Highest element index reached, checked against the storage (view). */
    int64_t last = t->u.t.offset;
    for (int d = 0; d < t->u.t.ndim; d++) {
        if (t->u.t.size[d] == 0)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT, "%s (%s %s) is empty", key, name,
                                     what);
        /* size, stride <= 2^50 each and ndim <= 8 keep this within int64 only
         * if we bound it step by step */
        int64_t step = (t->u.t.size[d] - 1);
        if (t->u.t.stride[d] && step > (INT64_C(1) << 52) / t->u.t.stride[d])
            return stylize_error_set(err, STYLIZE_ERR_FORMAT, "%s (%s %s): stride out of range",
                                     key, name, what);
        last += step * t->u.t.stride[d];
        if (last > (INT64_C(1) << 55))
            return stylize_error_set(err, STYLIZE_ERR_FORMAT, "%s (%s %s): view out of range", key,
                                     name, what);
    }
    if (last >= st->view_numel)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "%s (%s %s) reaches element %" PRId64 " of a storage with %" PRId64
                                 " elements",
                                 key, name, what, last, st->view_numel);
    return STYLIZE_OK;
}

/* Finds the 32 conv tensors and checks their shapes chain like VGG-19's. */
static stylize_status collect_tensors(const pk_obj *root, torch_tensors *tt, int out_ch[],
                                      stylize_error *err)
{
    const pk_obj *sd = NULL;
    stylize_status s = find_state_dict(root, &sd, err);
    if (s)
        return s;
    memset(tt, 0, sizeof *tt);
    for (size_t i = 0; i + 1 < sd->n; i += 2) {
        int which, conv = parse_key(sd->items[i], &which);
        if (conv < 0)
            continue;
        const pk_obj *v = sd->items[i + 1];
        if ((s = check_tensor(v, sd->items[i]->s, conv, which, err)))
            return s;
        if (which)
            tt->b[conv] = v;
        else
            tt->w[conv] = v;
    }
    int in = 3;
    for (int i = 0; i < STYLIZE_VGG19_NCONV; i++) {
        const char *name = stylize_vgg19_conv_name(i);
        if (!tt->w[i] || !tt->b[i])
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "features.%d.%s (%s) not found: not a torchvision VGG-19 "
                                     "state dict (vgg19_bn is not supported)",
                                     stylize_vgg19_conv_layer(i), tt->w[i] ? "bias" : "weight", name);
        int64_t out = tt->w[i]->u.t.size[0], cin = tt->w[i]->u.t.size[1];
        if (out < 1 || out > 4096)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "%s weight has %" PRId64 " output channels (must be 1..4096)",
                                     name, out);
        if (cin != in)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "%s weight has %" PRId64 " input channels, expected %d (%s)",
                                     name, cin, in,
                                     i ? "the previous layer's output channels" : "RGB");
        if (tt->b[i]->u.t.size[0] != out)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "%s bias has %" PRId64 " values, expected %" PRId64, name,
                                     tt->b[i]->u.t.size[0], out);
        out_ch[i] = (int)out;
        in = (int)out;
    }
    return STYLIZE_OK;
}

/* Copies tensor t (whose root storage is at loc) into dst, contiguous. */
static stylize_status read_tensor(imp_reader *r, const pk_obj *t, storage_loc loc, float *dst,
                                  const char *what, stylize_error *err)
{
    const pk_tensor *x = &t->u.t;
    const pk_storage *st = &x->storage->u.st;
    int64_t n = 1, last = x->offset;
    for (int d = 0; d < x->ndim; d++) {
        n *= x->size[d];
        last += (x->size[d] - 1) * x->stride[d];
    }
    /* Elements first .. last of the root storage must be in the file. */
    uint64_t first = (uint64_t)st->view_offset + (uint64_t)x->offset;
    uint64_t end = (uint64_t)st->view_offset + (uint64_t)last + 1;
    if (end > loc.bytes / 4)
        return stylize_error_set(
            err, STYLIZE_ERR_FORMAT, "%s: storage %s holds %llu bytes, the tensor needs %llu", what,
            st->key, (unsigned long long)loc.bytes, (unsigned long long)end * 4);
    int contiguous = 1;
    int64_t expect = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        if (x->size[d] != 1 && x->stride[d] != expect)
            contiguous = 0;
        expect *= x->size[d];
    }
    if (contiguous)
        return imp_read_f32(r, loc.off + first * 4, dst, (size_t)n, what, err);

    /* General strides: read the span the view covers, then gather. */
    size_t span = (size_t)(end - first);
    float *tmp = malloc(span * sizeof(float));
    if (!tmp)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory reading %s", what);
    stylize_status s = imp_read_f32(r, loc.off + first * 4, tmp, span, what, err);
    if (!s) {
        int64_t idx[PK_MAX_NDIM] = {0};
        for (int64_t k = 0; k < n; k++) {
            int64_t o = 0;
            for (int d = 0; d < x->ndim; d++)
                o += idx[d] * x->stride[d];
            dst[k] = tmp[o];
            for (int d = x->ndim - 1; d >= 0; d--) {
                if (++idx[d] < x->size[d])
                    break;
                idx[d] = 0;
            }
        }
    }
    free(tmp);
    return s;
}

static stylize_status build_weights(stylize_weights **out, imp_reader *r, const torch_tensors *tt,
                                    const int out_ch[], stylize_error *err)
{
    stylize_weights *w;
    stylize_status s = stylize_weights_alloc(&w, out_ch, err);
    if (s)
        return s;
    char what[64];
    for (int i = 0; i < STYLIZE_VGG19_NCONV && !s; i++) {
        snprintf(what, sizeof what, "%s weight", w->layers[i].name);
        s = read_tensor(r, tt->w[i], tt->wloc[i], w->layers[i].weight, what, err);
        if (!s) {
            snprintf(what, sizeof what, "%s bias", w->layers[i].name);
            s = read_tensor(r, tt->b[i], tt->bloc[i], w->layers[i].bias, what, err);
        }
    }
    if (!s)
        s = imp_check_finite(w, err);
    if (s) {
        stylize_weights_free(w);
        return s;
    }
    *out = w;
    return STYLIZE_OK;
}

/* ---- zip ---------------------------------------------------------------- */

#define ZIP_MAX_CD (64u << 20)
#define ZIP_MAX_ENTRIES (1u << 20)

typedef struct {
    const char *name; /* into cd, not NUL-terminated */
    size_t name_len;
    uint16_t flags, method;
    uint64_t comp, size, local;
} zip_entry;

typedef struct {
    unsigned char *cd; /* owned */
    zip_entry *e;      /* owned */
    size_t n;
} zip_dir;

static void zip_free(zip_dir *z)
{
    free(z->cd);
    free(z->e);
    z->cd = NULL;
    z->e = NULL;
}

static stylize_status zip_open(imp_reader *r, zip_dir *z, stylize_error *err)
{
    memset(z, 0, sizeof *z);
    if (r->size < 22)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "truncated zip archive (no end of central directory)");
    /* The end-of-central-directory record is in the last 22 + 65535 bytes. */
    uint64_t tail_len = r->size < 22 + 65535 ? r->size : 22 + 65535;
    unsigned char *tail = malloc((size_t)tail_len);
    if (!tail)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory reading a zip directory");
    stylize_status s =
        imp_read(r, r->size - tail_len, tail, (size_t)tail_len, "zip end record", err);
    if (s) {
        free(tail);
        return s;
    }
    int64_t at = -1;
    for (int64_t i = (int64_t)tail_len - 22; i >= 0; i--)
        if (imp_le32(tail + i) == 0x06054b50 &&
            (uint64_t)i + 22 + imp_le16(tail + i + 20) <= tail_len) {
            at = i;
            break;
        }
    if (at < 0) {
        free(tail);
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "truncated or damaged zip archive (no end of central directory)");
    }
    const unsigned char *e = tail + at;
    uint64_t eocd_off = r->size - tail_len + (uint64_t)at;
    uint64_t count = imp_le16(e + 10), cd_size = imp_le32(e + 12), cd_off = imp_le32(e + 16);
    int disk = imp_le16(e + 4) || imp_le16(e + 6);
    free(tail);
    if (count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) {
        unsigned char loc[20], z64[56];
        if (eocd_off < 20)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT, "damaged zip64 archive");
        if ((s = imp_read(r, eocd_off - 20, loc, 20, "zip64 locator", err)))
            return s;
        if (imp_le32(loc) != 0x07064b50)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT, "damaged zip64 archive (no locator)");
        uint64_t z64_off = imp_le64(loc + 8);
        if ((s = imp_read(r, z64_off, z64, 56, "zip64 end record", err)))
            return s;
        if (imp_le32(z64) != 0x06064b50)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "damaged zip64 archive (no end record)");
        disk = disk || imp_le32(z64 + 16) || imp_le32(z64 + 20);
        count = imp_le64(z64 + 32);
        cd_size = imp_le64(z64 + 40);
        cd_off = imp_le64(z64 + 48);
    }
    if (disk)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "multi-part zip archives are not supported");
    if (cd_size > ZIP_MAX_CD || count > ZIP_MAX_ENTRIES)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                 "zip central directory too large (%llu entries, %llu bytes)",
                                 (unsigned long long)count, (unsigned long long)cd_size);
    if (cd_off > r->size || cd_size > r->size - cd_off || count > cd_size / 46 + 1)
        return stylize_error_set(
            err, STYLIZE_ERR_FORMAT,
            "truncated or damaged zip archive (central directory out of range)");
    z->cd = malloc(cd_size ? (size_t)cd_size : 1);
    z->e = calloc(count ? (size_t)count : 1, sizeof(zip_entry));
    if (!z->cd || !z->e) {
        zip_free(z);
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory reading a zip directory");
    }
    if ((s = imp_read(r, cd_off, z->cd, (size_t)cd_size, "zip central directory", err))) {
        zip_free(z);
        return s;
    }
    size_t p = 0;
    for (uint64_t i = 0; i < count; i++) {
        const unsigned char *h = z->cd + p;
        if (cd_size - p < 46 || imp_le32(h) != 0x02014b50) {
            zip_free(z);
            return stylize_error_set(err, STYLIZE_ERR_FORMAT, "damaged zip central directory");
        }
        size_t nl = imp_le16(h + 28), xl = imp_le16(h + 30), cl = imp_le16(h + 32);
        if (cd_size - p - 46 < nl + xl + cl) {
            zip_free(z);
            return stylize_error_set(err, STYLIZE_ERR_FORMAT, "damaged zip central directory");
        }
        zip_entry *en = &z->e[z->n++];
        en->name = (const char *)h + 46;
        en->name_len = nl;
        en->flags = imp_le16(h + 8);
        en->method = imp_le16(h + 10);
        en->comp = imp_le32(h + 20);
        en->size = imp_le32(h + 24);
        en->local = imp_le32(h + 42);
        /* zip64 extra field: the 0xFFFFFFFF fields, in this order */
        const unsigned char *x = h + 46 + nl, *xend = x + xl;
        while (xend - x >= 4) {
            unsigned id = imp_le16(x), len = imp_le16(x + 2);
            if ((size_t)(xend - x - 4) < len)
                break;
            if (id == 0x0001) {
                const unsigned char *q = x + 4, *qend = q + len;
                if (en->size == 0xFFFFFFFFu && qend - q >= 8)
                    en->size = imp_le64(q), q += 8;
                if (en->comp == 0xFFFFFFFFu && qend - q >= 8)
                    en->comp = imp_le64(q), q += 8;
                if (en->local == 0xFFFFFFFFu && qend - q >= 8)
                    en->local = imp_le64(q);
            }
            x += 4 + len;
        }
        p += 46 + nl + xl + cl;
    }
    return STYLIZE_OK;
}

static const zip_entry *zip_find(const zip_dir *z, const char *prefix, const char *a, const char *b,
                                 size_t b_len)
{
    size_t pl = strlen(prefix), al = strlen(a);
    for (size_t i = 0; i < z->n; i++) {
        const zip_entry *e = &z->e[i];
        if (e->name_len == pl + al + b_len && memcmp(e->name, prefix, pl) == 0 &&
            memcmp(e->name + pl, a, al) == 0 && memcmp(e->name + pl + al, b, b_len) == 0)
            return e;
    }
    return NULL;
}

/* Where the (stored) bytes of e are. */
static stylize_status zip_data(imp_reader *r, const zip_entry *e, storage_loc *loc,
                               stylize_error *err)
{
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(e->name_len < 100 ? e->name_len : 100), e->name);
    if (e->flags & 1)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "zip entry %s is encrypted", name);
    if (e->method != 0)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "zip entry %s is compressed (method %u); only stored entries are "
                                 "supported (torch.save writes them stored)",
                                 name, (unsigned)e->method);
    if (e->comp != e->size)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "zip entry %s: inconsistent sizes", name);
    unsigned char h[30];
    stylize_status s = imp_read(r, e->local, h, 30, "zip local header", err);
    if (s)
        return s;
    if (imp_le32(h) != 0x04034b50)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "zip entry %s: bad local header", name);
    uint64_t data = e->local + 30 + imp_le16(h + 26) + imp_le16(h + 28);
    if (data > r->size || e->size > r->size - data)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "truncated: zip entry %s extends past the end of the file", name);
    loc->off = data;
    loc->bytes = e->size;
    return STYLIZE_OK;
}

static stylize_status zip_storage(imp_reader *r, const zip_dir *z, const char *prefix,
                                  const pk_obj *t, storage_loc *loc, stylize_error *err)
{
    const pk_storage *st = &t->u.t.storage->u.st;
    const zip_entry *e = zip_find(z, prefix, "data/", st->key, st->key_len);
    if (!e)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "storage record %sdata/%.40s is missing from the archive", prefix,
                                 st->key);
    stylize_status s = zip_data(r, e, loc, err);
    if (s)
        return s;
    if ((uint64_t)st->numel > loc->bytes / 4)
        return stylize_error_set(
            err, STYLIZE_ERR_FORMAT, "storage record %sdata/%.40s holds %llu bytes, expected %llu",
            prefix, st->key, (unsigned long long)loc->bytes, (unsigned long long)st->numel * 4);
    return STYLIZE_OK;
}

stylize_status imp_torch_zip(stylize_weights **out, imp_reader *r, const char *name,
                             stylize_error *err)
{
    zip_dir z;
    pk_vm *vm = NULL;
    char prefix[256];
    stylize_status s = zip_open(r, &z, err);
    if (s)
        return s;
    /* <prefix>data.pkl with prefix "" or "dir/" */
    const zip_entry *pkl = NULL;
    for (size_t i = 0; i < z.n && !pkl; i++) {
        const zip_entry *e = &z.e[i];
        if (e->name_len < 8 || e->name_len - 8 >= sizeof prefix ||
            memcmp(e->name + e->name_len - 8, "data.pkl", 8) != 0)
            continue;
        size_t pl = e->name_len - 8;
        const char *slash = memchr(e->name, '/', pl);
        if (pl == 0 || (slash && slash == e->name + pl - 1 && !memchr(e->name, 0, pl))) {
            memcpy(prefix, e->name, pl);
            prefix[pl] = '\0';
            pkl = e;
        }
    }
    if (!pkl) {
        s = stylize_error_set(err, STYLIZE_ERR_FORMAT,
                              "a zip archive without data.pkl: not a torch checkpoint");
        goto done;
    }
    storage_loc pl;
    if ((s = zip_data(r, pkl, &pl, err)))
        goto done;
    const zip_entry *bo = zip_find(&z, prefix, "byteorder", "", 0);
    if (bo) {
        storage_loc bl;
        char order[8] = {0};
        if ((s = zip_data(r, bo, &bl, err)) ||
            (s = imp_read(r, bl.off, order, bl.bytes < 7 ? (size_t)bl.bytes : 7, "byteorder", err)))
            goto done;
        if (strncmp(order, "little", 6) != 0) {
            s = stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                  "big-endian checkpoints are not supported (byteorder %s)", order);
            goto done;
        }
    }
    vm = pk_new();
    if (!vm) {
        s = stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory");
        goto done;
    }
    pk_obj *root = NULL;
    uint64_t end = 0;
    if ((s = pk_load(vm, r, pl.off, pl.off + pl.bytes, &end, &root, err))) {
        stylize_error_prefix(err, "%sdata.pkl", prefix);
        goto done;
    }
    torch_tensors tt;
    int out_ch[STYLIZE_VGG19_NCONV];
    if ((s = collect_tensors(root, &tt, out_ch, err)))
        goto done;
    for (int i = 0; i < STYLIZE_VGG19_NCONV && !s; i++) {
        s = zip_storage(r, &z, prefix, tt.w[i], &tt.wloc[i], err);
        if (!s)
            s = zip_storage(r, &z, prefix, tt.b[i], &tt.bloc[i], err);
    }
    if (!s)
        s = build_weights(out, r, &tt, out_ch, err);
    if (!s)
        imp_set_source(*out, "torch checkpoint", name, "zip format");
done:
    pk_free(vm);
    zip_free(&z);
    return s;
}

/* ---- legacy --------------------------------------------------------------- */

static const unsigned char torch_magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                              0x20, 0x6a, 0xa8, 0x50, 0x19};

static int cmp_storage_key(const void *a, const void *b)
{
    const pk_obj *x = *(pk_obj *const *)a, *y = *(pk_obj *const *)b;
    size_t n = x->u.st.key_len < y->u.st.key_len ? x->u.st.key_len : y->u.st.key_len;
    int c = memcmp(x->u.st.key, y->u.st.key, n);
    if (c)
        return c;
    return x->u.st.key_len < y->u.st.key_len ? -1 : x->u.st.key_len > y->u.st.key_len;
}

static const pk_obj *find_storage(pk_obj **sorted, size_t n, const pk_obj *key)
{
    pk_obj probe;
    pk_obj *pp = &probe;
    memset(&probe, 0, sizeof probe);
    probe.u.st.key = key->s;
    probe.u.st.key_len = key->len;
    pk_obj **hit = bsearch(&pp, sorted, n, sizeof *sorted, cmp_storage_key);
    return hit ? *hit : NULL;
}

static int same_key(const pk_storage *a, const pk_obj *k)
{
    return a->key_len == k->len && memcmp(a->key, k->s, k->len) == 0;
}

stylize_status imp_torch_legacy(stylize_weights **out, imp_reader *r, const char *name,
                                stylize_error *err)
{
    pk_obj **sorted = NULL;
    pk_vm *vm = pk_new();
    if (!vm)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory");
    uint64_t pos = 0;
    pk_obj *magic = NULL, *proto = NULL, *sysinfo = NULL, *root = NULL, *keys = NULL;
    stylize_status s = pk_load(vm, r, pos, r->size, &pos, &magic, err);
    if (s)
        goto done;
    if (magic->type != PK_BIGINT || magic->len != 10 || memcmp(magic->s, torch_magic, 10) != 0) {
        s = stylize_error_set(err, STYLIZE_ERR_FORMAT, "not a torch checkpoint (bad magic number)");
        goto done;
    }
    if ((s = pk_load(vm, r, pos, r->size, &pos, &proto, err)))
        goto done;
    if (proto->type != PK_INT || proto->i != 1001) {
        s = stylize_error_set(err, STYLIZE_ERR_FORMAT,
                              "unsupported torch serialization protocol (expected 1001)");
        goto done;
    }
    if ((s = pk_load(vm, r, pos, r->size, &pos, &sysinfo, err)))
        goto done;
    const pk_obj *le = pk_dict_get(sysinfo, "little_endian");
    if (sysinfo->type != PK_DICT || (le && le->type == PK_BOOL && !le->i)) {
        s = stylize_error_set(err, STYLIZE_ERR_FORMAT,
                              sysinfo->type != PK_DICT
                                  ? "malformed torch header (sys_info)"
                                  : "big-endian checkpoints are not supported");
        goto done;
    }
    if ((s = pk_load(vm, r, pos, r->size, &pos, &root, err)))
        goto done;
    if ((s = pk_load(vm, r, pos, r->size, &pos, &keys, err)))
        goto done;
    if (!(keys->type == PK_LIST || keys->type == PK_TUPLE)) {
        s = stylize_error_set(err, STYLIZE_ERR_FORMAT,
                              "malformed torch checkpoint: no storage key list");
        goto done;
    }

    torch_tensors tt;
    int out_ch[STYLIZE_VGG19_NCONV];
    if ((s = collect_tensors(root, &tt, out_ch, err)))
        goto done;

    /* Storages follow in key order: int64 count, then count elements. */
    size_t ns = pk_storage_count(vm);
    sorted = malloc((ns ? ns : 1) * sizeof *sorted);
    if (!sorted) {
        s = stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < ns; i++)
        sorted[i] = pk_storage_at(vm, i);
    qsort(sorted, ns, sizeof *sorted, cmp_storage_key);
    int wfound[STYLIZE_VGG19_NCONV] = {0}, bfound[STYLIZE_VGG19_NCONV] = {0};
    for (size_t k = 0; k < keys->n; k++) {
        const pk_obj *key = keys->items[k];
        if (key->type != PK_STR) {
            s = stylize_error_set(err, STYLIZE_ERR_FORMAT, "malformed storage key list");
            goto done;
        }
        const pk_obj *st = find_storage(sorted, ns, key);
        if (!st) {
            s = stylize_error_set(err, STYLIZE_ERR_FORMAT, "storage %.40s is listed but never used",
                                  key->s);
            goto done;
        }
        if (st->u.st.elem_size <= 0) {
            s = stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                  "storage %.40s has an unsupported type (%s)", key->s,
                                  st->u.st.type_name);
            goto done;
        }
        unsigned char hdr[8];
        char what[80];
        snprintf(what, sizeof what, "size of storage %.40s", key->s);
        if ((s = imp_read(r, pos, hdr, 8, what, err)))
            goto done;
        uint64_t count = imp_le64(hdr), esz = (uint64_t)st->u.st.elem_size;
        pos += 8;
        if (count > (r->size - pos) / esz) {
            s = stylize_error_set(
                err, STYLIZE_ERR_FORMAT,
                "truncated: storage %.40s (%llu elements of %llu bytes) at offset "
                "%llu extends past the end of the file",
                key->s, (unsigned long long)count, (unsigned long long)esz,
                (unsigned long long)pos);
            goto done;
        }
        storage_loc loc = {pos, count * esz};
        for (int i = 0; i < STYLIZE_VGG19_NCONV; i++) {
            if (same_key(&tt.w[i]->u.t.storage->u.st, key))
                tt.wloc[i] = loc, wfound[i] = 1;
            if (same_key(&tt.b[i]->u.t.storage->u.st, key))
                tt.bloc[i] = loc, bfound[i] = 1;
        }
        pos += count * esz;
    }
    for (int i = 0; i < STYLIZE_VGG19_NCONV; i++)
        if (!wfound[i] || !bfound[i]) {
            s = stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                  "%s %s: its storage has no data in the file",
                                  stylize_vgg19_conv_name(i), wfound[i] ? "bias" : "weight");
            goto done;
        }
    s = build_weights(out, r, &tt, out_ch, err);
    if (!s)
        imp_set_source(*out, "torch checkpoint", name, "legacy format");
done:
    free(sorted);
    pk_free(vm);
    return s;
}
