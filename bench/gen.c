/* gen.c: deterministic synthetic router traffic for the pyflow benchmark (bench/run.py).
 *
 *   gen OUT.pcap KIND NPACKETS SCALE SEED
 *
 * KIND "mixed": a home/SMB router's traffic over DURATION_S seconds: flows arrive as a Poisson
 *   process (ARRIVAL_RATE/s): DNS-like UDP request/response, short TCP connections (handshake,
 *   request, a few data segments with ACKs, FIN close; some RST), medium TCP (web/page loads),
 *   short other UDP, plus HEAVY_FLOWS long heavy flows (TCP video download, QUIC-like UDP) over
 *   the whole trace. IPv4 and IPv6 (LAN 192.168.1.0/24 and fd00::/8 ULA, WAN public addresses),
 *   ~10 % of flows with an 802.1Q tag, ~5 % in PPPoE sessions. SCALE multiplies the packets of
 *   every flow (data segments, DNS exchanges, heavy flow rates) while keeping the flow arrivals
 *   and lifetimes: the same flow population (same number of concurrent flows) with more packets.
 * KIND "manyflows": 1 M-ish concurrent flows: UDP request/response flows (2 or 3 packets each),
 *   all starting within MANY_SPAN_S seconds, each flow with its own LAN address/port; for this
 *   kind NPACKETS is the number of flows and generation ends when they are done.
 *
 * Generation stops at NPACKETS packets (or when the flows run out). Captured with snaplen
 * SNAPLEN (like `tcpdump -s 128`): headers always complete, payload bytes zero, wire length
 * kept in orig_len. Classic pcap, microseconds, LINKTYPE_ETHERNET. IPv4 header checksums are
 * correct; TCP/UDP checksums are 0. Deterministic: a splitmix64 PRNG seeded with SEED.
 * Prints a one-line JSON summary on stdout. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#define SNAPLEN 128
#define DURATION_S 120.0
#define ARRIVAL_RATE 130.0   /* new flows per second (mixed) */
#define HEAVY_FLOWS 8
#define MANY_SPAN_S 20.0
#define BASE_TS 1700000000LL

/* ------------------------------------------------------------------ PRNG */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static double urand(void) { return (rnd() >> 11) * (1.0 / 9007199254740992.0); }
static uint32_t rrange(uint32_t lo, uint32_t hi) { return lo + (uint32_t)(rnd() % (hi - lo + 1)); } /* inclusive */
static double rexp(double mean) { return -mean * log(1.0 - urand()); }

/* ------------------------------------------------------------------ flows */
enum { F_DNS, F_TCP_SHORT, F_TCP_MEDIUM, F_UDP_SHORT, F_TCP_HEAVY, F_UDP_HEAVY };
enum { ENC_NONE, ENC_VLAN, ENC_PPPOE };

typedef struct flow {
    double next;          /* time of the next packet, s from the start */
    uint32_t step, nsteps;/* packet index in the flow, total */
    uint32_t ndata;       /* data-phase packets (TCP) */
    uint8_t type, v6, enc, rst;
    uint16_t cport, sport;
    uint16_t vlan;
    uint16_t session;
    uint8_t caddr[16], saddr[16];
    uint8_t cmac[6];
    uint32_t cseq, sseq;
    double rtt, gap;      /* round trip; mean gap between data packets */
} flow;

static flow *flows;
static uint32_t nflows, capflows;
static uint32_t *heap; /* flow indices, min-heap on next */
static uint32_t hlen;

static int hless(uint32_t a, uint32_t b) { return flows[heap[a]].next < flows[heap[b]].next; }
static void hswap(uint32_t a, uint32_t b) { uint32_t t = heap[a]; heap[a] = heap[b]; heap[b] = t; }
static void hpush(uint32_t f)
{
    uint32_t i = hlen++;
    heap[i] = f;
    while (i && hless(i, (i - 1) / 2)) { hswap(i, (i - 1) / 2); i = (i - 1) / 2; }
}
static void hsift(uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < hlen && hless(l, m)) m = l;
        if (r < hlen && hless(r, m)) m = r;
        if (m == i) return;
        hswap(i, m);
        i = m;
    }
}

static uint32_t alloc_flow(void)
{
    if (nflows == capflows) {
        capflows = capflows ? capflows * 2 : 65536;
        flows = realloc(flows, (size_t)capflows * sizeof *flows);
        heap = realloc(heap, (size_t)capflows * sizeof *heap);
        if (!flows || !heap) { perror("realloc"); exit(2); }
    }
    memset(&flows[nflows], 0, sizeof(flow));
    return nflows++;
}

/* public server addresses: a few well-known-looking prefixes, random host bits */
static void wan_addr(flow *f)
{
    static const uint8_t v4p[][2] = {{93, 184}, {142, 250}, {151, 101}, {104, 16}, {31, 13},
                                     {157, 240}, {172, 217}, {23, 45}, {8, 8}, {1, 1}};
    static const uint8_t v6p[][4] = {{0x2a, 0x00, 0x14, 0x50}, {0x26, 0x06, 0x47, 0x00},
                                     {0x2a, 0x03, 0x28, 0x80}, {0x26, 0x20, 0x01, 0xec}};
    if (f->v6) {
        const uint8_t *p = v6p[rnd() % 4];
        memcpy(f->saddr, p, 4);
        uint64_t r = rnd();
        memcpy(f->saddr + 8, &r, 8);
        f->saddr[4] = 0x40; f->saddr[5] = (uint8_t)(rnd() & 0x0f);
    } else {
        const uint8_t *p = v4p[rnd() % 10];
        f->saddr[0] = p[0]; f->saddr[1] = p[1];
        f->saddr[2] = (uint8_t)rnd(); f->saddr[3] = (uint8_t)rrange(1, 254);
    }
}

static uint16_t host_port[256];

static void lan_addr_host(flow *f, uint32_t host)
{
    if (f->v6) {
        static const uint8_t ula[8] = {0xfd, 0x00, 0x12, 0x34, 0x56, 0x78, 0x00, 0x01};
        memcpy(f->caddr, ula, 8);
        f->caddr[14] = 0x10; f->caddr[15] = (uint8_t)host;
    } else {
        f->caddr[0] = 192; f->caddr[1] = 168; f->caddr[2] = 1; f->caddr[3] = (uint8_t)host;
    }
    uint8_t mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, (uint8_t)host};
    memcpy(f->cmac, mac, 6);
    f->cport = (uint16_t)(32768 + (host_port[host]++ % 28000));
}

static void set_encap(flow *f)
{
    double u = urand();
    f->enc = u < 0.10 ? ENC_VLAN : u < 0.15 ? ENC_PPPOE : ENC_NONE;
    f->vlan = 100;
    f->session = 0x1234;
}

/* a new flow of the mixed trace starting at t */
static void new_mixed_flow(double t, uint32_t scale)
{
    uint32_t i = alloc_flow();
    flow *f = &flows[i];
    double u = urand();
    f->v6 = urand() < 0.30;
    set_encap(f);
    lan_addr_host(f, rrange(10, 70));
    wan_addr(f);
    f->rtt = 0.005 + rexp(0.030);
    f->cseq = (uint32_t)rnd(); f->sseq = (uint32_t)rnd();
    f->next = t;
    if (u < 0.45) {           /* DNS-like: scale exchanges of query + response */
        f->type = F_DNS;
        f->sport = 53;
        f->nsteps = 2 * scale * (urand() < 0.8 ? 1 : 2);
        f->gap = 0.5 / scale; /* between exchanges: same lifetime for any scale */
    } else if (u < 0.85) {    /* short TCP */
        f->type = F_TCP_SHORT;
        f->sport = urand() < 0.8 ? 443 : 80;
        f->ndata = rrange(4, 30) * scale;
        f->rst = urand() < 0.05;
        f->nsteps = 4 + f->ndata + (f->rst ? 1 : 3);
        f->gap = 0.0005 + rexp(0.002);
    } else if (u < 0.95) {    /* medium TCP: page loads, API calls */
        f->type = F_TCP_MEDIUM;
        f->sport = 443;
        f->ndata = rrange(100, 500) * scale;
        f->nsteps = 4 + f->ndata + 3;
        f->gap = rrange(1, 8) / (double)f->ndata * scale; /* lifetime 1..8 s, same for any scale */
    } else {                  /* other short UDP (NTP, STUN, short QUIC) */
        f->type = F_UDP_SHORT;
        f->sport = urand() < 0.5 ? 443 : (uint16_t)rrange(3478, 3480);
        f->nsteps = rrange(2, 40) * scale;
        f->gap = 0.02 + rexp(0.2) / scale;
    }
    hpush(i);
}

static void new_heavy_flow(uint32_t k, uint32_t scale)
{
    uint32_t i = alloc_flow();
    flow *f = &flows[i];
    f->v6 = k % 3 == 2;
    f->enc = k == 5 ? ENC_VLAN : ENC_NONE;
    f->vlan = 100; f->session = 0x1234;
    lan_addr_host(f, 200 + k);
    wan_addr(f);
    f->rtt = 0.015;
    f->cseq = (uint32_t)rnd(); f->sseq = (uint32_t)rnd();
    f->next = 0.05 * k;
    f->type = k % 2 ? F_UDP_HEAVY : F_TCP_HEAVY;
    f->sport = 443;
    f->ndata = 0xfffffff0u;
    f->nsteps = 0xffffffffu;
    f->gap = 1.0 / (450.0 * scale);  /* ~450 packets/s per heavy flow at scale 1 */
    hpush(i);
}

static void new_many_flow(double t, uint32_t idx)
{
    uint32_t i = alloc_flow();
    flow *f = &flows[i];
    f->v6 = urand() < 0.25;
    set_encap(f);
    /* unique LAN end per flow: 64 Ki hosts x ports */
    uint32_t host = idx & 0xffff, portn = idx >> 16;
    if (f->v6) {
        static const uint8_t ula[8] = {0xfd, 0x00, 0x12, 0x34, 0x56, 0x78, 0x00, 0x01};
        memcpy(f->caddr, ula, 8);
        f->caddr[14] = (uint8_t)(host >> 8); f->caddr[15] = (uint8_t)host;
    } else {
        f->caddr[0] = 192; f->caddr[1] = 168;
        f->caddr[2] = (uint8_t)(host >> 8); f->caddr[3] = (uint8_t)host;
    }
    uint8_t mac[6] = {0x02, 0x11, 0x22, 0x33, (uint8_t)(host >> 8), (uint8_t)host};
    memcpy(f->cmac, mac, 6);
    f->cport = (uint16_t)(20000 + portn);
    wan_addr(f);
    f->sport = urand() < 0.5 ? 53 : 443;
    f->type = F_DNS;
    f->rtt = 0.005 + rexp(0.030);
    f->nsteps = urand() < 0.5 ? 2 : 3;
    f->gap = 0.2;
    f->next = t;
    hpush(i);
}

/* ------------------------------------------------------------------ output */
static FILE *out;
static uint64_t npkts, nbytes_wire;
static uint8_t frame[2048];
static const uint8_t router_mac[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01};

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }

enum { TH_FIN = 1, TH_SYN = 2, TH_RST = 4, TH_PSH = 8, TH_ACK = 16 };

/* writes one packet of flow f: dir 0 = client (LAN) -> server (WAN), 1 = server -> client */
static void emit(flow *f, double t, int dir, int tcp, uint8_t flags, uint32_t paylen)
{
    uint8_t *p = frame;
    const uint8_t *smac = dir ? router_mac : f->cmac, *dmac = dir ? f->cmac : router_mac;
    memcpy(p, dmac, 6); memcpy(p + 6, smac, 6);
    p += 12;
    uint16_t l3type = f->v6 ? 0x86dd : 0x0800;
    uint32_t l4len = (tcp ? 20 : 8) + paylen;
    uint32_t l3len = (f->v6 ? 40 : 20) + l4len;
    if (f->enc == ENC_VLAN) {
        put16(p, 0x8100); put16(p + 2, f->vlan); p += 4;
        put16(p, l3type); p += 2;
    } else if (f->enc == ENC_PPPOE) {
        put16(p, 0x8864); p += 2;
        p[0] = 0x11; p[1] = 0; put16(p + 2, f->session); put16(p + 4, (uint16_t)(l3len + 2));
        put16(p + 6, f->v6 ? 0x0057 : 0x0021);
        p += 8;
    } else {
        put16(p, l3type); p += 2;
    }
    const uint8_t *src = dir ? f->saddr : f->caddr, *dst = dir ? f->caddr : f->saddr;
    uint8_t proto = tcp ? 6 : 17;
    if (f->v6) {
        put32(p, 0x60000000u); put16(p + 4, (uint16_t)l4len); p[6] = proto; p[7] = 64;
        memcpy(p + 8, src, 16); memcpy(p + 24, dst, 16);
        p += 40;
    } else {
        p[0] = 0x45; p[1] = 0; put16(p + 2, (uint16_t)l3len); put16(p + 4, (uint16_t)npkts);
        put16(p + 6, 0x4000); p[8] = 64; p[9] = proto; put16(p + 10, 0);
        memcpy(p + 12, src, 4); memcpy(p + 16, dst, 4);
        uint32_t s = 0;
        for (int k = 0; k < 20; k += 2) s += (uint32_t)(p[k] << 8 | p[k + 1]);
        while (s >> 16) s = (s & 0xffff) + (s >> 16);
        put16(p + 10, (uint16_t)~s);
        p += 20;
    }
    uint16_t sp = dir ? f->sport : f->cport, dp = dir ? f->cport : f->sport;
    if (tcp) {
        uint32_t *myseq = dir ? &f->sseq : &f->cseq, *other = dir ? &f->cseq : &f->sseq;
        put16(p, sp); put16(p + 2, dp); put32(p + 4, *myseq);
        put32(p + 8, (flags & TH_ACK) ? *other : 0);
        p[12] = 0x50; p[13] = flags; put16(p + 14, 64240); put16(p + 16, 0); put16(p + 18, 0);
        *myseq += paylen + ((flags & (TH_SYN | TH_FIN)) ? 1 : 0);
        p += 20;
    } else {
        put16(p, sp); put16(p + 2, dp); put16(p + 4, (uint16_t)l4len); put16(p + 6, 0);
        p += 8;
    }
    uint32_t hdr = (uint32_t)(p - frame);
    uint32_t wire = hdr + paylen;
    if (wire < 60) wire = 60;   /* Ethernet minimum (padding) */
    uint32_t cap = wire < SNAPLEN ? wire : SNAPLEN;
    memset(p, 0, cap > hdr ? cap - hdr : 0);
    int64_t us = (int64_t)llround(t * 1e6);
    uint32_t rh[4] = {(uint32_t)(BASE_TS + us / 1000000), (uint32_t)(us % 1000000), cap, wire};
    fwrite(rh, 4, 4, out);  /* little-endian host: x86 */
    fwrite(frame, 1, cap, out);
    npkts++;
    nbytes_wire += wire;
}

/* emits the packet `step` of flow f at f->next, schedules the next one; returns 0 when done */
static int flow_step(flow *f)
{
    double t = f->next, dt;
    uint32_t s = f->step;
    switch (f->type) {
    case F_DNS:
        if (s % 2 == 0) { emit(f, t, 0, 0, 0, rrange(28, 60)); dt = f->rtt; }
        else { emit(f, t, 1, 0, 0, rrange(60, 400)); dt = f->gap + rexp(f->gap); }
        break;
    case F_UDP_SHORT:
    case F_UDP_HEAVY:
        if (f->type == F_UDP_HEAVY ? (s % 8 == 7) : (s % 2 == 0))
            emit(f, t, 0, 0, 0, rrange(30, 120));
        else
            emit(f, t, 1, 0, 0, f->type == F_UDP_HEAVY ? rrange(1200, 1350) : rrange(40, 1200));
        dt = s == 0 ? f->rtt : rexp(f->gap);
        break;
    default: { /* TCP */
        uint32_t nd = f->ndata;
        if (s == 0) { emit(f, t, 0, 1, TH_SYN, 0); dt = f->rtt; }
        else if (s == 1) { emit(f, t, 1, 1, TH_SYN | TH_ACK, 0); dt = 0.0002; }
        else if (s == 2) { emit(f, t, 0, 1, TH_ACK, 0); dt = 0.0001; }
        else if (s == 3) { emit(f, t, 0, 1, TH_PSH | TH_ACK, rrange(200, 700)); dt = f->rtt; }
        else if (s < 4 + nd) {
            uint32_t j = s - 4;
            if (j % 3 == 2) emit(f, t, 0, 1, TH_ACK, 0);
            else {
                /* full segments of the MSS: 1460 (IPv4) / 1440 (IPv6), clamped by 8 in PPPoE */
                uint32_t mss = (f->v6 ? 1440u : 1460u) - (f->enc == ENC_PPPOE ? 8u : 0u);
                emit(f, t, 1, 1, TH_ACK, j + 1 == nd ? rrange(100, mss) : mss);
            }
            dt = f->type == F_TCP_SHORT ? f->gap * (0.5 + urand()) : rexp(f->gap);
            if (j + 1 == nd) dt = 0.001 + rexp(0.05);
        } else {
            uint32_t k = s - 4 - nd;
            if (f->rst) { emit(f, t, 0, 1, TH_RST | TH_ACK, 0); dt = 0; }
            else if (k == 0) { emit(f, t, 0, 1, TH_FIN | TH_ACK, 0); dt = f->rtt; }
            else if (k == 1) { emit(f, t, 1, 1, TH_FIN | TH_ACK, 0); dt = 0.0002; }
            else { emit(f, t, 0, 1, TH_ACK, 0); dt = 0; }
        }
    }
    }
    f->step++;
    f->next = t + dt;
    return f->step < f->nsteps;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: gen OUT.pcap mixed|manyflows NPACKETS SCALE SEED\n");
        return 2;
    }
    const char *kind = argv[2];
    uint64_t target = strtoull(argv[3], NULL, 10);
    uint32_t scale = (uint32_t)strtoul(argv[4], NULL, 10);
    rng_state = strtoull(argv[5], NULL, 10);
    int many = strcmp(kind, "manyflows") == 0;
    if (!many && strcmp(kind, "mixed")) { fprintf(stderr, "bad kind\n"); return 2; }
    out = fopen(argv[1], "wb");
    if (!out) { perror(argv[1]); return 1; }
    static char obuf[1 << 22];
    setvbuf(out, obuf, _IOFBF, sizeof obuf);
    uint32_t gh[6] = {0xa1b2c3d4u, 0x00040002u, 0, 0, SNAPLEN, 1};
    fwrite(gh, 4, 6, out);

    double next_arrival = 0, span = many ? MANY_SPAN_S : DURATION_S;
    /* manyflows: NPACKETS is the number of flows; generation ends when they are done */
    uint64_t many_flows = many ? target : 0;
    if (many) target = UINT64_MAX;
    double rate = many ? (double)many_flows / MANY_SPAN_S : ARRIVAL_RATE;
    uint32_t nnew = 0, nheavy = 0;
    if (!many)
        for (uint32_t k = 0; k < HEAVY_FLOWS; k++, nheavy++)
            new_heavy_flow(k, scale);
    uint64_t max_conc = 0;
    double last_t = 0;
    while (npkts < target) {
        int arrive = (many ? nnew < many_flows : next_arrival < span) && (hlen == 0 || next_arrival <= flows[heap[0]].next);
        if (arrive) {
            if (many) new_many_flow(next_arrival, nnew);
            else new_mixed_flow(next_arrival, scale);
            nnew++;
            next_arrival += rexp(1.0 / rate);
            if (hlen > max_conc) max_conc = hlen;
            continue;
        }
        if (hlen == 0)
            break;
        flow *f = &flows[heap[0]];
        last_t = f->next;
        if (flow_step(f)) {
            hsift(0);
        } else {
            heap[0] = heap[--hlen];
            hsift(0);
        }
    }
    if (fclose(out)) { perror("fclose"); return 1; }
    printf("{\"kind\": \"%s\", \"packets\": %llu, \"wire_bytes\": %llu, \"flows\": %u, "
           "\"heavy_flows\": %u, \"duration_s\": %.3f, \"max_active_flows\": %llu, \"snaplen\": %d}\n",
           kind, (unsigned long long)npkts, (unsigned long long)nbytes_wire, nflows, nheavy,
           last_t, (unsigned long long)max_conc, SNAPLEN);
    return 0;
}
