/* ppe.h: a model of the MediaTek Packet Processing Engine and its driver
 * (drivers/net/ethernet/mediatek/mtk_ppe.c, mtk_ppe_offload.c, mtk_eth_soc.c, mtk_wed.c).
 * Prefix: pf_ppe_. Semantics: ../shared/docs/hw-offload-detail.md, README "Hardware offload". */
#ifndef PF_PPE_H
#define PF_PPE_H

#include <stdio.h>

#include "conntrack.h"

typedef struct pf_ppe pf_ppe;

/* What the driver needs to know about one direction of a flow. */
typedef struct pf_ppe_dir_info {
    const pf_ct_key *key;   /* canonical conntrack key */
    int from_a;             /* this direction's packets go endpoint a -> b */
    int in_iface, out_iface;
    uint8_t n_vlan;         /* VLAN tags on the ingress side */
} pf_ppe_dir_info;

/* Event callback (decision log): PF_EV_HW_BIND, PF_EV_HW_AGE_OUT for flow `flow`, direction. */
typedef void (*pf_ppe_event_fn)(void *ctx, uint32_t flow, int dir, int event, int64_t now);
void pf_ppe_set_event_cb(pf_ppe *p, pf_ppe_event_fn fn, void *ctx);
/* The conntrack table whose slot i is flow i (the dump prints its tuples). */
void pf_ppe_set_ct(pf_ppe *p, const pf_ct_table *ct);

int pf_ppe_create(const pf_config *cfg, pf_ppe **out, pf_error_info *err);
void pf_ppe_destroy(pf_ppe *p);

/* nf_flow_offload_add -> mtk_flow_offload_replace for both directions of flow `flow`.
 * Returns PF_OK when the driver accepted at least one direction (IPS_HW_OFFLOAD), else the
 * PF_R_* refusal reason of the first direction. refused[dir] receives the per-direction
 * refusal reason (0 when accepted). */
int pf_ppe_commit(pf_ppe *p, uint32_t flow, const pf_ppe_dir_info info[2], int64_t now,
                  int refused[2]);

/* A packet of `flow` direction `dir` arrives at the PPE (Ethernet or WED ingress). `eligible`:
 * the packet is one the PPE can forward in hardware (TCP without SYN/FIN/RST, TTL > 1, not a
 * fragment, no options, fits the MTU). Returns 1 when the PPE forwards it (HFO), 0 when it goes
 * to the CPU; then *reason gets the PF_R_* that explains why it is not HFO. May bind the
 * direction (the next packet is HFO). */
int pf_ppe_packet(pf_ppe *p, uint32_t flow, int dir, int64_t now, int eligible, uint8_t tcp_flags,
                  int *reason);

/* Cache hint, no state change: the two directions of flow slot `flow` (pf_sim_prefetch). */
void pf_ppe_prefetch(const pf_ppe *p, uint32_t flow);

/* Flow teardown/deletion: mtk_flow_offload_destroy -> mtk_foe_entry_clear. */
void pf_ppe_remove(pf_ppe *p, uint32_t flow, int64_t now);

/* Last time the hardware forwarded a packet of `flow` (either direction), INT64_MIN if never.
 * nf_flow_offload_stats refreshes the software flow with it. */
int64_t pf_ppe_last_hit(const pf_ppe *p, uint32_t flow);

/* Aging scan and occupancy sample for the 1 s tick ending at now. */
void pf_ppe_tick(pf_ppe *p, int64_t now, uint64_t ticks_elapsed, pf_stats *st);

/* Copies the counters (binds, age-outs, bound peak/sum/samples) into st. */
void pf_ppe_counters(const pf_ppe *p, pf_stats *st);

/* Currently bound FOE entries (all PPEs). */
uint64_t pf_ppe_bound(const pf_ppe *p);

/* Describes direction `dir` of `flow` for the annotated output: "ppe=0 hash=0x1a2c entry=0x1a2d
 * state=BND" (entry and state only when it holds a FOE entry), "ppe=refused" when the driver
 * refused it, "" when never committed. Returns the length written. */
int pf_ppe_describe(const pf_ppe *p, uint32_t flow, int dir, char *buf, size_t len);

/* Writes the table in the format of /sys/kernel/debug/ppe0/entries. */
int pf_ppe_dump(const pf_ppe *p, FILE *out);

#endif
