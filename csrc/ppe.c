/* ppe.c: see ppe.h. A model of the MediaTek PPE (Packet Processing Engine) FOE table and of
 * the driver that binds flows into it. Each rule cites the function it models (repository
 * torvalds/linux, drivers/net/ethernet/mediatek/ unless a path is given); facts and numbers
 * come from shared/docs/hw-offload-detail.md (§ numbers below refer to it).
 *
 * Model in one paragraph. One FOE table of cfg->ppe_entries slots per PPE, grouped in buckets
 * of cfg->ppe_ways (hash_offset) consecutive slots. The hardware learns an UNBIND entry for
 * every eligible packet that misses (SEARCH_MISS = FORWARD_BUILD), counts its packets per 1 s
 * timestamp tick and, when the count reaches cfg->ppe_bind_rate, reports RATE_REACHED; the
 * driver then (at most every cfg->ppe_check_interval_ms per slot) binds the slot if one of the
 * flows it committed to that bucket matches. Bound entries forward eligible packets (HFO) until
 * the PPE ages them (idle TCP 7 s / UDP 12 s / TCP after FIN 1 s) or the flow is deleted.
 *
 * Entries are identified by their owner: the flow direction whose packets created them
 * (owner = flow * 2 + dir). pyflow models no NAT and conntrack holds one entry per tuple, so
 * "the HW entry's tuple equals the committed flow's tuple" (mtk_flow_entry_match) is
 * "the entry's owner is this committed direction".
 *
 * Memory: everything is allocated in pf_ppe_create; the packet path allocates nothing and
 * costs O(ways). The aging scan walks a dense list of the non-INVALID slots only. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "ppe.h"

#define NS_PER_S 1000000000LL
#define NS_PER_MS 1000000LL
#define PPE_NONE 0xffffffffu

/* FOE entry states (mtk_ppe.h: MTK_FOE_STATE_*) */
enum { FOE_INVALID = 0, FOE_UNBIND = 1, FOE_BIND = 2, FOE_FIN = 3 };

/* FOE packet types (mtk_ppe.h: MTK_PPE_PKT_TYPE_*) */
#define FOE_TYPE_IPV4_HNAPT 0u
#define FOE_TYPE_IPV6_ROUTE_5T 5u

/* direction flags */
#define D_COMMITTED 0x01u /* mtk_flow_offload_replace ran for this direction */
#define D_ACCEPTED 0x02u  /* accepted: linked in its bucket's foe_flow[] list */
#define D_LEARNS 0x04u    /* its packets enter through a PPE (the PPE can learn them) */
#define D_AGED 0x08u      /* was bound, aged out by the PPE, not bound again yet */
#define D_FROM_A 0x10u    /* packets go endpoint a -> b of the canonical key */
#define D_IPV6 0x20u
#define D_UDP 0x40u
#define D_INIT 0x80u      /* links initialised (dirs come zeroed from calloc, untouched until used) */

typedef struct foe_entry {
    int64_t last_hit;   /* UNBIND: last packet; BIND/FIN: bind time, then every HW hit */
    int64_t check_time; /* foe_check_time[hash]; INT64_MIN = never checked */
    int64_t tick;       /* the 1 s timestamp tick `count` belongs to */
    uint64_t hw_packets;/* packets forwarded since bind (MIB, debugfs) */
    uint32_t owner;     /* flow * 2 + dir, PPE_NONE when INVALID */
    uint32_t count;     /* UNBIND packets in `tick` (MTK_FOE_IB1_UNBIND_PACKETS) */
    uint32_t active_pos;/* position in pf_ppe.active, PPE_NONE when INVALID */
    uint8_t state;      /* FOE_* */
    uint8_t is_static;  /* MTK_FOE_IB1_STATIC */
    uint8_t pad[18];    /* 64 bytes: one cache line per entry in the aligned table */
} foe_entry;

typedef struct ppe_dir {
    int64_t last_hfo;   /* last packet forwarded by the PPE, INT64_MIN if never */
    uint32_t entry;     /* global slot holding this direction's key, PPE_NONE */
    uint32_t bucket;    /* global slot of the first way of its bucket (hash) */
    uint32_t next, prev;/* foe_flow[bucket] list (direction ids), PPE_NONE at the ends */
    uint8_t flags;      /* D_* */
    uint8_t refused;    /* PF_R_* refusal reason, 0 when accepted */
    int8_t out_iface;
    /* The packet path's view of its FOE entry, so that a bound hit only writes that entry and
     * never waits to read it: bound mirrors "entry holds a BIND or FIN entry" (kept in step by
     * entry_invalidate, ppe_learn and ppe_check_skb), hfo_pending counts the hits not yet
     * folded into foe[entry].hw_packets (folded at 2^32 and read together by the dump). */
    uint8_t bound;
    uint32_t hfo_pending;
} ppe_dir;

struct pf_ppe {
    const pf_config *cfg;
    uint32_t entries, ways, way_shift, nppe, nflows;
    uint32_t nbuckets;        /* per PPE */
    int64_t check_ns;         /* ppe_check_interval_ms */
    foe_entry *foe;           /* nppe * entries slots; slot g belongs to PPE g / entries */
    uint32_t *foe_flow;       /* nppe * nbuckets list heads (mtk_ppe.foe_flow) */
    uint32_t *active;         /* non-INVALID slots, unordered */
    uint32_t nactive;
    ppe_dir *dirs;            /* 2 per flow */
    void *dirs_mem;
    const pf_ct_table *ct;    /* the conntrack table: flow i's tuple is conns[i].key (dump) */
    uint64_t bound, bound_peak, binds, age_outs, bound_sum, samples;
    pf_ppe_event_fn on_event; /* hw_bind / hw_age_out for the decision log */
    void *event_ctx;
};

void pf_ppe_set_ct(pf_ppe *p, const pf_ct_table *ct) { p->ct = ct; }

void pf_ppe_set_event_cb(pf_ppe *p, pf_ppe_event_fn fn, void *ctx)
{
    p->on_event = fn;
    p->event_ctx = ctx;
}

/* ---- hash (mtk_ppe.c:mtk_ppe_hash_entry) ----------------------------------------------- */

static inline uint32_t rd_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint32_t log2_u32(uint32_t v)
{
    uint32_t s = 0;
    while (v > 1) {
        v >>= 1;
        s++;
    }
    return s;
}

uint32_t pf_ppe_hash_tuple(int l3, const uint8_t *src, const uint8_t *dst, uint16_t sport,
                           uint16_t dport, uint32_t entries, uint32_t ways);

/* The FOE slot (first way of the bucket) of one direction's tuple. Addresses in network order
 * (IPv4: 4 bytes), ports host order. The FOE entry holds host-order words (be32_to_cpu in
 * mtk_foe_entry_set_ipv4_tuple / _ipv6_tuple); struct mtk_ipv4_tuple puts dest_port in the
 * low half of `ports` on these little-endian SoCs, so ports = src_port << 16 | dest_port.
 * IPv4 (HNAPT): hv1 = ports, hv2 = dst, hv3 = src. IPv6 (5T): XORs of address words. Then
 * the mixing of mtk_ppe_hash_entry, the shift by ffs(hash_offset) - 1 and the mask by
 * MTK_PPE_ENTRIES - 1 (here: `entries`, any power of two). */
uint32_t pf_ppe_hash_tuple(int l3, const uint8_t *src, const uint8_t *dst, uint16_t sport,
                           uint16_t dport, uint32_t entries, uint32_t ways)
{
    uint32_t hv1, hv2, hv3;
    uint32_t ports = (uint32_t)sport << 16 | dport;
    if (l3 == 6) {
        uint32_t s[4], d[4];
        for (int i = 0; i < 4; i++) {
            s[i] = rd_be32(src + 4 * i);
            d[i] = rd_be32(dst + 4 * i);
        }
        hv1 = s[3] ^ d[3] ^ ports;
        hv2 = s[2] ^ d[2] ^ d[0];
        hv3 = s[1] ^ d[1] ^ s[0];
    } else {
        hv1 = ports;
        hv2 = rd_be32(dst);
        hv3 = rd_be32(src);
    }
    uint32_t h = (hv1 & hv2) | (~hv1 & hv3);
    h = (h >> 24) | (h << 8);
    h ^= hv1 ^ hv2 ^ hv3;
    h ^= h >> 16;
    h <<= log2_u32(ways);
    return h & (entries - 1);
}

/* ---- helpers ------------------------------------------------------------------------------ */

static inline int64_t tick_of(int64_t t)
{
    /* the PPE timestamp: whole seconds of trace time (floor, also for negative times) */
    int64_t q = t / NS_PER_S;
    return (t % NS_PER_S < 0) ? q - 1 : q;
}

static inline int entry_bound(const foe_entry *e)
{
    return e->state == FOE_BIND || e->state == FOE_FIN;
}

static void active_add(pf_ppe *p, uint32_t g)
{
    p->foe[g].active_pos = p->nactive;
    p->active[p->nactive++] = g;
}

static void active_del(pf_ppe *p, uint32_t g)
{
    uint32_t pos = p->foe[g].active_pos;
    uint32_t last = p->active[--p->nactive];
    p->active[pos] = last;
    p->foe[last].active_pos = pos;
    p->foe[g].active_pos = PPE_NONE;
}

/* Slot g back to INVALID; detaches it from its owner direction. */
static void entry_invalidate(pf_ppe *p, uint32_t g)
{
    foe_entry *e = &p->foe[g];
    if (e->state == FOE_INVALID)
        return;
    if (entry_bound(e))
        p->bound--;
    if (e->owner != PPE_NONE && p->dirs[e->owner].entry == g) {
        p->dirs[e->owner].entry = PPE_NONE;
        p->dirs[e->owner].bound = 0;
        p->dirs[e->owner].hfo_pending = 0;
    }
    e->state = FOE_INVALID;
    e->owner = PPE_NONE;
    e->count = 0;
    e->hw_packets = 0;
    active_del(p, g);
}

static void pending_link(pf_ppe *p, uint32_t id)
{
    ppe_dir *d = &p->dirs[id];
    uint32_t *head = &p->foe_flow[d->bucket / p->ways];
    /* hlist_add_head */
    d->prev = PPE_NONE;
    d->next = *head;
    if (*head != PPE_NONE)
        p->dirs[*head].prev = id;
    *head = id;
    d->flags |= D_ACCEPTED;
}

static void pending_unlink(pf_ppe *p, uint32_t id)
{
    ppe_dir *d = &p->dirs[id];
    if (!(d->flags & D_ACCEPTED))
        return;
    if (d->prev != PPE_NONE)
        p->dirs[d->prev].next = d->next;
    else
        p->foe_flow[d->bucket / p->ways] = d->next;
    if (d->next != PPE_NONE)
        p->dirs[d->next].prev = d->prev;
    d->next = d->prev = PPE_NONE;
    d->flags &= (uint8_t)~D_ACCEPTED;
}

/* ---- create / destroy --------------------------------------------------------------------- */

static int arg_error(pf_error_info *err, const char *msg)
{
    if (err) {
        err->code = PF_E_ARG;
        err->offset = 0;
        snprintf(err->message, sizeof err->message, "%s", msg);
    }
    return PF_E_ARG;
}

void pf_ppe_destroy(pf_ppe *p)
{
    if (!p)
        return;
    free(p->foe);
    free(p->foe_flow);
    free(p->active);
    free(p->dirs_mem);
    free(p);
}

/* mtk_ppe_init (tables) + mtk_ppe_start/mtk_ppe_init_foe_table (STATIC slots). A config with
 * ppe_entries == 0 is a SoC without PPE (no offload_version): every flow is refused. */
int pf_ppe_create(const pf_config *cfg, pf_ppe **out, pf_error_info *err)
{
    *out = NULL;
    uint32_t entries = cfg->ppe_entries, ways = cfg->ppe_ways;
    if (ways != 1 && ways != 2 && ways != 4 && ways != 8)
        return arg_error(err, "ppe_ways must be 1, 2, 4 or 8");
    if (entries != 0 && ((entries & (entries - 1)) != 0 || entries < ways))
        return arg_error(err, "ppe_entries must be a power of two >= ppe_ways (or 0: no PPE)");
    if (entries > (1u << 24))
        return arg_error(err, "ppe_entries is too large (max 16777216)");
    if (cfg->ppe_count < 1 || cfg->ppe_count > 3)
        return arg_error(err, "ppe_count must be 1..3");
    if (cfg->ppe_bind_rate < 1)
        return arg_error(err, "ppe_bind_rate must be >= 1");
    if (cfg->ct_max < 1 || cfg->ct_max > 0x7fffffffu)
        return arg_error(err, "ct_max out of range for the PPE model");

    pf_ppe *p = calloc(1, sizeof *p);
    if (!p)
        return PF_E_NOMEM;
    p->cfg = cfg;
    p->entries = entries;
    p->ways = ways;
    p->way_shift = log2_u32(ways);
    p->nppe = cfg->ppe_count;
    p->nflows = cfg->ct_max;
    p->nbuckets = entries / ways;
    p->check_ns = (int64_t)cfg->ppe_check_interval_ms * NS_PER_MS;
    size_t nslots = (size_t)entries * p->nppe;
    /* initialised on first commit; 64-byte aligned so a flow's two directions share a line */
    _Static_assert(sizeof(ppe_dir) == 32 && sizeof(foe_entry) == 64, "one line per flow / entry");
    p->dirs = pf_mem_calloc_lines((size_t)p->nflows * 2, sizeof(ppe_dir), &p->dirs_mem);
    if (nslots) {
        p->foe = aligned_alloc(64, nslots * sizeof *p->foe);
        p->foe_flow = malloc((size_t)p->nbuckets * p->nppe * sizeof *p->foe_flow);
        p->active = malloc(nslots * sizeof *p->active);
    }
    if (!p->dirs || (nslots && (!p->foe || !p->foe_flow || !p->active))) {
        pf_ppe_destroy(p);
        return PF_E_NOMEM;
    }
    for (size_t g = 0; g < nslots; g++) {
        foe_entry *e = &p->foe[g];
        memset(e, 0, sizeof *e);
        e->owner = PPE_NONE;
        e->active_pos = PPE_NONE;
        e->check_time = INT64_MIN;
        e->tick = INT64_MIN;
        e->last_hit = INT64_MIN;
    }
    /* mtk_ppe_init_foe_table: on MT7621 the slots crossing a 1024-byte boundary (12, 25, 38,
     * 51, 76, 89, 102 of every 128) get MTK_FOE_IB1_STATIC and are never usable
     * (mtk_foe_entry_usable). */
    if (cfg->ppe_mt7621_static) {
        static const uint8_t skip[] = {12, 25, 38, 51, 76, 89, 102};
        for (size_t g = 0; g < nslots; g++) {
            uint32_t i = (uint32_t)(g % entries);
            for (size_t k = 0; k < sizeof skip; k++)
                if (i % 128 == skip[k])
                    p->foe[g].is_static = 1;
        }
    }
    for (size_t b = 0; b < (size_t)p->nbuckets * p->nppe; b++)
        p->foe_flow[b] = PPE_NONE;
    *out = p;
    return PF_OK;
}

/* ---- commit (mtk_flow_offload_replace + mtk_foe_entry_commit) ------------------------------- */

static const pf_iface *iface_of(const pf_config *cfg, int i)
{
    if (i < 0 || (uint32_t)i >= cfg->n_ifaces || i >= 16)
        return NULL;
    return &cfg->ifaces[i];
}

static int is_wifi(const pf_iface *f) { return f && f->kind == PF_KIND_WIFI; }

/* Whether a Wi-Fi end is covered by WED (mtk_wed.c, mt76 mt7915/mt7996). `ingress`: the
 * packets come from this radio (WED RX). Returns 0 or the refusal reason. */
static int wed_check(const pf_config *cfg, const pf_iface *f, int ingress)
{
    /* mtk_flow_get_wdma_info / mtk_wed_setup_tc_block: no WED on the SoC (MT7621) or the
     * radio is not attached (mt76 wed_enable=N, non-mt76 card) -> not an mtk device,
     * -EOPNOTSUPP */
    if (cfg->wed_version == 0 || !f->wed)
        return PF_R_WIFI_NO_WED;
    /* boards whose 2.4 GHz radio has no WED (MT7622: SoC WMAC on mt7615; OpenWrt wiki
     * "5 GHz only"), §5: a preset switch */
    if (f->band == PF_BAND_2G && !cfg->wed_2g)
        return PF_R_WED_2G_EXCLUDED;
    /* mtk_wed.c:mtk_wed_setup_tc returns -EOPNOTSUPP on WED v1: only Ethernet -> Wi-Fi */
    if (ingress && cfg->wed_version < 2)
        return PF_R_WIFI_NO_WED;
    return 0;
}

/* The refusal reason of one direction, 0 when the driver accepts it. *learns: the direction's
 * packets pass a PPE (so the hardware learns UNBIND entries for them even when refused). */
static int replace_check(const pf_config *cfg, const pf_ppe_dir_info *in, int *learns)
{
    const pf_iface *iif = iface_of(cfg, in->in_iface), *oif = iface_of(cfg, in->out_iface);
    *learns = 0;
    /* mtk_eth_setup_tc: no offload_version / no PPE -> -EOPNOTSUPP */
    if (cfg->ppe_entries == 0)
        return PF_R_HW_NO_PPE;
    /* mtk_flow_offload_replace, addr_type switch: IPv6 only where the PPE model supports it
     * (every mainline HFO SoC does; the knob models older kernels / presets) */
    if (in->key->l3 == 6 && !cfg->ppe_ipv6)
        return PF_R_PPE_IPV6_UNSUPPORTED;
    /* mtk_foe_entry_set_vlan: a third VLAN layer -> -ENOSPC */
    if (in->n_vlan > 2)
        return PF_R_PPE_UNSUPPORTED_ENCAP;
    /* ingress: a Wi-Fi radio reaches the PPE only through WED RX (v2+) */
    int r = is_wifi(iif) ? wed_check(cfg, iif, 1) : 0;
    *learns = (r == 0);
    if (r)
        return r;
    /* egress: mtk_flow_set_output_device -> mtk_flow_get_wdma_info for a wlan device */
    if (is_wifi(oif))
        return wed_check(cfg, oif, 0);
    return 0;
}

static void dir_clear(pf_ppe *p, uint32_t id)
{
    ppe_dir *d = &p->dirs[id];
    if (!(d->flags & D_INIT)) { /* first use of this flow slot */
        d->entry = d->bucket = d->next = d->prev = PPE_NONE;
        d->flags = D_INIT;
        d->bound = 0;
        d->hfo_pending = 0;
        d->last_hfo = INT64_MIN;
        return;
    }
    /* mtk_foe_entry_clear -> __mtk_foe_entry_clear: unlink from foe_flow[], clear the slot */
    pending_unlink(p, id);
    if (d->entry != PPE_NONE)
        entry_invalidate(p, d->entry);
    d->entry = PPE_NONE;
    d->bound = 0;
    d->hfo_pending = 0;
    d->flags = D_INIT;
    d->refused = 0;
    d->last_hfo = INT64_MIN;
}

int pf_ppe_commit(pf_ppe *p, uint32_t flow, const pf_ppe_dir_info info[2], int64_t now,
                  int refused[2])
{
    (void)now;
    const pf_config *cfg = p->cfg;
    int first_refusal = 0, accepted = 0;
    if (flow >= p->nflows) {
        refused[0] = refused[1] = PF_R_HW_NO_PPE;
        return PF_R_HW_NO_PPE;
    }
    for (int k = 0; k < 2; k++) {
        uint32_t id = flow * 2 + (uint32_t)k;
        dir_clear(p, id); /* a re-commit replaces the previous state of the flow */
        ppe_dir *d = &p->dirs[id];
        const pf_ppe_dir_info *in = &info[k];
        const pf_ct_key *key = in->key;
        int learns = 0;
        int r = replace_check(cfg, in, &learns);
        d->flags = D_INIT | D_COMMITTED;
        if (in->from_a)
            d->flags |= D_FROM_A;
        if (key->l3 == 6)
            d->flags |= D_IPV6;
        if (key->proto == 17)
            d->flags |= D_UDP;
        if (learns)
            d->flags |= D_LEARNS;
        d->refused = (uint8_t)r;
        d->out_iface = (int8_t)in->out_iface;
        refused[k] = r;
        if (p->entries && learns) {
            /* mtk_flow_offload_replace: ppe_index of the ingress GMAC (mtk_open: GMACn ->
             * PPEn-1). pyflow has no GMAC map, so the PPE is in_iface % ppe_count. */
            uint32_t ppe = in->in_iface >= 0 ? (uint32_t)in->in_iface % p->nppe : 0;
            const uint8_t *src = in->from_a ? key->addr_a : key->addr_b;
            const uint8_t *dst = in->from_a ? key->addr_b : key->addr_a;
            uint16_t sport = in->from_a ? key->port_a : key->port_b;
            uint16_t dport = in->from_a ? key->port_b : key->port_a;
            uint32_t h = pf_ppe_hash_tuple(key->l3, src, dst, sport, dport, p->entries, p->ways);
            d->bucket = ppe * p->entries + h;
        }
        if (r) {
            if (!first_refusal)
                first_refusal = r;
            continue;
        }
        /* mtk_foe_entry_commit: hash, entry->hash = 0xffff, hlist_add_head(foe_flow[hash /
         * hash_offset]); never fails on a collision (§1.3) */
        pending_link(p, id);
        accepted = 1;
    }
    return accepted ? PF_OK : first_refusal;
}

/* ---- packets ---------------------------------------------------------------------------- */

/* The PPE learns a missed packet (MTK_PPE_SEARCH_MISS_ACTION_FORWARD_BUILD, mtk_ppe_start).
 * HW-internal choice (§1.3, §11.1), modelled as: an INVALID way first; else the UNBIND way
 * hit least recently among those not hit in the current 1 s tick. An UNBIND entry that has
 * counted a packet in the current rate window is kept, so colliding flows do not evict each
 * other before either can reach the bind rate: "when there is a hash collision between
 * multiple flows, this allows the hardware to maintain the entry for the most active flow"
 * (commit c4f033d9e03e). BIND and STATIC ways are never taken (mtk_foe_entry_usable).
 * Returns the slot, or PPE_NONE with *all_bound = 1 when every way is BIND or STATIC, 0 when
 * some way holds an UNBIND entry active in this tick. */
static uint32_t ppe_learn(pf_ppe *p, uint32_t id, int64_t now, int64_t tick, int *all_bound)
{
    ppe_dir *d = &p->dirs[id];
    uint32_t victim = PPE_NONE;
    *all_bound = 1;
    for (uint32_t w = 0; w < p->ways; w++) {
        uint32_t g = d->bucket + w;
        foe_entry *e = &p->foe[g];
        if (e->is_static || entry_bound(e))
            continue;
        *all_bound = 0;
        if (e->state == FOE_INVALID) {
            victim = g;
            break;
        }
        if (e->tick == tick)
            continue; /* counting in this window: kept */
        if (victim == PPE_NONE || e->last_hit < p->foe[victim].last_hit)
            victim = g;
    }
    if (victim == PPE_NONE)
        return PPE_NONE;
    foe_entry *e = &p->foe[victim];
    if (e->state != FOE_INVALID)
        entry_invalidate(p, victim); /* the other direction loses its UNBIND entry */
    e->state = FOE_UNBIND;
    e->owner = id;
    e->count = 0;
    e->tick = tick;
    e->last_hit = now;
    e->hw_packets = 0;
    active_add(p, victim);
    d->entry = victim;
    d->bound = 0;
    d->hfo_pending = 0;
    return victim;
}

/* mtk_ppe.c:__mtk_ppe_check_skb for slot g: nothing if already BIND; else the first entry of
 * foe_flow[g / hash_offset] that matches the HW entry (mtk_flow_entry_match) is written into
 * the slot with state BIND and the current timestamp (__mtk_foe_entry_commit). */
static void ppe_check_skb(pf_ppe *p, uint32_t g, int64_t now)
{
    foe_entry *e = &p->foe[g];
    if (entry_bound(e))
        return;
    for (uint32_t id = p->foe_flow[g / p->ways]; id != PPE_NONE; id = p->dirs[id].next) {
        if (id != e->owner)
            continue;
        e->state = FOE_BIND;
        e->last_hit = now;
        e->hw_packets = 0;
        p->dirs[id].bound = 1;
        p->dirs[id].hfo_pending = 0;
        p->dirs[id].flags &= (uint8_t)~D_AGED;
        p->binds++;
        if (++p->bound > p->bound_peak)
            p->bound_peak = p->bound;
        if (p->on_event)
            p->on_event(p->event_ctx, id / 2, (int)(id % 2), PF_EV_HW_BIND, now);
        return;
    }
}

/* Reason for a CPU packet of a direction without a bound entry. */
static int unbound_reason(const ppe_dir *d)
{
    if (d->refused)
        return d->refused;
    return (d->flags & D_AGED) ? PF_R_HW_AGED : PF_R_HW_BIND_PENDING;
}

void pf_ppe_prefetch(const pf_ppe *p, uint32_t flow)
{
    if (flow < p->nflows)
        __builtin_prefetch(&p->dirs[flow * 2], 1); /* both directions: one aligned line */
}

int pf_ppe_packet(pf_ppe *p, uint32_t flow, int dir, int64_t now, int eligible, uint8_t tcp_flags,
                  int *reason)
{
    uint32_t id = flow * 2 + (uint32_t)(dir != 0);
    ppe_dir *d = flow < p->nflows ? &p->dirs[id] : NULL;
    if (!d || !(d->flags & D_COMMITTED)) {
        *reason = PF_R_HW_BIND_PENDING; /* not committed: sim.c never asks (flow without HW) */
        return 0;
    }
    if (!(d->flags & D_LEARNS)) {
        /* ingress never passes a PPE (no PPE, non-WED / WED v1 Wi-Fi RX, ...): §2.3 */
        *reason = d->refused ? d->refused : PF_R_HW_NO_PPE;
        return 0;
    }
    int syn_fin_rst = !(d->flags & D_UDP) & ((tcp_flags & (PF_TCP_SYN | PF_TCP_FIN | PF_TCP_RST)) != 0);
    foe_entry *e = d->entry != PPE_NONE ? &p->foe[d->entry] : NULL;
    if (d->bound) { /* == e && entry_bound(e), without reading e */
        if (eligible) {
            /* bound hit: forwarded by the PPE (§2.1 step 6); the PPE refreshes the
             * timestamp, the driver reads it back (mtk_foe_entry_idle_time) */
            e->last_hit = now;
            if (__builtin_expect(++d->hfo_pending == 0, 0))
                e->hw_packets += (uint64_t)1 << 32;
            d->last_hfo = now;
            *reason = PF_R_HW_FORWARDED;
            return 1;
        }
        /* punted by a bound entry (§2.6): TCP FIN -> HIT_BIND_TCP_FIN, the entry enters the
         * FIN state and ages after ppe_age_tcp_fin_s (BIND_AGE1 TCP_FIN). SYN/FIN/RST ->
         * CPU reason TCP_FIN_SYN_RST, reported as PF_R_TCP_FIN_RST; TTL/fragment/options/
         * MTU punts go to the slow path in sim.c, which sets its own reason. */
        if (!(d->flags & D_UDP) && (tcp_flags & PF_TCP_FIN)) {
            e->state = FOE_FIN;
            e->last_hit = now;
        }
        *reason = syn_fin_rst ? PF_R_TCP_FIN_RST : PF_R_HW_BIND_PENDING;
        return 0;
    }
    if (!eligible) {
        /* punted before lookup/learning (CPU reasons 0x02/0x03/0x08/0x0c/0x1c): no learning,
         * no rate count */
        *reason = syn_fin_rst && !d->refused ? PF_R_TCP_FIN_RST : unbound_reason(d);
        return 0;
    }
    int64_t tick = tick_of(now);
    uint32_t g = d->entry;
    if (g == PPE_NONE) {
        int all_bound;
        g = ppe_learn(p, id, now, tick, &all_bound);
        if (g == PPE_NONE) {
            /* no learning: every way BIND or STATIC (the direction stays in software until
             * a way frees up), or the ways hold UNBIND entries active in this tick (it may
             * get a way in a later tick: still pending) */
            *reason = d->refused ? d->refused
                                 : all_bound ? PF_R_PPE_BUCKET_FULL : unbound_reason(d);
            return 0;
        }
        e = &p->foe[g];
    }
    /* UNBIND hit: the PPE counts the packets of the entry per timestamp tick (BIND_RATE is
     * packets per second; tumbling 1 s window, §2.3) */
    if (e->tick != tick) {
        e->tick = tick;
        e->count = 0;
    }
    if (e->count < UINT32_MAX)
        e->count++;
    e->last_hit = now;
    *reason = unbound_reason(d);
    if (e->count >= p->cfg->ppe_bind_rate) {
        /* HIT_UNBIND_RATE_REACHED -> mtk_poll_rx -> mtk_ppe_check_skb: at most one check
         * per slot every HZ/10 (foe_check_time[hash]) */
        if (e->check_time == INT64_MIN || now - e->check_time >= p->check_ns) {
            e->check_time = now;
            ppe_check_skb(p, g, now);
            if (entry_bound(e))
                *reason = PF_R_HW_BIND_PENDING; /* this packet still went to the CPU */
        }
    }
    return 0;
}

/* ---- teardown, stats, aging ------------------------------------------------------------- */

void pf_ppe_remove(pf_ppe *p, uint32_t flow, int64_t now)
{
    (void)now;
    if (flow >= p->nflows)
        return;
    /* mtk_flow_offload_destroy -> mtk_foe_entry_clear for both directions. The model also
     * drops the direction's UNBIND entry (it is keyed by the flow slot, which conntrack may
     * reuse); in hardware it would age out within ppe_age_unbind_s. */
    dir_clear(p, flow * 2);
    dir_clear(p, flow * 2 + 1);
}

int64_t pf_ppe_last_hit(const pf_ppe *p, uint32_t flow)
{
    if (flow >= p->nflows)
        return INT64_MIN;
    if (!(p->dirs[flow * 2].flags & D_INIT))
        return INT64_MIN;
    int64_t a = p->dirs[flow * 2].last_hfo, b = p->dirs[flow * 2 + 1].last_hfo;
    return a > b ? a : b;
}

uint64_t pf_ppe_bound(const pf_ppe *p) { return p->bound; }

/* Idle limit of a non-INVALID entry (mtk_ppe_start: UNBIND_AGE delta, BIND_AGE0 UDP,
 * BIND_AGE1 TCP / TCP_FIN), in ns. */
static int64_t age_limit(const pf_ppe *p, const foe_entry *e)
{
    const pf_config *cfg = p->cfg;
    uint32_t s;
    if (e->state == FOE_UNBIND)
        s = cfg->ppe_age_unbind_s;
    else if (e->state == FOE_FIN)
        s = cfg->ppe_age_tcp_fin_s;
    else if (p->dirs[e->owner].flags & D_UDP)
        s = cfg->ppe_age_udp_s;
    else
        s = cfg->ppe_age_tcp_s;
    return (int64_t)s * NS_PER_S;
}

/* The PPE's aging scan (TB_CFG SCAN_MODE CHECK_AGE; §2.5): an entry idle longer than its
 * delta goes back to INVALID. A bound entry that ages leaves the driver's software entry
 * linked (hash becomes stale), so the direction relearns and must reach the bind rate again.
 * Runs for the tick ending at `now`; ticks_elapsed > 1 covers the ticks now - (n-1) s .. now:
 * each entry counts in the occupancy sum for the ticks it survives. */
void pf_ppe_tick(pf_ppe *p, int64_t now, uint64_t ticks_elapsed, pf_stats *st)
{
    uint64_t n = ticks_elapsed ? ticks_elapsed : 1;
    int64_t first = now - (int64_t)(n - 1) * NS_PER_S;
    uint64_t bound_sum = 0;
    for (uint32_t i = 0; i < p->nactive;) {
        uint32_t g = p->active[i];
        foe_entry *e = &p->foe[g];
        int64_t limit = age_limit(p, e);
        int bound = entry_bound(e);
        if (bound) {
            /* ticks t_j = first + j s (j < n) at which idle <= limit */
            int64_t last_ok = e->last_hit + limit; /* bound at tick t iff t <= last_ok */
            if (last_ok >= now)
                bound_sum += n;
            else if (last_ok >= first)
                bound_sum += (uint64_t)((last_ok - first) / NS_PER_S) + 1;
        }
        if (now - e->last_hit > limit) {
            if (bound) {
                p->age_outs++;
                p->dirs[e->owner].flags |= D_AGED;
                if (p->on_event)
                    p->on_event(p->event_ctx, e->owner / 2, (int)(e->owner % 2), PF_EV_HW_AGE_OUT, now);
            }
            entry_invalidate(p, g); /* swaps another slot into position i */
            continue;
        }
        i++;
    }
    p->bound_sum += bound_sum;
    p->samples += n;
    if (st)
        pf_ppe_counters(p, st);
}

void pf_ppe_counters(const pf_ppe *p, pf_stats *st)
{
    st->hw_binds = p->binds;
    st->hw_age_outs = p->age_outs;
    st->ppe_bound_peak = p->bound_peak;
    st->ppe_bound_sum = p->bound_sum;
    st->ppe_samples = p->samples;
}

/* ---- debugfs look-alike (mtk_ppe_debugfs.c:mtk_ppe_debugfs_foe_show) ------------------------ */

static void print_addr(FILE *out, const uint8_t *a, int v6)
{
    if (!v6) {
        fprintf(out, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]); /* %pI4h of the host-order word */
        return;
    }
    /* %pI6: eight groups of 4 hex digits with leading zeros, not compressed */
    for (int i = 0; i < 8; i++)
        fprintf(out, "%s%02x%02x", i ? ":" : "", a[2 * i], a[2 * i + 1]);
}

static void print_tuple(FILE *out, const pf_ct_key *k, int from_a, int v6)
{
    const uint8_t *src = from_a ? k->addr_a : k->addr_b, *dst = from_a ? k->addr_b : k->addr_a;
    uint16_t sp = from_a ? k->port_a : k->port_b, dp = from_a ? k->port_b : k->port_a;
    print_addr(out, src, v6);
    fprintf(out, ":%u->", sp);
    print_addr(out, dst, v6);
    fprintf(out, ":%u", dp);
}

/* ib1/ib2 as the driver would have written them (mtk_foe_entry_prepare, mtk_ppe.h bit
 * layout); NETSYS v2 layout when hash_offset >= 4 (MT7981/7986/7988), else v1. */
static void entry_words(const pf_ppe *p, const foe_entry *e, const ppe_dir *d, uint32_t *ib1,
                        uint32_t *ib2)
{
    int v2 = p->ways >= 4;
    uint32_t type = (d->flags & D_IPV6) ? FOE_TYPE_IPV6_ROUTE_5T : FOE_TYPE_IPV4_HNAPT;
    uint32_t udp = (d->flags & D_UDP) ? 1u : 0u;
    uint32_t ts = (uint32_t)tick_of(e->last_hit);
    uint32_t w1 = (uint32_t)e->state << 28 | udp << 30;
    uint32_t w2 = 0;
    if (e->state == FOE_UNBIND) {
        /* MTK_FOE_IB1_UNBIND_PACKETS 23:8, UNBIND_TIMESTAMP 7:0 */
        w1 |= (v2 ? type << 23 : type << 25) | (e->count & 0xffffu) << 8 | (ts & 0xffu);
    } else if (v2) {
        /* PACKET_TYPE_V2 27:23, TTL_V2 bit 22, CACHE_V2 bit 20, TIMESTAMP_V2 7:0 */
        w1 |= type << 23 | 1u << 22 | 1u << 20 | (ts & 0xffu);
        /* DEST_PORT_V2 12:9 (GDM1 = 1, WDMA0 = 8), MIB_CNT_V2 bit 15, PORT_AG_V2 23:20 */
        const pf_iface *o = iface_of(p->cfg, d->out_iface);
        uint32_t port = is_wifi(o) ? 8u : 1u;
        w2 = port << 9 | 1u << 15 | 0xfu << 20 | (is_wifi(o) ? 1u << 19 : 0u);
    } else {
        /* PACKET_TYPE 27:25, TTL bit 24, CACHE bit 22, BIND_TIMESTAMP 14:0 */
        w1 |= type << 25 | 1u << 24 | 1u << 22 | (ts & 0x7fffu);
        /* DEST_PORT 7:5 (GDM1 = 1, WDMA = 3), MIB_CNT bit 10 (not MT7621), PORT_MG 17:12,
         * PORT_AG 23:18 */
        const pf_iface *o = iface_of(p->cfg, d->out_iface);
        uint32_t port = is_wifi(o) ? 3u : 1u;
        w2 = port << 5 | (p->cfg->ppe_mt7621_static ? 0u : 1u << 10) |
             (is_wifi(o) ? 1u << 17 : 0x3fu << 12) | 0x1fu << 18;
    }
    *ib1 = w1;
    *ib2 = w2;
}

int pf_ppe_dump(const pf_ppe *p, FILE *out)
{
    static const char *const state_str[] = {"INV", "UNB", "BND", "FIN"};
    for (uint32_t ppe = 0; ppe < p->nppe && p->entries; ppe++) {
        /* several PPEs: one section per debugfs file, with head(1)-style headers */
        if (p->nppe > 1)
            fprintf(out, "%s==> /sys/kernel/debug/ppe%u/entries <==\n", ppe ? "\n" : "", ppe);
        for (uint32_t i = 0; i < p->entries; i++) {
            const foe_entry *e = &p->foe[(size_t)ppe * p->entries + i];
            if (e->state == FOE_INVALID)
                continue;
            const ppe_dir *d = &p->dirs[e->owner];
            if (!p->ct)
                continue;
            const pf_ct_key *k = &p->ct->conns[e->owner / 2].key;
            int v6 = (d->flags & D_IPV6) != 0, from_a = (d->flags & D_FROM_A) != 0;
            uint32_t ib1, ib2;
            entry_words(p, e, d, &ib1, &ib2);
            fprintf(out, "%05x %s %7s orig=", i, state_str[e->state], v6 ? "IPv6 5T" : "IPv4 5T");
            print_tuple(out, k, from_a, v6);
            if (!v6) {
                /* routed flows (pyflow models no NAT): new tuple = orig */
                fprintf(out, " new=");
                print_tuple(out, k, from_a, v6);
            }
            /* etype: ntohs() of a host-order value prints byte-swapped (0x0800 -> 0008);
             * MACs unknown to the model. packets: MIB since bind, 0 without accounting
             * (MT7621); bytes: not modelled (0). */
            unsigned etype = entry_bound(e) ? (v6 ? 0xdd86u : 0x0008u) : 0u;
            uint64_t pk = (entry_bound(e) && !p->cfg->ppe_mt7621_static)
                              ? e->hw_packets + (e->owner != PPE_NONE ? p->dirs[e->owner].hfo_pending : 0)
                              : 0;
            fprintf(out,
                    " eth=00:00:00:00:00:00->00:00:00:00:00:00 etype=%04x vlan=0,0"
                    " ib1=%08x ib2=%08x packets=%llu bytes=0\n",
                    etype, ib1, ib2, (unsigned long long)pk);
        }
    }
    return ferror(out) ? PF_E_IO : PF_OK;
}

int pf_ppe_describe(const pf_ppe *p, uint32_t flow, int dir, char *buf, size_t len)
{
    static const char *const state_str[] = {"INV", "UNB", "BND", "FIN"};
    int n = 0;
    if (len)
        buf[0] = '\0';
    if (!p || flow >= p->nflows || dir < 0 || dir > 1 || len == 0 || !p->entries)
        return 0;
    const ppe_dir *d = &p->dirs[flow * 2 + (uint32_t)dir];
    if (!(d->flags & D_COMMITTED))
        return 0;
    if (!(d->flags & D_ACCEPTED))
        n = snprintf(buf, len, "ppe=refused");
    else if (d->entry != PPE_NONE)
        n = snprintf(buf, len, "ppe=%u hash=0x%04x entry=0x%04x state=%s", d->bucket / p->entries,
                     d->bucket % p->entries, d->entry % p->entries,
                     state_str[p->foe[d->entry].state & 3u]);
    else
        n = snprintf(buf, len, "ppe=%u hash=0x%04x", d->bucket / p->entries,
                     d->bucket % p->entries);
    if (n < 0)
        return 0;
    return (size_t)n >= len ? (int)(len - 1) : n;
}
