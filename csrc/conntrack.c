/* conntrack.c: see conntrack.h. Each rule cites the kernel function it models
 * (repository torvalds/linux). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"
#include "mem.h"

#define NS_PER_S 1000000000LL

/* ---- keys and hashing ------------------------------------------------------------------ */

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t be64(uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return __builtin_bswap64(v);
#else
    return v;
#endif
}

/* A multiply-xor hash over the 40-byte key (the kernel uses siphash with a random seed: bucket
 * placement is not observable, only its quality matters). */
static inline uint32_t hash_words(uint64_t w0, uint64_t w1, uint64_t w2, uint64_t w3, uint64_t w4)
{
    uint64_t a = (w0 ^ 0x9e3779b97f4a7c15ULL) * 0xbf58476d1ce4e5b9ULL;
    uint64_t b = (w1 ^ 0x94d049bb133111ebULL) * 0x9e3779b97f4a7c15ULL;
    uint64_t c2 = (w2 ^ 0xbf58476d1ce4e5b9ULL) * 0x94d049bb133111ebULL;
    uint64_t d = (w3 ^ 0x2545f4914f6cdd1dULL) * 0xbf58476d1ce4e5b9ULL;
    uint64_t e = (w4 ^ 0x9e3779b97f4a7c15ULL) * 0x94d049bb133111ebULL;
    uint64_t h = a ^ (b >> 7 | b << 57) ^ (c2 >> 17 | c2 << 47) ^ (d >> 29 | d << 35) ^ (e >> 41 | e << 23);
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 29;
    return (uint32_t)h;
}

static inline uint64_t key_tail(uint16_t port_a, uint16_t port_b, uint8_t l3, uint8_t proto)
{
    /* port_a, port_b, l3, proto, pad[2] at offsets 32..39 of pf_ct_key */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (uint64_t)port_a | (uint64_t)port_b << 16 | (uint64_t)l3 << 32 | (uint64_t)proto << 40;
#else
    return (uint64_t)port_a << 48 | (uint64_t)port_b << 32 | (uint64_t)l3 << 24 | (uint64_t)proto << 16;
#endif
}

/* Orders the two endpoints (address, then port) so both directions share one key. The order is
 * computed without branches (which endpoint comes first is the packet's direction, which a branch
 * would mispredict about half the time). The key is built in registers and stored with 8-byte
 * stores, so later 8-byte loads of it (hash, compare) are forwarded from single stores; *hash
 * (when not NULL) is key_hash of it, computed from the registers. */
static inline void key_build(pf_ct_key *key, uint8_t l3, uint8_t proto, const uint8_t *src,
                             uint16_t sport, const uint8_t *dst, uint16_t dport, int *dir_is_a,
                             uint32_t *hash)
{
    const uint64_t s0 = load64(src), s1 = load64(src + 8), d0 = load64(dst), d1 = load64(dst + 8);
    /* src <= dst by (address, port), the addresses compared as 128-bit big-endian numbers */
    const unsigned __int128 sa = (unsigned __int128)be64(s0) << 64 | be64(s1);
    const unsigned __int128 da = (unsigned __int128)be64(d0) << 64 | be64(d1);
    const int le = (sa < da) | ((sa == da) & (sport <= dport));
    /* plain selects, left to the compiler: mask arithmetic measured 4 % slower */
    const uint64_t w0 = le ? s0 : d0, w1 = le ? s1 : d1, w2 = le ? d0 : s0, w3 = le ? d1 : s1;
    const uint16_t port_a = le ? sport : dport, port_b = le ? dport : sport;
    const uint64_t w4 = key_tail(port_a, port_b, l3, proto);
    uint8_t *k = (uint8_t *)key;
    memcpy(k, &w0, 8);
    memcpy(k + 8, &w1, 8);
    memcpy(k + 16, &w2, 8);
    memcpy(k + 24, &w3, 8);
    memcpy(k + 32, &w4, 8);
    if (hash)
        *hash = hash_words(w0, w1, w2, w3, w4);
    *dir_is_a = le;
}

/* The ICMP tuple (nf_conntrack_proto_icmp.c:icmp_pkt_to_tuple) is (type, code, id); a request
 * and its reply share the id, so the key keeps the id on both sides. */
static int is_icmp(uint8_t proto) { return proto == 1 || proto == 58; }

static inline void key_from_packet(const pf_decoded *d, pf_ct_key *key, int *dir_is_a, uint32_t *hash)
{
    uint16_t sp = d->sport, dp = d->dport;
    if (is_icmp(d->l4proto))
        dp = sp;
    key_build(key, d->l3, d->l4proto, d->src, sp, d->dst, dp, dir_is_a, hash);
}

void pf_ct_key_from_packet(const pf_decoded *d, pf_ct_key *key, int *dir_is_a)
{
    key_from_packet(d, key, dir_is_a, NULL);
}

/* An ICMP error quotes a packet that went the other way: the quoted src is the far end's
 * view. nf_conntrack_inet_error inverts the inner tuple before the lookup; the canonical key
 * is direction-free, and *dir_is_a describes the error itself (it travels like a reply to the
 * quoted packet). */
void pf_ct_key_from_inner(const pf_decoded *d, pf_ct_key *key, int *dir_is_a)
{
    uint16_t sp = d->inner_sport, dp = d->inner_dport;
    if (is_icmp(d->inner_l4proto))
        dp = sp;
    int quoted_is_a;
    key_build(key, d->l3, d->inner_l4proto, d->inner_src, sp, d->inner_dst, dp, &quoted_is_a, NULL);
    *dir_is_a = !quoted_is_a;
}

static uint32_t key_hash(const pf_ct_key *k)
{
    const uint8_t *p = (const uint8_t *)k; /* both addresses, both ports, l3, proto, pad */
    return hash_words(load64(p), load64(p + 8), load64(p + 16), load64(p + 24), load64(p + 32));
}

static inline int key_eq(const pf_ct_key *a, const pf_ct_key *b)
{
    const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b; /* 8-byte loads, no copies */
    return ((load64(x) ^ load64(y)) | (load64(x + 8) ^ load64(y + 8)) | (load64(x + 16) ^ load64(y + 16)) |
            (load64(x + 24) ^ load64(y + 24)) | (load64(x + 32) ^ load64(y + 32))) == 0;
}

/* ---- table ------------------------------------------------------------------------------ */

int pf_ct_init(pf_ct_table *t, const pf_config *cfg)
{
    memset(t, 0, sizeof *t);
    t->cfg = cfg;
    t->max = cfg->ct_max;
    uint32_t nb = 1;
    while (nb < t->max && nb < (1u << 30))
        nb <<= 1;
    t->nbuckets = nb;
    _Static_assert(sizeof(pf_conn) == 128, "pf_conn is two cache lines");
    _Static_assert(offsetof(pf_conn, created_ns) == 64, "the fast path's fields fill the first line");
    t->conns = pf_mem_calloc_lines(t->max, sizeof(pf_conn), &t->conns_mem);
    if (cfg->rule.ct_count && !(t->acct = calloc(t->max, sizeof(pf_ct_acct)))) {
        pf_ct_free(t);
        return PF_E_NOMEM;
    }
    t->buckets = calloc(nb, sizeof(uint32_t)); /* links are index + 1: calloc'ed zero = empty */
    if (!t->conns || !t->buckets || pf_wheel_init(&t->wheel, t->max) != 0) {
        pf_ct_free(t);
        return PF_E_NOMEM;
    }
    /* nothing is touched here: entries are handed out from next_unused, then from the free
     * list, so the pages of a large table are only mapped as it fills */
    t->free_head = 0;
    t->next_unused = 0;
    t->next_id = 1;
    return PF_OK;
}

void pf_ct_free(pf_ct_table *t)
{
    free(t->conns_mem);
    free(t->acct);
    t->conns_mem = NULL;
    t->acct = NULL;
    free(t->buckets);
    pf_wheel_free(&t->wheel);
    t->conns = NULL;
    t->buckets = NULL;
}

static void ct_free_why(pf_ct_table *t, uint32_t idx, int why);

static void ct_unlink_free(pf_ct_table *t, uint32_t idx) { ct_free_why(t, idx, 1); }

static void ct_free_why(pf_ct_table *t, uint32_t idx, int why)
{
    pf_conn *c = &t->conns[idx];
    if (t->free_cb)
        t->free_cb(t->evict_ctx, idx, why);
    uint32_t *pp = &t->buckets[c->hbucket];
    while (*pp && *pp - 1 != idx)
        pp = &t->conns[*pp - 1].hnext;
    if (*pp)
        *pp = c->hnext;
    pf_wheel_remove(&t->wheel, idx);
    c->in_use = 0;
    c->hnext = t->free_head;
    t->free_head = idx + 1;
    t->count--;
}

void pf_ct_destroy(pf_ct_table *t, uint32_t ct) { ct_free_why(t, ct, 4); }

static int64_t tick_of(const pf_ct_table *t, int64_t ns)
{
    /* First GC tick at or after ns (ticks are whole seconds after origin). */
    int64_t rel = ns - t->origin_ns;
    if (rel <= 0)
        return 0;
    return (rel + NS_PER_S - 1) / NS_PER_S;
}

void pf_ct_set_deadline(pf_ct_table *t, uint32_t ct, int64_t deadline_ns)
{
    pf_conn *c = &t->conns[ct];
    c->deadline_ns = deadline_ns;
    if (c->status & PF_IPS_OFFLOAD) {
        pf_wheel_remove(&t->wheel, ct); /* nf_ct_offload_timeout: never expires while offloaded */
    } else {
        /* a deadline at or before the last GC tick run is reaped by the next one */
        int64_t tick = tick_of(t, deadline_ns);
        pf_wheel_set(&t->wheel, ct, tick > t->last_tick ? tick : t->last_tick + 1);
    }
}

static int ct_expired(const pf_conn *c, int64_t now)
{
    /* nf_ct_is_expired: timeout reached. An offloaded entry is kept alive by the flowtable
     * (nf_ct_offload_timeout in the conntrack gc_worker, nf_flow_table_extend_ct_timeout). */
    return !(c->status & PF_IPS_OFFLOAD) && (c->status & PF_IPS_CONFIRMED) && now >= c->deadline_ns;
}

uint32_t pf_ct_lookup(pf_ct_table *t, const pf_ct_key *key, int64_t now)
{
    return pf_ct_lookup_h(t, key, key_hash(key), now);
}

void pf_ct_key_fill(pf_decoded *d)
{
    int a;
    key_from_packet(d, &d->ct_key, &a, &d->ct_hash);
    d->ct_dir_is_a = (uint8_t)a;
    d->ct_key_ok = 1;
}

uint32_t pf_ct_lookup_h(pf_ct_table *t, const pf_ct_key *key, uint32_t hash, int64_t now)
{
    uint32_t b = hash & (t->nbuckets - 1);
    for (uint32_t l = t->buckets[b]; l; l = t->conns[l - 1].hnext) {
        uint32_t i = l - 1;
        pf_conn *c = &t->conns[i];
        if (key_eq(&c->key, key)) {
            if (ct_expired(c, now))
                return PF_CT_NONE; /* reaped by the caller path or the next GC tick */
            return i;
        }
    }
    return PF_CT_NONE;
}

/* Reaps an expired entry found on lookup (nf_ct_gc_expired) so that a new one can take its
 * tuple. */
static void reap_if_expired(pf_ct_table *t, const pf_ct_key *key, int64_t now)
{
    uint32_t b = key_hash(key) & (t->nbuckets - 1);
    for (uint32_t l = t->buckets[b]; l; l = t->conns[l - 1].hnext) {
        uint32_t i = l - 1;
        pf_conn *c = &t->conns[i];
        if (key_eq(&c->key, key) && ct_expired(c, now)) {
            ct_unlink_free(t, i);
            return;
        }
    }
}

/* nf_conntrack_core.c:early_drop / early_drop_list: scan up to 8 buckets from the new tuple's
 * bucket; in the first bucket that yields candidates, delete every confirmed entry that is
 * not ASSURED. Offloaded entries are skipped before 6.3 and eligible from 6.3 on (Vlad Buslov,
 * "netfilter: conntrack: allow early drop of offloaded UDP conns"). */
static int early_drop(pf_ct_table *t, uint32_t hash, int64_t now)
{
    int dropped = 0;
    for (uint32_t k = 0; k < 8 && !dropped; k++) {
        uint32_t b = (hash + k) & (t->nbuckets - 1);
        uint32_t l = t->buckets[b];
        while (l) {
            uint32_t i = l - 1;
            pf_conn *c = &t->conns[i];
            uint32_t nx = c->hnext;
            if (ct_expired(c, now)) {
                ct_unlink_free(t, i);
            } else if (!(c->status & PF_IPS_ASSURED) && (c->status & PF_IPS_CONFIRMED) &&
                       (!(c->status & PF_IPS_OFFLOAD) || t->cfg->kernel_version >= 603)) {
                if ((c->status & PF_IPS_OFFLOAD) && t->evict_cb)
                    t->evict_cb(t->evict_ctx, i); /* ct dying: the flowtable drops its entry */
                ct_free_why(t, i, 2);
                t->early_drops++;
                dropped++;
            }
            l = nx;
        }
    }
    return dropped;
}

static uint32_t ct_alloc(pf_ct_table *t, const pf_ct_key *key, int dir_is_a, int64_t now)
{
    uint32_t idx;
    if (t->free_head) {
        idx = t->free_head - 1;
        t->free_head = t->conns[idx].hnext;
    } else {
        idx = t->next_unused++;
    }
    pf_conn *c = &t->conns[idx];
    memset(c, 0, sizeof *c);
    if (t->acct)
        memset(&t->acct[idx], 0, sizeof t->acct[idx]);
    c->key = *key;
    c->in_use = 1;
    c->orig_is_a = (uint8_t)dir_is_a;
    c->created_ns = now;
    c->id = t->next_id++;
    c->iface[0] = c->iface[1] = -1;
    c->hbucket = key_hash(key) & (t->nbuckets - 1);
    c->hnext = t->buckets[c->hbucket];
    t->buckets[c->hbucket] = idx + 1;
    t->count++;
    return idx;
}

/* ---- TCP (nf_conntrack_proto_tcp.c) ------------------------------------------------------- */

enum { TCP_SYN_SET, TCP_SYNACK_SET, TCP_FIN_SET, TCP_ACK_SET, TCP_RST_SET, TCP_NONE_SET };

#define sNO PF_TCP_NONE
#define sSS PF_TCP_SYN_SENT
#define sSR PF_TCP_SYN_RECV
#define sES PF_TCP_ESTABLISHED
#define sFW PF_TCP_FIN_WAIT
#define sCW PF_TCP_CLOSE_WAIT
#define sLA PF_TCP_LAST_ACK
#define sTW PF_TCP_TIME_WAIT
#define sCL PF_TCP_CLOSE
#define sS2 PF_TCP_SYN_SENT2
#define sIV 20 /* TCP_CONNTRACK_MAX: invalid */
#define sIG 21 /* TCP_CONNTRACK_IGNORE */

/* tcp_conntracks[dir][index][old state] as in current kernels (6.x). */
static const uint8_t tcp_conntracks[2][6][10] = {
    {
        /* ORIGINAL   sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2 */
        /*syn*/ {sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2},
        /*synack*/ {sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR},
        /*fin*/ {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
        /*ack*/ {sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV},
        /*rst*/ {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
        /*none*/ {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
    },
    {
        /* REPLY      sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2 */
        /*syn*/ {sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2},
        /*synack*/ {sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR},
        /*fin*/ {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
        /*ack*/ {sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG},
        /*rst*/ {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
        /*none*/ {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
    }};

/* get_conntrack_index */
static unsigned tcp_index(uint8_t f)
{
    if (f & PF_TCP_RST)
        return TCP_RST_SET;
    if (f & PF_TCP_SYN)
        return (f & PF_TCP_ACK) ? TCP_SYNACK_SET : TCP_SYN_SET;
    if (f & PF_TCP_FIN)
        return TCP_FIN_SET;
    if (f & PF_TCP_ACK)
        return TCP_ACK_SET;
    return TCP_NONE_SET;
}

/* tcp_error -> tcp_valid_flags: only these combinations of FIN/SYN/RST/ACK/URG are valid
 * (PSH, ECE, CWR masked out). */
static int tcp_flags_valid(uint8_t f)
{
    switch (f & 0x37) { /* FIN SYN RST ACK URG; PSH (0x08) masked */
    case PF_TCP_SYN:
    case PF_TCP_SYN | PF_TCP_URG:
    case PF_TCP_SYN | PF_TCP_ACK:
    case PF_TCP_RST:
    case PF_TCP_RST | PF_TCP_ACK:
    case PF_TCP_FIN | PF_TCP_ACK:
    case PF_TCP_FIN | PF_TCP_ACK | PF_TCP_URG:
    case PF_TCP_ACK:
    case PF_TCP_ACK | PF_TCP_URG:
        return 1;
    default:
        return 0;
    }
}

enum { TCP_ACCEPT, TCP_INVALID, TCP_REPEAT };

/* ---- window tracking (tcp_in_window, tcp_init_sender, tcp_options) ---- */

static inline int before32(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline int after32(uint32_t a, uint32_t b) { return (int32_t)(b - a) < 0; }

/* segment_seq_plus_len */
static uint32_t seg_end(const pf_decoded *d)
{
    return d->tcp_seq + d->l4_payload_len + ((d->tcp_flags & PF_TCP_SYN) ? 1u : 0u) +
           ((d->tcp_flags & PF_TCP_FIN) ? 1u : 0u);
}

/* tcp_options: window scale and SACK-permitted of a SYN; BE_LIBERAL survives */
static void tcp_options_into(pf_tcp_seen *s, const pf_decoded *d)
{
    s->td_scale = 0;
    s->flags &= PF_TCPF_BE_LIBERAL;
    if (d->tcp_opts & PF_TCPOPT_SACK_PERM)
        s->flags |= PF_TCPF_SACK_PERM;
    if (d->tcp_opts & PF_TCPOPT_WSCALE) {
        s->td_scale = d->tcp_wscale;
        s->flags |= PF_TCPF_WINDOW_SCALE;
    }
}

/* tcp_init_sender: "SYN-ACK in reply to a SYN or SYN from reply direction in simultaneous open" */
static void tcp_init_sender(pf_tcp_seen *sender, pf_tcp_seen *receiver, const pf_decoded *d,
                            uint32_t end, uint32_t win)
{
    sender->td_end = sender->td_maxend = end;
    sender->td_maxwin = win ? win : 1;
    tcp_options_into(sender, d);
    /* RFC 1323: both sides must send the Window Scale option to enable window scaling */
    if (!((sender->flags & PF_TCPF_WINDOW_SCALE) && (receiver->flags & PF_TCPF_WINDOW_SCALE)))
        sender->td_scale = receiver->td_scale = 0;
}

/* tcp_new: the first packet's direction starts window tracking; a picked-up connection is
 * tracked liberally ("We assume SACK and liberal window checking to handle window scaling"). */
static void tcp_new_init(pf_conn *c, const pf_decoded *d, int syn)
{
    pf_tcp_seen *s0 = &c->tcp_seen[0];
    memset(c->tcp_seen, 0, sizeof c->tcp_seen);
    s0->td_end = seg_end(d);
    s0->td_maxwin = d->tcp_window ? d->tcp_window : 1;
    if (syn) {
        s0->td_maxend = s0->td_end;
        tcp_options_into(s0, d);
    } else {
        s0->td_maxend = s0->td_end + s0->td_maxwin;
        s0->flags = c->tcp_seen[1].flags = PF_TCPF_SACK_PERM | PF_TCPF_BE_LIBERAL;
    }
}

#define MAXACKWINCONST 66000u
static inline uint32_t maxackwindow(const pf_tcp_seen *s)
{
    return s->td_maxwin > MAXACKWINCONST ? s->td_maxwin : MAXACKWINCONST;
}

/* tcp_in_window (6.1+ form: checks that fail return INVALID unless the sender is BE_LIBERAL,
 * nf_tcp_log_invalid). 1 = accept, 0 = invalid. */
static int tcp_in_window(pf_conn *c, int dir, unsigned index, const pf_decoded *d, uint8_t state)
{
    pf_tcp_seen *sender = &c->tcp_seen[dir], *receiver = &c->tcp_seen[!dir];
    uint8_t f = d->tcp_flags;
    uint32_t seq = d->tcp_seq, ack = d->tcp_ack, sack = ack, win = d->tcp_window;
    uint32_t end = seg_end(d);
    if ((receiver->flags & PF_TCPF_SACK_PERM) && (d->tcp_opts & PF_TCPOPT_SACK) &&
        after32(d->tcp_sack_max, sack))
        sack = d->tcp_sack_max; /* tcp_sack */
    if (sender->td_maxwin == 0) {
        if (f & PF_TCP_SYN) {
            tcp_init_sender(sender, receiver, d, end, win);
            if (!(f & PF_TCP_ACK))
                return 1; /* simultaneous open */
        } else {
            /* "We are in the middle of a connection, its history is lost for us." */
            sender->td_end = end;
            uint32_t swin = win << sender->td_scale;
            sender->td_maxwin = swin ? swin : 1;
            sender->td_maxend = end + sender->td_maxwin;
            if (receiver->td_maxwin == 0)
                receiver->td_end = receiver->td_maxend = sack;
            else if (sack == receiver->td_end + 1)
                receiver->td_end++; /* likely a reply to a keepalive */
        }
    } else if ((f & PF_TCP_SYN) && after32(end, sender->td_end) &&
               (state == PF_TCP_SYN_SENT || state == PF_TCP_SYN_RECV)) {
        /* RFC 793: a reinitialised TCP: re-init state for this direction */
        tcp_init_sender(sender, receiver, d, end, win);
        if (dir == PF_DIR_REPLY && !(f & PF_TCP_ACK))
            return 1;
    }
    if (!(f & PF_TCP_ACK)) {
        ack = sack = receiver->td_end; /* "If there is no ACK, just pretend it was set and OK." */
    } else if ((f & (PF_TCP_ACK | PF_TCP_RST)) == (PF_TCP_ACK | PF_TCP_RST) && ack == 0) {
        ack = sack = receiver->td_end; /* broken stacks: RST/ACK with a zero ack */
    }
    if ((f & PF_TCP_RST) && seq == 0 && state == PF_TCP_SYN_SENT)
        seq = end = sender->td_end; /* RST answering a SYN */
    int liberal = (sender->flags & PF_TCPF_BE_LIBERAL) != 0; /* nf_conntrack_tcp_be_liberal = 0 */

    if (!before32(seq, sender->td_maxend + 1)) {
        uint32_t overshot = end - sender->td_maxend + 1;
        int ack_ok = after32(sack, receiver->td_end - maxackwindow(sender) - 1);
        int in_recv_win = receiver->td_maxwin &&
                          after32(end, sender->td_end - receiver->td_maxwin - 1);
        if (in_recv_win && ack_ok && overshot <= receiver->td_maxwin &&
            before32(sack, receiver->td_end + 1)) {
            /* "Work around TCPs that send more bytes than allowed by the receive window" */
            sender->td_end = end;
            sender->flags |= PF_TCPF_DATA_UNACK;
            return 1;
        }
        return liberal; /* "SEQ is over upper bound (over the window of the receiver)" */
    }
    if (!before32(sack, receiver->td_end + 1))
        return liberal; /* "ACK is over upper bound (ACKed data not seen yet)" */
    int in_recv_win = !receiver->td_maxwin || after32(end, sender->td_end - receiver->td_maxwin - 1);
    if (in_recv_win && after32(sack, receiver->td_end - maxackwindow(sender) - 1)) {
        if (!(f & PF_TCP_SYN))
            win <<= sender->td_scale; /* RFC 1323 window scaling */
        uint32_t swin = win + (sack - ack);
        if (sender->td_maxwin < swin)
            sender->td_maxwin = swin;
        if (after32(end, sender->td_end)) {
            sender->td_end = end;
            sender->flags |= PF_TCPF_DATA_UNACK;
        }
        if (f & PF_TCP_ACK) {
            if (!(sender->flags & PF_TCPF_MAXACK_SET)) {
                c->tcp_maxack[dir] = ack;
                sender->flags |= PF_TCPF_MAXACK_SET;
            } else if (after32(ack, c->tcp_maxack[dir])) {
                c->tcp_maxack[dir] = ack;
            }
        }
        if (receiver->td_maxwin != 0 && after32(end, sender->td_maxend))
            receiver->td_maxwin += end - sender->td_maxend;
        if (after32(sack + win, receiver->td_maxend - 1)) {
            receiver->td_maxend = sack + win;
            if (win == 0)
                receiver->td_maxend++;
        }
        if (ack == receiver->td_end)
            receiver->flags &= (uint8_t)~PF_TCPF_DATA_UNACK;
        if (index == TCP_ACK_SET)
            c->tcp_last_end = end; /* retransmission bookkeeping: last_end of ACK segments */
        return 1;
    }
    return liberal; /* SEQ under the lower bound / ACK under the lower bound */
}

/* nf_conntrack_tcp_packet. Returns TCP_ACCEPT / TCP_INVALID / TCP_REPEAT (reopen). */
static int tcp_packet(pf_ct_table *t, pf_conn *c, int dir, const pf_decoded *d, int64_t now)
{
    const uint32_t *to = t->cfg->tcp_timeouts_s;
    unsigned index = tcp_index(d->tcp_flags);
    uint8_t old_state = c->tcp_state;
    uint8_t new_state = tcp_conntracks[dir][index][old_state < 10 ? old_state : 0];

    switch (new_state) {
    case sSS:
        if (old_state < sTW)
            break;
        /* RFC 1122 reopen: a SYN on a closed connection (CLOSE_INIT seen, or the last packet in
         * this direction was an RST) kills the old entry and looks up again (-NF_REPEAT). */
        if (c->tcp_close_init[0] || c->tcp_close_init[1] ||
            (c->tcp_last_dir == dir && c->tcp_last_index == TCP_RST_SET))
            return TCP_REPEAT;
        /* fallthrough */
    case sIG:
        /* Ignored packets are accepted without a state change or refresh. */
        c->tcp_last_index = (uint8_t)index;
        c->tcp_last_dir = (uint8_t)dir;
        return TCP_ACCEPT;
    case sIV:
        return TCP_INVALID;
    case sCL:
        if (index != TCP_RST_SET)
            break;
        /* RST validation: in closing states the checks are skipped (tcp_can_early_drop). With
         * the peer's highest ACK known (MAXACK_SET), an RST before it is invalid; one that does
         * not match it exactly keeps the state ("keep established state to allow a possible
         * challenge ACK"), unless it ends a train of this direction's segments. While a flow is
         * offloaded conntrack sees no fast-path segment, so td_maxack is stale; it is cleared at
         * teardown only from 6.14 ("clear tcp MAXACK flag before moving to slowpath"). */
        if (old_state >= sFW && old_state <= sCL)
            break;
        if ((c->tcp_seen[!dir].flags & PF_TCPF_MAXACK_SET) && c->tcp_last_index != TCP_SYN_SET) {
            uint32_t seq = d->tcp_seq, maxack = c->tcp_maxack[!dir];
            int established = pf_ct_tcp_established(c);
            if (seq == 0 && !established)
                break;
            if ((int32_t)(seq - maxack) < 0)
                return TCP_INVALID; /* "invalid rst" (nf_conntrack_tcp_ignore_invalid_rst = 0) */
            if (!established || seq == maxack)
                break;
            if (c->tcp_last_index == TCP_ACK_SET && c->tcp_last_dir == dir && seq == c->tcp_last_end)
                break;
            new_state = old_state;
        }
        break;
    default:
        break;
    }
    if (!(index == TCP_RST_SET && old_state >= sFW && old_state <= sCL)) {
        /* (closing states skip the window check for an RST: "goto in_window") */
        if (!tcp_in_window(c, dir, index, d, old_state)) {
            /* NFCT_TCP_INVALID: -NF_ACCEPT, no state change (nf_tcp_handle_invalid only
             * shortens the timeout of an out-of-window FIN/RST, not modelled) */
            return TCP_INVALID;
        }
    }
    c->tcp_last_index = (uint8_t)index;
    c->tcp_last_dir = (uint8_t)dir;
    c->tcp_state = new_state;
    if (old_state != new_state && new_state == sFW)
        c->tcp_close_init[dir] = 1;

    uint32_t timeout;
    if (index == TCP_RST_SET)
        timeout = to[PF_TCP_CLOSE];
    else if (d->tcp_window == 0 && to[new_state] > to[PF_TCP_RETRANS])
        timeout = to[PF_TCP_RETRANS]; /* last_win == 0 */
    else
        timeout = to[new_state];

    if (!(c->status & PF_IPS_SEEN_REPLY)) {
        /* "If only reply is a RST, we can consider ourselves not to have an established
         * connection": the entry is killed; the packet itself is accepted. */
        if (d->tcp_flags & PF_TCP_RST) {
            c->deadline_ns = now; /* dies now: expired for every later lookup */
            return TCP_ACCEPT;
        }
        if (new_state == sES && timeout > to[PF_TCP_UNACK])
            timeout = to[PF_TCP_UNACK];
    } else if (!(c->status & PF_IPS_ASSURED) && (old_state == sSR || old_state == sES) &&
               new_state == sES) {
        /* Set ASSURED if we see a valid ack in ESTABLISHED after SYN_RECV or a valid answer
         * for a picked up connection. */
        c->status |= PF_IPS_ASSURED;
    }
    c->deadline_ns = now + (int64_t)timeout * NS_PER_S;
    return TCP_ACCEPT;
}

/* tcp_new: which first packets may create an entry (tcp_new_init starts their tracking). */
static int tcp_new_ok(const pf_config *cfg, uint8_t flags)
{
    uint8_t st = tcp_conntracks[0][tcp_index(flags)][sNO];
    if (st == sSS)
        return 1;
    if (st == sES) /* mid-stream pickup of a pure ACK */
        return cfg->tcp_loose != 0;
    return 0;
}

/* ---- UDP / ICMP / generic ----------------------------------------------------------------- */

/* nf_conntrack_proto_udp.c:nf_conntrack_udp_packet */
static void udp_packet(pf_ct_table *t, pf_conn *c, int64_t now)
{
    const pf_config *cfg = t->cfg;
    if (c->status & PF_IPS_SEEN_REPLY) {
        uint32_t extra = cfg->udp_timeout_s;
        int stream = 0;
        /* "Still active after two seconds? Extend timeout." (stream_ts, 5.19+); before that the
         * stream timeout applied from the first packet after the reply. */
        if (cfg->kernel_version < 519 || now > c->created_ns + 2 * NS_PER_S) {
            extra = cfg->udp_timeout_stream_s;
            stream = !(c->status & PF_IPS_ASSURED);
        }
        c->deadline_ns = now + (int64_t)extra * NS_PER_S;
        if (stream)
            c->status |= PF_IPS_ASSURED;
    } else {
        c->deadline_ns = now + (int64_t)cfg->udp_timeout_s * NS_PER_S;
    }
}

/* icmp_pkt_to_tuple / nf_conntrack_icmp_packet: only requests create an entry. */
static int icmp_is_request(uint8_t proto, uint8_t type)
{
    if (proto == 1)
        return type == 8 || type == 13 || type == 15 || type == 17;
    return type == 128 || type == 130; /* ICMPv6 echo request, (MLD query) */
}

static int icmp_is_query_type(uint8_t proto, uint8_t type)
{
    if (proto == 1)
        return type == 8 || type == 0 || type == 13 || type == 14 || type == 15 || type == 16 ||
               type == 17 || type == 18;
    return type == 128 || type == 129;
}

int pf_ct_in(pf_ct_table *t, pf_decoded *d, int64_t now, int may_create, uint32_t *ct_out,
             int *dir_out, int *is_new)
{
    const pf_config *cfg = t->cfg;
    *is_new = 0;
    *ct_out = PF_CT_NONE;
    int tcp = d->l4proto == 6, udp = d->l4proto == 17, icmp = is_icmp(d->l4proto);
    if ((tcp || udp || icmp) && !(d->flags & PF_PKT_HAS_L4))
        return PF_CT_UNTRACKED;
    if (tcp && (!tcp_flags_valid(d->tcp_flags) || (d->flags & PF_PKT_TCP_BAD_DOFF)))
        return PF_CT_INVALID; /* tcp_error: bad flags, or "truncated packet" (tcplen < doff * 4) */
    if (icmp && !icmp_is_query_type(d->l4proto, d->icmp_type))
        return PF_CT_INVALID; /* not trackable (errors are handled by the caller) */

    uint32_t hash;
    int dir_is_a;
    const pf_ct_key *kp = pf_ct_packet_key(d, &hash, &dir_is_a);
    pf_ct_key key = *kp;

    for (int attempt = 0; attempt < 2; attempt++) {
        uint32_t idx = pf_ct_lookup_h(t, &key, hash, now);
        if (idx == PF_CT_NONE) {
            /* init_conntrack: new, unconfirmed entry */
            if (tcp && !tcp_new_ok(cfg, d->tcp_flags))
                return PF_CT_INVALID;
            if (icmp && !icmp_is_request(d->l4proto, d->icmp_type))
                return PF_CT_INVALID;
            if (!may_create)
                return PF_CT_INVALID;
            reap_if_expired(t, &key, now);
            if (t->count >= t->max || (!t->free_head && t->next_unused >= t->max)) {
                early_drop(t, key_hash(&key), now);
                if (t->count >= t->max || (!t->free_head && t->next_unused >= t->max))
                    return PF_CT_FULL; /* "table full, dropping packet" */
            }
            idx = ct_alloc(t, &key, dir_is_a, now);
            *is_new = 1;
            if (tcp)
                tcp_new_init(&t->conns[idx], d, (d->tcp_flags & PF_TCP_SYN) != 0);
        }
        pf_conn *c = &t->conns[idx];
        int dir = (dir_is_a == c->orig_is_a) ? PF_DIR_ORIG : PF_DIR_REPLY;
        if (tcp) {
            int r = tcp_packet(t, c, dir, d, now);
            if (r == TCP_REPEAT && attempt == 0 && !(c->status & PF_IPS_OFFLOAD)) {
                ct_free_why(t, idx, 3); /* nf_ct_kill, then look up again */
                continue;
            }
            if (r == TCP_INVALID) {
                if (*is_new)
                    ct_free_why(t, idx, 4);
                *is_new = 0;
                return PF_CT_INVALID;
            }
        } else if (udp) {
            udp_packet(t, c, now);
        } else if (icmp) {
            c->deadline_ns = now + (int64_t)cfg->icmp_timeout_s * NS_PER_S;
        } else {
            c->deadline_ns = now + (int64_t)cfg->generic_timeout_s * NS_PER_S;
        }
        /* __nf_ct_refresh_acct -> nf_ct_acct_update: counted before the forward chain, so a
         * `ct original packets` match sees the current packet */
        if (t->acct) {
            t->acct[idx].packets[dir]++;
            t->acct[idx].bytes[dir] += d->ip_len;
        }
        /* nf_conntrack_in: IPS_SEEN_REPLY is set after the L4 handler for a reply packet. */
        if (dir == PF_DIR_REPLY)
            c->status |= PF_IPS_SEEN_REPLY;
        if (c->status & PF_IPS_CONFIRMED)
            pf_ct_set_deadline(t, idx, c->deadline_ns);
        *ct_out = idx;
        *dir_out = dir;
        return PF_CT_OK;
    }
    return PF_CT_INVALID;
}

void pf_ct_confirm(pf_ct_table *t, uint32_t ct, int64_t now)
{
    (void)now;
    pf_conn *c = &t->conns[ct];
    c->status |= PF_IPS_CONFIRMED;
    pf_ct_set_deadline(t, ct, c->deadline_ns);
}

static void gc_expire(void *ctx, uint32_t idx, int64_t due)
{
    (void)due;
    pf_ct_table *t = ctx;
    pf_conn *c = &t->conns[idx];
    if (!c->in_use || (c->status & PF_IPS_OFFLOAD))
        return;
    int64_t tick_ns = t->origin_ns + due * NS_PER_S;
    if (c->deadline_ns > tick_ns) { /* refreshed since it was armed */
        pf_wheel_set(&t->wheel, idx, tick_of(t, c->deadline_ns));
        return;
    }
    ct_unlink_free(t, idx);
}

void pf_ct_gc_tick(pf_ct_table *t, int64_t tick, int run_all)
{
    t->last_tick = tick;
    if (run_all)
        pf_wheel_run_all(&t->wheel, tick, gc_expire, t);
    else
        pf_wheel_run_slot(&t->wheel, tick, gc_expire, t);
}

static const char *proto_name(uint8_t p)
{
    switch (p) {
    case 6: return "tcp";
    case 17: return "udp";
    case 1: return "icmp";
    case 58: return "icmpv6";
    case 47: return "gre";
    case 50: return "esp";
    case 132: return "sctp";
    default: return NULL;
    }
}

void pf_ct_format_addr(uint8_t l3, const uint8_t *a, char *buf, size_t len)
{
    if (l3 == 4) {
        snprintf(buf, len, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
        return;
    }
    /* RFC 5952-ish: longest zero run compressed */
    uint16_t w[8];
    for (int i = 0; i < 8; i++)
        w[i] = (uint16_t)((a[2 * i] << 8) | a[2 * i + 1]);
    int best = -1, bestlen = 0;
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && w[j] == 0)
            j++;
        if (j - i > bestlen && j - i > 1) {
            best = i;
            bestlen = j - i;
        }
        i = (j == i) ? i + 1 : j;
    }
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < 8 && n < len; i++) {
        if (i == best) {
            n += (size_t)snprintf(buf + n, len - n, "::");
            i += bestlen - 1;
            continue;
        }
        n += (size_t)snprintf(buf + n, len - n, "%s%x", (n && buf[n - 1] != ':') ? ":" : "", w[i]);
    }
}

int pf_ct_format_tuple(const pf_conn *c, char *buf, size_t len)
{
    const pf_ct_key *k = &c->key;
    const uint8_t *sa = c->orig_is_a ? k->addr_a : k->addr_b;
    const uint8_t *da = c->orig_is_a ? k->addr_b : k->addr_a;
    uint16_t sp = c->orig_is_a ? k->port_a : k->port_b;
    uint16_t dp = c->orig_is_a ? k->port_b : k->port_a;
    char s[64], dd[64], pn[16];
    pf_ct_format_addr(k->l3, sa, s, sizeof s);
    pf_ct_format_addr(k->l3, da, dd, sizeof dd);
    const char *p = proto_name(k->proto);
    if (!p) {
        snprintf(pn, sizeof pn, "proto%u", k->proto);
        p = pn;
    }
    const char *lb = k->l3 == 6 ? "[" : "", *rb = k->l3 == 6 ? "]" : "";
    if (k->proto == 6 || k->proto == 17)
        return snprintf(buf, len, "%s %s%s%s:%u>%s%s%s:%u", p, lb, s, rb, sp, lb, dd, rb, dp);
    if (is_icmp(k->proto))
        return snprintf(buf, len, "%s %s>%s id=%u", p, s, dd, sp);
    return snprintf(buf, len, "%s %s>%s", p, s, dd);
}
