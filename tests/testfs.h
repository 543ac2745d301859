/* Scratch-directory helpers shared by the C tests that write files: a
 * per-run directory `dir`, paths inside it, counting left-over temporaries
 * (names containing ".tmp."), and removing it all at the end. */
#ifndef STYLIZE_TESTFS_H
#define STYLIZE_TESTFS_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[1024]; /* scratch directory of this run */

static const char *tmp(const char *name)
{
    static char buf[8][sizeof dir + 258]; /* dir + "/" + a d_name (<= 255) + NUL */
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", dir, name);
    return b;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int count_temporaries(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp."))
            n++;
    closedir(d);
    return n;
}

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        unlink(tmp(e->d_name));
    }
    closedir(d);
    rmdir(dir);
}

static int write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* Reads up to cap bytes of path into buf; returns the count or -1. */

#endif
