/* annotate_test.c: standalone driver for csrc/annotate.c (used by tests/test_annotate.py until
 * the writer is wired into run.c). Built from every C file of csrc.
 *
 *   annotate_test fixed IN OUT      every record written with the comment
 *                                   "pyflow path=<index % 5> reason=<index % 40, or not_ip when
 *                                   unnamed> flow=test i=<index>"
 *   annotate_test sim MODE IN OUT   runs one simulator (MODE none|sw|hw, default config) over IN
 *                                   the way run.c does and writes its decisions (path, reason,
 *                                   flow tuple) as comments
 *
 * Prints one JSON line: {"records":N,"written":N,"paths":{"slow":N,...}} (packets per path
 * written in the comments; sim mode adds "sim_paths": pf_sim_stats' per-path packets) and exits
 * 0, or prints the error on stderr and exits 1. */
#include <stdio.h>
#include <string.h>

#include "annotate.h"
#include "decode.h"
#include "pcap.h"
#include "sim.h"

static int fail(const char *what, const pf_error_info *e)
{
    fprintf(stderr, "%s: %s (%s)\n", what, e->message, pf_strerror(e->code));
    return 1;
}

int main(int argc, char **argv)
{
    int sim_mode = -1;
    const char *in, *out;
    if (argc == 4 && strcmp(argv[1], "fixed") == 0) {
        in = argv[2];
        out = argv[3];
    } else if (argc == 5 && strcmp(argv[1], "sim") == 0) {
        sim_mode = strcmp(argv[2], "none") == 0 ? PF_MODE_NONE
                   : strcmp(argv[2], "hw") == 0 ? PF_MODE_HW
                                                 : PF_MODE_SW;
        in = argv[3];
        out = argv[4];
    } else {
        fprintf(stderr, "usage: %s fixed IN OUT | %s sim MODE IN OUT\n", argv[0], argv[0]);
        return 2;
    }

    pf_error_info err;
    memset(&err, 0, sizeof err);
    pf_reader *r = NULL;
    if (pf_reader_open(in, &r, &err))
        return fail("open input", &err);
    pf_sim *sim = NULL;
    if (sim_mode >= 0) {
        pf_config cfg;
        pf_config_default(&cfg);
        cfg.mode = sim_mode;
        if (pf_sim_create(&cfg, &sim, &err))
            return fail("sim", &err);
    }
    pf_annotator *a = NULL;
    if (pf_annotate_open(out, in, &a, &err))
        return fail("open output", &err);

    uint64_t records = 0, paths[PF_PATH_COUNT] = {0};
    int rc = 0;
    pf_record rec;
    pf_decoded dec;
    char tuple[160], comment[512];
    for (;;) {
        int n = pf_reader_next(r, &rec, &err);
        if (n < 0) {
            fprintf(stderr, "reader stopped: %s\n", err.message);
            break; /* like run.c: keep what was read */
        }
        if (n == 0)
            break;
        records++;
        int len;
        if (sim) {
            /* as run.c does it today */
            if (!rec.bad_record)
                pf_decode(&rec, &dec);
            else
                memset(&dec, 0, sizeof dec);
            uint8_t path = 0, reason = 0;
            uint64_t flow_id = 0;
            if (pf_sim_packet(sim, &rec, &dec, &path, &reason, &flow_id)) {
                fprintf(stderr, "sim: out of memory\n");
                rc = 1;
                break;
            }
            /* the tuple, as the proposed pf_sim_last_tuple() would give it */
            tuple[0] = '\0';
            if (flow_id && dec.status == PF_DEC_OK) {
                pf_ct_key key;
                int dir_is_a;
                pf_ct_key_from_packet(&dec, &key, &dir_is_a);
                uint32_t ct = pf_ct_lookup(&sim->ct, &key, rec.ts_ns);
                if (ct != PF_CT_NONE && sim->ct.conns[ct].id == flow_id)
                    pf_ct_format_tuple(&sim->ct.conns[ct], tuple, sizeof tuple);
            }
            if (path < PF_PATH_COUNT)
                paths[path]++;
            len = pf_annotate_comment(comment, sizeof comment, path, reason, tuple, NULL);
        } else {
            char extra[64];
            snprintf(extra, sizeof extra, "i=%llu", (unsigned long long)rec.index);
            int path = (int)(rec.index % PF_PATH_COUNT);
            int reason = (int)(rec.index % PF_REASON_COUNT);
            if (!*pf_reason_name(reason))
                reason = PF_R_NOT_IP;
            paths[path]++;
            len = pf_annotate_comment(comment, sizeof comment, path, reason, "test", extra);
        }
        int arc = pf_annotate_packet(a, &rec, r, comment, (size_t)len);
        if (arc) {
            fprintf(stderr, "annotate: %s\n", pf_strerror(arc));
            rc = 1;
            break;
        }
    }
    uint64_t written = pf_annotate_count(a);
    if (pf_annotate_close(a, &err)) {
        fail("close output", &err);
        rc = 1;
    }
    printf("{\"records\":%llu,\"written\":%llu,\"paths\":{", (unsigned long long)records,
           (unsigned long long)written);
    for (int p = 0; p < PF_PATH_COUNT; p++)
        printf("%s\"%s\":%llu", p ? "," : "", pf_path_name(p), (unsigned long long)paths[p]);
    printf("}");
    if (sim) {
        /* the simulator's own statistics (what pyflow.replay reports as stats["paths"]) */
        pf_sim_finish(sim);
        pf_stats st;
        pf_sim_stats(sim, &st);
        printf(",\"sim_paths\":{");
        for (int p = 0; p < PF_PATH_COUNT; p++)
            printf("%s\"%s\":%llu", p ? "," : "", pf_path_name(p),
                   (unsigned long long)st.paths[p].packets);
        printf("}");
    }
    printf("}\n");
    pf_sim_destroy(sim);
    pf_reader_close(r);
    return rc;
}
