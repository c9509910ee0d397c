/* ppe_test.c: behaviour of the PPE model (csrc/ppe.c) driven directly through ppe.h.
 *   gcc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -g -fsanitize=address,undefined \
 *       -fno-sanitize-recover=all -I../../csrc -o ppe_test ppe_test.c ../../csrc/ppe.c \
 *       && ./ppe_test */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ppe.h"

extern uint32_t pf_ppe_hash_tuple(int l3, const uint8_t *src, const uint8_t *dst, uint16_t sport,
                                  uint16_t dport, uint32_t entries, uint32_t ways);

#define S 1000000000LL
#define MS 1000000LL
#define T0 (1700000000LL * S) /* trace time: a whole second */

static int failures, checks;

#define CHECK(cond, ...)                                                                        \
    do {                                                                                        \
        checks++;                                                                               \
        if (!(cond)) {                                                                          \
            failures++;                                                                         \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                         \
            printf(__VA_ARGS__);                                                                \
            printf("\n");                                                                       \
        }                                                                                       \
    } while (0)

enum { IF_LAN = 0, IF_WAN = 1, IF_WIFI2 = 2, IF_WIFI5 = 3 };

static void base_config(pf_config *c)
{
    memset(c, 0, sizeof *c);
    c->mode = PF_MODE_HW;
    c->ct_max = 64;
    c->ppe_entries = 8192;
    c->ppe_ways = 2;
    c->ppe_count = 1;
    c->ppe_ipv6 = 1;
    c->ppe_mt7621_static = 0;
    c->wed_version = 2;
    c->wed_2g = 0;
    c->ppe_bind_rate = 30;
    c->ppe_check_interval_ms = 100;
    c->ppe_age_tcp_s = 7;
    c->ppe_age_udp_s = 12;
    c->ppe_age_tcp_fin_s = 1;
    c->ppe_age_unbind_s = 3;
    c->n_ifaces = 4;
    const struct { const char *n; int role, kind, band; } ifs[4] = {
        {"lan", PF_ROLE_LAN, PF_KIND_ETHERNET, PF_BAND_NONE},
        {"wan", PF_ROLE_WAN, PF_KIND_ETHERNET, PF_BAND_NONE},
        {"phy0-ap0", PF_ROLE_LAN, PF_KIND_WIFI, PF_BAND_2G},
        {"phy1-ap0", PF_ROLE_LAN, PF_KIND_WIFI, PF_BAND_5G},
    };
    for (int i = 0; i < 4; i++) {
        snprintf(c->ifaces[i].name, sizeof c->ifaces[i].name, "%s", ifs[i].n);
        c->ifaces[i].role = ifs[i].role;
        c->ifaces[i].kind = ifs[i].kind;
        c->ifaces[i].band = ifs[i].band;
        c->ifaces[i].in_flowtable = 1;
        c->ifaces[i].wed = ifs[i].kind == PF_KIND_WIFI;
        c->ifaces[i].mtu = 1500;
    }
}

/* The PPE reads flow i's tuple from conntrack slot i (for its dump): a small table of our own. */
static pf_conn test_conns[4096];
static pf_ct_table test_ct = {.conns = test_conns};

static pf_ppe *make(const pf_config *c)
{
    pf_ppe *p = NULL;
    pf_error_info err;
    memset(&err, 0, sizeof err);
    int rc = pf_ppe_create(c, &p, &err);
    if (rc != PF_OK) {
        printf("create failed: %d %s\n", rc, err.message);
        exit(2);
    }
    pf_ppe_set_ct(p, &test_ct);
    return p;
}

/* A connection client:cport (LAN side, endpoint a) <-> server:sport (endpoint b). */
typedef struct conn {
    pf_ct_key key;
    pf_ppe_dir_info info[2];
} conn;

static void conn_v4(conn *c, const uint8_t cl[4], uint16_t cport, const uint8_t sv[4],
                    uint16_t sport, uint8_t proto, int lan_if, int wan_if)
{
    memset(c, 0, sizeof *c);
    memcpy(c->key.addr_a, cl, 4);
    memcpy(c->key.addr_b, sv, 4);
    c->key.port_a = cport;
    c->key.port_b = sport;
    c->key.l3 = 4;
    c->key.proto = proto;
    c->info[0] = (pf_ppe_dir_info){&c->key, 1, lan_if, wan_if, 0};
    c->info[1] = (pf_ppe_dir_info){&c->key, 0, wan_if, lan_if, 0};
}

static const uint8_t CL[4] = {192, 168, 1, 10}, SV[4] = {93, 184, 216, 34};

static int commit(pf_ppe *p, uint32_t flow, conn *c, int refused[2])
{
    int r[2];
    if (flow < sizeof test_conns / sizeof test_conns[0])
        test_conns[flow].key = c->key;
    int rc = pf_ppe_commit(p, flow, c->info, T0, refused ? refused : r);
    return rc;
}

/* n eligible TCP ACK packets of (flow, dir) spread evenly over [t, t + span) */
static int send(pf_ppe *p, uint32_t flow, int dir, int64_t t, int64_t span, int n, int *hfo,
                int *last_reason)
{
    int h = 0, reason = -1;
    for (int i = 0; i < n; i++)
        h += pf_ppe_packet(p, flow, dir, t + span * i / n, 1, 0x10, &reason);
    if (hfo)
        *hfo = h;
    if (last_reason)
        *last_reason = reason;
    return h;
}

static void tick(pf_ppe *p, int64_t now, pf_stats *st) { pf_ppe_tick(p, now, 1, st); }

/* ---- tests ------------------------------------------------------------------------------- */

static void test_config_validation(void)
{
    pf_config c;
    pf_ppe *p;
    pf_error_info err;
    struct { uint32_t entries, ways, count; } bad[] = {
        {6, 2, 1}, {8192, 3, 1}, {8192, 16, 1}, {2, 4, 1}, {8192, 2, 0}, {8192, 2, 4},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        base_config(&c);
        c.ppe_entries = bad[i].entries;
        c.ppe_ways = bad[i].ways;
        c.ppe_count = bad[i].count;
        memset(&err, 0, sizeof err);
        p = (pf_ppe *)1;
        int rc = pf_ppe_create(&c, &p, &err);
        CHECK(rc == PF_E_ARG && p == NULL && err.code == PF_E_ARG && err.message[0],
              "bad config %zu accepted (rc %d)", i, rc);
    }
    base_config(&c);
    c.ppe_entries = 64;
    c.ppe_ways = 8;
    c.ppe_count = 3;
    CHECK(pf_ppe_create(&c, &p, &err) == PF_OK, "64 entries, 8 ways, 3 PPEs refused");
    pf_ppe_destroy(p);
    pf_ppe_destroy(NULL);
}

static void test_bind_after_rate(void)
{
    pf_config c;
    base_config(&c);
    pf_ppe *p = make(&c);
    conn k;
    conn_v4(&k, CL, 40000, SV, 443, 6, IF_LAN, IF_WAN);
    int refused[2] = {-1, -1};
    CHECK(commit(p, 3, &k, refused) == PF_OK && refused[0] == 0 && refused[1] == 0,
          "plain Ethernet flow refused");
    int reason;
    for (int i = 1; i <= 30; i++) {
        int h = pf_ppe_packet(p, 3, 0, T0 + i * MS, 1, 0x10, &reason);
        CHECK(h == 0 && reason == PF_R_HW_BIND_PENDING, "packet %d: hfo %d reason %d", i, h,
              reason);
    }
    CHECK(pf_ppe_bound(p) == 1, "not bound after 30 packets");
    CHECK(pf_ppe_last_hit(p, 3) == INT64_MIN, "last hit before any HFO");
    int h = pf_ppe_packet(p, 3, 0, T0 + 31 * MS, 1, 0x10, &reason);
    CHECK(h == 1 && reason == PF_R_HW_FORWARDED, "packet 31 not HFO");
    CHECK(pf_ppe_last_hit(p, 3) == T0 + 31 * MS, "last hit");
    /* the reply direction is independent: not bound */
    h = pf_ppe_packet(p, 3, 1, T0 + 32 * MS, 1, 0x10, &reason);
    CHECK(h == 0 && reason == PF_R_HW_BIND_PENDING, "reply direction bound with the original");
    /* a packet the PPE cannot forward (SYN) of a bound direction goes to the CPU */
    h = pf_ppe_packet(p, 3, 0, T0 + 33 * MS, 0, 0x12, &reason);
    CHECK(h == 0 && reason == PF_R_TCP_FIN_RST, "SYN on bound entry: %d %d", h, reason);

    pf_stats st;
    memset(&st, 0, sizeof st);
    tick(p, T0 + 1 * S, &st);
    CHECK(st.hw_binds == 1 && st.ppe_bound_peak == 1 && st.ppe_bound_sum == 1 &&
              st.ppe_samples == 1,
          "stats binds %llu peak %llu sum %llu samples %llu", (unsigned long long)st.hw_binds,
          (unsigned long long)st.ppe_bound_peak, (unsigned long long)st.ppe_bound_sum,
          (unsigned long long)st.ppe_samples);
    pf_ppe_destroy(p);
}

static void test_window_is_per_second(void)
{
    pf_config c;
    base_config(&c);
    pf_ppe *p = make(&c);
    conn k;
    conn_v4(&k, CL, 40001, SV, 443, 17, IF_LAN, IF_WAN);
    commit(p, 1, &k, NULL);
    int reason;
    /* 29 packets late in one second, 29 early in the next: 58 packets within 1 s of each other
     * but never 30 in one tumbling tick */
    send(p, 1, 0, T0 + 500 * MS, 490 * MS, 29, NULL, NULL);
    send(p, 1, 0, T0 + 1 * S, 490 * MS, 29, NULL, &reason);
    CHECK(pf_ppe_bound(p) == 0 && reason == PF_R_HW_BIND_PENDING, "bound across two ticks");
    send(p, 1, 0, T0 + 1 * S + 500 * MS, 10 * MS, 1, NULL, &reason);
    CHECK(pf_ppe_bound(p) == 1, "30th packet of the tick did not bind");
    pf_ppe_destroy(p);
}

static void test_slow_direction_never_binds(void)
{
    pf_config c;
    base_config(&c);
    pf_ppe *p = make(&c);
    conn k;
    conn_v4(&k, CL, 40002, SV, 53, 17, IF_LAN, IF_WAN);
    commit(p, 2, &k, NULL);
    pf_stats st;
    memset(&st, 0, sizeof st);
    int hfo_total = 0, reason = 0;
    for (int s = 0; s < 60; s++) {
        int h;
        send(p, 2, 0, T0 + s * S, S, 10, &h, &reason);
        hfo_total += h;
        CHECK(reason == PF_R_HW_BIND_PENDING, "second %d reason %d", s, reason);
        tick(p, T0 + (s + 1) * S, &st);
    }
    CHECK(hfo_total == 0 && pf_ppe_bound(p) == 0 && st.hw_binds == 0,
          "10 pkt/s direction bound (hfo %d)", hfo_total);
    pf_ppe_destroy(p);
}

static void test_aging_and_rebind(void)
{
    pf_config c;
    base_config(&c);
    pf_ppe *p = make(&c);
    conn k;
    conn_v4(&k, CL, 40003, SV, 443, 6, IF_LAN, IF_WAN);
    commit(p, 5, &k, NULL);
    pf_stats st;
    memset(&st, 0, sizeof st);
    int h, reason;
    send(p, 5, 0, T0, 500 * MS, 40, &h, &reason);
    CHECK(h == 10 && pf_ppe_bound(p) == 1, "initial bind: hfo %d", h);
    int64_t last = T0 + 500 * MS - 500 * MS / 40; /* last packet */
    CHECK(pf_ppe_last_hit(p, 5) == last, "last hit");
    /* idle: ticks at T0+1 .. T0+7 s keep it (idle <= 7 s), T0+8 s ages it */
    for (int s = 1; s <= 7; s++)
        tick(p, T0 + s * S, &st);
    CHECK(pf_ppe_bound(p) == 1 && st.hw_age_outs == 0, "aged before 7 s idle");
    tick(p, T0 + 8 * S, &st);
    CHECK(pf_ppe_bound(p) == 0 && st.hw_age_outs == 1, "not aged after >7 s idle (%llu)",
          (unsigned long long)st.hw_age_outs);
    CHECK(st.ppe_bound_sum == 7 && st.ppe_samples == 8, "occupancy sum %llu samples %llu",
          (unsigned long long)st.ppe_bound_sum, (unsigned long long)st.ppe_samples);
    /* resumes: relearning, reason hw_aged until the rate is reached again */
    h = pf_ppe_packet(p, 5, 0, T0 + 9 * S, 1, 0x10, &reason);
    CHECK(h == 0 && reason == PF_R_HW_AGED, "after aging: %d %d", h, reason);
    send(p, 5, 0, T0 + 9 * S + 1 * MS, 100 * MS, 28, &h, &reason);
    CHECK(h == 0 && reason == PF_R_HW_AGED && pf_ppe_bound(p) == 0, "rebound too early");
    h = pf_ppe_packet(p, 5, 0, T0 + 9 * S + 200 * MS, 1, 0x10, &reason);
    CHECK(h == 0 && reason == PF_R_HW_BIND_PENDING && pf_ppe_bound(p) == 1,
          "30th packet did not rebind: %d", reason);
    h = pf_ppe_packet(p, 5, 0, T0 + 9 * S + 201 * MS, 1, 0x10, &reason);
    CHECK(h == 1, "not HFO after rebind");
    tick(p, T0 + 10 * S, &st);
    CHECK(st.hw_binds == 2, "binds %llu", (unsigned long long)st.hw_binds);

    /* UDP ages after 12 s */
    conn u;
    conn_v4(&u, CL, 40004, SV, 443, 17, IF_LAN, IF_WAN);
    commit(p, 6, &u, NULL);
    send(p, 6, 0, T0 + 20 * S, 100 * MS, 31, &h, NULL);
    CHECK(h == 1, "udp bind");
    for (int s = 21; s <= 32; s++)
        tick(p, T0 + s * S, &st);
    CHECK(pf_ppe_bound(p) == 1, "udp aged before 12 s"); /* tcp flow 5 aged at 17 s */
    tick(p, T0 + 33 * S, &st);
    CHECK(pf_ppe_bound(p) == 0, "udp not aged after 12 s");

    /* unbound entries age after 3 s: a later packet relearns (count restarts) */
    conn v;
    conn_v4(&v, CL, 40005, SV, 443, 17, IF_LAN, IF_WAN);
    commit(p, 7, &v, NULL);
    send(p, 7, 0, T0 + 40 * S, 100 * MS, 5, NULL, NULL);
    tick(p, T0 + 44 * S, &st);
    FILE *f = tmpfile();
    pf_ppe_dump(p, f);
    CHECK(ftell(f) == 0, "unbound entry survived 3 s idle");
    fclose(f);
    pf_ppe_destroy(p);
}

static void test_fin_ages_fast(void)
{
    pf_config c;
    base_config(&c);
    pf_ppe *p = make(&c);
    conn k;
    conn_v4(&k, CL, 40006, SV, 443, 6, IF_LAN, IF_WAN);
    commit(p, 8, &k, NULL);
    pf_stats st;
    memset(&st, 0, sizeof st);
    int h, reason;
    send(p, 8, 0, T0, 100 * MS, 31, &h, NULL);
    CHECK(h == 1, "bind");
    h = pf_ppe_packet(p, 8, 0, T0 + 200 * MS, 0, 0x11, &reason); /* FIN|ACK */
    CHECK(h == 0 && reason == PF_R_TCP_FIN_RST, "FIN hfo %d reason %d", h, reason);
    FILE *f = tmpfile();
    pf_ppe_dump(p, f);
    rewind(f);
    char line[512] = "";
    CHECK(fgets(line, sizeof line, f) && strstr(line, " FIN IPv4 5T "), "dump: %s", line);
    fclose(f);
    tick(p, T0 + 1 * S, &st);
    CHECK(pf_ppe_bound(p) == 1, "FIN entry aged after 0.8 s");
    tick(p, T0 + 2 * S, &st);
    CHECK(pf_ppe_bound(p) == 0 && st.hw_age_outs == 1, "FIN entry not aged after 1.8 s");
    pf_ppe_destroy(p);
}

/* finds n client ports whose original direction hashes to `slot` in a table of entries/ways */
static int ports_for_slot(uint32_t entries, uint32_t ways, uint32_t slot, uint16_t *ports, int n)
{
    int found = 0;
    for (uint32_t port = 1024; port < 65536 && found < n; port++)
        if (pf_ppe_hash_tuple(4, CL, SV, (uint16_t)port, 443, entries, ways) == slot)
            ports[found++] = (uint16_t)port;
    return found;
}

static void test_bucket_full_and_remove(void)
{
    pf_config c;
    base_config(&c);
    c.ppe_entries = 4;
    c.ppe_ways = 2;
    pf_ppe *p = make(&c);
    uint16_t ports[3];
    CHECK(ports_for_slot(4, 2, 2, ports, 3) == 3, "no colliding ports");
    conn k[3];
    for (int i = 0; i < 3; i++) {
        conn_v4(&k[i], CL, ports[i], SV, 443, 17, IF_LAN, IF_WAN);
        CHECK(commit(p, (uint32_t)i, &k[i], NULL) == PF_OK, "collision refused the commit");
    }
    int h, reason;
    send(p, 0, 0, T0, 100 * MS, 31, &h, NULL);
    CHECK(h == 1, "flow 0 bind");
    send(p, 1, 0, T0, 100 * MS, 31, &h, NULL);
    CHECK(h == 1, "flow 1 bind");
    send(p, 2, 0, T0, 500 * MS, 100, &h, &reason);
    CHECK(h == 0 && reason == PF_R_PPE_BUCKET_FULL && pf_ppe_bound(p) == 2,
          "third flow: hfo %d reason %d", h, reason);
    /* the other bucket is unaffected (replies are in software, never sent here) */
    pf_ppe_remove(p, 0, T0 + 600 * MS);
    CHECK(pf_ppe_bound(p) == 1, "remove did not free the way");
    CHECK(pf_ppe_last_hit(p, 0) == INT64_MIN, "last hit survives remove");
    h = pf_ppe_packet(p, 2, 0, T0 + 700 * MS, 1, 0x10, &reason);
    CHECK(h == 0 && reason == PF_R_HW_BIND_PENDING, "waiting flow did not learn: %d", reason);
    send(p, 2, 0, T0 + 1 * S, 100 * MS, 31, &h, NULL);
    CHECK(h == 1 && pf_ppe_bound(p) == 2, "waiting flow did not bind after remove");
    pf_ppe_destroy(p);
}

static void test_unbound_replacement(void)
{
    /* 1-way buckets: an UNBIND entry counting in the current tick is kept; one not hit in
     * this tick is replaced by a newcomer */
    pf_config c;
    base_config(&c);
    c.ppe_entries = 4;
    c.ppe_ways = 1;
    pf_ppe *p = make(&c);
    uint16_t ports[2];
    CHECK(ports_for_slot(4, 1, 1, ports, 2) == 2, "no colliding ports");
    conn k[2];
    for (int i = 0; i < 2; i++) {
        conn_v4(&k[i], CL, ports[i], SV, 443, 17, IF_LAN, IF_WAN);
        commit(p, (uint32_t)i, &k[i], NULL);
    }
    int h, reason;
    send(p, 0, 0, T0, 100 * MS, 20, &h, NULL);
    h = pf_ppe_packet(p, 1, 0, T0 + 150 * MS, 1, 0x10, &reason);
    CHECK(h == 0 && reason == PF_R_HW_BIND_PENDING, "kept entry: %d", reason);
    send(p, 0, 0, T0 + 200 * MS, 100 * MS, 9, &h, NULL);
    CHECK(pf_ppe_bound(p) == 0, "bound with 29 packets");
    /* next tick: flow 1 comes first and takes the way; flow 0 relearns nothing this tick */
    h = pf_ppe_packet(p, 1, 0, T0 + 1 * S, 1, 0x10, &reason);
    send(p, 0, 0, T0 + 1 * S + 1 * MS, 100 * MS, 40, &h, &reason);
    CHECK(h == 0 && reason == PF_R_HW_BIND_PENDING && pf_ppe_bound(p) == 0,
          "flow 0 in a way held by flow 1: %d %d", h, reason);
    send(p, 1, 0, T0 + 1 * S + 200 * MS, 100 * MS, 30, &h, NULL);
    CHECK(h == 1 && pf_ppe_bound(p) == 1, "flow 1 did not bind (hfo %d)", h);
    h = pf_ppe_packet(p, 0, 0, T0 + 2 * S, 1, 0x10, &reason);
    CHECK(h == 0 && reason == PF_R_PPE_BUCKET_FULL, "1-way bucket not full: %d", reason);
    pf_ppe_destroy(p);
}

static void test_check_interval(void)
{
    /* a refused direction reaches the rate first: the slot's check time throttles the
     * accepted flow that takes the same way within 100 ms */
    pf_config c;
    base_config(&c);
    c.ppe_entries = 4;
    c.ppe_ways = 1;
    c.ppe_bind_rate = 5;
    pf_ppe *p = make(&c);
    uint16_t ports[2];
    CHECK(ports_for_slot(4, 1, 1, ports, 2) == 2, "no colliding ports");
    conn a, b;
    conn_v4(&a, CL, ports[0], SV, 443, 17, IF_LAN, IF_WAN);
    conn_v4(&b, CL, ports[1], SV, 443, 17, IF_LAN, IF_WAN);
    /* a refused with an Ethernet ingress (2.4 GHz egress): the PPE still learns it */
    a.info[0].out_iface = IF_WIFI2;
    a.info[1].in_iface = IF_WIFI2;
    int refused[2];
    CHECK(commit(p, 0, &a, refused) == PF_R_WED_2G_EXCLUDED && refused[0] == PF_R_WED_2G_EXCLUDED,
          "2.4 GHz egress accepted");
    commit(p, 1, &b, NULL);
    int h, reason;
    /* rate reached at T0 + 940 ms: the slot is checked, nothing matches */
    send(p, 0, 0, T0 + 900 * MS, 50 * MS, 5, &h, &reason);
    CHECK(h == 0 && reason == PF_R_WED_2G_EXCLUDED, "refused direction: %d", reason);
    /* next tick: b takes the way and reaches the rate at T0 + 1004 ms */
    send(p, 1, 0, T0 + 1000 * MS, 10 * MS, 10, &h, NULL);
    CHECK(pf_ppe_bound(p) == 0, "bound within 100 ms of the slot's last check");
    h = pf_ppe_packet(p, 1, 0, T0 + 1039 * MS, 1, 0x10, &reason);
    CHECK(pf_ppe_bound(p) == 0, "bound 99 ms after the check");
    h = pf_ppe_packet(p, 1, 0, T0 + 1040 * MS, 1, 0x10, &reason);
    CHECK(pf_ppe_bound(p) == 1 && reason == PF_R_HW_BIND_PENDING, "not bound 100 ms later");
    pf_ppe_destroy(p);
}

static void test_wifi(void)
{
    pf_config c;
    int refused[2], reason, h;
    conn k;

    /* WED v2, 2.4 GHz not covered: refused both ways; 5 GHz accepted both ways */
    base_config(&c);
    pf_ppe *p = make(&c);
    conn_v4(&k, CL, 40010, SV, 443, 6, IF_WIFI2, IF_WAN);
    CHECK(commit(p, 0, &k, refused) == PF_R_WED_2G_EXCLUDED &&
              refused[0] == PF_R_WED_2G_EXCLUDED && refused[1] == PF_R_WED_2G_EXCLUDED,
          "2.4 GHz: rc refused %d %d", refused[0], refused[1]);
    send(p, 0, 0, T0, 100 * MS, 50, &h, &reason);
    CHECK(h == 0 && reason == PF_R_WED_2G_EXCLUDED, "2.4 GHz packets: %d %d", h, reason);
    send(p, 0, 1, T0, 100 * MS, 50, &h, &reason);
    CHECK(h == 0 && reason == PF_R_WED_2G_EXCLUDED && pf_ppe_bound(p) == 0,
          "2.4 GHz reply packets: %d %d", h, reason);
    conn_v4(&k, CL, 40011, SV, 443, 6, IF_WIFI5, IF_WAN);
    CHECK(commit(p, 1, &k, refused) == PF_OK && refused[0] == 0 && refused[1] == 0,
          "5 GHz WED v2 refused: %d %d", refused[0], refused[1]);
    send(p, 1, 0, T0, 100 * MS, 31, &h, NULL);
    CHECK(h == 1, "5 GHz upload not bound");
    send(p, 1, 1, T0, 100 * MS, 31, &h, NULL);
    CHECK(h == 1, "5 GHz download not bound");
    pf_ppe_destroy(p);

    /* wed_2g = 1: covered */
    base_config(&c);
    c.wed_2g = 1;
    p = make(&c);
    conn_v4(&k, CL, 40010, SV, 443, 6, IF_WIFI2, IF_WAN);
    CHECK(commit(p, 0, &k, refused) == PF_OK, "2.4 GHz with wed_2g refused");
    pf_ppe_destroy(p);

    /* no WED on the SoC: Wi-Fi refused both ways */
    base_config(&c);
    c.wed_version = 0;
    p = make(&c);
    conn_v4(&k, CL, 40011, SV, 443, 6, IF_WIFI5, IF_WAN);
    CHECK(commit(p, 1, &k, refused) == PF_R_WIFI_NO_WED && refused[0] == PF_R_WIFI_NO_WED &&
              refused[1] == PF_R_WIFI_NO_WED,
          "wed_version 0 accepted Wi-Fi");
    send(p, 1, 1, T0, 100 * MS, 31, &h, &reason);
    CHECK(h == 0 && reason == PF_R_WIFI_NO_WED, "no-WED packets: %d", reason);
    /* Ethernet-only flows are unaffected */
    conn_v4(&k, CL, 40012, SV, 443, 6, IF_LAN, IF_WAN);
    CHECK(commit(p, 2, &k, refused) == PF_OK, "Ethernet refused without WED");
    pf_ppe_destroy(p);

    /* radio not attached to WED (wed_enable=N) */
    base_config(&c);
    c.ifaces[IF_WIFI5].wed = 0;
    p = make(&c);
    conn_v4(&k, CL, 40011, SV, 443, 6, IF_WIFI5, IF_WAN);
    CHECK(commit(p, 1, &k, refused) == PF_R_WIFI_NO_WED, "radio without WED accepted");
    pf_ppe_destroy(p);

    /* WED v1: Ethernet -> Wi-Fi only */
    base_config(&c);
    c.wed_version = 1;
    p = make(&c);
    conn_v4(&k, CL, 40011, SV, 443, 6, IF_WIFI5, IF_WAN);
    CHECK(commit(p, 1, &k, refused) == PF_OK && refused[0] == PF_R_WIFI_NO_WED &&
              refused[1] == 0,
          "WED v1: refused %d %d", refused[0], refused[1]);
    send(p, 1, 1, T0, 100 * MS, 31, &h, NULL);
    CHECK(h == 1, "WED v1 download not bound");
    send(p, 1, 0, T0, 100 * MS, 31, &h, &reason);
    CHECK(h == 0 && reason == PF_R_WIFI_NO_WED, "WED v1 upload: %d %d", h, reason);
    pf_ppe_destroy(p);
}

static void test_refusals(void)
{
    pf_config c;
    int refused[2], reason, h;
    base_config(&c);
    c.ppe_ipv6 = 0;
    pf_ppe *p = make(&c);
    conn k;
    memset(&k, 0, sizeof k);
    static const uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
    static const uint8_t b6[16] = {0x26, 0x06, 0x28, 0x00, 0x02, 0x20, 0x00, 0x01,
                                   0,    0,    0,    0,    0,    0,    0,    0x01};
    memcpy(k.key.addr_a, a6, 16);
    memcpy(k.key.addr_b, b6, 16);
    k.key.port_a = 40000;
    k.key.port_b = 443;
    k.key.l3 = 6;
    k.key.proto = 6;
    k.info[0] = (pf_ppe_dir_info){&k.key, 1, IF_LAN, IF_WAN, 0};
    k.info[1] = (pf_ppe_dir_info){&k.key, 0, IF_WAN, IF_LAN, 0};
    CHECK(commit(p, 0, &k, refused) == PF_R_PPE_IPV6_UNSUPPORTED &&
              refused[0] == PF_R_PPE_IPV6_UNSUPPORTED && refused[1] == PF_R_PPE_IPV6_UNSUPPORTED,
          "IPv6 accepted with ppe_ipv6 = 0");
    send(p, 0, 0, T0, 100 * MS, 40, &h, &reason);
    CHECK(h == 0 && reason == PF_R_PPE_IPV6_UNSUPPORTED, "IPv6 packets: %d", reason);
    pf_ppe_destroy(p);

    /* ppe_ipv6 = 1: accepted, bound in slot 0x18bc, dumped as IPv6 5T */
    c.ppe_ipv6 = 1;
    p = make(&c);
    CHECK(commit(p, 0, &k, refused) == PF_OK, "IPv6 refused with ppe_ipv6 = 1");
    send(p, 0, 0, T0, 100 * MS, 31, &h, NULL);
    CHECK(h == 1, "IPv6 not bound");
    FILE *f = tmpfile();
    pf_ppe_dump(p, f);
    rewind(f);
    char line[512] = "";
    CHECK(fgets(line, sizeof line, f) != NULL, "empty dump");
    const char *want = "018bc BND IPv6 5T orig=2001:0db8:0000:0000:0000:0000:0000:0010:40000->"
                       "2606:2800:0220:0001:0000:0000:0000:0001:443 eth=";
    CHECK(strncmp(line, want, strlen(want)) == 0, "IPv6 dump line: %s", line);
    CHECK(strstr(line, "etype=dd86 ") != NULL, "IPv6 etype: %s", line);
    fclose(f);
    pf_ppe_destroy(p);

    /* three VLAN tags */
    base_config(&c);
    p = make(&c);
    conn_v4(&k, CL, 40020, SV, 443, 6, IF_LAN, IF_WAN);
    k.info[0].n_vlan = 3;
    k.info[1].n_vlan = 3;
    CHECK(commit(p, 0, &k, refused) == PF_R_PPE_UNSUPPORTED_ENCAP &&
              refused[0] == PF_R_PPE_UNSUPPORTED_ENCAP,
          "3 VLAN tags accepted");
    k.info[0].n_vlan = 2;
    k.info[1].n_vlan = 2;
    CHECK(commit(p, 1, &k, refused) == PF_OK, "2 VLAN tags refused");
    pf_ppe_destroy(p);

    /* SoC without PPE */
    base_config(&c);
    c.ppe_entries = 0;
    p = make(&c);
    conn_v4(&k, CL, 40021, SV, 443, 6, IF_LAN, IF_WAN);
    CHECK(commit(p, 0, &k, refused) == PF_R_HW_NO_PPE && refused[1] == PF_R_HW_NO_PPE,
          "no PPE accepted");
    send(p, 0, 0, T0, 100 * MS, 40, &h, &reason);
    CHECK(h == 0 && reason == PF_R_HW_NO_PPE, "no-PPE packets: %d", reason);
    f = tmpfile();
    CHECK(pf_ppe_dump(p, f) == PF_OK && ftell(f) == 0, "no-PPE dump not empty");
    fclose(f);
    pf_ppe_destroy(p);
}

static void test_mt7621_static(void)
{
    /* slot 12 is STATIC: bucket 12/13 (2-way) has one usable way */
    pf_config c;
    base_config(&c);
    c.ppe_entries = 128;
    c.ppe_ways = 2;
    c.ppe_mt7621_static = 1;
    pf_ppe *p = make(&c);
    uint16_t ports[2];
    CHECK(ports_for_slot(128, 2, 12, ports, 2) == 2, "no ports for slot 12");
    conn k[2];
    int h, reason;
    for (int i = 0; i < 2; i++) {
        conn_v4(&k[i], CL, ports[i], SV, 443, 17, IF_LAN, IF_WAN);
        commit(p, (uint32_t)i, &k[i], NULL);
    }
    send(p, 0, 0, T0, 100 * MS, 31, &h, NULL);
    CHECK(h == 1, "first flow not bound");
    h = pf_ppe_packet(p, 1, 0, T0 + 200 * MS, 1, 0x10, &reason);
    CHECK(h == 0 && reason == PF_R_PPE_BUCKET_FULL, "STATIC way used: %d", reason);
    FILE *f = tmpfile();
    pf_ppe_dump(p, f);
    rewind(f);
    char line[512] = "";
    CHECK(fgets(line, sizeof line, f) && strncmp(line, "0000d BND IPv4 5T orig=192.168.1.10:", 36) == 0,
          "dump: %s", line);
    CHECK(strstr(line, " new=192.168.1.10:") && strstr(line, "etype=0008 vlan=0,0 ib1=6") &&
              strstr(line, "packets=0 bytes=0"),
          "dump fields: %s", line);
    fclose(f);
    pf_ppe_destroy(p);
}

static void test_multi_ppe_and_dump(void)
{
    pf_config c;
    base_config(&c);
    c.ppe_count = 2;
    c.ppe_ways = 4;
    c.ppe_entries = 8192;
    pf_ppe *p = make(&c);
    conn k;
    conn_v4(&k, CL, 40000, SV, 443, 6, IF_LAN, IF_WAN);
    commit(p, 9, &k, NULL);
    int h;
    send(p, 9, 0, T0, 100 * MS, 31, &h, NULL); /* LAN = iface 0 -> PPE 0, slot 0xe7c */
    send(p, 9, 1, T0, 100 * MS, 5, &h, NULL);  /* WAN = iface 1 -> PPE 1, unbound */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pf_ppe_dump(p, f);
    fclose(f);
    printf("---- dump (2 PPEs, 4-way) ----\n%s------------------------------\n", buf);
    CHECK(strstr(buf, "==> /sys/kernel/debug/ppe0/entries <==\n00e7c BND IPv4 5T "
                      "orig=192.168.1.10:40000->93.184.216.34:443 new=192.168.1.10:40000->"
                      "93.184.216.34:443") != NULL,
          "ppe0 line");
    char want[128];
    snprintf(want, sizeof want, "==> /sys/kernel/debug/ppe1/entries <==\n%05x UNB IPv4 5T ",
             pf_ppe_hash_tuple(4, SV, CL, 443, 40000, 8192, 4));
    CHECK(strstr(buf, want) != NULL, "ppe1 line (%s)", want);
    free(buf);
    pf_stats st;
    memset(&st, 0, sizeof st);
    pf_ppe_tick(p, T0 + 1 * S, 1, &st);
    /* a long silence in one call: bound for ticks T0+2 .. T0+7 (idle <= 7 s), then aged */
    pf_ppe_tick(p, T0 + 101 * S, 100, &st);
    CHECK(st.ppe_samples == 101 && st.ppe_bound_sum == 1 + 6 && st.hw_age_outs == 1,
          "batched tick: samples %llu sum %llu ages %llu", (unsigned long long)st.ppe_samples,
          (unsigned long long)st.ppe_bound_sum, (unsigned long long)st.hw_age_outs);
    pf_ppe_destroy(p);
}

/* The dump's packets= is the MIB count since bind (mtk_ppe_debugfs.c): the bound hits of that
 * entry, also after it aged out and was bound again. */
static void test_dump_counts_hits_since_bind(void)
{
    pf_config c;
    base_config(&c);
    pf_ppe *p = make(&c);
    conn k;
    conn_v4(&k, CL, 40001, SV, 443, 6, IF_LAN, IF_WAN);
    commit(p, 3, &k, NULL);
    int h1, h2;
    send(p, 3, 0, T0, 100 * MS, 31, &h1, NULL);          /* 30 to bind, then 1 hit */
    send(p, 3, 0, T0 + 100 * MS, 100 * MS, 10, &h2, NULL); /* 10 more hits */
    CHECK(h1 == 1 && h2 == 10, "hits %d %d", h1, h2);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pf_ppe_dump(p, f);
    fclose(f);
    CHECK(strstr(buf, " BND IPv4 5T ") && strstr(buf, " packets=11 bytes=0"), "dump after 11 hits: %s", buf);
    free(buf);
    /* idle past the TCP age (7 s): aged out; rebinding starts the count again */
    pf_stats st;
    memset(&st, 0, sizeof st);
    for (int t = 1; t <= 9; t++)
        pf_ppe_tick(p, T0 + t * S, 1, &st);
    CHECK(st.hw_age_outs == 1, "age-outs %llu", (unsigned long long)st.hw_age_outs);
    send(p, 3, 0, T0 + 10 * S, 100 * MS, 33, &h1, NULL); /* 30 to bind again, then 3 hits */
    CHECK(h1 == 3, "hits after rebind %d", h1);
    buf = NULL;
    f = open_memstream(&buf, &len);
    pf_ppe_dump(p, f);
    fclose(f);
    CHECK(strstr(buf, " packets=3 bytes=0") != NULL, "dump after rebind: %s", buf);
    free(buf);
    pf_ppe_destroy(p);
}

static void test_recommit_and_reuse(void)
{
    pf_config c;
    base_config(&c);
    pf_ppe *p = make(&c);
    conn k;
    conn_v4(&k, CL, 40030, SV, 443, 6, IF_LAN, IF_WAN);
    commit(p, 4, &k, NULL);
    int h;
    send(p, 4, 0, T0, 100 * MS, 31, &h, NULL);
    CHECK(h == 1 && pf_ppe_bound(p) == 1, "bind");
    /* the slot is reused by another connection without a remove in between */
    conn_v4(&k, CL, 40031, SV, 443, 6, IF_LAN, IF_WAN);
    commit(p, 4, &k, NULL);
    CHECK(pf_ppe_bound(p) == 0 && pf_ppe_last_hit(p, 4) == INT64_MIN, "recommit kept state");
    pf_ppe_remove(p, 4, T0);
    pf_ppe_remove(p, 4, T0); /* twice is harmless */
    CHECK(pf_ppe_bound(p) == 0, "bound after remove");
    pf_ppe_destroy(p);
}

static void bench(void)
{
    /* throughput of the packet path with a full-size table and many flows */
    pf_config c;
    base_config(&c);
    c.ct_max = 65536;
    c.ppe_entries = 16384;
    pf_ppe *p = make(&c);
    uint32_t nflows = 20000;
    conn *k = malloc(sizeof *k * nflows);
    for (uint32_t i = 0; i < nflows; i++) {
        /* random tuples: lockstep ones (port i, address i) fall into a handful of buckets */
        uint32_t r = i * 2654435761u, r2 = (i + 7) * 2246822519u;
        uint8_t sv[4] = {(uint8_t)(r >> 24), (uint8_t)(r >> 16), (uint8_t)(r >> 8), (uint8_t)r};
        conn_v4(&k[i], CL, (uint16_t)(1024 + (r2 >> 16) % 60000), sv, 443, (i & 1) ? 17 : 6,
                IF_LAN, IF_WAN);
        commit(p, i, &k[i], NULL);
    }
    pf_stats st;
    memset(&st, 0, sizeof st);
    uint64_t n = 20000000, hfo = 0;
    int reason;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    uint64_t x = 88172645463325252ull;
    int64_t t = T0, next_tick = T0 + S;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13; /* xorshift64 */
        x ^= x >> 7;
        x ^= x << 17;
        /* skewed: half the packets to 200 heavy flows, the rest spread over all flows */
        uint32_t f = (uint32_t)((x >> 8) % ((x & 0x80) ? 200 : nflows));
        t += 500; /* 2 Mpps of trace time */
        if (t >= next_tick) {
            pf_ppe_tick(p, next_tick, 1, &st);
            next_tick += S;
        }
        hfo += (uint64_t)pf_ppe_packet(p, f, (int)((x >> 20) & 1), t, 1, 0x10, &reason);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double sec = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("bench: %llu packets in %.3f s = %.1f Mpps (hfo %llu, bound %llu, binds %llu)\n",
           (unsigned long long)n, sec, (double)n / sec / 1e6, (unsigned long long)hfo,
           (unsigned long long)pf_ppe_bound(p), (unsigned long long)st.hw_binds);
    free(k);
    pf_ppe_destroy(p);
}

int main(int argc, char **argv)
{
    test_config_validation();
    test_bind_after_rate();
    test_window_is_per_second();
    test_slow_direction_never_binds();
    test_aging_and_rebind();
    test_fin_ages_fast();
    test_bucket_full_and_remove();
    test_unbound_replacement();
    test_check_interval();
    test_wifi();
    test_refusals();
    test_mt7621_static();
    test_multi_ppe_and_dump();
    test_dump_counts_hits_since_bind();
    test_recommit_and_reuse();
    if (argc > 1 && strcmp(argv[1], "bench") == 0)
        bench();
    printf("%d checks, %d failed\n", checks, failures);
    return failures != 0;
}
