/* pyflow kernel oracle: the in-guest injector/receiver (static binary, gcc -static).
 *
 * Runs as PID-1's child inside the qemu guest, after oracle/init.sh has built the three network
 * namespaces lan / router / wan (see oracle/run.py for the whole picture).  It reads the packet list
 * prepared by the host (oracle/run.py, format below), and for every packet in file order:
 *   - waits until the packet's scheduled time (previous schedule + gap; never earlier than the
 *     previous packet's outcome),
 *   - records the send time (CLOCK_MONOTONIC, ns since the first packet),
 *   - for "skip" packets (not forwarded by a router, or not sendable) does nothing else,
 *   - otherwise clears the DSCP bits (IPv4 header checksum recomputed), wraps the L3 packet in an
 *     Ethernet header addressed to the router's veth on that side, sends it through an AF_PACKET
 *     socket opened in the lan or wan namespace, and waits up to TIMEOUT_MS for the same packet to
 *     come out of the other side (exact match: addresses, protocol, IPv4 id / fragment field,
 *     length, and the first 32 bytes after the fixed IP header).  The router's forward chain sets
 *     DSCP CS1 on every packet it sees after `flow add @ft`: CS1 = slow path, 0 = flowtable.
 *   - a packet that does not come out in time is "lost"; if it comes out later (e.g. an IPv4
 *     fragment held by defrag until the datagram is complete) a late line updates it.
 *
 * Input (/trace.bin, little-endian): "PFO1", u32 count, then per packet
 *   u8 action (0 skip, 1 send from lan, 2 send from wan), u8 0, u16 len, u32 0, i64 gap_ns, len bytes.
 * Output (stdout): "R idx result t_ns" per packet (result: slow sfo lost skip senderr dscpNN), and
 *   "L idx result" when a lost packet arrives late.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* fixed MACs set by init.sh */
static const uint8_t MAC_LAN_HOST[6] = {0x02, 0, 0, 0, 0x00, 0x10};   /* lan0 (lan ns) */
static const uint8_t MAC_ROUTER_LAN[6] = {0x02, 0, 0, 0, 0x00, 0x01}; /* rlan (router ns) */
static const uint8_t MAC_ROUTER_WAN[6] = {0x02, 0, 0, 0, 0x01, 0x01}; /* rwan (router ns) */
static const uint8_t MAC_WAN_HOST[6] = {0x02, 0, 0, 0, 0x01, 0xfe};   /* wan0 (wan ns) */

#define CMP_BYTES 32
#define MAX_PENDING 256

struct pkt {
    uint8_t action;
    uint16_t len;
    int64_t gap_ns;
    uint8_t *data;
};

struct pending {
    uint32_t idx;
    int side; /* receiving socket index */
    uint8_t *data;
    uint16_t len;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until(int64_t t)
{
    struct timespec ts = {.tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static int open_in_ns(const char *ns, const char *ifname)
{
    char path[64];
    snprintf(path, sizeof path, "/run/netns/%s", ns);
    int fd = open(path, O_RDONLY);
    if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
        perror(path);
        exit(2);
    }
    close(fd);
    int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (s < 0) {
        perror("socket");
        exit(2);
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    if (ioctl(s, SIOCGIFINDEX, &ifr) < 0) {
        perror(ifname);
        exit(2);
    }
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
                              .sll_ifindex = ifr.ifr_ifindex};
    if (bind(s, (struct sockaddr *)&sll, sizeof sll) < 0) {
        perror("bind");
        exit(2);
    }
    int one = 1;
    setsockopt(s, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
    int buf = 4 << 20;
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    return s;
}

static uint16_t ip_csum(const uint8_t *h, int n)
{
    uint32_t s = 0;
    for (int i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* header length up to which addresses/ids live; bytes after it are compared verbatim */
static int l3_hdr(const uint8_t *p, int len)
{
    if (len < 1)
        return -1;
    if ((p[0] >> 4) == 4)
        return len >= 20 && (p[0] & 15) * 4 <= len ? (p[0] & 15) * 4 : -1;
    if ((p[0] >> 4) == 6)
        return len >= 40 ? 40 : -1;
    return -1;
}

/* does received L3 packet r (after forwarding) correspond to sent packet s? */
static int same_packet(const uint8_t *s, int slen, const uint8_t *r, int rlen)
{
    int hs = l3_hdr(s, slen), hr = l3_hdr(r, rlen);
    if (hs < 0 || hr < 0 || (s[0] >> 4) != (r[0] >> 4))
        return 0;
    if ((s[0] >> 4) == 4) {
        if (memcmp(s + 12, r + 12, 8) || s[9] != r[9] || memcmp(s + 4, r + 4, 4)) /* addrs, proto, id, frag */
            return 0;
        if (memcmp(s + 2, r + 2, 2)) /* total length */
            return 0;
    } else {
        if (memcmp(s + 8, r + 8, 32) || s[6] != r[6] || memcmp(s + 4, r + 4, 2))
            return 0;
    }
    int ns = slen - hs, nr = rlen - hr, n = ns < nr ? ns : nr;
    if (n > CMP_BYTES)
        n = CMP_BYTES;
    return memcmp(s + hs, r + hr, n) == 0;
}

static const char *classify(const uint8_t *r, char *buf)
{
    int dscp = (r[0] >> 4) == 4 ? r[1] >> 2 : (((r[0] & 15) << 4) | (r[1] >> 4)) >> 2;
    if (dscp == 8)
        return "slow";
    if (dscp == 0)
        return "sfo";
    sprintf(buf, "dscp%d", dscp);
    return buf;
}

static struct pending pend[MAX_PENDING];
static int npend;

/* reads one frame from socket s (non-blocking); returns L3 length or -1 */
static int recv_l3(int s, uint8_t *buf, int cap, uint8_t **l3)
{
    struct sockaddr_ll from;
    socklen_t fl = sizeof from;
    int n = (int)recvfrom(s, buf, cap, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
    if (n < 14 || from.sll_pkttype == PACKET_OUTGOING)
        return -1;
    uint16_t et = (uint16_t)(buf[12] << 8 | buf[13]);
    if (et != 0x0800 && et != 0x86dd)
        return -1;
    *l3 = buf + 14;
    return n - 14;
}

static void check_pending(int side, const uint8_t *r, int rlen)
{
    char b[16];
    for (int i = 0; i < npend; i++) {
        if (pend[i].side == side && same_packet(pend[i].data, pend[i].len, r, rlen)) {
            printf("L %u %s\n", pend[i].idx, classify(r, b));
            pend[i] = pend[--npend];
            return;
        }
    }
}

static void drain(int *socks, uint8_t *buf, int cap)
{
    for (int side = 0; side < 2; side++) {
        uint8_t *l3;
        for (;;) {
            int n = recv_l3(socks[side], buf, cap, &l3);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                continue;
            }
            check_pending(side, l3, n);
        }
    }
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/trace.bin";
    int timeout_ms = argc > 2 ? atoi(argv[2]) : 50;
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 2;
    }
    char magic[4];
    uint32_t count;
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "PFO1", 4) || fread(&count, 4, 1, f) != 1) {
        fprintf(stderr, "bad trace file\n");
        return 2;
    }
    struct pkt *pk = calloc(count ? count : 1, sizeof *pk);
    for (uint32_t i = 0; i < count; i++) {
        uint8_t h[16];
        if (fread(h, 1, 16, f) != 16) {
            fprintf(stderr, "short trace file\n");
            return 2;
        }
        pk[i].action = h[0];
        memcpy(&pk[i].len, h + 2, 2);
        memcpy(&pk[i].gap_ns, h + 8, 8);
        pk[i].data = malloc(pk[i].len + 1);
        if (pk[i].len && fread(pk[i].data, 1, pk[i].len, f) != pk[i].len) {
            fprintf(stderr, "short trace file\n");
            return 2;
        }
    }
    fclose(f);

    int socks[2];
    socks[0] = open_in_ns("lan", "lan0"); /* receives WAN -> LAN packets, sends LAN -> WAN */
    socks[1] = open_in_ns("wan", "wan0");
    static uint8_t frame[70000], rbuf[70000];
    setvbuf(stdout, NULL, _IOLBF, 0);
    drain(socks, rbuf, sizeof rbuf);

    int64_t start = now_ns(), sched = start;
    for (uint32_t i = 0; i < count; i++) {
        struct pkt *p = &pk[i];
        sched += p->gap_ns;
        if (sched > now_ns())
            sleep_until(sched);
        int64_t t = now_ns();
        if (t > sched)
            sched = t; /* keep later gaps relative to when this packet really went out */
        if (p->action == 0) {
            printf("R %u skip %lld\n", i, (long long)(t - start));
            continue;
        }
        int from = p->action == 1 ? 0 : 1, to = 1 - from;
        uint8_t *l3 = frame + 14;
        memcpy(l3, p->data, p->len);
        if ((l3[0] >> 4) == 4) {
            l3[1] &= 0x03;
            int ihl = (l3[0] & 15) * 4;
            l3[10] = l3[11] = 0;
            uint16_t c = ip_csum(l3, ihl);
            l3[10] = (uint8_t)(c >> 8);
            l3[11] = (uint8_t)c;
        } else {
            l3[1] &= 0x3f; /* DSCP = traffic class bits 7..2: low nibble of l3[0], top 2 bits of l3[1] */
            l3[0] &= 0xf0;
        }
        memcpy(p->data, l3, p->len); /* the match compares against what was really sent */
        memcpy(frame, from == 0 ? MAC_ROUTER_LAN : MAC_ROUTER_WAN, 6);
        memcpy(frame + 6, from == 0 ? MAC_LAN_HOST : MAC_WAN_HOST, 6);
        frame[12] = (l3[0] >> 4) == 4 ? 0x08 : 0x86;
        frame[13] = (l3[0] >> 4) == 4 ? 0x00 : 0xdd;
        drain(socks, rbuf, sizeof rbuf);
        t = now_ns();
        if (send(socks[from], frame, 14 + p->len, 0) < 0) {
            printf("R %u senderr %lld\n", i, (long long)(t - start));
            continue;
        }
        const char *res = NULL;
        char b[16];
        int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000LL;
        while (!res) {
            int64_t left = deadline - now_ns();
            if (left <= 0)
                break;
            struct pollfd pfd = {.fd = socks[to], .events = POLLIN};
            if (poll(&pfd, 1, (int)((left + 999999) / 1000000)) <= 0)
                continue;
            uint8_t *r;
            for (;;) {
                int n = recv_l3(socks[to], rbuf, sizeof rbuf, &r);
                if (n < 0) {
                    if (errno == EAGAIN || errno == EWOULDBLOCK)
                        break;
                    continue;
                }
                if (!res && same_packet(p->data, p->len, r, n))
                    res = classify(r, b);
                else
                    check_pending(to, r, n);
            }
        }
        if (!res) {
            res = "lost";
            if (npend == MAX_PENDING) {
                npend--;
                memmove(pend, pend + 1, sizeof pend[0] * npend);
            }
            pend[npend++] = (struct pending){.idx = i, .side = to, .data = p->data, .len = p->len};
        }
        printf("R %u %s %lld\n", i, res, (long long)(t - start));
    }
    /* give held packets (fragments) a last chance */
    int64_t end = now_ns() + (int64_t)timeout_ms * 1000000LL;
    while (npend && now_ns() < end) {
        usleep(5000);
        drain(socks, rbuf, sizeof rbuf);
    }
    return 0;
}
