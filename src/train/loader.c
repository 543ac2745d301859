/* The training data loader (stylize/train/loader.h): one producer thread,
 * a ring of ready crops, warnings handed to the consumer's thread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stylize/core/rng.h"
#include "stylize/io/image.h"
#include "stylize/train/loader.h"

#define WARN_RING 16
#define WARN_LEN 512

typedef struct {
    float *px;        /* (3, size, size) */
    long long after;  /* stream position after this crop's file */
} slot;

struct stylize_loader {
    stylize_loader_config c;
    stylize_mem *mem;
    float *block;                 /* queue crops */
    slot *ring;                   /* (queue) */
    int head, count;              /* next slot to take, ready slots */
    int *perm;                    /* (n_files) the current epoch's order */
    long long perm_epoch;
    unsigned char *bad;           /* (n_files) files known not to decode */
    long long pos;                /* producer's stream position */
    long long taken_pos;          /* consumer's: after the last crop taken */
    long long skipped;
    char warn[WARN_RING][WARN_LEN];
    int n_warn, warn_dropped;
    int stop, fatal;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static uint64_t mix(uint64_t a, uint64_t b)
{
    uint64_t s = a ^ (b * 0x9e3779b97f4a7c15ull);
    return stylize_splitmix64(&s);
}

/* The file at stream position p (the epoch's shuffle, made when needed). */
static int file_at(stylize_loader *l, long long p)
{
    int n = l->c.n_files;
    long long epoch = p / n;
    if (epoch != l->perm_epoch) {
        stylize_rng r;
        stylize_rng_seed(&r, mix(l->c.seed, (uint64_t)epoch + 1));
        for (int i = 0; i < n; i++)
            l->perm[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = (int)stylize_rng_below(&r, (uint64_t)i + 1);
            int t = l->perm[i];
            l->perm[i] = l->perm[j], l->perm[j] = t;
        }
        l->perm_epoch = epoch;
    }
    return l->perm[p % n];
}

/* win (3, n, n) = the n f x n f window of img at (x0, y0), averaged over
 * f x f boxes (the cheap part of the downscale; stb resizes the rest). */
static void box_window(stylize_image *win, const stylize_image *img, int x0, int y0, int f)
{
    int n = win->width;
    float inv = 1.0f / (float)(f * f);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < n; y++) {
            float *d = win->data + ((size_t)c * n + y) * n;
            memset(d, 0, (size_t)n * sizeof(float));
            for (int dy = 0; dy < f; dy++) {
                const float *src = img->data + ((size_t)c * img->height + y0 + y * f + dy) * img->width + x0;
                for (int x = 0; x < n; x++)
                    for (int dx = 0; dx < f; dx++)
                        d[x] += src[x * f + dx];
            }
            for (int x = 0; x < n; x++)
                d[x] *= inv;
        }
}

/* dst (3, S, S) = a random square window of img (shorter side scaled by
 * U(1, 1.25)), box-averaged by the largest integer factor that keeps it at
 * least S wide, then resized. */
static stylize_status crop(const stylize_image *img, stylize_rng *r, int S, float *dst, stylize_error *err)
{
    int shorter = img->width < img->height ? img->width : img->height;
    double f = 1.0 + 0.25 * stylize_rng_uniform(r);
    int side = (int)(shorter / f);
    side = side < 1 ? 1 : side;
    int x0 = (int)stylize_rng_below(r, (uint64_t)(img->width - side) + 1);
    int y0 = (int)stylize_rng_below(r, (uint64_t)(img->height - side) + 1);
    int box = side / S > 1 ? side / S : 1, n = side / box;
    stylize_image win, out = {S, S, dst};
    stylize_status st = stylize_image_alloc(&win, n, n, err);
    if (st != STYLIZE_OK)
        return st;
    box_window(&win, img, x0, y0, box);
    st = n == S ? (memcpy(dst, win.data, (size_t)3 * S * S * sizeof(float)), STYLIZE_OK)
                : stylize_image_resize_into(&out, &win, err);
    stylize_image_free(&win);
    return st;
}

/* Decodes the file at position p into dst; on failure marks it bad. */
static stylize_status sample_at(stylize_loader *l, long long p, float *dst, stylize_error *err)
{
    int f = file_at(l, p);
    if (l->bad[f])
        return stylize_error_set(err, STYLIZE_ERR_FORMAT, "known bad");
    stylize_image img;
    stylize_status st = stylize_image_load(&img, l->c.files[f], err);
    if (st == STYLIZE_OK) {
        stylize_rng r;
        stylize_rng_seed(&r, mix(l->c.seed ^ 0x5bd1e995u, (uint64_t)p));
        st = crop(&img, &r, l->c.size, dst, err);
        stylize_image_free(&img);
    }
    if (st != STYLIZE_OK)
        l->bad[f] = 2; /* 2: not yet warned about */
    return st;
}

/* Under the lock: one warning for the consumer to log. */
static void push_warning(stylize_loader *l, const char *msg)
{
    l->skipped++;
    if (l->n_warn < WARN_RING)
        snprintf(l->warn[l->n_warn++], WARN_LEN, "%s", msg);
    else
        l->warn_dropped++;
}

/* The producer: fills free slots in stream order until stopped. */
static void *produce(void *arg)
{
    stylize_loader *l = arg;
    int fails = 0;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        if (l->count == l->c.queue) {
            pthread_cond_wait(&l->cv, &l->mu);
            continue;
        }
        slot *s = &l->ring[(l->head + l->count) % l->c.queue];
        long long p = l->pos++;
        pthread_mutex_unlock(&l->mu);
        stylize_error e;
        int f = file_at(l, p), was_bad = l->bad[f] != 0;
        stylize_status st = sample_at(l, p, s->px, &e);
        pthread_mutex_lock(&l->mu);
        if (st == STYLIZE_OK) {
            s->after = p + 1;
            l->count++;
            fails = 0;
            pthread_cond_broadcast(&l->cv);
        } else {
            if (!was_bad)
                push_warning(l, e.msg);
            if (++fails >= l->c.n_files) {
                l->fatal = 1;
                pthread_cond_broadcast(&l->cv);
                break;
            }
        }
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Before the thread: at least one file must decode. The failures' warnings
 * wait in the ring for the first crop taken (none when nothing decodes:
 * the error alone says it). */
static stylize_status probe(stylize_loader *l, stylize_error *err)
{
    stylize_error first;
    for (int i = 0; i < l->c.n_files; i++) {
        stylize_error e;
        if (sample_at(l, l->c.start + i, l->ring[0].px, &e) == STYLIZE_OK)
            return STYLIZE_OK;
        if (i == 0)
            first = e;
        push_warning(l, e.msg);
    }
    return stylize_error_set(err, STYLIZE_ERR_ARG, "no usable image among %d file%s (%.300s)", l->c.n_files,
                             l->c.n_files == 1 ? "" : "s", first.msg);
}

static stylize_status check_config(const stylize_loader_config *c, stylize_error *err)
{
    if (c->n_files < 1 || !c->files)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "no training images");
    if (c->size < 1 || c->size > STYLIZE_IMAGE_MAX_SIDE || c->queue < 1 || c->queue > 1024 || c->start < 0)
        return stylize_error_set(err, STYLIZE_ERR_ARG, "loader: size %d, queue %d or start %lld out of range",
                                 c->size, c->queue, c->start);
    return STYLIZE_OK;
}

stylize_status stylize_loader_create(stylize_loader **out, const stylize_loader_config *c,
                                     stylize_mem *mem, stylize_error *err)
{
    *out = NULL;
    stylize_status st = check_config(c, err);
    if (st != STYLIZE_OK)
        return st;
    stylize_loader *l = calloc(1, sizeof *l);
    if (!l)
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for the data loader");
    l->c = *c, l->mem = mem, l->perm_epoch = -1, l->pos = l->taken_pos = c->start;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    size_t crop_floats = (size_t)3 * c->size * c->size;
    l->ring = calloc((size_t)c->queue, sizeof *l->ring);
    l->perm = malloc((size_t)c->n_files * sizeof *l->perm);
    l->bad = calloc((size_t)c->n_files, 1);
    if (!l->ring || !l->perm || !l->bad) {
        stylize_loader_free(l);
        return stylize_error_set(err, STYLIZE_ERR_NOMEM, "out of memory for the data loader");
    }
    st = stylize_mem_alloc(mem, (void **)&l->block, crop_floats * c->queue * sizeof(float), "the data loader's crops", err);
    if (st == STYLIZE_OK && stylize_mem_is_dry(mem)) {
        *out = l; /* counted only: never started */
        return STYLIZE_OK;
    }
    for (int i = 0; st == STYLIZE_OK && i < c->queue; i++)
        l->ring[i].px = l->block + (size_t)i * crop_floats;
    if (st == STYLIZE_OK)
        st = probe(l, err);
    if (st == STYLIZE_OK && pthread_create(&l->thread, NULL, produce, l) != 0)
        st = stylize_error_set(err, STYLIZE_ERR_INTERNAL, "cannot start the data loader's thread");
    l->started = st == STYLIZE_OK;
    if (st != STYLIZE_OK) {
        stylize_loader_free(l);
        return st;
    }
    *out = l;
    return STYLIZE_OK;
}

void stylize_loader_free(stylize_loader *l)
{
    if (!l)
        return;
    if (l->started) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    if (l->block)
        stylize_mem_free(l->mem, l->block, (size_t)3 * l->c.size * l->c.size * l->c.queue * sizeof(float));
    free(l->ring), free(l->perm), free(l->bad);
    free(l);
}

/* Under the lock: hands the pending warnings to the logger. */
static void drain_warnings(stylize_loader *l)
{
    for (int i = 0; i < l->n_warn; i++)
        stylize_log(&l->c.log, STYLIZE_LOG_WARN, "skipping %s", l->warn[i]);
    if (l->warn_dropped)
        stylize_log(&l->c.log, STYLIZE_LOG_WARN, "skipping %d more unreadable files", l->warn_dropped);
    l->n_warn = l->warn_dropped = 0;
}

stylize_status stylize_loader_next(stylize_loader *l, float *dst, stylize_error *err)
{
    pthread_mutex_lock(&l->mu);
    while (l->count == 0 && !l->fatal)
        pthread_cond_wait(&l->cv, &l->mu);
    drain_warnings(l);
    if (l->count == 0) {
        pthread_mutex_unlock(&l->mu);
        return stylize_error_set(err, STYLIZE_ERR_IO, "no readable training image left");
    }
    slot *s = &l->ring[l->head];
    memcpy(dst, s->px, (size_t)3 * l->c.size * l->c.size * sizeof(float));
    l->taken_pos = s->after;
    l->head = (l->head + 1) % l->c.queue;
    l->count--;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return STYLIZE_OK;
}

long long stylize_loader_position(const stylize_loader *l) { return l->taken_pos; }
long long stylize_loader_skipped(const stylize_loader *l) { return l->skipped; }
