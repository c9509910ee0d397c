/* conntrack.h: a model of nf_conntrack (net/netfilter/nf_conntrack_core.c and the
 * nf_conntrack_proto_{tcp,udp,icmp,generic}.c trackers). Prefix: pf_ct_.
 *
 * Entries live in one array of cfg->ct_max slots allocated at create time (nf_conntrack_max).
 * Both directions of a connection share one hash entry: the key orders the two endpoints, and
 * `orig_is_a` says which endpoint sent the original direction. pyflow models no NAT, so the
 * reply tuple is always the inverse of the original one, and one entry per connection is
 * equivalent to the kernel's two tuplehash entries. */
#ifndef PF_CONNTRACK_H
#define PF_CONNTRACK_H

#include "record.h"
#include "wheel.h"

/* ct->status bits, named after include/uapi/linux/netfilter/nf_conntrack_common.h */
#define PF_IPS_CONFIRMED 0x01u
#define PF_IPS_SEEN_REPLY 0x02u
#define PF_IPS_ASSURED 0x04u
#define PF_IPS_OFFLOAD 0x08u
#define PF_IPS_HW_OFFLOAD 0x10u

#define PF_CT_NONE 0xffffffffu

/* IP_CT_DIR_ORIGINAL / IP_CT_DIR_REPLY */
#define PF_DIR_ORIG 0
#define PF_DIR_REPLY 1

/* ip_ct_tcp_state.flags (include/uapi/linux/netfilter/nf_conntrack_tcp.h) */
#define PF_TCPF_WINDOW_SCALE 0x01u
#define PF_TCPF_SACK_PERM 0x02u
#define PF_TCPF_BE_LIBERAL 0x08u
#define PF_TCPF_DATA_UNACK 0x10u
#define PF_TCPF_MAXACK_SET 0x20u

/* struct ip_ct_tcp_state: one direction of TCP window tracking */
typedef struct pf_tcp_seen {
    uint32_t td_end;    /* max of seq + len */
    uint32_t td_maxend; /* max of ack + max(win, 1) */
    uint32_t td_maxwin; /* max(win) */
    uint8_t td_scale;   /* window scale factor */
    uint8_t flags;      /* PF_TCPF_* */
    uint8_t pad[2];
} pf_tcp_seen;

typedef struct pf_conn {
    /* first cache line: everything a fast-path (SFO/HFO) packet reads */
    pf_ct_key key;
    uint32_t hnext;          /* next entry in the hash chain (or free list) + 1, 0 at the end */
    uint8_t in_use;
    uint8_t status;          /* PF_IPS_* */
    uint8_t orig_is_a;       /* the original direction is endpoint a -> b */
    uint8_t paths_seen;      /* bit per pf_path: counted as a flow on that path */
    int64_t deadline_ns;     /* ct->timeout as an absolute time */
    uint32_t hbucket;
    uint8_t tcp_state;       /* enum pf_tcp_state */
    uint8_t flow_expired;    /* its last flowtable entry ended by idle timeout */
    int8_t iface[2];         /* ingress interface seen per direction, -1 unknown */
    /* second line: the slow path's */
    int64_t created_ns;
    uint64_t id;             /* connection number, 1-based, in order of creation */
    uint8_t tcp_close_init[2]; /* IP_CT_TCP_FLAG_CLOSE_INIT per direction */
    uint8_t tcp_last_dir, tcp_last_index;
    uint32_t tcp_maxack[2];     /* td_maxack: highest ACK sent by each direction */
    uint32_t tcp_last_end;      /* last_end of the last ACK-type segment (retransmission check) */
    pf_tcp_seen tcp_seen[2];    /* struct ip_ct_tcp_state per direction (window tracking) */
} pf_conn; /* 128 bytes, 64-byte aligned in the table: two cache lines */

/* nf_conn_acct counters per direction (nf_conntrack_acct = 1). Only an offload rule with a
 * `ct ... packets|bytes` condition reads them, so the table keeps them in a separate array that
 * exists only for such a rule (pf_ct_table.acct, NULL otherwise). */
typedef struct pf_ct_acct {
    uint64_t packets[2];
    uint64_t bytes[2];
} pf_ct_acct;

typedef struct pf_ct_table {
    const pf_config *cfg;
    pf_conn *conns;          /* max entries, 64-byte aligned inside conns_mem */
    void *conns_mem;
    pf_ct_acct *acct;        /* per entry, only when cfg->rule.ct_count (else NULL) */
    uint32_t *buckets;       /* head index + 1 per bucket, 0 empty */
    uint32_t nbuckets;       /* power of two */
    uint32_t free_head;      /* free list threaded through hnext (index + 1, 0 empty) */
    uint32_t next_unused;    /* entries never used yet start here */
    uint32_t count;          /* entries in use */
    uint32_t max;
    uint64_t next_id;
    pf_wheel wheel;          /* expiry reaping, ticks = GC seconds */
    int64_t origin_ns;       /* time of tick 0 */
    int64_t last_tick;       /* last GC tick run */
    uint64_t early_drops;
    /* called before an offloaded entry is early-dropped, so the flowtable can drop its flow */
    void (*evict_cb)(void *ctx, uint32_t ct);
    void *evict_ctx;
    /* called for every entry about to be freed (why: 1 expired, 2 early drop, 3 killed, 4
     * unconfirmed and dropped) */
    void (*free_cb)(void *ctx, uint32_t ct, int why);
} pf_ct_table;

/* Result of conntrack for one packet (nf_conntrack_in). */
enum pf_ct_verdict {
    PF_CT_OK = 0,        /* packet has a ct (new or existing) */
    PF_CT_INVALID = 1,   /* L4 tracker says invalid: no ct attached */
    PF_CT_FULL = 2,      /* table full and nothing to early-drop: packet dropped */
    PF_CT_UNTRACKED = 3  /* no ports to track (truncated L4): treated as invalid */
};

int pf_ct_init(pf_ct_table *t, const pf_config *cfg);
void pf_ct_free(pf_ct_table *t);

/* Builds the canonical key of a packet's tuple; *dir_is_a = the packet goes a -> b. */
void pf_ct_key_from_packet(const pf_decoded *d, pf_ct_key *key, int *dir_is_a);
/* The packet's conntrack key and hash (TCP/UDP/ICMP with an L4 header), computed on first use and
 * kept in d (ct_key_ok), so the simulators of a what-if grid compute it once per packet. */
void pf_ct_key_fill(pf_decoded *d);
static inline const pf_ct_key *pf_ct_packet_key(pf_decoded *d, uint32_t *hash, int *dir_is_a)
{
    if (!d->ct_key_ok) /* the first simulator to need it computes it for all the others */
        pf_ct_key_fill(d);
    *hash = d->ct_hash;
    *dir_is_a = d->ct_dir_is_a;
    return &d->ct_key;
}
uint32_t pf_ct_lookup_h(pf_ct_table *t, const pf_ct_key *key, uint32_t hash, int64_t now);
/* TCP or UDP with its ports read: the packets the flowtable looks up (and the run driver keys
 * once for all simulators). */
static inline int pf_ct_tcp_udp_with_ports(const pf_decoded *d)
{
    return (d->l4proto == 6 || d->l4proto == 17) && (d->flags & PF_PKT_HAS_L4);
}
void pf_ct_key_from_inner(const pf_decoded *d, pf_ct_key *key, int *dir_is_a);

/* Lookup without creating (fast-path and ICMP error use). Expired entries are invisible
 * unless offloaded (an offloaded ct never expires: nf_ct_offload_timeout). */
uint32_t pf_ct_lookup(pf_ct_table *t, const pf_ct_key *key, int64_t now);

/* nf_conntrack_in for a TCP/UDP/ICMP/other packet. On PF_CT_OK *ct_out is the entry, *dir_out
 * its direction and *is_new 1 when the entry was created by this (unconfirmed) packet.
 * `may_create` = 0 leaves existing entries alone when none matches (packets that will be
 * dropped before confirmation, e.g. TTL 1, create nothing that survives). */
int pf_ct_in(pf_ct_table *t, pf_decoded *d, int64_t now, int may_create, uint32_t *ct_out,
             int *dir_out, int *is_new);

/* __nf_conntrack_confirm: called for a forwarded packet of an unconfirmed entry. */
void pf_ct_confirm(pf_ct_table *t, uint32_t ct, int64_t now);
/* Destroys an unconfirmed entry whose packet was dropped. */
void pf_ct_destroy(pf_ct_table *t, uint32_t ct);

/* Sets ct->timeout (absolute) and re-arms the reaper. */
void pf_ct_set_deadline(pf_ct_table *t, uint32_t ct, int64_t deadline_ns);

/* nf_conntrack_tcp_established: ESTABLISHED and ASSURED. */
static inline int pf_ct_tcp_established(const pf_conn *c)
{
    return c->tcp_state == PF_TCP_ESTABLISHED && (c->status & PF_IPS_ASSURED);
}

/* GC tick: reaps entries whose timeout passed (not offloaded). Returns entries freed. */
void pf_ct_gc_tick(pf_ct_table *t, int64_t tick, int run_all);

/* Formats an address (IPv6 compressed as RFC 5952) */
void pf_ct_format_addr(uint8_t l3, const uint8_t *a, char *buf, size_t len);

/* Formats "tcp 192.168.1.10:51514>93.184.216.34:443" (original direction) into buf. */
int pf_ct_format_tuple(const pf_conn *c, char *buf, size_t len);

#endif
