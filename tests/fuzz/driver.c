/* driver.c: runs capture files through the public C API, for valgrind memcheck and for replaying
 * fuzzer findings without libFuzzer.
 *
 * usage: driver [-q] [-c CT_MAX] PATH...
 *   PATH: a capture file or a directory (its regular files, not recursive).
 * Every file goes through pf_run_file once with three simulators (mode none, sw, hw; the hw one
 * logs to /dev/null, decisions kept), then once more through pf_run_buffer from an exact-size
 * heap copy; the accounting oracles of check.h are applied to both. Exit status 0 when every
 * file was processed (a clean PF_E_* error for a bad capture is fine), 1 on a failed oracle
 * (abort), 2 on a usage / I/O problem of the driver itself. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"


#define NSIMS 3

static int quiet;
static uint32_t ct_max; /* 0: default */
static unsigned long n_files, n_errors, n_records;

static int progress_cb(void *ctx, uint64_t records, uint64_t done, uint64_t total)
{
    (void)ctx;
    (void)records;
    CHECK(done <= total, "progress %llu > %llu", (unsigned long long)done, (unsigned long long)total);
    return 0;
}

static void create_sims(pf_sim **sims)
{
    static const int modes[NSIMS] = {PF_MODE_NONE, PF_MODE_SW, PF_MODE_HW};
    for (int i = 0; i < NSIMS; i++) {
        pf_config cfg;
        pf_error_info err;
        pf_config_default(&cfg);
        cfg.mode = modes[i];
        if (ct_max)
            cfg.ct_max = ct_max;
        cfg.keep_decisions = 1;
        if (modes[i] == PF_MODE_HW)
            cfg.log_path = "/dev/null";
        memset(&err, 0, sizeof err);
        int rc = pf_sim_create(&cfg, &sims[i], &err);
        CHECK(rc == PF_OK && sims[i], "pf_sim_create mode %d: %d %s", modes[i], rc, err.message);
    }
}

static void check_all(pf_sim **sims, int rc, const pf_run_info *info)
{
    static const int modes[NSIMS] = {PF_MODE_NONE, PF_MODE_SW, PF_MODE_HW};
    if (rc == PF_OK || rc == PF_E_CORRUPT)
        for (int i = 0; i < NSIMS; i++)
            check_sim(sims[i], modes[i], info);
    for (int i = 0; i < NSIMS; i++)
        pf_sim_destroy(sims[i]);
}

static int run_one(const char *path)
{
    pf_sim *sims[NSIMS];
    pf_error_info err, err2;
    pf_run_info info, info2;
    pf_run_opts opts;
    struct stat st;
    int rc, rc2;

    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    memset(&opts, 0, sizeof opts);
    opts.progress = progress_cb;
    opts.progress_every = 1000;

    /* 1. through the file (mmap) path */
    create_sims(sims);
    rc = pf_run_file(path, sims, NSIMS, &opts, &info, &err);
    if (rc != PF_E_EMPTY)
        check_run(rc, &err, &info, (uint64_t)st.st_size);
    check_all(sims, rc, &info);

    /* 2. through the memory path, from an exact-size heap copy */
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 2;
    }
    size_t sz = (size_t)st.st_size;
    uint8_t *buf = malloc(sz ? sz : 1);
    if (!buf || fread(buf, 1, sz, f) != sz) {
        fprintf(stderr, "%s: read error\n", path);
        fclose(f);
        free(buf);
        return 2;
    }
    fclose(f);
    create_sims(sims);
    rc2 = pf_run_buffer(buf, (uint64_t)sz, sims, NSIMS, &opts, &info2, &err2);
    if (rc2 != PF_E_EMPTY)
        check_run(rc2, &err2, &info2, (uint64_t)sz);
    check_all(sims, rc2, &info2);
    free(buf);

    CHECK(rc == rc2 && info.records == info2.records && (rc == PF_OK || err.offset == err2.offset),
          "%s: file path (rc %d, %llu records) and memory path (rc %d, %llu records) differ", path,
          rc, (unsigned long long)info.records, rc2, (unsigned long long)info2.records);
    n_files++;
    n_records += info.records;
    if (rc)
        n_errors++;
    if (!quiet) {
        if (rc)
            printf("%s: %llu records, error %d at byte %llu: %s\n", path,
                   (unsigned long long)info.records, rc, (unsigned long long)err.offset, err.message);
        else
            printf("%s: %llu records\n", path, (unsigned long long)info.records);
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return 2;
    }
    if (!S_ISDIR(st.st_mode))
        return run_one(path);
    DIR *d = opendir(path);
    if (!d) {
        perror(path);
        return 2;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *names);
            if (!nn)
                abort();
            names = nn;
        }
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        names[n] = malloc(len);
        if (!names[n])
            abort();
        snprintf(names[n], len, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (!rc)
            rc = run_one(names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    int a = 1, rc = 0;
    for (; a < argc && argv[a][0] == '-'; a++) {
        if (!strcmp(argv[a], "-q"))
            quiet = 1;
        else if (!strcmp(argv[a], "-c") && a + 1 < argc)
            ct_max = (uint32_t)strtoul(argv[++a], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [-q] [-c CT_MAX] PATH...\n", argv[0]);
            return 2;
        }
    }
    if (a == argc) {
        fprintf(stderr, "usage: %s [-q] [-c CT_MAX] PATH...\n", argv[0]);
        return 2;
    }
    for (; a < argc && !rc; a++)
        rc = run_path(argv[a]);
    printf("driver: %lu files, %lu records, %lu files with a clean error\n", n_files, n_records,
           n_errors);
    return rc;
}
