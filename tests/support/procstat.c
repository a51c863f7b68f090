/*
 * procstat.c: see procstat.h.
 *
 * Socket ownership: /proc/<pid>/fd/N links to "socket:[INODE]" for a socket; /proc/net/unix and
 * /proc/net/tcp{,6} list every socket of the network namespace with its inode, so the ones of
 * pid are those whose inode is among its fds.
 */
#include "procstat.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long
rbgw_test_status_kb(pid_t pid, const char *field)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    char line[256];
    size_t flen = strlen(field);
    long kb = -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            kb = strtol(line + flen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

/* The socket inodes among pid's fds (malloc'd, *n of them); NULL with *n = -1 on failure. */
static unsigned long *
socket_inodes(pid_t pid, int *n)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    *n = -1;
    if (!d) {
        return NULL;
    }
    unsigned long *v = NULL;
    int count = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char link[320], target[64];
        snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
        ssize_t len = readlink(link, target, sizeof(target) - 1);
        if (len <= 0) {
            continue;
        }
        target[len] = '\0';
        unsigned long ino;
        if (sscanf(target, "socket:[%lu]", &ino) != 1) {
            continue;
        }
        if (count == cap) {
            cap = cap ? 2 * cap : 64;
            unsigned long *nv = realloc(v, (size_t)cap * sizeof(*v));
            if (!nv) {
                abort();
            }
            v = nv;
        }
        v[count++] = ino;
    }
    closedir(d);
    *n = count;
    return v;
}

static int
has(const unsigned long *v, int n, unsigned long ino)
{
    for (int i = 0; i < n; i++) {
        if (v[i] == ino) {
            return 1;
        }
    }
    return 0;
}

int
rbgw_test_fd_count(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d) {
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}

int
rbgw_test_children(pid_t pid)
{
    char path[96];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    int n = 0;
    long child;
    while (fscanf(f, "%ld", &child) == 1) {
        n++;
    }
    fclose(f);
    return n;
}

int
rbgw_test_unix_conns(pid_t pid, const char *path)
{
    int n;
    unsigned long *mine = socket_inodes(pid, &n);
    if (n < 0) {
        return -1;
    }
    FILE *f = fopen("/proc/net/unix", "r");
    if (!f) {
        free(mine);
        return -1;
    }
    /* "Num RefCount Protocol Flags Type St Inode Path"; St 03 = connected. */
    char line[512];
    int count = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned st;
        unsigned long ino;
        char p[256] = "";
        if (sscanf(line, "%*s %*s %*s %*s %*s %x %lu %255s", &st, &ino, p) >= 2 && st == 3 &&
            strcmp(p, path) == 0 && has(mine, n, ino)) {
            count++;
        }
    }
    fclose(f);
    free(mine);
    return count;
}

static int
tcp_conns_in(const char *table, const unsigned long *mine, int n, int port)
{
    FILE *f = fopen(table, "r");
    if (!f) {
        return 0; /* no IPv6, say */
    }
    /* "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout
     * inode"; addresses are HEXADDR:HEXPORT, st 0A = LISTEN. */
    char line[512];
    int count = 0;
    while (fgets(line, sizeof(line), f)) {
        char local[64];
        unsigned st;
        unsigned long ino;
        if (sscanf(line, "%*s %63s %*s %x %*s %*s %*s %*s %*s %lu", local, &st, &ino) != 3) {
            continue;
        }
        const char *colon = strrchr(local, ':');
        if (colon && strtol(colon + 1, NULL, 16) == port && st != 0x0A && has(mine, n, ino)) {
            count++;
        }
    }
    fclose(f);
    return count;
}

int
rbgw_test_tcp_conns(pid_t pid, int port)
{
    int n;
    unsigned long *mine = socket_inodes(pid, &n);
    if (n < 0) {
        return -1;
    }
    int count = tcp_conns_in("/proc/net/tcp", mine, n, port) +
                tcp_conns_in("/proc/net/tcp6", mine, n, port);
    free(mine);
    return count;
}
