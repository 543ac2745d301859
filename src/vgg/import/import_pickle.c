/* A bounded pickle VM for torch.save pickles. See import_pickle.h.
 *
 * Opcodes (pickle protocols 2-5): PROTO FRAME STOP MARK POP POP_MARK DUP
 * NONE NEWTRUE NEWFALSE BININT BININT1 BININT2 LONG1 LONG4 BINFLOAT
 * BINUNICODE SHORT_BINUNICODE BINUNICODE8 BINSTRING SHORT_BINSTRING
 * BINBYTES SHORT_BINBYTES BINBYTES8 BYTEARRAY8 EMPTY_TUPLE TUPLE TUPLE1
 * TUPLE2 TUPLE3 EMPTY_LIST LIST APPEND APPENDS EMPTY_DICT DICT SETITEM
 * SETITEMS EMPTY_SET ADDITEMS FROZENSET GLOBAL STACK_GLOBAL REDUCE NEWOBJ
 * NEWOBJ_EX BUILD BINPERSID PUT BINPUT LONG_BINPUT MEMOIZE GET BINGET
 * LONG_BINGET. Anything else is rejected with its opcode and offset. */
#include "vgg/import/import_pickle.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct pk_vm {
    pk_obj *all;  /* every object, linked through next */
    size_t bytes; /* allocated so far, against PK_MAX_BYTES */
    pk_obj **stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t nmarks, marks_cap;
    pk_obj **memo;
    size_t memo_cap;
    pk_obj **storages;
    size_t nstorages, storages_cap;
    pk_obj *consts[3]; /* None, False, True: made once, shared */
};

typedef struct {
    imp_reader *r;
    uint64_t pos, limit;
    int capped; /* limit comes from PK_MAX_PICKLE, not from the caller */
} pk_cursor;

pk_vm *pk_new(void)
{
    return calloc(1, sizeof(pk_vm));
}

void pk_free(pk_vm *vm)
{
    if (!vm)
        return;
    pk_obj *o = vm->all;
    while (o) {
        pk_obj *next = o->next;
        free(o->s);
        free(o->s2);
        free(o->items);
        if (o->type == PK_STORAGE)
            free(o->u.st.key);
        free(o);
        o = next;
    }
    free(vm->stack);
    free(vm->marks);
    free(vm->memo);
    free(vm->storages);
    free(vm);
}

size_t pk_storage_count(const pk_vm *vm)
{
    return vm->nstorages;
}

pk_obj *pk_storage_at(const pk_vm *vm, size_t i)
{
    return i < vm->nstorages ? vm->storages[i] : NULL;
}

int pk_is_str(const pk_obj *o, const char *s)
{
    size_t n = strlen(s);
    return o && o->type == PK_STR && o->len == n && memcmp(o->s, s, n) == 0;
}

pk_obj *pk_dict_get(const pk_obj *dict, const char *key)
{
    if (!dict || dict->type != PK_DICT)
        return NULL;
    for (size_t i = dict->n; i >= 2; i -= 2)
        if (pk_is_str(dict->items[i - 2], key))
            return dict->items[i - 1];
    return NULL;
}

/* ---- memory ------------------------------------------------------------ */

static stylize_status budget(pk_vm *vm, size_t more, stylize_error *err)
{
    if (more > PK_MAX_BYTES || vm->bytes > PK_MAX_BYTES - more)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                 "pickle needs more than %u MiB of memory to decode",
                                 (unsigned)(PK_MAX_BYTES >> 20));
    vm->bytes += more;
    return STYLIZE_OK;
}

/* Grows *arr (of elem-sized items, capacity *cap) to hold at least need. */
static stylize_status grow(pk_vm *vm, void **arr, size_t *cap, size_t need, size_t elem, size_t max,
                           const char *what, stylize_error *err)
{
    if (need <= *cap)
        return STYLIZE_OK;
    if (need > max)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT, "pickle %s exceeds the limit of %zu", what,
                                 max);
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need)
        ncap = ncap > max / 2 ? max : ncap * 2;
    stylize_status s = budget(vm, (ncap - *cap) * elem, err);
    if (s)
        return s;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory decoding a pickle");
    *arr = p;
    *cap = ncap;
    return STYLIZE_OK;
}

static stylize_status new_obj(pk_vm *vm, pk_type type, pk_obj **out, stylize_error *err)
{
    stylize_status s = budget(vm, sizeof(pk_obj), err);
    if (s)
        return s;
    pk_obj *o = calloc(1, sizeof *o);
    if (!o)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory decoding a pickle");
    o->type = type;
    o->next = vm->all;
    vm->all = o;
    *out = o;
    return STYLIZE_OK;
}

static stylize_status add_item(pk_vm *vm, pk_obj *c, pk_obj *item, stylize_error *err)
{
    stylize_status s = grow(vm, (void **)&c->items, &c->cap, c->n + 1, sizeof(pk_obj *),
                            SIZE_MAX / sizeof(pk_obj *), "container", err);
    if (s)
        return s;
    c->items[c->n++] = item;
    return STYLIZE_OK;
}

/* ---- input ------------------------------------------------------------- */

static stylize_status rd(pk_cursor *c, void *dst, size_t n, stylize_error *err)
{
    if (c->pos > c->limit || (uint64_t)n > c->limit - c->pos) {
        if (c->capped)
            return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                     "pickle longer than %u MiB (or missing its STOP opcode)",
                                     (unsigned)(PK_MAX_PICKLE >> 20));
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "truncated: pickle ends at offset %llu without a STOP opcode",
                                 (unsigned long long)c->limit);
    }
    stylize_status s = imp_read(c->r, c->pos, dst, n, "pickle", err);
    if (s)
        return s;
    c->pos += n;
    return STYLIZE_OK;
}

static stylize_status rd_uint(pk_cursor *c, int nbytes, uint64_t *v, stylize_error *err)
{
    unsigned char b[8];
    stylize_status s = rd(c, b, (size_t)nbytes, err);
    if (s)
        return s;
    *v = 0;
    for (int i = nbytes - 1; i >= 0; i--)
        *v = (*v << 8) | b[i];
    return STYLIZE_OK;
}

/* Reads a newline-terminated line of at most cap-1 bytes (newline dropped). */
static stylize_status rd_line(pk_cursor *c, char *buf, size_t cap, stylize_error *err)
{
    for (size_t k = 0;; k++) {
        unsigned char ch;
        stylize_status s = rd(c, &ch, 1, err);
        if (s)
            return s;
        if (ch == '\n') {
            buf[k] = '\0';
            return STYLIZE_OK;
        }
        if (k + 1 >= cap)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "pickle: text argument longer than %zu bytes", cap - 1);
        buf[k] = (char)ch;
    }
}

/* ---- stack ------------------------------------------------------------- */

static stylize_status push(pk_vm *vm, pk_obj *o, stylize_error *err)
{
    stylize_status s = grow(vm, (void **)&vm->stack, &vm->stack_cap, vm->sp + 1, sizeof(pk_obj *),
                            PK_MAX_STACK, "stack", err);
    if (s)
        return s;
    vm->stack[vm->sp++] = o;
    return STYLIZE_OK;
}

static size_t frame_base(const pk_vm *vm)
{
    return vm->nmarks ? vm->marks[vm->nmarks - 1] : 0;
}

static stylize_status pop(pk_vm *vm, pk_obj **o, stylize_error *err)
{
    if (vm->sp <= frame_base(vm))
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "malformed pickle: stack underflow");
    *o = vm->stack[--vm->sp];
    return STYLIZE_OK;
}

static stylize_status top(pk_vm *vm, pk_obj **o, stylize_error *err)
{
    if (vm->sp <= frame_base(vm))
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "malformed pickle: empty stack");
    *o = vm->stack[vm->sp - 1];
    return STYLIZE_OK;
}

static stylize_status pop_mark(pk_vm *vm, size_t *mark, stylize_error *err)
{
    if (!vm->nmarks)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "malformed pickle: no MARK");
    *mark = vm->marks[--vm->nmarks];
    return STYLIZE_OK;
}

/* ---- values ------------------------------------------------------------ */

static stylize_status new_str(pk_vm *vm, pk_cursor *c, uint64_t n, pk_obj **out, stylize_error *err)
{
    if (n > PK_MAX_STR)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                 "pickle string of %llu bytes exceeds the limit of %u MiB",
                                 (unsigned long long)n, (unsigned)(PK_MAX_STR >> 20));
    if (c->pos > c->limit || n > c->limit - c->pos)
        return rd(c, NULL, (size_t)n, err); /* reports the truncation */
    pk_obj *o = NULL;
    stylize_status s = new_obj(vm, PK_STR, &o, err);
    if (!s)
        s = budget(vm, (size_t)n + 1, err);
    if (s)
        return s;
    o->s = malloc((size_t)n + 1);
    if (!o->s)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory decoding a pickle");
    s = rd(c, o->s, (size_t)n, err);
    if (s)
        return s;
    o->s[n] = '\0';
    o->len = (size_t)n;
    *out = o;
    return STYLIZE_OK;
}

static stylize_status new_int(pk_vm *vm, int64_t v, pk_obj **out, stylize_error *err)
{
    stylize_status s = new_obj(vm, PK_INT, out, err);
    if (!s)
        (*out)->i = v;
    return s;
}

static stylize_status dup_cstr(pk_vm *vm, const char *src, char **dst, stylize_error *err)
{
    size_t n = strlen(src);
    stylize_status s = budget(vm, n + 1, err);
    if (s)
        return s;
    *dst = malloc(n + 1);
    if (!*dst)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory decoding a pickle");
    memcpy(*dst, src, n + 1);
    return STYLIZE_OK;
}

static stylize_status new_global(pk_vm *vm, const char *mod, const char *name, pk_obj **out,
                                 stylize_error *err)
{
    pk_obj *o = NULL;
    stylize_status s = new_obj(vm, PK_GLOBAL, &o, err);
    if (!s)
        s = dup_cstr(vm, mod, &o->s, err);
    if (!s)
        s = dup_cstr(vm, name, &o->s2, err);
    if (!s)
        *out = o;
    return s;
}

/* Items stack[from..sp) become a new container of the given type. */
static stylize_status collect(pk_vm *vm, pk_type type, size_t from, pk_obj **out,
                              stylize_error *err)
{
    pk_obj *o = NULL;
    stylize_status s = new_obj(vm, type, &o, err);
    if (s)
        return s;
    size_t n = vm->sp - from;
    if (n) {
        s = grow(vm, (void **)&o->items, &o->cap, n, sizeof(pk_obj *), PK_MAX_STACK, "container",
                 err);
        if (s)
            return s;
        memcpy(o->items, vm->stack + from, n * sizeof(pk_obj *));
        o->n = n;
    }
    vm->sp = from;
    *out = o;
    return STYLIZE_OK;
}

static int is_global(const pk_obj *o, const char *mod, const char *name)
{
    return o && o->type == PK_GLOBAL && strcmp(o->s, mod) == 0 && strcmp(o->s2, name) == 0;
}

static int is_seq(const pk_obj *o)
{
    return o && (o->type == PK_TUPLE || o->type == PK_LIST);
}

static int storage_elem_size(const char *name)
{
    static const struct {
        const char *name;
        int size;
    } table[] = {
        {"DoubleStorage", 8},   {"FloatStorage", 4},        {"HalfStorage", 2},
        {"BFloat16Storage", 2}, {"LongStorage", 8},         {"IntStorage", 4},
        {"ShortStorage", 2},    {"CharStorage", 1},         {"ByteStorage", 1},
        {"BoolStorage", 1},     {"ComplexFloatStorage", 8}, {"ComplexDoubleStorage", 16},
        {"QUInt8Storage", 1},   {"QInt8Storage", 1},        {"QInt32Storage", 4},
        {"QUInt4x2Storage", 1}, {"QUInt2x4Storage", 1},     {"UntypedStorage", 1},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(name, table[i].name) == 0)
            return table[i].size;
    return 0;
}

#define PK_MAX_NUMEL ((int64_t)1 << 50)

/* BINPERSID: ('storage', storage_type, key, location, numel[, view_metadata])
 * or ('module', type, ...) for legacy whole-module saves. */
static stylize_status persistent_load(pk_vm *vm, pk_obj *pid, pk_obj **out, stylize_error *err)
{
    if (!pid || pid->type != PK_TUPLE || pid->n < 1)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "pickle: persistent id is not a tuple");
    if (pk_is_str(pid->items[0], "module") && pid->n >= 2) {
        *out = pid->items[1];
        return STYLIZE_OK;
    }
    if (!pk_is_str(pid->items[0], "storage"))
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "pickle: unknown persistent id (not a torch storage)");
    if (pid->n != 5 && pid->n != 6)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "pickle: storage persistent id has %zu fields (expected 5 or 6)",
                                 pid->n);
    pk_obj *type = pid->items[1], *key = pid->items[2], *numel = pid->items[4];
    pk_obj *view = pid->n == 6 ? pid->items[5] : NULL;
    if (!type || type->type != PK_GLOBAL ||
        (strcmp(type->s, "torch") != 0 && strcmp(type->s, "torch.cuda") != 0))
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "pickle: storage type is not a torch storage class");
    if (!numel || numel->type != PK_INT || numel->i < 0 || numel->i > PK_MAX_NUMEL)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "pickle: bad storage size");
    char keybuf[32];
    const char *kp;
    size_t klen;
    if (key && key->type == PK_STR) {
        kp = key->s, klen = key->len;
    } else if (key && key->type == PK_INT) {
        snprintf(keybuf, sizeof keybuf, "%" PRId64, key->i);
        kp = keybuf, klen = strlen(keybuf);
    } else {
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "pickle: storage key is not a string");
    }
    pk_obj *o = NULL;
    stylize_status s = new_obj(vm, PK_STORAGE, &o, err);
    if (!s)
        s = budget(vm, klen + 1, err);
    if (s)
        return s;
    o->u.st.key = malloc(klen + 1);
    if (!o->u.st.key)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory decoding a pickle");
    memcpy(o->u.st.key, kp, klen);
    o->u.st.key[klen] = '\0';
    o->u.st.key_len = klen;
    snprintf(o->u.st.type_name, sizeof o->u.st.type_name, "%.31s", type->s2);
    o->u.st.elem_size = storage_elem_size(type->s2);
    o->u.st.numel = numel->i;
    o->u.st.view_offset = 0;
    o->u.st.view_numel = numel->i;
    if (view && view->type != PK_NONE) {
        /* (view_key, offset, view_size), in elements of the root storage */
        if (view->type != PK_TUPLE || view->n != 3 || !view->items[1] ||
            view->items[1]->type != PK_INT || !view->items[2] || view->items[2]->type != PK_INT)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT, "pickle: malformed storage view");
        int64_t off = view->items[1]->i, n = view->items[2]->i;
        if (off < 0 || n < 0 || off > numel->i || n > numel->i - off)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "pickle: storage view [%" PRId64 ", +%" PRId64
                                     ") outside its storage of %" PRId64 " elements",
                                     off, n, numel->i);
        o->u.st.view_offset = off;
        o->u.st.view_numel = n;
    }
    s = grow(vm, (void **)&vm->storages, &vm->storages_cap, vm->nstorages + 1, sizeof(pk_obj *),
             PK_MAX_STACK, "storage table", err);
    if (s)
        return s;
    vm->storages[vm->nstorages++] = o;
    *out = o;
    return STYLIZE_OK;
}

static stylize_status int_tuple(const pk_obj *t, int64_t *v, int *n, const char *what,
                                stylize_error *err)
{
    if (!is_seq(t))
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "pickle: tensor %s is not a tuple", what);
    if (t->n > PK_MAX_NDIM)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "pickle: tensor has %zu dimensions (at most %d supported)", t->n,
                                 PK_MAX_NDIM);
    for (size_t i = 0; i < t->n; i++) {
        const pk_obj *x = t->items[i];
        if (!x || x->type != PK_INT || x->i < 0 || x->i > PK_MAX_NUMEL)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT, "pickle: bad tensor %s", what);
        v[i] = x->i;
    }
    *n = (int)t->n;
    return STYLIZE_OK;
}

static stylize_status rebuild_tensor(pk_vm *vm, const pk_obj *args, pk_obj **out,
                                     stylize_error *err)
{
    if (args->n < 4 || !args->items[0] || args->items[0]->type != PK_STORAGE || !args->items[1] ||
        args->items[1]->type != PK_INT)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "pickle: malformed _rebuild_tensor arguments");
    pk_obj *o = NULL;
    stylize_status s = new_obj(vm, PK_TENSOR, &o, err);
    if (s)
        return s;
    int nd_stride = 0;
    o->u.t.storage = args->items[0];
    o->u.t.offset = args->items[1]->i;
    if (o->u.t.offset < 0 || o->u.t.offset > PK_MAX_NUMEL)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "pickle: bad tensor storage offset");
    s = int_tuple(args->items[2], o->u.t.size, &o->u.t.ndim, "size", err);
    if (!s)
        s = int_tuple(args->items[3], o->u.t.stride, &nd_stride, "stride", err);
    if (s)
        return s;
    if (nd_stride != o->u.t.ndim)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "pickle: tensor size and stride differ in length");
    *out = o;
    return STYLIZE_OK;
}

/* REDUCE / NEWOBJ: fn(*args) for the callables we know; an inert object
 * for the rest. depth guards _rebuild_from_type_v2 nesting. */
static stylize_status apply(pk_vm *vm, pk_obj *fn, pk_obj *args, pk_obj **out, int depth,
                            stylize_error *err)
{
    stylize_status s;
    if (fn && fn->type == PK_GLOBAL && args && args->type == PK_TUPLE) {
        if (is_global(fn, "collections", "OrderedDict") || is_global(fn, "builtins", "dict") ||
            is_global(fn, "__builtin__", "dict")) {
            pk_obj *d = NULL;
            s = new_obj(vm, PK_DICT, &d, err);
            if (s)
                return s;
            if (args->n >= 1 && is_seq(args->items[0])) {
                /* Python 2's OrderedDict.__reduce__: ([[key, value], ...],) */
                const pk_obj *pairs = args->items[0];
                for (size_t i = 0; i < pairs->n; i++) {
                    const pk_obj *p = pairs->items[i];
                    if (!is_seq(p) || p->n != 2)
                        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                                 "pickle: malformed OrderedDict items");
                    if ((s = add_item(vm, d, p->items[0], err)) ||
                        (s = add_item(vm, d, p->items[1], err)))
                        return s;
                }
            }
            *out = d;
            return STYLIZE_OK;
        }
        if (is_global(fn, "torch._utils", "_rebuild_tensor") ||
            is_global(fn, "torch._utils", "_rebuild_tensor_v2"))
            return rebuild_tensor(vm, args, out, err);
        if (is_global(fn, "torch._utils", "_rebuild_parameter") ||
            is_global(fn, "torch._utils", "_rebuild_parameter_with_state")) {
            if (args->n < 1 || !args->items[0])
                return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                         "pickle: malformed _rebuild_parameter arguments");
            *out = args->items[0];
            return STYLIZE_OK;
        }
        if (is_global(fn, "torch._utils", "_rebuild_from_type_v2") && depth < 4) {
            /* (func, new_type, args, state): a tensor subclass; keep the tensor */
            if (args->n < 3 || !args->items[2] || args->items[2]->type != PK_TUPLE)
                return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                         "pickle: malformed _rebuild_from_type_v2 arguments");
            return apply(vm, args->items[0], args->items[2], out, depth + 1, err);
        }
        if (is_global(fn, "torch", "Size") && args->n == 1 && args->items[0] &&
            args->items[0]->type == PK_TUPLE) {
            *out = args->items[0];
            return STYLIZE_OK;
        }
    }
    return new_obj(vm, PK_OBJECT, out, err);
}

static stylize_status memo_put(pk_vm *vm, uint64_t idx, pk_obj *o, stylize_error *err)
{
    if (idx >= PK_MAX_MEMO)
        return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                 "pickle memo index %llu exceeds the limit of %u",
                                 (unsigned long long)idx, (unsigned)PK_MAX_MEMO);
    size_t old = vm->memo_cap;
    stylize_status s = grow(vm, (void **)&vm->memo, &vm->memo_cap, (size_t)idx + 1,
                            sizeof(pk_obj *), PK_MAX_MEMO, "memo", err);
    if (s)
        return s;
    for (size_t i = old; i < vm->memo_cap; i++)
        vm->memo[i] = NULL;
    vm->memo[idx] = o;
    return STYLIZE_OK;
}

static stylize_status memo_get(pk_vm *vm, uint64_t idx, pk_obj **o, stylize_error *err)
{
    if (idx >= vm->memo_cap || !vm->memo[idx])
        return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                 "malformed pickle: memo entry %llu was never stored",
                                 (unsigned long long)idx);
    *o = vm->memo[idx];
    return STYLIZE_OK;
}

static stylize_status parse_decimal(const char *line, uint64_t *v, stylize_error *err)
{
    uint64_t x = 0;
    if (!*line)
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "malformed pickle: empty number");
    for (const char *p = line; *p; p++) {
        if (*p < '0' || *p > '9' || x > (UINT64_MAX - 9) / 10)
            return stylize_error_set(err, STYLIZE_ERR_FORMAT, "malformed pickle: bad number");
        x = x * 10 + (uint64_t)(*p - '0');
    }
    *v = x;
    return STYLIZE_OK;
}

/* ---- the VM ------------------------------------------------------------ */

/* The pickle machine's dispatch loop: one case per opcode, each a few lines
 * over the stack helpers above. It stays one function (about 300 lines) on
 * purpose: the switch is the protocol's opcode table, read and checked
 * against the pickle specification case by case, and splitting it would
 * only scatter that table. */
stylize_status pk_load(pk_vm *vm, imp_reader *r, uint64_t start, uint64_t limit, uint64_t *end,
                       pk_obj **result, stylize_error *err)
{
    pk_cursor c = {r, start, limit, 0};
    if (limit > r->size)
        c.limit = r->size;
    if (c.limit > start && c.limit - start > PK_MAX_PICKLE) {
        c.limit = start + PK_MAX_PICKLE;
        c.capped = 1;
    }
    vm->sp = 0;
    vm->nmarks = 0;
    for (size_t i = 0; i < vm->memo_cap; i++)
        vm->memo[i] = NULL;
    size_t memo_count = 0;

    for (;;) {
        uint64_t op_pos = c.pos;
        unsigned char op;
        uint64_t u = 0;
        pk_obj *a = NULL, *b = NULL, *o = NULL;
        size_t m = 0;
        char line1[256], line2[256];
        stylize_status s = rd(&c, &op, 1, err);
        if (s)
            return s;
        switch (op) {
        case 0x80: /* PROTO */
            if ((s = rd_uint(&c, 1, &u, err)))
                return s;
            if (u > 5)
                return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                         "unsupported pickle protocol %llu", (unsigned long long)u);
            break;
        case 0x95: /* FRAME */
            if ((s = rd_uint(&c, 8, &u, err)))
                return s;
            break;
        case '.': /* STOP */
            if ((s = top(vm, &o, err)))
                return s;
            *result = o;
            *end = c.pos;
            return STYLIZE_OK;
        case '(': /* MARK */
            if (vm->nmarks >= PK_MAX_MARKS)
                return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                         "pickle nests deeper than %d levels", PK_MAX_MARKS);
            if ((s = grow(vm, (void **)&vm->marks, &vm->marks_cap, vm->nmarks + 1, sizeof(size_t),
                          PK_MAX_MARKS, "mark stack", err)))
                return s;
            vm->marks[vm->nmarks++] = vm->sp;
            break;
        case '0': /* POP */
            if (vm->sp > frame_base(vm))
                vm->sp--;
            else if ((s = pop_mark(vm, &m, err)))
                return s;
            break;
        case '1': /* POP_MARK */
            if ((s = pop_mark(vm, &m, err)))
                return s;
            vm->sp = m;
            break;
        case '2': /* DUP */
            if ((s = top(vm, &o, err)) || (s = push(vm, o, err)))
                return s;
            break;
        case 'N':
        case 0x88: /* NEWTRUE */
        case 0x89: /* NEWFALSE */ {
            int k = op == 'N' ? 0 : op == 0x89 ? 1 : 2;
            if (!vm->consts[k]) {
                if ((s = new_obj(vm, k ? PK_BOOL : PK_NONE, &vm->consts[k], err)))
                    return s;
                vm->consts[k]->i = k == 2;
            }
            if ((s = push(vm, vm->consts[k], err)))
                return s;
            break;
        }
        case 'J': /* BININT */
            if ((s = rd_uint(&c, 4, &u, err)) ||
                (s = new_int(vm, (int64_t)(int32_t)(uint32_t)u, &o, err)) || (s = push(vm, o, err)))
                return s;
            break;
        case 'K': /* BININT1 */
        case 'M': /* BININT2 */
            if ((s = rd_uint(&c, op == 'K' ? 1 : 2, &u, err)) ||
                (s = new_int(vm, (int64_t)u, &o, err)) || (s = push(vm, o, err)))
                return s;
            break;
        case 0x8a:   /* LONG1 */
        case 0x8b: { /* LONG4 */
            if ((s = rd_uint(&c, op == 0x8a ? 1 : 4, &u, err)))
                return s;
            if (op == 0x8b && (int32_t)(uint32_t)u < 0)
                return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                         "malformed pickle: negative LONG4");
            if (u > 4096)
                return stylize_error_set(err, STYLIZE_ERR_LIMIT,
                                         "pickle integer of %llu bytes is too long",
                                         (unsigned long long)u);
            if (u <= 8) {
                unsigned char bytes[8];
                if ((s = rd(&c, bytes, (size_t)u, err)))
                    return s;
                uint64_t v = 0;
                for (int i = (int)u - 1; i >= 0; i--)
                    v = (v << 8) | bytes[i];
                if (u > 0 && u < 8 && (bytes[u - 1] & 0x80))
                    v |= ~(uint64_t)0 << (8 * u); /* sign-extend */
                int64_t sv;
                memcpy(&sv, &v, sizeof sv);
                if ((s = new_int(vm, sv, &o, err)))
                    return s;
            } else {
                if ((s = new_str(vm, &c, u, &o, err)))
                    return s;
                o->type = PK_BIGINT;
            }
            if ((s = push(vm, o, err)))
                return s;
            break;
        }
        case 'G': { /* BINFLOAT: big-endian double */
            unsigned char bytes[8];
            if ((s = rd(&c, bytes, 8, err)))
                return s;
            uint64_t v = 0;
            for (int i = 0; i < 8; i++)
                v = (v << 8) | bytes[i];
            if ((s = new_obj(vm, PK_FLOAT, &o, err)))
                return s;
            memcpy(&o->f, &v, sizeof o->f);
            if ((s = push(vm, o, err)))
                return s;
            break;
        }
        case 'X':  /* BINUNICODE */
        case 'B':  /* BINBYTES */
        case 0x8c: /* SHORT_BINUNICODE */
        case 'U':  /* SHORT_BINSTRING */
        case 'C':  /* SHORT_BINBYTES */
        case 0x8d: /* BINUNICODE8 */
        case 0x8e: /* BINBYTES8 */
        case 0x96: /* BYTEARRAY8 */
            if ((s = rd_uint(&c,
                             (op == 'X' || op == 'B')                 ? 4
                             : (op == 0x8c || op == 'U' || op == 'C') ? 1
                                                                      : 8,
                             &u, err)) ||
                (s = new_str(vm, &c, u, &o, err)) || (s = push(vm, o, err)))
                return s;
            break;
        case 'T': /* BINSTRING: signed 4-byte length */
            if ((s = rd_uint(&c, 4, &u, err)))
                return s;
            if ((int32_t)(uint32_t)u < 0)
                return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                         "malformed pickle: negative string length");
            if ((s = new_str(vm, &c, u, &o, err)) || (s = push(vm, o, err)))
                return s;
            break;
        case ')':  /* EMPTY_TUPLE */
        case ']':  /* EMPTY_LIST */
        case '}':  /* EMPTY_DICT */
        case 0x8f: /* EMPTY_SET (kept as a list) */
            if ((s = new_obj(vm,
                             op == ')'   ? PK_TUPLE
                             : op == '}' ? PK_DICT
                                         : PK_LIST,
                             &o, err)) ||
                (s = push(vm, o, err)))
                return s;
            break;
        case 't':  /* TUPLE */
        case 'l':  /* LIST */
        case 0x91: /* FROZENSET (kept as a tuple) */
        case 'd':  /* DICT */
            if ((s = pop_mark(vm, &m, err)))
                return s;
            if (op == 'd' && (vm->sp - m) % 2)
                return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                         "malformed pickle: DICT with an odd number of items");
            if ((s = collect(vm,
                             op == 'l'   ? PK_LIST
                             : op == 'd' ? PK_DICT
                                         : PK_TUPLE,
                             m, &o, err)) ||
                (s = push(vm, o, err)))
                return s;
            break;
        case 0x85:   /* TUPLE1 */
        case 0x86:   /* TUPLE2 */
        case 0x87: { /* TUPLE3 */
            size_t n = (size_t)(op - 0x84);
            if (vm->sp < frame_base(vm) + n)
                return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                         "malformed pickle: stack underflow");
            if ((s = collect(vm, PK_TUPLE, vm->sp - n, &o, err)) || (s = push(vm, o, err)))
                return s;
            break;
        }
        case 'a': /* APPEND */
            if ((s = pop(vm, &a, err)) || (s = top(vm, &o, err)))
                return s;
            if (o->type != PK_LIST)
                return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                         "malformed pickle: APPEND to a non-list");
            if ((s = add_item(vm, o, a, err)))
                return s;
            break;
        case 'e':  /* APPENDS */
        case 0x90: /* ADDITEMS */
        case 'u':  /* SETITEMS */
            if ((s = pop_mark(vm, &m, err)))
                return s;
            if (m <= frame_base(vm))
                return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                         "malformed pickle: stack underflow");
            o = vm->stack[m - 1];
            if (o->type != (op == 'u' ? PK_DICT : PK_LIST))
                return stylize_error_set(err, STYLIZE_ERR_FORMAT, "malformed pickle: %s to a %s",
                                         op == 'u' ? "SETITEMS" : "APPENDS",
                                         op == 'u' ? "non-dict" : "non-list");
            if (op == 'u' && (vm->sp - m) % 2)
                return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                         "malformed pickle: SETITEMS with an odd number of items");
            for (size_t i = m; i < vm->sp; i++)
                if ((s = add_item(vm, o, vm->stack[i], err)))
                    return s;
            vm->sp = m;
            break;
        case 's': /* SETITEM */
            if ((s = pop(vm, &b, err)) || (s = pop(vm, &a, err)) || (s = top(vm, &o, err)))
                return s;
            if (o->type != PK_DICT)
                return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                         "malformed pickle: SETITEM to a non-dict");
            if ((s = add_item(vm, o, a, err)) || (s = add_item(vm, o, b, err)))
                return s;
            break;
        case 'c': /* GLOBAL */
            if ((s = rd_line(&c, line1, sizeof line1, err)) ||
                (s = rd_line(&c, line2, sizeof line2, err)) ||
                (s = new_global(vm, line1, line2, &o, err)) || (s = push(vm, o, err)))
                return s;
            break;
        case 0x93: /* STACK_GLOBAL */
            if ((s = pop(vm, &b, err)) || (s = pop(vm, &a, err)))
                return s;
            if (a->type != PK_STR || b->type != PK_STR || a->len >= sizeof line1 ||
                b->len >= sizeof line2 || memchr(a->s, 0, a->len) || memchr(b->s, 0, b->len))
                return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                         "malformed pickle: bad STACK_GLOBAL names");
            if ((s = new_global(vm, a->s, b->s, &o, err)) || (s = push(vm, o, err)))
                return s;
            break;
        case 'R':  /* REDUCE */
        case 0x81: /* NEWOBJ */
            if ((s = pop(vm, &b, err)) || (s = pop(vm, &a, err)) ||
                (s = apply(vm, a, b, &o, 0, err)) || (s = push(vm, o, err)))
                return s;
            break;
        case 0x92: /* NEWOBJ_EX: cls, args, kwargs */
            if ((s = pop(vm, &o, err)) || (s = pop(vm, &b, err)) || (s = pop(vm, &a, err)) ||
                (s = apply(vm, a, b, &o, 0, err)) || (s = push(vm, o, err)))
                return s;
            break;
        case 'b': /* BUILD: the state is ignored */
            if ((s = pop(vm, &a, err)) || (s = top(vm, &o, err)))
                return s;
            break;
        case 'Q': /* BINPERSID */
            if ((s = pop(vm, &a, err)) || (s = persistent_load(vm, a, &o, err)) ||
                (s = push(vm, o, err)))
                return s;
            break;
        case 'q': /* BINPUT */
        case 'r': /* LONG_BINPUT */
            if ((s = rd_uint(&c, op == 'q' ? 1 : 4, &u, err)) || (s = top(vm, &o, err)) ||
                (s = memo_put(vm, u, o, err)))
                return s;
            memo_count++;
            break;
        case 0x94: /* MEMOIZE */
            if ((s = top(vm, &o, err)) || (s = memo_put(vm, memo_count, o, err)))
                return s;
            memo_count++;
            break;
        case 'p': /* PUT */
        case 'g': /* GET */
            if ((s = rd_line(&c, line1, sizeof line1, err)) || (s = parse_decimal(line1, &u, err)))
                return s;
            if (op == 'p') {
                if ((s = top(vm, &o, err)) || (s = memo_put(vm, u, o, err)))
                    return s;
                memo_count++;
            } else if ((s = memo_get(vm, u, &o, err)) || (s = push(vm, o, err))) {
                return s;
            }
            break;
        case 'h': /* BINGET */
        case 'j': /* LONG_BINGET */
            if ((s = rd_uint(&c, op == 'h' ? 1 : 4, &u, err)) || (s = memo_get(vm, u, &o, err)) ||
                (s = push(vm, o, err)))
                return s;
            break;
        default:
            return stylize_error_set(err, STYLIZE_ERR_FORMAT,
                                     "unsupported pickle opcode 0x%02x at offset %llu", op,
                                     (unsigned long long)op_pos);
        }
    }
}
