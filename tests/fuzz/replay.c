/*
 * replay.c: main() for replay_<surface>: run the fuzz target on files, without libFuzzer.
 *
 *   replay_<surface> PATH...     PATH: a file, or a directory whose files are all inputs
 *
 * Every file is read into a buffer of exactly its size (so ASan sees any read past the input,
 * as under libFuzzer) and passed to LLVMFuzzerTestOneInput.  Files whose names start with '.'
 * and README files are skipped.  Directory entries run in name order, so a failure is
 * reproducible.  Exits 0 after the last input, 1 when there was no input at all (a replay
 * that runs nothing must not pass), 2 on an unreadable path; a failed property aborts.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static size_t replayed;

static int
replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *data = rbgw_xmalloc(cap);
    size_t n;
    while ((n = fread(data + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            data = rbgw_xrealloc(data, cap);
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "replay: %s: read error\n", path);
        free(data);
        return -1;
    }
    /* An exact-size copy: reading past the input is then a heap overflow ASan reports. */
    uint8_t *exact = rbgw_xmalloc(len ? len : 1);
    memcpy(exact, data, len);
    free(data);
    rbgw_fuzz_input_name = path;
    LLVMFuzzerTestOneInput(exact, len);
    rbgw_fuzz_input_name = NULL;
    free(exact);
    replayed++;
    return 0;
}

static int
skip_name(const char *name)
{
    return name[0] == '.' || strncmp(name, "README", 6) == 0;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (skip_name(e->d_name)) {
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = rbgw_xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = rbgw_xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_names);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        size_t plen = strlen(dir) + strlen(names[i]) + 2;
        char *path = rbgw_xmalloc(plen);
        snprintf(path, plen, "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && replay_file(path) != 0) {
            rc = -1;
        }
        free(path);
        free(names[i]);
    }
    free(names);
    return rc;
}

int
main(int argc, char **argv)
{
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            rc = 2;
        } else if (S_ISDIR(st.st_mode) ? replay_dir(argv[i]) != 0 : replay_file(argv[i]) != 0) {
            rc = 2;
        }
    }
    printf("replay: %zu inputs\n", replayed);
    if (rc == 0 && replayed == 0) {
        fprintf(stderr, "replay: no input given\n");
        rc = 1;
    }
    return rc;
}
