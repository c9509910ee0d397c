/* sim.h: the router simulator: one configuration, fed one decoded packet at a time by the run
 * driver (run.c). Prefix: pf_sim_. */
#ifndef PF_SIM_H
#define PF_SIM_H

#include <stdio.h>

#include "conntrack.h"
#include "flowtable.h"

struct pf_ppe;

/* per-connection accumulator behind pf_flow_summary */
typedef struct pf_flow_acc {
    pf_flow_summary sum;
    int64_t added_ns;   /* when the current flowtable entry was added */
    uint8_t live;       /* a confirmed connection occupies the slot */
    uint8_t offloaded;  /* its flowtable entry is live */
} pf_flow_acc;

struct pf_sim {
    pf_config cfg;
    pf_ct_table ct;
    pf_ft_table ft;
    struct pf_ppe *ppe;        /* mode hw only */
    pf_stats stats;
    FILE *log;
    char *log_buf;
    int log_error;
    /* per-packet decisions, kept when cfg.keep_decisions */
    uint8_t *dec_path, *dec_reason;
    uint64_t dec_count, dec_cap;
    char *dump_path[2];       /* conntrack, PPE */
    int dumped[2];
    /* connection summaries */
    pf_flow_acc *acc;
    pf_flow_summary *flows_done;
    uint64_t flows_count, flows_cap;
    int flows_nomem;
    /* time series */
    pf_series_bin *series;
    uint64_t series_count, series_cap;
    int64_t series_cur;           /* index of the bin being filled (-1 none) */
    int series_truncated;
    /* clock */
    int started;
    int64_t last_ts_ns;
    int64_t last_tick;
    uint32_t last_ct;          /* conntrack entry of the last packet, PF_CT_NONE (annotations) */
    int last_dir;              /* its direction (PF_DIR_*) */
    int64_t next_tick_ns;     /* time of the next GC tick */
    /* the first simulator of the current run with the same topology (itself when none): its
     * routing results, kept in the decoded packet, are this one's too (pf_sim_share_routes) */
    const pf_sim *route_canon;
    /* per-interface flags of cfg.ifaces as bit masks (bit i: interface i), for the per-packet path */
    uint32_t flowtable_ifaces;  /* in_flowtable */
    uint32_t shaped_ifaces;     /* shaped */
    int has_dumps;              /* a table dump is requested */
};

/* Called by the run driver before a run: each simulator reuses the routing result of the first
 * one in `sims` whose topology (interfaces' sides, default interfaces, mapping rules, LAN
 * prefixes) is identical, so a what-if grid routes each packet once per distinct topology. */
void pf_sim_share_routes(pf_sim *const *sims, uint32_t n);

/* Feeds one record (decoded) to the simulator. Returns PF_OK or PF_E_NOMEM (decisions). The
 * chosen path and reason are returned for the annotated output. */
int pf_sim_packet(pf_sim *s, const pf_record *rec, pf_decoded *d, uint8_t *path_out,
                  uint8_t *reason_out, uint64_t *flow_id_out);

/* A cache hint, no state change: fetches the connection a keyed packet (pf_ct_key_fill) will
 * look up: its hash bucket, then the entry the bucket points to (usually the packet's own) with
 * its flow and PPE state. The run driver calls it for every simulator before it feeds the packet
 * to the first one, so the loads of all the simulators' tables overlap with each other and with
 * the clock, routing and fast-path checks instead of stalling each lookup in turn (the tables
 * outgrow the L2 cache while the trace streams through it; a what-if grid has N of them). */
void pf_sim_prefetch(pf_sim *s, const pf_decoded *d);

/* Formats the flow tuple of the last packet given to pf_sim_packet ("tcp 192.168.1.10:51514>
 * 93.184.216.34:443", original direction) into buf; "" (returns 0) when it had no conntrack
 * entry. Returns the length written. */
int pf_sim_last_tuple(const pf_sim *s, char *buf, size_t len);
/* Mode hw: the PPE state of the last packet's flow direction (pf_ppe_describe), "" otherwise. */
int pf_sim_last_hw(const pf_sim *s, char *buf, size_t len);

/* Runs the GC to the end of the trace (for final occupancy figures) and flushes the log. */
int pf_sim_finish(pf_sim *s);

#endif
