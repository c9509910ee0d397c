/* flowtable.h: a model of the nftables flowtable (net/netfilter/nf_flow_table_core.c,
 * nf_flow_table_ip.c, nft_flow_offload.c). Prefix: pf_ft_.
 *
 * A conntrack entry is in at most one flowtable entry at a time (IPS_OFFLOAD), so flow i
 * belongs to conntrack slot i: the table is a parallel array of ct_max flows, and the fast
 * path finds a packet's flow through the conntrack tuple hash, then checks the ingress
 * interface the flow recorded for that direction (the kernel keys its rhashtable on tuple +
 * iifidx + encap; the result is the same). */
#ifndef PF_FLOWTABLE_H
#define PF_FLOWTABLE_H

#include "conntrack.h"

/* flow->flags, after enum nf_flow_flags (include/net/netfilter/nf_flow_table.h) */
#define PF_FLOW_IN_TABLE 0x01u /* present in the table (possibly torn down, until GC) */
#define PF_FLOW_TEARDOWN 0x02u /* NF_FLOW_TEARDOWN: invisible to lookups */
#define PF_FLOW_HW 0x04u       /* NF_FLOW_HW: hardware offload requested */

/* Why a flow was torn down. */
enum pf_ft_cause { PF_FT_TIMEOUT = 0, PF_FT_FIN_RST = 1, PF_FT_CT_GONE = 2 };

typedef struct pf_flow {
    int64_t timeout_ns;   /* flow->timeout */
    uint8_t flags;
    uint8_t cause;        /* pf_ft_cause of the teardown */
    int8_t iif[2];        /* ingress interface per direction (flow_offload_tuple.iifidx) */
    int8_t oif[2];        /* egress interface per direction */
    uint16_t mtu[2];      /* path MTU per direction (flow_offload_tuple.mtu) */
} pf_flow;

typedef void (*pf_ft_event_fn)(void *ctx, uint32_t idx, int event, int cause, int64_t now);

typedef struct pf_ft_table {
    const pf_config *cfg;
    pf_ct_table *ct;
    pf_flow *flows;
    pf_wheel wheel;       /* GC: expiry of live flows, deletion of torn-down ones */
    uint32_t count;       /* flows in the table (live + torn down awaiting GC) */
    uint32_t live;        /* flows not torn down */
    pf_ft_event_fn on_event; /* PF_EV_FLOW_TEARDOWN / PF_EV_FLOW_DEL from GC and teardown */
    void *event_ctx;
    /* last time the hardware forwarded the flow (nf_flow_offload_stats), INT64_MIN if never */
    int64_t (*hw_last_hit)(void *ctx, uint32_t ct);
} pf_ft_table;

int pf_ft_init(pf_ft_table *ft, const pf_config *cfg, pf_ct_table *ct);
void pf_ft_free(pf_ft_table *ft);

/* flow_offload_lookup: the live flow of conntrack slot ct, or NULL (none, torn down). */
static inline pf_flow *pf_ft_lookup(pf_ft_table *ft, uint32_t ct)
{
    pf_flow *f = &ft->flows[ct];
    return ((f->flags & (PF_FLOW_IN_TABLE | PF_FLOW_TEARDOWN)) == PF_FLOW_IN_TABLE) ? f : NULL;
}

/* flow_offload_add: creates the flow of ct (timeout = now + flowtable timeout), sets
 * IPS_OFFLOAD and pushes the ct timeout out (nf_ct_offload_timeout). */
void pf_ft_add(pf_ft_table *ft, uint32_t ct, int64_t now, const int8_t iif[2], const int8_t oif[2],
               const uint16_t mtu[2], int hw);

/* flow_offload_refresh: timeout = now + flowtable timeout, written only when it moves by more
 * than 1 s. */
void pf_ft_refresh(pf_ft_table *ft, uint32_t ct, int64_t now);

/* flow_offload_teardown: NF_FLOW_TEARDOWN, clear IPS_OFFLOAD, fix up the ct timeout
 * (flow_offload_fixup_ct). The entry is deleted at the next GC tick. */
void pf_ft_teardown(pf_ft_table *ft, uint32_t ct, int64_t now, int cause);

/* Drops the flow of a ct that is being destroyed (early drop): teardown + delete now. */
void pf_ft_ct_gone(pf_ft_table *ft, uint32_t ct, int64_t now);

/* nf_flow_offload_gc_step for GC tick `tick` (time = origin + tick seconds). */
void pf_ft_gc_tick(pf_ft_table *ft, int64_t tick, int run_all);

#endif
