/* run.c: the run driver: reads a capture once, decodes each record once, and feeds it to
 * every simulator of the run (a what-if grid shares one decoded stream). Also the name tables
 * of the public API. */
#include <stdio.h>
#include <string.h>

#include "annotate.h"
#include "conntrack.h"
#include "decode.h"
#include "pcap.h"
#include "sim.h"

static const char *const reason_names[PF_REASON_COUNT] = {
    [PF_R_TRUNCATED_RECORD] = "truncated_record",
    [PF_R_BAD_INTERFACE] = "bad_interface",
    [PF_R_TRUNCATED_HEADER] = "truncated_header",
    [PF_R_BAD_HEADER] = "bad_header",
    [PF_R_UNSUPPORTED_LINKTYPE] = "unsupported_linktype",
    [PF_R_NOT_IP] = "not_ip",
    [PF_R_MULTICAST] = "multicast",
    [PF_R_LINK_LOCAL] = "link_local",
    [PF_R_SAME_SIDE] = "same_side",
    [PF_R_MARTIAN] = "martian",
    [PF_R_OFFLOAD_DISABLED] = "offload_disabled",
    [PF_R_CT_NEW] = "ct_new",
    [PF_R_FLOW_ADD] = "flow_add",
    [PF_R_FLOW_TIMEOUT] = "flow_timeout",
    [PF_R_TCP_NOT_ESTABLISHED] = "tcp_not_established",
    [PF_R_TCP_FIN_RST] = "tcp_fin_rst",
    [PF_R_CT_INVALID] = "ct_invalid",
    [PF_R_CT_TABLE_FULL] = "ct_table_full",
    [PF_R_IPV4_OPTIONS] = "ipv4_options",
    [PF_R_FRAGMENT] = "fragment",
    [PF_R_IPV6_EXT_HEADER] = "ipv6_ext_header",
    [PF_R_TTL_EXPIRED] = "ttl_expired",
    [PF_R_MTU_EXCEEDED] = "mtu_exceeded",
    [PF_R_L4_PROTO] = "l4_proto",
    [PF_R_ICMP_ERROR] = "icmp_error",
    [PF_R_IIF_MISMATCH] = "iif_mismatch",
    [PF_R_NOT_FLOWTABLE_DEVICE] = "not_flowtable_device",
    [PF_R_L4_TRUNCATED] = "l4_truncated",
    [PF_R_ENCAP_UNSUPPORTED] = "encap_unsupported",
    [PF_R_FLOW_OFFLOADED] = "flow_offloaded",
    [PF_R_HW_BIND_PENDING] = "hw_bind_pending",
    [PF_R_PPE_BUCKET_FULL] = "ppe_bucket_full",
    [PF_R_PPE_TABLE_FULL] = "ppe_table_full",
    [PF_R_PPE_IPV6_UNSUPPORTED] = "ppe_ipv6_unsupported",
    [PF_R_PPE_UNSUPPORTED_ENCAP] = "ppe_unsupported_encap",
    [PF_R_WIFI_NO_WED] = "wifi_no_wed",
    [PF_R_WED_2G_EXCLUDED] = "wed_2g_excluded",
    [PF_R_HW_NO_PPE] = "hw_no_ppe",
    [PF_R_HW_AGED] = "hw_aged",
    [PF_R_HW_FORWARDED] = "hw_forwarded",
    [PF_R_RULE_PACKETS_BELOW] = "rule_packets_below_threshold",
    [PF_R_RULE_NOT_MATCHED] = "rule_not_matched",
};

const char *pf_reason_name(int r)
{
    if (r < 0 || r >= PF_REASON_COUNT || !reason_names[r])
        return "";
    return reason_names[r];
}

const char *pf_path_name(int p)
{
    static const char *const names[] = {"slow", "sfo", "hfo", "not_forwarded", "unparsed"};
    return (p >= 0 && p < PF_PATH_COUNT) ? names[p] : "";
}

const char *pf_event_name(int e)
{
    static const char *const names[] = {"flow_add",  "flow_teardown", "flow_del",
                                        "ct_early_drop", "hw_commit", "hw_bind",
                                        "hw_refused", "hw_age_out", "hw_remove"};
    return (e >= 0 && e < PF_EV_COUNT) ? names[e] : "";
}

const char *pf_strerror(int code)
{
    switch (code) {
    case PF_OK: return "success";
    case PF_E_NOMEM: return "out of memory";
    case PF_E_OPEN: return "cannot open file";
    case PF_E_EMPTY: return "file is empty";
    case PF_E_FORMAT: return "not a pcap or pcapng file";
    case PF_E_TRUNCATED: return "file is truncated";
    case PF_E_CORRUPT: return "file is corrupt";
    case PF_E_ARG: return "invalid argument";
    case PF_E_IO: return "write error";
    case PF_E_CANCELLED: return "cancelled";
    default: return "unknown error";
    }
}

static int set_err(pf_error_info *err, int code, uint64_t offset, const char *msg)
{
    if (err) {
        err->code = code;
        err->offset = offset;
        snprintf(err->message, sizeof err->message, "%s", msg);
    }
    return code;
}

static int run_reader(pf_reader *r, pf_sim *const *sims, uint32_t nsims, const pf_run_opts *opts,
                      pf_annotator *ann, pf_run_info *info, pf_error_info *err)
{
    pf_record rec;
    pf_decoded dec;
    uint64_t every = (opts && opts->progress) ? opts->progress_every : 0;
    uint64_t next_progress = every;
    int rc = PF_OK;
    info->file_size = pf_reader_size(r);
    info->is_pcapng = pf_reader_is_pcapng(r);
    pf_sim_share_routes(sims, nsims);
    for (;;) {
        int n = pf_reader_next(r, &rec, err);
        if (n < 0) {
            rc = n;
            info->stopped_early = 1;
            break;
        }
        if (n == 0)
            break;
        info->records++;
        const pf_reader_iface *itf = rec.if_id >= 0 ? pf_reader_iface_get(r, (uint32_t)rec.if_id) : NULL;
        rec.if_name = itf ? itf->name : "";
        if (rec.bad_record == PF_R_TRUNCATED_RECORD)
            info->truncated_records++;
        if (!rec.bad_record) {
            pf_decode(&rec, &dec);
            if (dec.status == PF_DEC_OK && pf_ct_tcp_udp_with_ports(&dec)) {
                /* every simulator looks a TCP/UDP packet up: key and hash once for all of them */
                pf_ct_key_fill(&dec);
                for (uint32_t i = 0; i < nsims; i++)
                    pf_sim_prefetch(sims[i], &dec);
            }
        } else {
            memset(&dec, 0, sizeof dec);
        }
        uint8_t path0 = 0, reason0 = 0;
        for (uint32_t i = 0; i < nsims; i++) {
            int prc = pf_sim_packet(sims[i], &rec, &dec, i ? NULL : &path0, i ? NULL : &reason0,
                                    NULL);
            if (prc)
                return set_err(err, prc, rec.file_offset, "out of memory keeping decisions");
        }
        if (ann) {
            /* the decision of the first simulator, as a pcapng packet comment */
            char tuple[160], hw[96], comment[320];
            int clen = 0;
            if (nsims) {
                pf_sim_last_tuple(sims[0], tuple, sizeof tuple);
                pf_sim_last_hw(sims[0], hw, sizeof hw);
                clen = pf_annotate_comment(comment, sizeof comment, path0, reason0, tuple, hw);
            }
            int arc = pf_annotate_packet(ann, &rec, r, comment, (size_t)clen);
            if (arc)
                return set_err(err, arc, rec.file_offset, "cannot write the annotated output");
        }
        if (every && info->records >= next_progress) {
            next_progress += every;
            if (opts->progress(opts->progress_ctx, info->records, pf_reader_offset(r),
                               info->file_size))
                return set_err(err, PF_E_CANCELLED, pf_reader_offset(r), "cancelled");
        }
    }
    info->bytes_read = pf_reader_offset(r);
    info->n_capture_ifaces = pf_reader_iface_count(r);
    for (uint32_t i = 0; i < nsims; i++) {
        int frc = pf_sim_finish(sims[i]);
        if (frc && !rc)
            rc = set_err(err, frc, 0, "cannot write the decision log");
    }
    return rc;
}

static int run_common(pf_reader *r, const char *input_path, pf_sim *const *sims, uint32_t nsims,
                      const pf_run_opts *opts, pf_run_info *info, pf_error_info *err)
{
    pf_annotator *ann = NULL;
    if (opts && opts->annotate_path) {
        int arc = pf_annotate_open(opts->annotate_path, input_path, &ann, err);
        if (arc) {
            pf_reader_close(r);
            return arc;
        }
    }
    int rc = run_reader(r, sims, nsims, opts, ann, info, err);
    pf_error_info aerr;
    int crc = pf_annotate_close(ann, &aerr);
    if (crc && (rc == PF_OK || rc == PF_E_IO)) {
        /* the annotated output failed (maybe mid-run): its message names the file and errno */
        if (err)
            *err = aerr;
        rc = crc;
    }
    pf_reader_close(r);
    return rc;
}

int pf_run_file(const char *path, pf_sim *const *sims, uint32_t nsims, const pf_run_opts *opts,
                pf_run_info *info, pf_error_info *err)
{
    memset(info, 0, sizeof *info);
    if (err)
        memset(err, 0, sizeof *err);
    pf_reader *r = NULL;
    int rc = pf_reader_open(path, &r, err);
    if (rc)
        return rc;
    return run_common(r, path, sims, nsims, opts, info, err);
}

int pf_run_buffer(const uint8_t *buf, uint64_t len, pf_sim *const *sims, uint32_t nsims,
                  const pf_run_opts *opts, pf_run_info *info, pf_error_info *err)
{
    memset(info, 0, sizeof *info);
    if (err)
        memset(err, 0, sizeof *err);
    pf_reader *r = NULL;
    int rc = pf_reader_open_mem(buf, (size_t)len, &r, err);
    if (rc)
        return rc;
    return run_common(r, NULL, sims, nsims, opts, info, err);
}
