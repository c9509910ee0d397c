/* sim.c: one router configuration. For every packet it decides the path the Linux kernel
 * would take (see ../shared/docs/kernel-sfo.md) and accounts for it. Prefix: pf_sim_. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* strdup */
#endif
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ppe.h"
#include "sim.h"

#define NS_PER_S 1000000000LL

/* ---- addresses and the default topology -------------------------------------------------- */

enum addr_class { ADDR_WAN, ADDR_LAN, ADDR_MULTICAST, ADDR_LINK_LOCAL6, ADDR_MARTIAN };

static int prefix_match(const uint8_t *a, const uint8_t *p, unsigned len)
{
    unsigned full = len / 8, rest = len % 8;
    if (memcmp(a, p, full) != 0)
        return 0;
    if (!rest)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (p[full] & mask);
}

/* IPv4 class by first octet: 0 and 127 martian, 224-239 multicast, 240-254 reserved (martian),
 * 255 broadcast or reserved, 10 LAN, the rest WAN (0). The LAN ranges that need the second octet
 * (172.16/12, 192.168/16, 169.254/16) are a mask and value on it: LAN when
 * (a[1] & lan_mask) + 1 == lan_value_plus1 (0 never matches). One table and no branch: LAN or
 * WAN is the packet's direction, which a branch would mispredict. */
typedef struct v4_class {
    uint8_t cls, lan_mask;
    uint16_t lan_value_plus1;
} v4_class;

#define V4_MC {ADDR_MULTICAST, 0, 0}
#define V4_MARTIAN {ADDR_MARTIAN, 0, 0}
static const v4_class v4_first_octet[256] = {
    [0] = V4_MARTIAN, [127] = V4_MARTIAN, [10] = {ADDR_LAN, 0, 0},
    [172] = {ADDR_WAN, 0xf0, 16 + 1}, [192] = {ADDR_WAN, 0xff, 168 + 1}, [169] = {ADDR_WAN, 0xff, 254 + 1},
    [224] = V4_MC, [225] = V4_MC, [226] = V4_MC, [227] = V4_MC,
    [228] = V4_MC, [229] = V4_MC, [230] = V4_MC, [231] = V4_MC,
    [232] = V4_MC, [233] = V4_MC, [234] = V4_MC, [235] = V4_MC,
    [236] = V4_MC, [237] = V4_MC, [238] = V4_MC, [239] = V4_MC,
    [240] = V4_MARTIAN, [241] = V4_MARTIAN, [242] = V4_MARTIAN, [243] = V4_MARTIAN,
    [244] = V4_MARTIAN, [245] = V4_MARTIAN, [246] = V4_MARTIAN, [247] = V4_MARTIAN,
    [248] = V4_MARTIAN, [249] = V4_MARTIAN, [250] = V4_MARTIAN, [251] = V4_MARTIAN,
    [252] = V4_MARTIAN, [253] = V4_MARTIAN, [254] = V4_MARTIAN, [255] = V4_MARTIAN,
};

/* LAN = RFC 1918, IPv4 link-local, IPv6 ULA and the configured LAN prefixes; everything else
 * unicast is WAN. */
static int in_lan_prefixes(const pf_config *cfg, uint8_t l3, const uint8_t *a)
{
    for (uint32_t i = 0; i < cfg->n_lan_prefixes && i < 16; i++)
        if (cfg->lan_prefix_l3[i] == l3 && prefix_match(a, cfg->lan_prefix_addr[i], cfg->lan_prefix_len[i]))
            return 1;
    return 0;
}

static inline int addr_class(const pf_config *cfg, uint8_t l3, const uint8_t *a)
{
    if (cfg->n_lan_prefixes && in_lan_prefixes(cfg, l3, a))
        return ADDR_LAN;
    if (l3 == 4) {
        const v4_class *e = &v4_first_octet[a[0]];
        const unsigned c = e->cls | (unsigned)((a[1] & e->lan_mask) + 1u == e->lan_value_plus1); /* WAN 0, LAN 1 */
        if (__builtin_expect(c == ADDR_MARTIAN, 0) && a[0] == 255 && a[1] == 255 && a[2] == 255 &&
            a[3] == 255)
            return ADDR_MULTICAST; /* limited broadcast */
        return (int)c;
    }
    if (a[0] == 0xff)
        return ADDR_MULTICAST;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return ADDR_LINK_LOCAL6; /* ip6_forward never forwards link-local scope */
    if ((a[0] & 0xfe) == 0xfc)
        return ADDR_LAN;
    if (a[0] == 0) {
        static const uint8_t zero[16];
        if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1))
            return ADDR_MARTIAN; /* :: and ::1 */
    }
    return ADDR_WAN;
}

/* ---- decision log ------------------------------------------------------------------------ */

static void log_time(FILE *f, int64_t ns)
{
    int64_t s = ns / NS_PER_S, r = ns % NS_PER_S;
    if (r < 0) {
        r += NS_PER_S;
        s -= 1;
    }
    fprintf(f, "%" PRId64 ".%09" PRId64, s, r);
}

static void log_event(pf_sim *s, int event, uint32_t ct, int64_t now, const char *extra)
{
    if (!s->log)
        return;
    char tuple[160];
    pf_conn *c = &s->ct.conns[ct];
    pf_ct_format_tuple(c, tuple, sizeof tuple);
    fprintf(s->log, "{\"event\":\"%s\",\"t\":", pf_event_name(event));
    log_time(s->log, now);
    fprintf(s->log, ",\"flow\":%" PRIu64 ",\"tuple\":\"%s\"%s}\n", c->id, tuple, extra ? extra : "");
}

static const char *cause_name(int cause)
{
    switch (cause) {
    case PF_FT_TIMEOUT: return "timeout";
    case PF_FT_FIN_RST: return "fin_rst";
    default: return "ct_gone";
    }
}

/* flowtable callback: teardown and deletion events, hardware removal */
static void on_flow_event(void *ctx, uint32_t ct, int event, int cause, int64_t now)
{
    pf_sim *s = ctx;
    if (event == PF_EV_FLOW_TEARDOWN) {
        if (s->acc && s->acc[ct].live && s->acc[ct].offloaded) {
            s->acc[ct].sum.offloaded_ns += now - s->acc[ct].added_ns;
            s->acc[ct].offloaded = 0;
            s->acc[ct].sum.teardown = (uint8_t)(cause + 1);
        }
        if (cause == PF_FT_TIMEOUT)
            s->stats.flows_timeout++;
        else if (cause == PF_FT_FIN_RST)
            s->stats.flows_teardown_fin_rst++;
        /* nf_flow_offload_del: the hardware entries go with the teardown */
        if (s->ppe && (s->ft.flows[ct].flags & PF_FLOW_HW)) {
            pf_ppe_remove(s->ppe, ct, now);
            s->stats.hw_removals++;
            if (s->log)
                log_event(s, PF_EV_HW_REMOVE, ct, now, NULL);
        }
    }
    if (s->log) {
        char extra[48];
        snprintf(extra, sizeof extra, ",\"cause\":\"%s\"", cause_name(cause));
        log_event(s, event, ct, now, extra);
    }
}

static void on_ppe_event(void *ctx, uint32_t ct, int dir, int event, int64_t now)
{
    pf_sim *s = ctx;
    if (s->acc && event == PF_EV_HW_BIND && s->acc[ct].live)
        s->acc[ct].sum.hw_bound |= (uint8_t)(1u << dir);
    if (s->log && s->ct.conns[ct].in_use) {
        char extra[32];
        snprintf(extra, sizeof extra, ",\"dir\":\"%s\"", dir ? "reply" : "orig");
        log_event(s, event, ct, now, extra);
    }
}

static int64_t hw_last_hit(void *ctx, uint32_t ct)
{
    pf_sim *s = ctx;
    return s->ppe ? pf_ppe_last_hit(s->ppe, ct) : INT64_MIN;
}

static void on_ct_evict(void *ctx, uint32_t ct)
{
    pf_sim *s = ctx;
    pf_ft_ct_gone(&s->ft, ct, s->last_ts_ns);
    if (s->log)
        log_event(s, PF_EV_CT_EARLY_DROP, ct, s->last_ts_ns, NULL);
}

/* ---- connection summaries (cfg.keep_flows) ------------------------------------------------- */

static void acc_start(pf_sim *s, uint32_t ct, int64_t now)
{
    if (!s->acc)
        return;
    const pf_conn *c = &s->ct.conns[ct];
    pf_flow_acc *a = &s->acc[ct];
    memset(a, 0, sizeof *a);
    a->live = 1;
    pf_flow_summary *f = &a->sum;
    f->id = c->id;
    f->first_ns = f->last_ns = now;
    f->l3 = c->key.l3;
    f->proto = c->key.proto;
    memcpy(f->src, c->orig_is_a ? c->key.addr_a : c->key.addr_b, 16);
    memcpy(f->dst, c->orig_is_a ? c->key.addr_b : c->key.addr_a, 16);
    f->sport = c->orig_is_a ? c->key.port_a : c->key.port_b;
    f->dport = c->orig_is_a ? c->key.port_b : c->key.port_a;
    f->iface[0] = f->iface[1] = -1;
}

static void acc_emit(pf_sim *s, uint32_t ct, int end)
{
    pf_flow_acc *a = &s->acc[ct];
    if (!a->live)
        return;
    a->live = 0;
    a->sum.end = (uint8_t)end;
    a->sum.tcp_state = s->ct.conns[ct].tcp_state;
    if (a->offloaded) /* still in the flowtable */
        a->sum.offloaded_ns += s->last_ts_ns - a->added_ns;
    if (s->flows_count == s->flows_cap) {
        uint64_t cap = s->flows_cap ? s->flows_cap * 2 : 1024;
        pf_flow_summary *nf = realloc(s->flows_done, cap * sizeof *nf);
        if (!nf) {
            s->flows_nomem = 1;
            return;
        }
        s->flows_done = nf;
        s->flows_cap = cap;
    }
    s->flows_done[s->flows_count++] = a->sum;
}

static void on_ct_free(void *ctx, uint32_t ct, int why)
{
    pf_sim *s = ctx;
    if (s->acc && why != 4)
        acc_emit(s, ct, why);
}

uint64_t pf_sim_flow_count(const pf_sim *s) { return s->flows_count; }

/* Copies up to n of the `have` records of `size` bytes at src (NULL when none were kept). */
static uint64_t copy_records(void *out, const void *src, uint64_t have, uint64_t n, size_t size)
{
    if (n > have)
        n = have;
    if (n && out) /* src is non-NULL whenever have > 0; memcpy from NULL is undefined even for 0 */
        memcpy(out, src, (size_t)n * size);
    return n;
}

uint64_t pf_sim_flows(const pf_sim *s, pf_flow_summary *out, uint64_t n)
{
    return copy_records(out, s->flows_done, s->flows_count, n, sizeof *out);
}

/* ---- configuration ------------------------------------------------------------------------ */

void pf_config_default(pf_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->mode = PF_MODE_SW;
    cfg->kernel_version = 606; /* OpenWrt 24.10 */
    cfg->ct_max = 65536;
    cfg->tcp_loose = 1;
    /* nf_conntrack_proto_tcp.c tcp_timeouts[], with OpenWrt's
     * nf_conntrack_tcp_timeout_established = 7440 (package/kernel/linux/files/
     * sysctl-nf-conntrack.conf) */
    static const uint32_t tcp[PF_TCP_STATE_COUNT] = {0, 120, 60, 7440, 120, 60, 30, 120, 10, 120, 300, 300};
    memcpy(cfg->tcp_timeouts_s, tcp, sizeof tcp);
    cfg->udp_timeout_s = 60;          /* OpenWrt; upstream 30 */
    cfg->udp_timeout_stream_s = 180;  /* OpenWrt; upstream 120 */
    cfg->icmp_timeout_s = 30;
    cfg->generic_timeout_s = 600;
    cfg->flow_timeout_tcp_s = 30;     /* nf_flowtable_tcp_timeout */
    cfg->flow_timeout_udp_s = 30;     /* nf_flowtable_udp_timeout */
    /* fw4 (ruleset.uc): flowtable with `counter` (since 04a06bd, 2023) and, first in the forward
     * chain, `meta l4proto { tcp, udp } flow offload @ft` */
    cfg->flowtable_counter = 1;
    cfg->rule.present = 1;
    cfg->rule.l4proto_mask = 3;
    /* MT7621 (mtk_ppe.h MTK_PPE_ENTRIES with SHIFT 3, hash_offset 2) */
    cfg->ppe_entries = 8192;
    cfg->ppe_ways = 2;
    cfg->ppe_count = 1;
    cfg->ppe_ipv6 = 1;
    cfg->ppe_mt7621_static = 1;
    cfg->wed_version = 0;
    cfg->wed_2g = 0;
    cfg->ppe_bind_rate = 30;          /* mtk_ppe_start: MTK_PPE_BIND_RATE_BIND = 30 */
    cfg->ppe_check_interval_ms = 100; /* mtk_ppe_check_skb: HZ / 10 */
    cfg->ppe_age_tcp_s = 7;
    cfg->ppe_age_udp_s = 12;
    cfg->ppe_age_tcp_fin_s = 1;
    cfg->ppe_age_unbind_s = 3;
    /* default topology: one Ethernet LAN, one Ethernet WAN, both flowtable devices */
    strcpy(cfg->ifaces[0].name, "lan");
    cfg->ifaces[0].role = PF_ROLE_LAN;
    cfg->ifaces[0].in_flowtable = 1;
    cfg->ifaces[0].mtu = 1500;
    strcpy(cfg->ifaces[1].name, "wan");
    cfg->ifaces[1].role = PF_ROLE_WAN;
    cfg->ifaces[1].in_flowtable = 1;
    cfg->ifaces[1].mtu = 1500;
    cfg->n_ifaces = 2;
    cfg->default_lan_iface = 0;
    cfg->default_wan_iface = 1;
    cfg->dump_at_ns[0] = cfg->dump_at_ns[1] = -1;
}

static int cfg_error(pf_error_info *err, const char *msg)
{
    if (err) {
        err->code = PF_E_ARG;
        err->offset = 0;
        snprintf(err->message, sizeof err->message, "%s", msg);
    }
    return PF_E_ARG;
}

static int cfg_check(const pf_config *c, pf_error_info *err)
{
    if (c->mode < PF_MODE_NONE || c->mode > PF_MODE_HW)
        return cfg_error(err, "mode must be none, sw or hw");
    if (c->ct_max < 16 || c->ct_max > (1u << 26))
        return cfg_error(err, "ct_max must be between 16 and 67108864");
    if (c->n_ifaces < 2 || c->n_ifaces > 16)
        return cfg_error(err, "the topology needs 2 to 16 interfaces");
    if (c->default_lan_iface < 0 || (uint32_t)c->default_lan_iface >= c->n_ifaces ||
        c->default_wan_iface < 0 || (uint32_t)c->default_wan_iface >= c->n_ifaces)
        return cfg_error(err, "default LAN/WAN interface out of range");
    if (c->n_map_rules > 64)
        return cfg_error(err, "at most 64 interface mapping rules");
    for (uint32_t i = 0; i < c->n_map_rules; i++)
        if (c->map_rules[i].iface < 0 || (uint32_t)c->map_rules[i].iface >= c->n_ifaces ||
            c->map_rules[i].kind < PF_MAP_CAPTURE_IF || c->map_rules[i].kind > PF_MAP_SUBNET ||
            (c->map_rules[i].kind == PF_MAP_SUBNET &&
             c->map_rules[i].prefix_len > (c->map_rules[i].l3 == 4 ? 32 : 128)))
            return cfg_error(err, "bad interface mapping rule");
    for (uint32_t i = 0; i < c->n_ifaces; i++)
        if (c->ifaces[i].mtu < 68 || c->ifaces[i].mtu > 65535)
            return cfg_error(err, "interface MTU must be between 68 and 65535");
    for (uint32_t i = 0; i < c->n_lan_prefixes; i++)
        if (i >= 16 || c->lan_prefix_len[i] > (c->lan_prefix_l3[i] == 4 ? 32 : 128))
            return cfg_error(err, "LAN prefix length out of range (at most 16 prefixes)");
    uint32_t all = c->n_ifaces >= 32 ? 0xffffffffu : ((1u << c->n_ifaces) - 1u);
    if ((c->rule.iif_mask & ~all) || (c->rule.oif_mask & ~all) || c->rule.n_saddr > 8 ||
        c->rule.n_daddr > 8 || c->rule.ct_count < 0 || c->rule.ct_count > 2 ||
        c->rule.ct_count_dir < 0 || c->rule.ct_count_dir > 2 || c->rule.ct_count_cmp < 0 ||
        c->rule.ct_count_cmp > PF_CMP_NE)
        return cfg_error(err, "bad offload rule");
    if (c->series_bin_ns < 0)
        return cfg_error(err, "time series bin must be positive");
    if (c->flow_timeout_tcp_s == 0 || c->flow_timeout_udp_s == 0)
        return cfg_error(err, "flow timeouts must be at least 1 s");
    return PF_OK;
}

int pf_sim_create(const pf_config *cfg, pf_sim **out, pf_error_info *err)
{
    *out = NULL;
    int rc = cfg_check(cfg, err);
    if (rc)
        return rc;
    pf_sim *s = calloc(1, sizeof *s);
    if (!s)
        return PF_E_NOMEM;
    s->last_ct = PF_CT_NONE;
    s->route_canon = s;
    for (uint32_t i = 0; i < 16; i++) {
        if (cfg->ifaces[i].in_flowtable)
            s->flowtable_ifaces |= 1u << i;
        if (cfg->ifaces[i].shaped)
            s->shaped_ifaces |= 1u << i;
    }
    s->has_dumps = cfg->dump_path[0] != NULL || cfg->dump_path[1] != NULL;
    s->cfg = *cfg;
    s->cfg.log_path = NULL;
    for (int w = 0; w < 2; w++) {
        s->cfg.dump_path[w] = NULL;
        if (cfg->dump_path[w] && !(s->dump_path[w] = strdup(cfg->dump_path[w]))) {
            pf_sim_destroy(s);
            return PF_E_NOMEM;
        }
    }
    if (pf_ct_init(&s->ct, &s->cfg) || pf_ft_init(&s->ft, &s->cfg, &s->ct)) {
        pf_sim_destroy(s);
        return PF_E_NOMEM;
    }
    s->ct.evict_cb = on_ct_evict;
    s->ct.evict_ctx = s;
    if (cfg->keep_flows) {
        s->acc = calloc(cfg->ct_max, sizeof *s->acc);
        if (!s->acc) {
            pf_sim_destroy(s);
            return PF_E_NOMEM;
        }
        s->ct.free_cb = on_ct_free;
    }
    s->ft.on_event = on_flow_event;
    s->ft.event_ctx = s;
    s->ft.hw_last_hit = hw_last_hit;
    if (cfg->mode == PF_MODE_HW) {
        rc = pf_ppe_create(&s->cfg, &s->ppe, err);
        if (rc) {
            pf_sim_destroy(s);
            return rc;
        }
        pf_ppe_set_event_cb(s->ppe, on_ppe_event, s);
        pf_ppe_set_ct(s->ppe, &s->ct);
    }
    if (cfg->log_path) {
        s->log = fopen(cfg->log_path, "w");
        if (!s->log) {
            if (err) {
                err->code = PF_E_IO;
                snprintf(err->message, sizeof err->message, "cannot write the decision log");
            }
            pf_sim_destroy(s);
            return PF_E_IO;
        }
        s->log_buf = malloc(1 << 20);
        if (s->log_buf)
            setvbuf(s->log, s->log_buf, _IOFBF, 1 << 20);
    }
    s->stats.first_ts_ns = s->stats.last_ts_ns = 0;
    s->series_cur = -1;
    *out = s;
    return PF_OK;
}

void pf_sim_destroy(pf_sim *s)
{
    if (!s)
        return;
    if (s->log)
        fclose(s->log);
    free(s->log_buf);
    pf_ppe_destroy(s->ppe);
    pf_ft_free(&s->ft);
    pf_ct_free(&s->ct);
    free(s->dec_path);
    free(s->dec_reason);
    free(s->series);
    free(s->acc);
    free(s->flows_done);
    free(s->dump_path[0]);
    free(s->dump_path[1]);
    free(s);
}

void pf_sim_stats(const pf_sim *s, pf_stats *out)
{
    *out = s->stats;
    out->ct_early_drops = s->ct.early_drops;
    if (s->ppe)
        pf_ppe_counters(s->ppe, out);
}

uint64_t pf_sim_decision_count(const pf_sim *s) { return s->dec_count; }

uint64_t pf_sim_decisions(const pf_sim *s, uint8_t *paths, uint8_t *reasons, uint64_t n)
{
    copy_records(reasons, s->dec_reason, s->dec_count, n, 1);
    return copy_records(paths, s->dec_path, s->dec_count, n, 1);
}

static void run_gc(pf_sim *s, int64_t now);

/* origin + tick seconds, saturating (timestamps near INT64_MAX ns exist in damaged captures) */
static int64_t tick_time(const pf_sim *s, int64_t tick)
{
    if (tick > (INT64_MAX - s->ct.origin_ns) / NS_PER_S)
        return INT64_MAX;
    return s->ct.origin_ns + tick * NS_PER_S;
}

/* ---- table dumps -------------------------------------------------------------------------- */

static const char *const tcp_state_names[] = {"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED",
                                              "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT",
                                              "CLOSE", "SYN_SENT2"};

static void print_ep(FILE *f, const pf_ct_key *k, int from_a)
{
    char s[64], d[64];
    const uint8_t *sa = from_a ? k->addr_a : k->addr_b, *da = from_a ? k->addr_b : k->addr_a;
    pf_ct_format_addr(k->l3, sa, s, sizeof s);
    pf_ct_format_addr(k->l3, da, d, sizeof d);
    fprintf(f, "src=%s dst=%s ", s, d);
    if (k->proto == 6 || k->proto == 17)
        fprintf(f, "sport=%u dport=%u ", from_a ? k->port_a : k->port_b, from_a ? k->port_b : k->port_a);
    else if (k->proto == 1 || k->proto == 58)
        fprintf(f, "id=%u ", k->port_a);
}

/* nf_conntrack_standalone.c:ct_seq_show (/proc/net/nf_conntrack): the timeout and TCP state
 * are hidden for offloaded entries, which show [OFFLOAD] or [HW_OFFLOAD]. */
static int dump_conntrack(pf_sim *s, const char *path, int64_t now)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return PF_E_IO;
    for (uint32_t i = 0; i < s->ct.next_unused; i++) {
        const pf_conn *c = &s->ct.conns[i];
        if (!c->in_use || !(c->status & PF_IPS_CONFIRMED) ||
            (!(c->status & PF_IPS_OFFLOAD) && now >= c->deadline_ns))
            continue;
        const pf_ct_key *k = &c->key;
        const char *pn = k->proto == 6 ? "tcp" : k->proto == 17 ? "udp" : k->proto == 1 ? "icmp"
                       : k->proto == 58 ? "icmpv6" : "unknown";
        fprintf(f, "%-8s %u %-8s %u ", k->l3 == 4 ? "ipv4" : "ipv6", k->l3 == 4 ? 2 : 10, pn, k->proto);
        if (!(c->status & PF_IPS_OFFLOAD)) {
            fprintf(f, "%lld ", (long long)((c->deadline_ns - now) / NS_PER_S));
            if (k->proto == 6 && c->tcp_state < 10)
                fprintf(f, "%s ", tcp_state_names[c->tcp_state]);
        }
        print_ep(f, k, c->orig_is_a);
        if (!(c->status & PF_IPS_SEEN_REPLY))
            fputs("[UNREPLIED] ", f);
        print_ep(f, k, !c->orig_is_a);
        if (c->status & PF_IPS_HW_OFFLOAD)
            fputs("[HW_OFFLOAD] ", f);
        else if (c->status & PF_IPS_OFFLOAD)
            fputs("[OFFLOAD] ", f);
        else if (c->status & PF_IPS_ASSURED)
            fputs("[ASSURED] ", f);
        fputs("mark=0 zone=0 use=2\n", f);
    }
    return fclose(f) == 0 ? PF_OK : PF_E_IO;
}

static void dump_table(pf_sim *s, int which, int64_t at)
{
    s->dumped[which] = 1;
    if (!s->dump_path[which])
        return;
    if (which == 0) {
        if (dump_conntrack(s, s->dump_path[0], at))
            s->log_error = 1;
        return;
    }
    FILE *f = fopen(s->dump_path[1], "w");
    if (!f) {
        s->log_error = 1;
        return;
    }
    if (s->ppe)
        pf_ppe_dump(s->ppe, f);
    if (fclose(f) != 0)
        s->log_error = 1;
}

/* The tables as they are at the dump time: every earlier packet and GC tick done. */
static void dumps_due(pf_sim *s, int64_t ts, int final)
{
    for (int w = 0; w < 2; w++) {
        if (s->dumped[w] || s->cfg.dump_at_ns[w] < 0 || !s->dump_path[w])
            continue;
        int64_t at = s->cfg.dump_at_ns[w] > INT64_MAX - s->ct.origin_ns ? INT64_MAX
                                                                          : s->ct.origin_ns + s->cfg.dump_at_ns[w];
        if (!final && ts < at)
            continue;
        if (at > s->last_ts_ns)
            run_gc(s, at);
        dump_table(s, w, at);
    }
}

/* ---- clock and GC ------------------------------------------------------------------------- */

/* Runs every 1 s GC tick up to `now` (nf_flow_offload_work_gc re-queues itself every HZ; the
 * model places the ticks at whole seconds after the first packet). */
static void run_gc(pf_sim *s, int64_t now)
{
    if (now < s->next_tick_ns)
        return; /* no GC tick due yet (the common case) */
    int64_t target = (now - s->ct.origin_ns) / NS_PER_S;
    if (target <= s->last_tick)
        return;
    if (target - s->last_tick > (int64_t)PF_WHEEL_SLOTS) {
        /* long silence: one pass over everything due by then. The PPE's aging limits (at
         * most 12 s) are shorter than the flowtable timeout, so its scan goes first: an idle
         * entry ages out before its flow is torn down, as it would tick by tick. */
        if (s->ppe)
            pf_ppe_tick(s->ppe, s->ct.origin_ns + target * NS_PER_S,
                        (uint64_t)(target - s->last_tick), &s->stats);
        pf_ft_gc_tick(&s->ft, target, 1);
        pf_ct_gc_tick(&s->ct, target, 1);
        s->last_tick = target;
        s->next_tick_ns = tick_time(s, target + 1);
        return;
    }
    for (int64_t t = s->last_tick + 1; t <= target; t++) {
        pf_ft_gc_tick(&s->ft, t, 0);
        pf_ct_gc_tick(&s->ct, t, 0);
        if (s->ppe)
            pf_ppe_tick(s->ppe, s->ct.origin_ns + t * NS_PER_S, 1, &s->stats);
    }
    s->last_tick = target;
    s->next_tick_ns = tick_time(s, target + 1);
}

/* The model's clock range: +-2^62 ns (about 146 years around 1970). Timestamps outside it
 * (damaged files; the reader saturates to the int64 limits) are clamped, so that a time plus
 * any timeout (at most days) never overflows. */
#define PF_TS_LIMIT (INT64_C(1) << 62)

static int64_t clock_advance(pf_sim *s, int64_t ts)
{
    if (ts > PF_TS_LIMIT || ts < -PF_TS_LIMIT) {
        ts = ts > 0 ? PF_TS_LIMIT : -PF_TS_LIMIT;
        s->stats.ts_clamped++;
    }
    if (!s->started) {
        s->started = 1;
        s->ct.origin_ns = ts;
        s->last_tick = 0;
        s->next_tick_ns = tick_time(s, 1);
        s->last_ts_ns = ts;
        s->stats.first_ts_ns = ts;
    }
    if (ts < s->last_ts_ns) {
        s->stats.ts_backwards++; /* clamped: the model's clock never runs backwards */
        ts = s->last_ts_ns;
    }
    if (s->has_dumps)
        dumps_due(s, ts, 0);
    s->last_ts_ns = ts;
    s->stats.last_ts_ns = ts;
    run_gc(s, ts);
    return ts;
}

/* ---- the per-packet decision -------------------------------------------------------------- */

typedef struct pkt_ctx {
    int in_if, out_if;
    uint32_t ct;
    int dir;
    uint8_t path, reason;
} pkt_ctx;

static int is_tcp_udp(const pf_decoded *d) { return d->l4proto == 6 || d->l4proto == 17; }

/* nf_flow_offload_ip_hook / nf_flow_offload_ipv6_hook -> nf_flow_tuple_ip(v6): packets the
 * flowtable cannot even look up. 0 when the lookup can proceed. The packet's own reasons depend
 * on nothing else, so the first simulator computes them for the others of a grid. */
static int packet_precheck(const pf_decoded *d)
{
    if (d->flags & PF_PKT_IPV6_EXT)
        return PF_R_IPV6_EXT_HEADER;      /* nf_flow_tuple_ipv6: ip6h->nexthdr must be TCP/UDP */
    if (!is_tcp_udp(d))
        return (d->flags & PF_PKT_ICMP_ERROR) ? PF_R_ICMP_ERROR : PF_R_L4_PROTO;
    if (d->flags & PF_PKT_FRAGMENT)
        return PF_R_FRAGMENT;             /* ip_is_fragment */
    if (d->flags & PF_PKT_IPV4_OPTIONS)
        return PF_R_IPV4_OPTIONS;         /* iph->ihl * 4 != sizeof(struct iphdr) */
    if (!(d->flags & PF_PKT_HAS_L4))
        return PF_R_L4_TRUNCATED;         /* pskb_may_pull of the ports fails */
    if (d->ttl <= 1)
        return PF_R_TTL_EXPIRED;          /* iph->ttl <= 1 */
    if (d->n_vlan > 1 || (d->n_vlan && d->has_pppoe) || (d->flags & PF_PKT_VLAN_EXCESS))
        return PF_R_ENCAP_UNSUPPORTED; /* nf_flow_skb_encap_protocol: one tag or PPPoE */
    return 0;
}

static int fastpath_precheck(const pf_sim *s, pf_decoded *d, int in_if)
{
    if (!((s->flowtable_ifaces >> in_if) & 1u))
        return PF_R_NOT_FLOWTABLE_DEVICE; /* the ingress hook is not on this device */
    if (!d->ft_pre_ok) {
        d->ft_pre = (uint8_t)packet_precheck(d);
        d->ft_pre_ok = 1;
    }
    return d->ft_pre;
}

static int cmp_u64(uint64_t a, int cmp, uint64_t b)
{
    switch (cmp) {
    case PF_CMP_GE: return a >= b;
    case PF_CMP_GT: return a > b;
    case PF_CMP_LE: return a <= b;
    case PF_CMP_LT: return a < b;
    case PF_CMP_EQ: return a == b;
    default: return a != b;
    }
}

static int addr_in_set(const uint8_t *a, uint8_t l3, uint32_t n, const uint8_t (*addrs)[16],
                       const uint8_t *lens, const uint8_t *l3s)
{
    for (uint32_t i = 0; i < n && i < 8; i++)
        if (l3s[i] == l3 && prefix_match(a, addrs[i], lens[i]))
            return 1;
    return 0;
}

/* The expressions in front of `flow add @ft` in the forward chain (nft evaluates them left to
 * right; the statement runs only if all match). 0 when they all match, else the reason. */
static int offload_rule_match(const pf_sim *s, pf_decoded *d, const pkt_ctx *p)
{
    const pf_offload_rule *r = &s->cfg.rule;
    const pf_conn *c = &s->ct.conns[p->ct];
    if (!r->present)
        return PF_R_OFFLOAD_DISABLED;
    uint32_t protobit = c->key.proto == 6 ? 1u : c->key.proto == 17 ? 2u : 0u;
    if (!(r->l4proto_mask & protobit))
        return PF_R_RULE_NOT_MATCHED;
    if (r->iif_mask && !(r->iif_mask & (1u << p->in_if)))
        return PF_R_RULE_NOT_MATCHED;
    if (r->oif_mask && !(r->oif_mask & (1u << p->out_if)))
        return PF_R_RULE_NOT_MATCHED;
    if (r->n_saddr && !addr_in_set(d->src, d->l3, r->n_saddr, r->saddr, r->saddr_len, r->saddr_l3))
        return PF_R_RULE_NOT_MATCHED;
    if (r->n_daddr && !addr_in_set(d->dst, d->l3, r->n_daddr, r->daddr, r->daddr_len, r->daddr_l3))
        return PF_R_RULE_NOT_MATCHED;
    if (r->ct_state_mask) {
        /* nf_conntrack_in ctinfo: NEW until a reply was seen (original direction) */
        uint32_t st = (p->dir == PF_DIR_ORIG && !(c->status & PF_IPS_SEEN_REPLY)) ? 1u : 2u;
        if (!(r->ct_state_mask & st))
            return PF_R_RULE_NOT_MATCHED;
    }
    if (r->ct_count) {
        const pf_ct_acct *a = &s->ct.acct[p->ct]; /* allocated because r->ct_count is set */
        const uint64_t *v = r->ct_count == 1 ? a->packets : a->bytes;
        uint64_t n = r->ct_count_dir == PF_CTDIR_BOTH ? v[0] + v[1] : v[r->ct_count_dir];
        if (!cmp_u64(n, r->ct_count_cmp, r->ct_count_value))
            return PF_R_RULE_PACKETS_BELOW;
    }
    return 0;
}

/* nft_flow_offload_eval (net/netfilter/nft_flow_offload.c). Returns the slow-path reason: the
 * first rule that refuses, in the kernel's order (so a TCP SYN is refused for its TCP state
 * before the confirmation test), or PF_R_FLOW_ADD / PF_R_FLOW_TIMEOUT when this packet created
 * the flow. */
static int flow_offload_eval(pf_sim *s, pf_decoded *d, pkt_ctx *p)
{
    pf_conn *c = &s->ct.conns[p->ct];
    if (d->flags & PF_PKT_IPV4_OPTIONS)
        return PF_R_IPV4_OPTIONS;  /* nft_flow_offload_skip */
    if (c->key.proto == 6) {
        if (d->tcp_flags & (PF_TCP_FIN | PF_TCP_RST))
            return PF_R_TCP_FIN_RST;
        if (!pf_ct_tcp_established(c))
            return PF_R_TCP_NOT_ESTABLISHED; /* ESTABLISHED and ASSURED (since e5eaac2, 5.18) */
    } else if (c->key.proto != 17) {
        return PF_R_L4_PROTO;
    }
    if (!(c->status & PF_IPS_CONFIRMED))
        return PF_R_CT_NEW;        /* nf_ct_is_confirmed: confirmed only at POSTROUTING */
    if (c->status & PF_IPS_OFFLOAD)
        return PF_R_IIF_MISMATCH;  /* test_and_set_bit(IPS_OFFLOAD_BIT): already offloaded */

    int dir = p->dir;
    int8_t iif[2], oif[2];
    uint16_t mtu[2];
    iif[dir] = (int8_t)p->in_if;
    iif[!dir] = (int8_t)p->out_if;
    oif[dir] = (int8_t)p->out_if;
    oif[!dir] = (int8_t)p->in_if;
    mtu[dir] = (uint16_t)s->cfg.ifaces[p->out_if].mtu;
    mtu[!dir] = (uint16_t)s->cfg.ifaces[p->in_if].mtu;
    int reason = c->flow_expired ? PF_R_FLOW_TIMEOUT : PF_R_FLOW_ADD;
    int hw = s->ppe != NULL;
    if (c->key.proto == 6) { /* window checks off for the rest of the connection's life */
        c->tcp_seen[0].flags |= PF_TCPF_BE_LIBERAL;
        c->tcp_seen[1].flags |= PF_TCPF_BE_LIBERAL;
    }
    pf_ft_add(&s->ft, p->ct, s->last_ts_ns, iif, oif, mtu, hw);
    s->stats.flows_added++;
    if (s->acc && s->acc[p->ct].live) {
        s->acc[p->ct].sum.flows_added++;
        s->acc[p->ct].offloaded = 1;
        s->acc[p->ct].added_ns = s->last_ts_ns;
    }
    if (s->log)
        log_event(s, PF_EV_FLOW_ADD, p->ct, s->last_ts_ns, NULL);
    if (hw) {
        /* flow_offload_add -> nf_flow_offload_add -> driver (mtk_flow_offload_replace) */
        pf_ppe_dir_info info[2];
        for (int k = 0; k < 2; k++) {
            info[k].key = &c->key;
            info[k].from_a = (k == PF_DIR_ORIG) ? c->orig_is_a : !c->orig_is_a;
            info[k].in_iface = iif[k];
            info[k].out_iface = oif[k];
            info[k].n_vlan = d->n_vlan;
        }
        int refused[2];
        int rc = pf_ppe_commit(s->ppe, p->ct, info, s->last_ts_ns, refused);
        if (rc == PF_OK) {
            c->status |= PF_IPS_HW_OFFLOAD;
            s->stats.hw_commits++;
        } else {
            s->stats.hw_refused++;
        }
        if (s->acc && s->acc[p->ct].live)
            s->acc[p->ct].sum.hw_refused = (uint8_t)(rc == PF_OK ? 0 : (refused[0] ? refused[0] : refused[1]));
        if (s->log) {
            char extra[96];
            for (int k = 0; k < 2; k++) {
                if (refused[k])
                    snprintf(extra, sizeof extra, ",\"dir\":\"%s\",\"reason\":\"%s\"",
                             k ? "reply" : "orig", pf_reason_name(refused[k]));
                else
                    snprintf(extra, sizeof extra, ",\"dir\":\"%s\"", k ? "reply" : "orig");
                log_event(s, refused[k] ? PF_EV_HW_REFUSED : PF_EV_HW_COMMIT, p->ct,
                          s->last_ts_ns, extra);
            }
        }
    }
    return reason;
}

/* The slow path: nf_conntrack_in at PREROUTING, routing, the forward chain (with fw4's
 * `flow add @ft` first), confirmation at POSTROUTING. `pre` is the reason the fast path
 * refused the packet (0 when no flow matched). */
static void slow_path(pf_sim *s, pf_decoded *d, pkt_ctx *p, int pre)
{
    const int mode_none = s->cfg.mode == PF_MODE_NONE;
    p->path = PF_PATH_SLOW;

    /* Non-first fragments are held by nf_defrag until the datagram is complete; conntrack sees
     * the reassembled datagram once (at its first fragment here). */
    if ((d->flags & PF_PKT_FRAGMENT) && !(d->flags & PF_PKT_FIRST_FRAGMENT)) {
        p->reason = mode_none ? PF_R_OFFLOAD_DISABLED : PF_R_FRAGMENT;
        return;
    }
    /* ICMP errors: nf_conntrack_inet_error attaches them RELATED to the connection they
     * quote; they are never offloaded. */
    if (d->flags & PF_PKT_ICMP_ERROR) {
        if (d->flags & PF_PKT_HAS_INNER) {
            pf_ct_key key;
            int dir_is_a;
            pf_ct_key_from_inner(d, &key, &dir_is_a);
            uint32_t ct = pf_ct_lookup(&s->ct, &key, s->last_ts_ns);
            if (ct != PF_CT_NONE) {
                p->ct = ct;
                p->dir = (dir_is_a == s->ct.conns[ct].orig_is_a) ? PF_DIR_ORIG : PF_DIR_REPLY;
            }
        }
        p->reason = d->ttl <= 1 ? PF_R_TTL_EXPIRED : (mode_none ? PF_R_OFFLOAD_DISABLED : PF_R_ICMP_ERROR);
        if (d->ttl <= 1)
            s->stats.dropped++;
        return;
    }

    const int ttl_expired = d->ttl <= 1;
    int is_new = 0, dir = 0;
    uint32_t ct = PF_CT_NONE;
    int v = pf_ct_in(&s->ct, d, s->last_ts_ns, 1, &ct, &dir, &is_new);
    if (v == PF_CT_FULL) {
        s->stats.dropped++;
        p->reason = PF_R_CT_TABLE_FULL; /* nf_conntrack_alloc: "table full, dropping packet" */
        return;
    }
    if (v != PF_CT_OK) {
        /* untracked/invalid: fw4 forwards it (drop_invalid is off by default), never offloaded */
        p->reason = (uint8_t)(ttl_expired ? PF_R_TTL_EXPIRED
                              : mode_none ? PF_R_OFFLOAD_DISABLED
                              : pre       ? pre
                                          : PF_R_CT_INVALID);
        if (ttl_expired)
            s->stats.dropped++;
        return;
    }
    p->ct = ct;
    p->dir = dir;
    pf_conn *c = &s->ct.conns[ct];
    if (ttl_expired) {
        /* ip_forward drops it (ICMP time exceeded) before the forward chain; a new entry is
         * never confirmed and dies with the packet. */
        s->stats.dropped++;
        p->reason = PF_R_TTL_EXPIRED;
        if (is_new) {
            pf_ct_destroy(&s->ct, ct);
            p->ct = PF_CT_NONE;
        }
        return;
    }
    c->iface[dir] = (int8_t)p->in_if;
    if (c->iface[!dir] >= 0)
        p->out_if = c->iface[!dir];

    /* fw4's forward chain starts with `meta l4proto { tcp, udp } flow add @ft`: it runs for
     * every forwarded TCP/UDP packet, whatever its ingress device or packet-level oddities; a
     * reason found by the fast path (fragment, IPv6 extension header ...) names the packet. */
    int reason;
    if (mode_none) {
        reason = PF_R_OFFLOAD_DISABLED;
    } else {
        int r = is_tcp_udp(d) ? offload_rule_match(s, d, p) : PF_R_L4_PROTO;
        if (!r)
            r = flow_offload_eval(s, d, p);
        reason = pre ? pre : r;
    }
    if (is_new) {
        pf_ct_confirm(&s->ct, ct, s->last_ts_ns); /* __nf_conntrack_confirm at POSTROUTING */
        s->stats.ct_created++;
        acc_start(s, ct, s->last_ts_ns);
    }
    p->reason = (uint8_t)reason;
}

static void account(pf_sim *s, const pf_record *rec, pkt_ctx *p)
{
    pf_stats *st = &s->stats;
    st->packets_total++;
    st->bytes_total += rec->wirelen;
    st->paths[p->path].packets++;
    st->paths[p->path].bytes += rec->wirelen;
    st->reasons[p->reason]++;
    if (s->acc && p->ct != PF_CT_NONE && s->acc[p->ct].live) {
        pf_flow_summary *f = &s->acc[p->ct].sum;
        f->last_ns = s->last_ts_ns;
        if (p->path <= PF_PATH_HFO) {
            f->packets[p->path]++;
            f->bytes[p->path] += rec->wirelen;
        }
        if (p->in_if >= 0 && p->path != PF_PATH_HFO)
            f->iface[p->dir] = (int8_t)p->in_if;
    }
    if (p->ct != PF_CT_NONE) {
        pf_conn *c = &s->ct.conns[p->ct];
        if (c->in_use && !(c->paths_seen & (1u << p->path))) {
            c->paths_seen |= (uint8_t)(1u << p->path);
            st->paths[p->path].flows++;
        }
    }
    if (s->ct.count > st->ct_peak)
        st->ct_peak = s->ct.count;
    if (s->ft.live > st->flows_peak)
        st->flows_peak = s->ft.live;
    /* shapers sit on the egress qdisc: they see slow and SFO packets, not HFO ones */
    if (s->shaped_ifaces && p->path <= PF_PATH_HFO && p->out_if >= 0 &&
        ((s->shaped_ifaces >> p->out_if) & 1u)) {
        if (p->path == PF_PATH_HFO) {
            st->shaper_bypass_packets[p->out_if]++;
            st->shaper_bypass_bytes[p->out_if] += rec->wirelen;
        } else {
            st->shaped_packets[p->out_if]++;
            st->shaped_bytes[p->out_if] += rec->wirelen;
        }
    }
}

#define PF_SERIES_MAX (16ull << 20)

static void series_close_bin(pf_sim *s)
{
    if (s->series_cur < 0 || !s->series_count)
        return;
    pf_series_bin *b = &s->series[s->series_count - 1];
    b->ct_entries = s->ct.count;
    b->flows = s->ft.live;
    b->ppe_bound = s->ppe ? (uint32_t)pf_ppe_bound(s->ppe) : 0;
}

static int series_add(pf_sim *s, int64_t now, const pf_record *rec, const pkt_ctx *p)
{
    int64_t bin = (now - s->ct.origin_ns) / s->cfg.series_bin_ns;
    if (bin != s->series_cur) {
        series_close_bin(s);
        if (s->series_count == PF_SERIES_MAX) {
            s->series_truncated = 1;
            return PF_OK;
        }
        if (s->series_count == s->series_cap) {
            uint64_t cap = s->series_cap ? s->series_cap * 2 : 1024;
            pf_series_bin *nb = realloc(s->series, cap * sizeof *nb);
            if (!nb)
                return PF_E_NOMEM;
            s->series = nb;
            s->series_cap = cap;
        }
        pf_series_bin *b = &s->series[s->series_count++];
        memset(b, 0, sizeof *b);
        b->start_ns = bin * s->cfg.series_bin_ns;
        s->series_cur = bin;
    }
    pf_series_bin *b = &s->series[s->series_count - 1];
    b->packets[p->path]++;
    b->bytes[p->path] += rec->wirelen;
    return PF_OK;
}

uint64_t pf_sim_series_count(const pf_sim *s) { return s->series_count; }
int pf_sim_series_truncated(const pf_sim *s) { return s->series_truncated; }

uint64_t pf_sim_series(const pf_sim *s, pf_series_bin *out, uint64_t n)
{
    return copy_records(out, s->series, s->series_count, n, sizeof *out);
}

static int keep_decision(pf_sim *s, const pkt_ctx *p)
{
    if (s->dec_count == s->dec_cap) {
        uint64_t cap = s->dec_cap ? s->dec_cap * 2 : 4096;
        uint8_t *np = realloc(s->dec_path, cap);
        if (!np)
            return PF_E_NOMEM;
        s->dec_path = np;
        uint8_t *nr = realloc(s->dec_reason, cap);
        if (!nr)
            return PF_E_NOMEM;
        s->dec_reason = nr;
        s->dec_cap = cap;
    }
    s->dec_path[s->dec_count] = p->path;
    s->dec_reason[s->dec_count] = p->reason;
    s->dec_count++;
    return PF_OK;
}

static void log_packet(pf_sim *s, const pf_record *rec, const pkt_ctx *p, int64_t now)
{
    FILE *f = s->log;
    fprintf(f, "{\"i\":%" PRIu64 ",\"t\":", rec->index);
    log_time(f, now);
    if (p->ct != PF_CT_NONE && s->ct.conns[p->ct].in_use)
        fprintf(f, ",\"flow\":%" PRIu64 ",\"dir\":\"%s\"", s->ct.conns[p->ct].id,
                p->dir ? "reply" : "orig");
    else
        fputs(",\"flow\":null,\"dir\":null", f);
    fprintf(f, ",\"path\":\"%s\",\"reason\":\"%s\"}\n", pf_path_name(p->path),
            pf_reason_name(p->reason));
}

static int radio_band(uint16_t mhz)
{
    if (mhz >= 2400 && mhz < 2500)
        return 2;
    if (mhz >= 5955 && mhz <= 7125)
        return 6; /* 6 GHz channels start at 5955 MHz */
    if (mhz >= 4900 && mhz < 5955)
        return 5;
    return 0;
}

/* The interface a packet arrives on (ingress = 1) or leaves by (ingress = 0) according to the
 * mapping rules; -1 when none matches. Ingress rules look at the capture (interface, SLL2
 * index, radio band, VLAN, PPPoE) and the source; egress rules only at the destination (MAC,
 * subnet). */
static int map_iface(const pf_config *cfg, const pf_record *rec, pf_decoded *d, int ingress)
{
    for (uint32_t i = 0; i < cfg->n_map_rules; i++) {
        const pf_map_rule *r = &cfg->map_rules[i];
        int hit = 0;
        switch (r->kind) {
        case PF_MAP_CAPTURE_IF:
            hit = ingress && rec->if_id >= 0 && rec->if_id == r->value;
            break;
        case PF_MAP_CAPTURE_NAME:
            hit = ingress && rec->if_name && rec->if_name[0] &&
                  strncmp(rec->if_name, r->name, sizeof r->name) == 0;
            break;
        case PF_MAP_SLL2_IFINDEX:
            hit = ingress && d->sll_ifindex >= 0 && d->sll_ifindex == r->value;
            break;
        case PF_MAP_RADIO_BAND:
            /* a frame a station sent (ToDS) entered by this radio; one the AP sent (FromDS)
             * leaves by it */
            hit = d->radio_freq_mhz && radio_band(d->radio_freq_mhz) == r->value &&
                  (ingress ? !(d->flags & PF_PKT_WIFI_TO_STA) : (d->flags & PF_PKT_WIFI_TO_STA) != 0);
            break;
        case PF_MAP_VLAN:
            hit = ingress && ((d->n_vlan > 0 && d->vlan_id[0] == r->value) ||
                              (d->n_vlan > 1 && d->vlan_id[1] == r->value));
            break;
        case PF_MAP_PPPOE:
            hit = ingress && d->has_pppoe && (r->value < 0 || d->pppoe_sid == r->value);
            break;
        case PF_MAP_MAC:
            hit = (d->flags & PF_PKT_HAS_MAC) &&
                  memcmp(ingress ? d->src_mac : d->dst_mac, r->mac, 6) == 0;
            break;
        case PF_MAP_SUBNET:
            hit = r->l3 == d->l3 && prefix_match(ingress ? d->src : d->dst, r->addr, r->prefix_len);
            break;
        default:
            break;
        }
        if (hit)
            return r->iface;
    }
    return -1;
}

static void route(pf_sim *s, const pf_record *rec, pf_decoded *d, pkt_ctx *p)
{
    const pf_config *cfg = &s->cfg;
    int sc = addr_class(cfg, d->l3, d->src), dc = addr_class(cfg, d->l3, d->dst);
    if (dc == ADDR_MULTICAST || sc == ADDR_MULTICAST || (d->flags & PF_PKT_L2_MULTICAST)) {
        p->path = PF_PATH_NOT_FORWARDED;
        p->reason = PF_R_MULTICAST;
        return;
    }
    if (sc == ADDR_MARTIAN || dc == ADDR_MARTIAN) {
        p->path = PF_PATH_NOT_FORWARDED;
        p->reason = PF_R_MARTIAN;
        return;
    }
    if (sc == ADDR_LINK_LOCAL6 || dc == ADDR_LINK_LOCAL6) {
        p->path = PF_PATH_NOT_FORWARDED;
        p->reason = PF_R_LINK_LOCAL;
        return;
    }
    int in_if = cfg->n_map_rules ? map_iface(cfg, rec, d, 1) : -1;
    /* LAN or WAN by address: mask selects (the packet's direction would mispredict a branch) */
    const int lan_if = cfg->default_lan_iface, wan_if = cfg->default_wan_iface;
    if (in_if < 0)
        in_if = wan_if ^ ((lan_if ^ wan_if) & -(int)(sc == ADDR_LAN));
    int out_if = cfg->n_map_rules ? map_iface(cfg, rec, d, 0) : -1;
    if (out_if < 0)
        out_if = wan_if ^ ((lan_if ^ wan_if) & -(int)(dc == ADDR_LAN));
    if (cfg->ifaces[in_if].role == cfg->ifaces[out_if].role) {
        p->path = PF_PATH_NOT_FORWARDED;
        p->reason = PF_R_SAME_SIDE;
        return;
    }
    p->in_if = in_if;
    p->out_if = out_if;
    p->path = PF_PATH_SLOW; /* forwarded; refined below */
}

/* Everything route() and map_iface() read. */
static int same_topology(const pf_config *a, const pf_config *b)
{
    if (a->default_lan_iface != b->default_lan_iface || a->default_wan_iface != b->default_wan_iface ||
        a->n_map_rules != b->n_map_rules || a->n_lan_prefixes != b->n_lan_prefixes)
        return 0;
    for (int i = 0; i < 16; i++)
        if (a->ifaces[i].role != b->ifaces[i].role)
            return 0;
    uint32_t nr = a->n_map_rules < 64 ? a->n_map_rules : 64;
    if (memcmp(a->map_rules, b->map_rules, nr * sizeof a->map_rules[0]) != 0)
        return 0;
    uint32_t np = a->n_lan_prefixes < 16 ? a->n_lan_prefixes : 16;
    return memcmp(a->lan_prefix_addr, b->lan_prefix_addr, np * sizeof a->lan_prefix_addr[0]) == 0 &&
           memcmp(a->lan_prefix_len, b->lan_prefix_len, np) == 0 &&
           memcmp(a->lan_prefix_l3, b->lan_prefix_l3, np) == 0;
}

void pf_sim_share_routes(pf_sim *const *sims, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        sims[i]->route_canon = sims[i];
        for (uint32_t j = 0; j < i; j++)
            if (sims[j]->route_canon == sims[j] && same_topology(&sims[j]->cfg, &sims[i]->cfg)) {
                sims[i]->route_canon = sims[j];
                break;
            }
    }
}

void pf_sim_prefetch(pf_sim *s, const pf_decoded *d)
{
    if (!d->ct_key_ok) /* the run driver keys every TCP/UDP packet with ports */
        return;
    uint32_t l = s->ct.buckets[d->ct_hash & (s->ct.nbuckets - 1)];
    if (!l)
        return;
    const char *c = (const char *)&s->ct.conns[l - 1];
    __builtin_prefetch(c); /* the entry's first line: all a fast-path packet reads of it */
    __builtin_prefetch(&s->ft.flows[l - 1]);
    if (s->ppe)
        pf_ppe_prefetch(s->ppe, l - 1);
}

int pf_sim_packet(pf_sim *s, const pf_record *rec, pf_decoded *d, uint8_t *path_out,
                  uint8_t *reason_out, uint64_t *flow_id_out)
{
    int64_t now = clock_advance(s, rec->ts_ns);
    pkt_ctx p = {.in_if = -1, .out_if = -1, .ct = PF_CT_NONE, .dir = 0};

    if (rec->bad_record) {
        p.path = PF_PATH_UNPARSED;
        p.reason = rec->bad_record;
    } else if (d->status != PF_DEC_OK) {
        static const uint8_t st_reason[] = {0, PF_R_NOT_IP, PF_R_TRUNCATED_HEADER, PF_R_BAD_HEADER,
                                            PF_R_UNSUPPORTED_LINKTYPE};
        p.path = d->status == PF_DEC_NOT_IP ? PF_PATH_NOT_FORWARDED : PF_PATH_UNPARSED;
        p.reason = d->status < 5 ? st_reason[d->status] : PF_R_BAD_HEADER;
    } else if (d->route_by == s->route_canon) {
        p.in_if = d->route_in_if; /* routed by a simulator with the same topology */
        p.out_if = d->route_out_if;
        p.path = d->route_path;
        p.reason = d->route_reason;
    } else {
        route(s, rec, d, &p);
        d->route_by = s->route_canon;
        d->route_in_if = (int8_t)p.in_if;
        d->route_out_if = (int8_t)p.out_if;
        d->route_path = p.path;
        d->route_reason = p.reason;
    }

    if (p.path == PF_PATH_SLOW) {
        int pre = 0;
        if (s->cfg.mode != PF_MODE_NONE) {
            pre = fastpath_precheck(s, d, p.in_if);
            int dir_is_a = 0;
            uint32_t ct = PF_CT_NONE;
            if (pf_ct_tcp_udp_with_ports(d)) {
                uint32_t hash;
                const pf_ct_key *key = pf_ct_packet_key(d, &hash, &dir_is_a);
                ct = pf_ct_lookup_h(&s->ct, key, hash, now);
            }
            pf_flow *f = ct != PF_CT_NONE ? pf_ft_lookup(&s->ft, ct) : NULL;
            if (f) {
                pf_conn *c = &s->ct.conns[ct];
                int dir = (dir_is_a == c->orig_is_a) ? PF_DIR_ORIG : PF_DIR_REPLY;
                int hw_eligible = !pre && d->ip_len <= f->mtu[dir] &&
                                  !(d->tcp_flags & (PF_TCP_SYN | PF_TCP_FIN | PF_TCP_RST));
                int hw_reason = 0;
                if (s->ppe && (f->flags & PF_FLOW_HW) &&
                    pf_ppe_packet(s->ppe, ct, dir, now, hw_eligible, d->tcp_flags, &hw_reason)) {
                    /* bound FOE entry: the PPE forwards it, the CPU never sees it */
                    p.path = PF_PATH_HFO;
                    p.reason = PF_R_HW_FORWARDED;
                    p.ct = ct;
                    p.dir = dir;
                    p.out_if = f->oif[dir];
                } else if (!pre) {
                    if (f->iif[dir] != p.in_if) {
                        pre = PF_R_IIF_MISMATCH; /* the tuple includes the input interface */
                    } else if (d->ip_len > f->mtu[dir]) {
                        pre = PF_R_MTU_EXCEEDED; /* nf_flow_exceeds_mtu */
                    } else if (d->l4proto == 6 && (d->tcp_flags & (PF_TCP_FIN | PF_TCP_RST))) {
                        /* nf_flow_state_check (<= 6.13): FIN or RST tears the flow down and
                         * the packet goes to the slow path */
                        pf_ft_teardown(&s->ft, ct, now, PF_FT_FIN_RST);
                        pre = PF_R_TCP_FIN_RST;
                    } else {
                        /* forwarded by the software flowtable (nf_flow_offload_forward):
                         * flow_offload_refresh, then neigh_xmit / dev_queue_xmit */
                        pf_ft_refresh(&s->ft, ct, now);
                        if (s->cfg.flowtable_counter && s->ct.acct) {
                            /* NF_FLOWTABLE_COUNTER: nf_ct_acct_update (kept only when a rule
                             * reads the counters) */
                            s->ct.acct[ct].packets[dir]++;
                            s->ct.acct[ct].bytes[dir] += d->ip_len;
                        }
                        p.path = PF_PATH_SFO;
                        p.reason = (uint8_t)((s->ppe && (f->flags & PF_FLOW_HW))
                                                 ? hw_reason
                                                 : PF_R_FLOW_OFFLOADED);
                        p.ct = ct;
                        p.dir = dir;
                        p.out_if = f->oif[dir];
                    }
                }
            }
        }
        if (p.path == PF_PATH_SLOW)
            slow_path(s, d, &p, pre);
    }

    account(s, rec, &p);
    if (s->log)
        log_packet(s, rec, &p, now);
    if (path_out)
        *path_out = p.path;
    if (reason_out)
        *reason_out = p.reason;
    s->last_ct = p.ct; /* pf_sim_last_tuple / _hw check that it is still in use */
    s->last_dir = p.dir;
    if (flow_id_out)
        *flow_id_out = (p.ct != PF_CT_NONE && s->ct.conns[p.ct].in_use) ? s->ct.conns[p.ct].id : 0;
    if (s->cfg.series_bin_ns > 0 && !s->series_truncated) {
        int rc = series_add(s, now, rec, &p);
        if (rc)
            return rc;
    }
    if (s->cfg.keep_decisions)
        return keep_decision(s, &p);
    return PF_OK;
}

int pf_sim_finish(pf_sim *s)
{
    if (s->acc) {
        for (uint32_t i = 0; i < s->ct.next_unused; i++)
            if (s->acc[i].live && s->ct.conns[i].in_use)
                acc_emit(s, i, 0);
        if (s->flows_nomem)
            return PF_E_NOMEM;
    }
    if (s->series_cur >= 0 && !s->series_truncated)
        series_close_bin(s);
    if (s->started && s->has_dumps)
        dumps_due(s, s->last_ts_ns, 1);
    if (s->log_error)
        return PF_E_IO;
    if (s->log && (fflush(s->log) != 0 || ferror(s->log)))
        return PF_E_IO;
    return PF_OK;
}

int pf_sim_last_tuple(const pf_sim *s, char *buf, size_t len)
{
    if (len)
        buf[0] = '\0';
    if (s->last_ct == PF_CT_NONE || !s->ct.conns[s->last_ct].in_use || len == 0)
        return 0;
    int n = pf_ct_format_tuple(&s->ct.conns[s->last_ct], buf, len);
    if (n < 0)
        return 0;
    return (size_t)n >= len ? (int)(len - 1) : n;
}

int pf_sim_last_hw(const pf_sim *s, char *buf, size_t len)
{
    if (len)
        buf[0] = '\0';
    if (!s->ppe || s->last_ct == PF_CT_NONE || !s->ct.conns[s->last_ct].in_use)
        return 0;
    return pf_ppe_describe(s->ppe, s->last_ct, s->last_dir, buf, len);
}
