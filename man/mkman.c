/*
 * mkman.c: build-time generator of the man pages rbgw(8) and rbgw.conf(5).
 *
 *   rbgw_mkman TEMPLATE OUTPUT VERSION
 *
 * Copies the troff TEMPLATE to OUTPUT, replacing whole lines that read @KEYS@ (the keys as
 * command-line options), @FILE_KEYS@ (the keys as the config file takes them),
 * @UPSTREAM_OPTIONS@ and @ADMIN_OPTIONS@ with text written by config.c from the same table as
 * `rbgw --help`, and
 * @VERSION@ anywhere with VERSION.  So the pages cannot drift from the loader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbgw/config.h"

static void
copy_line(FILE *out, const char *line, const char *version)
{
    const char *at;
    while ((at = strstr(line, "@VERSION@")) != NULL) {
        fwrite(line, 1, (size_t)(at - line), out);
        fputs(version, out);
        line = at + strlen("@VERSION@");
    }
    fputs(line, out);
}

int
main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: rbgw_mkman TEMPLATE OUTPUT VERSION\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "r");
    if (in == NULL) {
        perror(argv[1]);
        return 1;
    }
    FILE *out = fopen(argv[2], "w");
    if (out == NULL) {
        perror(argv[2]);
        fclose(in);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) != -1) {
        if (strcmp(line, "@KEYS@\n") == 0) {
            rbgw_config_man_keys(out, false);
        } else if (strcmp(line, "@FILE_KEYS@\n") == 0) {
            rbgw_config_man_keys(out, true);
        } else if (strcmp(line, "@UPSTREAM_OPTIONS@\n") == 0) {
            rbgw_config_man_upstream_opts(out);
        } else if (strcmp(line, "@ADMIN_OPTIONS@\n") == 0) {
            rbgw_config_man_admin_opts(out);
        } else {
            copy_line(out, line, argv[3]);
        }
    }
    free(line);
    fclose(in);
    if (fclose(out) != 0) {
        perror(argv[2]);
        return 1;
    }
    return 0;
}
