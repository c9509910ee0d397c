/* flowtable.c: see flowtable.h. */
#include <stdlib.h>
#include <string.h>

#include "flowtable.h"

#define NS_PER_S 1000000000LL
#define CT_DAY_NS (86400LL * NS_PER_S)

int pf_ft_init(pf_ft_table *ft, const pf_config *cfg, pf_ct_table *ct)
{
    memset(ft, 0, sizeof *ft);
    ft->cfg = cfg;
    ft->ct = ct;
    ft->flows = calloc(cfg->ct_max, sizeof(pf_flow));
    if (!ft->flows || pf_wheel_init(&ft->wheel, cfg->ct_max) != 0) {
        pf_ft_free(ft);
        return PF_E_NOMEM;
    }
    return PF_OK;
}

void pf_ft_free(pf_ft_table *ft)
{
    free(ft->flows);
    ft->flows = NULL;
    pf_wheel_free(&ft->wheel);
}

/* flow_offload_get_timeout: nf_flowtable_tcp_timeout / nf_flowtable_udp_timeout. */
static int64_t flow_timeout_ns(const pf_ft_table *ft, uint32_t ct)
{
    uint8_t proto = ft->ct->conns[ct].key.proto;
    uint32_t s = proto == 6 ? ft->cfg->flow_timeout_tcp_s : ft->cfg->flow_timeout_udp_s;
    return (int64_t)s * NS_PER_S;
}

static int64_t tick_of(const pf_ft_table *ft, int64_t ns)
{
    int64_t rel = ns - ft->ct->origin_ns;
    if (rel <= 0)
        return 0;
    return (rel + NS_PER_S - 1) / NS_PER_S;
}

void pf_ft_add(pf_ft_table *ft, uint32_t ct, int64_t now, const int8_t iif[2], const int8_t oif[2],
               const uint16_t mtu[2], int hw)
{
    pf_flow *f = &ft->flows[ct];
    pf_conn *c = &ft->ct->conns[ct];
    if (!(f->flags & PF_FLOW_IN_TABLE))
        ft->count++;
    /* A torn-down entry still waiting for GC is replaced: the kernel inserts a second entry
     * (rhashtable_insert_fast does not check duplicates) and the old one, invisible to lookups,
     * is deleted by the next GC pass; the observable result is the same. */
    memset(f, 0, sizeof *f);
    f->flags = PF_FLOW_IN_TABLE | (hw ? PF_FLOW_HW : 0);
    f->timeout_ns = now + flow_timeout_ns(ft, ct);
    memcpy(f->iif, iif, 2);
    memcpy(f->oif, oif, 2);
    memcpy(f->mtu, mtu, sizeof f->mtu);
    ft->live++;
    pf_wheel_set(&ft->wheel, ct, tick_of(ft, f->timeout_ns));

    /* nft_flow_offload_eval: set IPS_OFFLOAD; flow_offload_add -> nf_ct_offload_timeout: the
     * ct timeout becomes now + 1 day if less than half a day remains (<= 6.13). */
    c->status |= PF_IPS_OFFLOAD;
    c->flow_expired = 0;
    if (c->deadline_ns - now < CT_DAY_NS / 2)
        c->deadline_ns = now + CT_DAY_NS;
    pf_ct_set_deadline(ft->ct, ct, c->deadline_ns); /* offloaded: leaves the reaper */
}

void pf_ft_refresh(pf_ft_table *ft, uint32_t ct, int64_t now)
{
    pf_flow *f = &ft->flows[ct];
    int64_t timeout = now + flow_timeout_ns(ft, ct);
    /* flow_offload_refresh: "if (timeout - READ_ONCE(flow->timeout) > HZ)" */
    if (timeout - f->timeout_ns > NS_PER_S)
        f->timeout_ns = timeout; /* the GC re-arms the wheel lazily when the old tick comes */
}

/* flow_offload_fixup_ct (5.18 - 6.13): the conntrack timeout becomes the state's timeout minus
 * the flowtable timeout (TCP: timeouts[state]; UDP: REPLIED, or from 6.3 UNREPLIED when no reply
 * was seen), floored at 0, and only if that is shorter than what remains. */
static void fixup_ct(pf_ft_table *ft, uint32_t ct, int64_t now)
{
    const pf_config *cfg = ft->cfg;
    pf_conn *c = &ft->ct->conns[ct];
    c->status &= (uint8_t)~PF_IPS_OFFLOAD;
    /* While offloaded, the conntrack gc_worker kept the timeout at least half a day away
     * (nf_ct_offload_timeout). */
    if (c->deadline_ns - now < CT_DAY_NS / 2)
        c->deadline_ns = now + CT_DAY_NS;
    int64_t timeout = -1;
    if (c->key.proto == 6) {
        /* flow_offload_fixup_tcp: window tracking re-learns from the next packet */
        c->tcp_seen[0].td_maxwin = c->tcp_seen[1].td_maxwin = 0;
        timeout = (int64_t)cfg->tcp_timeouts_s[c->tcp_state] - cfg->flow_timeout_tcp_s;
    } else if (c->key.proto == 17) {
        uint32_t base = cfg->udp_timeout_stream_s;
        if (cfg->kernel_version >= 603 && !(c->status & PF_IPS_SEEN_REPLY))
            base = cfg->udp_timeout_s;
        timeout = (int64_t)base - cfg->flow_timeout_udp_s;
    }
    if (timeout >= -1) {
        if (timeout < 0)
            timeout = 0;
        int64_t deadline = now + timeout * NS_PER_S;
        if (deadline < c->deadline_ns)
            c->deadline_ns = deadline;
    }
    pf_ct_set_deadline(ft->ct, ct, c->deadline_ns);
}

void pf_ft_teardown(pf_ft_table *ft, uint32_t ct, int64_t now, int cause)
{
    pf_flow *f = &ft->flows[ct];
    if (!(f->flags & PF_FLOW_IN_TABLE) || (f->flags & PF_FLOW_TEARDOWN))
        return;
    f->flags |= PF_FLOW_TEARDOWN;
    f->cause = (uint8_t)cause;
    ft->live--;
    pf_conn *c = &ft->ct->conns[ct];
    if (cause == PF_FT_TIMEOUT)
        c->flow_expired = 1;
    if (ft->on_event)
        ft->on_event(ft->event_ctx, ct, PF_EV_FLOW_TEARDOWN, cause, now);
    if (cause != PF_FT_CT_GONE)
        fixup_ct(ft, ct, now);
    /* deleted by the next GC pass */
    pf_wheel_set(&ft->wheel, ct, tick_of(ft, now + 1));
}

static void flow_delete(pf_ft_table *ft, uint32_t ct, int64_t now)
{
    pf_flow *f = &ft->flows[ct];
    pf_wheel_remove(&ft->wheel, ct);
    if (ft->on_event)
        ft->on_event(ft->event_ctx, ct, PF_EV_FLOW_DEL, f->cause, now);
    /* flow_offload_work_del: clear_bit(IPS_HW_OFFLOAD_BIT, &flow->ct->status) */
    ft->ct->conns[ct].status &= (uint8_t)~PF_IPS_HW_OFFLOAD;
    f->flags = 0;
    ft->count--;
}

void pf_ft_ct_gone(pf_ft_table *ft, uint32_t ct, int64_t now)
{
    pf_flow *f = &ft->flows[ct];
    if (!(f->flags & PF_FLOW_IN_TABLE))
        return;
    pf_ft_teardown(ft, ct, now, PF_FT_CT_GONE);
    flow_delete(ft, ct, now);
}

typedef struct gc_ctx {
    pf_ft_table *ft;
} gc_ctx;

/* nf_flow_offload_gc_step: an expired live flow is torn down and, being a software flow,
 * deleted in the same pass; a torn-down flow is deleted. */
static void gc_one(void *vctx, uint32_t ct, int64_t due)
{
    pf_ft_table *ft = ((gc_ctx *)vctx)->ft;
    pf_flow *f = &ft->flows[ct];
    int64_t now = ft->ct->origin_ns + due * 1000000000LL;
    if (!(f->flags & PF_FLOW_IN_TABLE))
        return;
    if (!(f->flags & PF_FLOW_TEARDOWN)) {
        /* nf_flow_offload_stats -> flow_offload_work_stats: a flow the hardware forwards is
         * kept alive: timeout = max(timeout, lastused + flowtable timeout) */
        if ((f->flags & PF_FLOW_HW) && ft->hw_last_hit) {
            int64_t last = ft->hw_last_hit(ft->event_ctx, ct);
            if (last != INT64_MIN && last + flow_timeout_ns(ft, ct) > f->timeout_ns)
                f->timeout_ns = last + flow_timeout_ns(ft, ct);
        }
        /* nf_flow_has_expired: timeout - now <= 0 */
        if (f->timeout_ns > now) {
            pf_wheel_set(&ft->wheel, ct, tick_of(ft, f->timeout_ns));
            return;
        }
        pf_ft_teardown(ft, ct, now, PF_FT_TIMEOUT);
    }
    flow_delete(ft, ct, now);
}

void pf_ft_gc_tick(pf_ft_table *ft, int64_t tick, int run_all)
{
    gc_ctx ctx = {ft};
    if (run_all)
        pf_wheel_run_all(&ft->wheel, tick, gc_one, &ctx);
    else
        pf_wheel_run_slot(&ft->wheel, tick, gc_one, &ctx);
}
