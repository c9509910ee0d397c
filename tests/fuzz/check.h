/* check.h: the accounting oracles shared by the fuzz harness (fuzz_run.c) and the corpus driver
 * (driver.c). A violated oracle prints what and aborts: libFuzzer reports it as a crash and
 * saves the input; valgrind / the driver exit non-zero. */
#ifndef PF_FUZZ_CHECK_H
#define PF_FUZZ_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyflow.h"

#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "pyflow-fuzz: invariant violated (%s): ", #cond);                  \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fputc('\n', stderr);                                                               \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

static void check_sim(const pf_sim *sim, int mode, const pf_run_info *info)
{
    static pf_stats st; /* large: keep it off the stack */
    uint64_t paths = 0, bytes = 0, reasons = 0;
    uint64_t n;

    memset(&st, 0, sizeof st);
    pf_sim_stats(sim, &st);
    for (int p = 0; p < PF_PATH_COUNT; p++) {
        paths += st.paths[p].packets;
        bytes += st.paths[p].bytes;
    }
    for (int r = 0; r < 64; r++) {
        /* every counted reason is a named one (not PF_R_NONE, not past PF_REASON_COUNT) */
        CHECK(st.reasons[r] == 0 || (r < PF_REASON_COUNT && pf_reason_name(r)[0]),
              "mode %d: %llu packets counted under unnamed reason %d", mode,
              (unsigned long long)st.reasons[r], r);
        reasons += st.reasons[r];
    }
    CHECK(st.packets_total == info->records, "mode %d: packets_total %llu, records %llu", mode,
          (unsigned long long)st.packets_total, (unsigned long long)info->records);
    CHECK(paths == st.packets_total, "mode %d: sum of paths %llu, packets_total %llu", mode,
          (unsigned long long)paths, (unsigned long long)st.packets_total);
    CHECK(reasons == st.packets_total, "mode %d: sum of reasons %llu, packets_total %llu", mode,
          (unsigned long long)reasons, (unsigned long long)st.packets_total);
    CHECK(bytes == st.bytes_total, "mode %d: sum of path bytes %llu, bytes_total %llu", mode,
          (unsigned long long)bytes, (unsigned long long)st.bytes_total);
    CHECK(st.reasons[PF_R_TRUNCATED_RECORD] >= info->truncated_records,
          "mode %d: truncated_record %llu < info.truncated_records %llu", mode,
          (unsigned long long)st.reasons[PF_R_TRUNCATED_RECORD],
          (unsigned long long)info->truncated_records);
    if (mode == PF_MODE_NONE)
        CHECK(st.paths[PF_PATH_SFO].packets == 0 && st.paths[PF_PATH_HFO].packets == 0,
              "mode none: offloaded packets");
    if (mode == PF_MODE_SW)
        CHECK(st.paths[PF_PATH_HFO].packets == 0, "mode sw: hfo packets");

    n = pf_sim_decision_count(sim);
    CHECK(n == info->records, "mode %d: %llu decisions for %llu records", mode,
          (unsigned long long)n, (unsigned long long)info->records);
    {
        /* as pyflow/core.py does it: buffers of max(1, n) bytes, called even when n == 0 */
        uint8_t *pa = malloc(n ? n : 1), *re = malloc(n ? n : 1);
        if (!pa || !re)
            abort();
        CHECK(pf_sim_decisions(sim, pa, re, n) == n, "mode %d: decisions copied", mode);
        for (uint64_t i = 0; i < n; i++)
            CHECK(pa[i] < PF_PATH_COUNT && re[i] < PF_REASON_COUNT && pf_reason_name(re[i])[0],
                  "mode %d: decision %llu = (%u, %u)", mode, (unsigned long long)i, pa[i], re[i]);
        free(pa);
        free(re);
    }
}

/* Checks the return of pf_run_file / pf_run_buffer for an input of `size` bytes. */
static void check_run(int rc, const pf_error_info *err, const pf_run_info *info, uint64_t size)
{
    CHECK(rc <= PF_OK && rc >= PF_E_CANCELLED, "rc %d", rc);
    CHECK(rc != PF_E_CANCELLED && rc != PF_E_ARG && rc != PF_E_OPEN && rc != PF_E_NOMEM,
          "unexpected rc %d (%s)", rc, err->message);
    if (rc) {
        CHECK(err->code == rc, "err.code %d != rc %d", err->code, rc);
        CHECK(err->offset <= size, "error offset %llu past the input (%llu bytes)",
              (unsigned long long)err->offset, (unsigned long long)size);
        CHECK(memchr(err->message, 0, sizeof err->message) != NULL, "message not terminated");
        CHECK(err->message[0] != 0, "empty error message for rc %d", rc);
    } else {
        CHECK(info->file_size == size, "file_size %llu != %llu",
              (unsigned long long)info->file_size, (unsigned long long)size);
        CHECK(info->bytes_read <= size, "bytes_read %llu > %llu",
              (unsigned long long)info->bytes_read, (unsigned long long)size);
    }
}

#endif
