/* Internal: a small, bounded pickle virtual machine for the pickles that
 * torch.save writes (protocol 2; protocol 3-5 opcodes are accepted too).
 *
 * Nothing is ever executed. Globals become inert PK_GLOBAL values; a REDUCE
 * or NEWOBJ of a callable the VM knows builds a value:
 *   collections.OrderedDict(...)            -> PK_DICT
 *   torch._utils._rebuild_tensor(_v2)(...)  -> PK_TENSOR
 *   torch._utils._rebuild_parameter(d, ...) -> d
 *   torch.Size(t)                           -> t
 * and of any other callable an inert PK_OBJECT. BUILD states are ignored.
 * BINPERSID of ('storage', type, key, location, numel[, view]) builds a
 * PK_STORAGE.
 *
 * Every value is owned by the VM and freed by pk_free; values may be shared
 * (None, True and False are one object each per VM; others through the
 * memo) and containers may contain themselves, so walk them with care.
 * Limits (pickle length, stack, memo, marks, string length, total memory)
 * turn hostile input into STYLIZE_ERR_LIMIT or STYLIZE_ERR_FORMAT errors. */
#ifndef STYLIZE_IMPORT_PICKLE_H
#define STYLIZE_IMPORT_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "vgg/import/import_internal.h"

#define PK_MAX_PICKLE (64u << 20) /* bytes in one pickle */
#define PK_MAX_STACK (1u << 20)   /* values on the stack */
#define PK_MAX_MARKS 4096         /* nested MARKs */
#define PK_MAX_MEMO (1u << 20)    /* memo index */
#define PK_MAX_STR (16u << 20)    /* one string */
#define PK_MAX_BYTES (256u << 20) /* everything the VM allocates */
#define PK_MAX_NDIM 8

typedef enum {
    PK_NONE,
    PK_BOOL,
    PK_INT,    /* fits in int64 */
    PK_BIGINT, /* LONG1/LONG4 too long for int64: s holds the raw bytes */
    PK_FLOAT,
    PK_STR, /* unicode (UTF-8) or byte string */
    PK_TUPLE,
    PK_LIST,
    PK_DICT,   /* items holds key0, value0, key1, value1, ... */
    PK_GLOBAL, /* s = module, s2 = name */
    PK_OBJECT, /* opaque instance of an unknown callable */
    PK_STORAGE,
    PK_TENSOR
} pk_type;

typedef struct pk_obj pk_obj;

typedef struct {
    char type_name[32]; /* "FloatStorage" */
    int elem_size;      /* bytes per element; 0 if unknown */
    char *key;          /* root storage key (owned by the VM) */
    size_t key_len;
    int64_t numel;       /* of the root storage */
    int64_t view_offset; /* elements: this storage starts here in the root */
    int64_t view_numel;  /* elements in this (view of the) storage */
} pk_storage;

typedef struct {
    pk_obj *storage; /* a PK_STORAGE */
    int64_t offset;  /* elements into the storage */
    int ndim;
    int64_t size[PK_MAX_NDIM];
    int64_t stride[PK_MAX_NDIM];
} pk_tensor;

struct pk_obj {
    pk_type type;
    int64_t i;      /* PK_INT, PK_BOOL */
    double f;       /* PK_FLOAT */
    char *s, *s2;   /* PK_STR / PK_BIGINT bytes (NUL-terminated too); PK_GLOBAL */
    size_t len;     /* of s */
    pk_obj **items; /* PK_TUPLE, PK_LIST, PK_DICT */
    size_t n, cap;
    union {
        pk_storage st; /* PK_STORAGE */
        pk_tensor t;   /* PK_TENSOR */
    } u;
    pk_obj *next; /* every object the VM made, for pk_free */
};

typedef struct pk_vm pk_vm;

/* NULL if out of memory. Free with pk_free. */
pk_vm *pk_new(void);
void pk_free(pk_vm *vm);

/* Runs one pickle that starts at offset start of r and must end (with STOP)
 * before limit. *end receives the offset just past STOP; *result the
 * value (owned by vm). Can be called again on the same vm for the next
 * pickle of a stream; memo is reset between pickles, values persist. */
stylize_status pk_load(pk_vm *vm, imp_reader *r, uint64_t start, uint64_t limit, uint64_t *end,
                       pk_obj **result, stylize_error *err);

/* Every PK_STORAGE made so far, in order of creation (borrowed). */
size_t pk_storage_count(const pk_vm *vm);
pk_obj *pk_storage_at(const pk_vm *vm, size_t i);

/* Helpers. */
int pk_is_str(const pk_obj *o, const char *s);            /* a PK_STR equal to s */
pk_obj *pk_dict_get(const pk_obj *dict, const char *key); /* last match, or NULL */

#endif
