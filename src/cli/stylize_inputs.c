/* File helpers of the stylize command (stylize_inputs.h). */
#include "stylize_inputs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_common.h"
#include "stylize/core/sha256.h"
#include "stylize/vgg/vgg19.h"
#include "stylize_flags.h"

static const char *const prog = STYLIZE_PROG;

int cli_split_list(char *buf, char **items, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n >= max)
            return -1;
        items[n++] = tok;
    }
    return n;
}

/* --- content paths ---------------------------------------------------- */

/* A growing list of paths (each strdup'ed). */
typedef struct {
    char **items;
    int n, cap;
} path_list;

static int add_path(path_list *l, const char *p)
{
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 16;
        char **nl = realloc(l->items, (size_t)nc * sizeof *nl);
        if (!nl)
            return -1;
        l->items = nl;
        l->cap = nc;
    }
    l->items[l->n] = strdup(p);
    if (!l->items[l->n])
        return -1;
    l->n++;
    return 0;
}

static int has_image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    const char *exts[] = {".png", ".jpg", ".jpeg", ".bmp", ".tga", ".psd", ".gif", ".PNG", ".JPG", ".JPEG"};
    if (!dot)
        return 0;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (strcmp(dot, exts[i]) == 0)
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Results of the expanders below. */
enum { EXPAND_OK = 0, EXPAND_FAILED = -1, EXPAND_NOMEM = -2 };

/* Adds the paths of the list file (one a line; blank and # lines skipped). */
static int expand_list_file(path_list *l, const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        cli_error(prog, "--content: cannot read list file '%s': %s", file, strerror(errno));
        return EXPAND_FAILED;
    }
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] && line[0] != '#' && add_path(l, line) != 0) {
            fclose(f);
            return EXPAND_NOMEM;
        }
    }
    fclose(f);
    return EXPAND_OK;
}

/* Adds the directory's images (not hidden files), sorted by name. */
static int expand_directory(path_list *l, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        cli_error(prog, "--content: cannot read directory '%s': %s", dir, strerror(errno));
        return EXPAND_FAILED;
    }
    int first = l->n;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !has_image_ext(e->d_name))
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (add_path(l, p) != 0) {
            closedir(d);
            return EXPAND_NOMEM;
        }
    }
    closedir(d);
    if (l->n > first)
        qsort(l->items + first, (size_t)(l->n - first), sizeof *l->items, cmp_str);
    return EXPAND_OK;
}

int cli_expand_contents(char **args, int nargs, char ***out, int *nout)
{
    path_list l = {NULL, 0, 0};
    int r = EXPAND_OK;
    for (int i = 0; i < nargs && r == EXPAND_OK; i++) {
        const char *a = args[i];
        struct stat sb;
        if (a[0] == '@')
            r = expand_list_file(&l, a + 1);
        else if (stat(a, &sb) == 0 && S_ISDIR(sb.st_mode))
            r = expand_directory(&l, a);
        else if (add_path(&l, a) != 0)
            r = EXPAND_NOMEM;
    }
    if (r != EXPAND_OK) {
        if (r == EXPAND_NOMEM)
            cli_error(prog, "out of memory");
        cli_free_list(l.items, l.n);
        return -1;
    }
    *out = l.items;
    *nout = l.n;
    return 0;
}

void cli_free_list(char **list, int n)
{
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* --- files ------------------------------------------------------------ */

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

const char *cli_find_weights(const char *flag, char *buf, size_t cap)
{
    if (flag)
        return flag;
    const char *env = getenv("STYLIZE_WEIGHTS");
    if (env && *env)
        return env;
    if (file_exists("weights/vgg19.json"))
        return "weights/vgg19.json";
    snprintf(buf, cap, "%s/vgg19.json", STYLIZE_DATADIR_STR);
    if (file_exists(buf))
        return buf;
    return NULL;
}

int cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int cli_writable_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) && access(path, W_OK) == 0;
}

int cli_output_dir_ok(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    return cli_writable_dir(dir);
}

size_t cli_available_memory(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    size_t kb = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %zu kB", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

int cli_load_image(stylize_image *img, const char *flag, const char *path)
{
    stylize_error e;
    if (stylize_image_load(img, path, &e) != STYLIZE_OK) {
        cli_error(prog, "%s: %s", flag, e.msg);
        return -1;
    }
    return 0;
}

int cli_deepest_layer(const stylize_layer_weight *a, int na, const stylize_layer_weight *b, int nb)
{
    int d = -1;
    for (int i = 0; i < na; i++)
        d = a[i].layer > d ? a[i].layer : d;
    for (int i = 0; i < nb; i++)
        d = b[i].layer > d ? b[i].layer : d;
    return d;
}

/* sha (65) = SHA-256 of the weights' values. */
static void weights_sha(const stylize_weights *w, char sha[65])
{
    stylize_sha256 s;
    unsigned char d[32];
    stylize_sha256_init(&s);
    stylize_sha256_update(&s, w->blob, w->blob_floats * sizeof(float));
    stylize_sha256_final(&s, d);
    stylize_sha256_hex(d, sha);
}

int cli_load_weights(const char *who, const char *flag, int deepest, int quiet, stylize_weights **w,
                     int *random_features, char name[256], char sha[65])
{
    stylize_error e;
    char wbuf[4096];
    const char *wpath = cli_find_weights(flag, wbuf, sizeof wbuf);
    if (wpath && strncmp(wpath, "random", 6) == 0 && (wpath[6] == '\0' || wpath[6] == ':')) {
        unsigned long long seed = 0;
        int divisor = 1; /* random:SEED:D: every layer D times narrower (a quick try-out) */
        char sbuf[64];
        snprintf(sbuf, sizeof sbuf, "%s", wpath[6] == ':' ? wpath + 7 : "0");
        char *colon = strchr(sbuf, ':');
        if (colon)
            *colon = '\0';
        if (cli_parse_u64(sbuf, &seed) != 0 || (colon && cli_parse_int(colon + 1, 1, 64, &divisor) != 0)) {
            cli_error(who, "--weights: bad seed or width divisor in '%s' (random[:SEED[:DIVISOR]], divisor 1..64)",
                      wpath);
            return EXIT_USAGE;
        }
        if (stylize_weights_random(w, seed, divisor, &e) != STYLIZE_OK) {
            cli_error(who, "--weights: %s", e.msg);
            return EXIT_WEIGHTS;
        }
        *random_features = 1;
        if (name)
            snprintf(name, 256, divisor > 1 ? "random:%llu:%d" : "random:%llu", seed, divisor);
        if (!quiet)
            fprintf(stderr, "%s: using random VGG-19 features (lower quality; get real weights with scripts/get-weights.sh)\n", who);
    } else if (!wpath) {
        cli_error(who, "no VGG-19 weights found (--weights, $STYLIZE_WEIGHTS, ./weights/vgg19.json, "
                       "%s/vgg19.json); get them with: scripts/get-weights.sh (or try --weights random)",
                  STYLIZE_DATADIR_STR);
        return EXIT_WEIGHTS;
    } else if (stylize_weights_load(w, wpath, &e) != STYLIZE_OK) {
        cli_error(who, "--weights: %s", e.msg);
        return EXIT_WEIGHTS;
    } else if (name) {
        const char *base = strrchr(wpath, '/');
        snprintf(name, 256, "%s", base ? base + 1 : wpath);
    }
    if (sha)
        weights_sha(*w, sha);
    stylize_weights_trim(*w, stylize_vgg19_convs_needed(deepest));
    return 0;
}
