/* fuzz_run.c: libFuzzer (or AFL++) harness over the whole C core.
 *
 * One input = one whole capture file image (pcap or pcapng). It is fed with pf_run_buffer, in
 * one call, to three simulators created with pf_config_default: mode none, sw and hw (the hw one
 * also writes its JSON decision log to /dev/null, so the log formatting is exercised), with
 * per-packet decisions kept and a progress callback every 7 records (PF_FUZZ_ANNOTATE=1 adds the
 * annotated pcapng output, to /dev/null).
 *
 * One deviation from the defaults: ct_max is 1024 (env PF_FUZZ_CT_MAX overrides it, e.g. 65536
 * for the exact defaults). pf_sim_create initialises its tables eagerly (O(ct_max)): with the
 * default 65536 the three sims cost ~46 ms per input under ASan (20 exec/s); with 1024 about
 * 2 ms, and a small table lets the fuzzer reach table-full / early-drop paths.
 *
 * Oracles (besides ASan / UBSan / libFuzzer's timeout and RSS limits):
 *  - an error code is one of enum pf_error and its offset lies inside the input;
 *  - every record is counted exactly once in every simulator: packets_total == info.records ==
 *    sum of the path counters == sum of the reason counters == number of decisions kept, and the
 *    path bytes add up to bytes_total; every kept decision has a valid path and reason.
 * A violated oracle aborts (libFuzzer reports it as a crash and saves the input).
 *
 * Build: see tests/fuzz/fuzz.mk (`make fuzz`). Built with -DPF_FUZZ_MAIN it is a plain program
 * that replays the files named on its command line (for gcc builds, AFL++ or debugging). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"


#define NSIMS 3

static int progress_cb(void *ctx, uint64_t records, uint64_t done, uint64_t total)
{
    (void)ctx;
    (void)records;
    if (done > total) {
        fprintf(stderr, "pyflow-fuzz: progress bytes_done %llu > bytes_total %llu\n",
                (unsigned long long)done, (unsigned long long)total);
        abort();
    }
    return 0;
}

static uint32_t fuzz_ct_max(void)
{
    static uint32_t v;
    if (!v) {
        const char *e = getenv("PF_FUZZ_CT_MAX");
        v = e && *e ? (uint32_t)strtoul(e, NULL, 10) : 1024u;
        if (v < 16)
            v = 16;
    }
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int modes[NSIMS] = {PF_MODE_NONE, PF_MODE_SW, PF_MODE_HW};
    pf_sim *sims[NSIMS] = {0};
    pf_config cfg;
    pf_error_info err;
    pf_run_info info;
    pf_run_opts opts;
    int rc;

    for (int i = 0; i < NSIMS; i++) {
        pf_config_default(&cfg);
        cfg.mode = modes[i];
        cfg.ct_max = fuzz_ct_max();
        cfg.keep_decisions = 1;
        if (modes[i] == PF_MODE_HW)
            cfg.log_path = "/dev/null";
        memset(&err, 0, sizeof err);
        rc = pf_sim_create(&cfg, &sims[i], &err);
        CHECK(rc == PF_OK && sims[i], "pf_sim_create mode %d: %d %s", modes[i], rc, err.message);
    }
    memset(&opts, 0, sizeof opts);
    opts.progress = progress_cb;
    opts.progress_every = 7;
    /* PF_FUZZ_ANNOTATE=1: also write the annotated pcapng (to /dev/null), once run.c supports it */
    if (getenv("PF_FUZZ_ANNOTATE"))
        opts.annotate_path = "/dev/null";
    memset(&err, 0, sizeof err);
    /* an empty input must be told from a NULL buffer: never pass NULL */
    rc = pf_run_buffer(size ? data : (const uint8_t *)"", (uint64_t)size, sims, NSIMS, &opts,
                       &info, &err);
    check_run(rc, &err, &info, (uint64_t)size);
    if (rc == PF_OK || rc == PF_E_CORRUPT) {
        for (int i = 0; i < NSIMS; i++)
            check_sim(sims[i], modes[i], &info);
    }
    for (int i = 0; i < NSIMS; i++)
        pf_sim_destroy(sims[i]);
    return 0;
}

#ifdef PF_FUZZ_MAIN
/* Replay mode: ./fuzz_run_replay FILE... (AFL++: afl-fuzz ... -- ./fuzz_run_afl @@). */
int main(int argc, char **argv)
{
    for (int a = 1; a < argc; a++) {
        FILE *f = fopen(argv[a], "rb");
        uint8_t *buf;
        long sz;
        if (!f) {
            perror(argv[a]);
            return 2;
        }
        if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
            fclose(f);
            return 2;
        }
        buf = malloc(sz ? (size_t)sz : 1); /* exact size: ASan sees any overread */
        if (!buf || fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
            fclose(f);
            return 2;
        }
        fclose(f);
        LLVMFuzzerTestOneInput(buf, (size_t)sz);
        free(buf);
    }
    return 0;
}
#endif
