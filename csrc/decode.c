/* decode.c: packet decoder (link layer, IPv4/IPv6, TCP/UDP/ICMP, ICMP error quotes).
 * Prefix: pf_decode.
 *
 * Bounds discipline: every function receives (p, n) = a pointer and the number of bytes that
 * may be read from it, and checks `n` before each access. Offsets are uint32_t and compared
 * as `need > n - off` after establishing off <= n, so no sum can wrap. */
#include <stddef.h>
#include <string.h>

#include "decode.h"

/* Ethertypes (IEEE 802 numbers). */
#define ET_IPV4 0x0800u
#define ET_IPV6 0x86DDu
#define ET_VLAN 0x8100u      /* 802.1Q C-tag */
#define ET_QINQ 0x88A8u      /* 802.1ad S-tag */
#define ET_QINQ_OLD 0x9100u  /* pre-standard S-tag */
#define ET_PPPOE_DISC 0x8863u
#define ET_PPPOE_SESS 0x8864u

#define MAX_VLAN_WALK 8u
#define MAX_V6_EXT 16u

/* ---- byte helpers ------------------------------------------------------------------------ */

static inline uint16_t be16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (uint16_t)__builtin_bswap16(v);
#else
    return v;
#endif
}

static inline uint32_t be32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return __builtin_bswap32(v);
#else
    return v;
#endif
}

static inline uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline int st(pf_decoded *out, int status)
{
    out->status = (uint8_t)status;
    return status;
}

/* ---- IPv6 extension header walk ---------------------------------------------------------- */

/* Walks the extension headers (RFC 8200 section 4) starting at *off with next header `nh`, within
 * the first `cap` bytes of the IPv6 packet p. Returns the final next header and advances *off to
 * the upper-layer header. Adds PF_PKT_IPV6_EXT / FRAGMENT / FIRST_FRAGMENT / EXT_LOOP to *flags;
 * the caller must not parse L4 when EXT_LOOP is set or the packet is a non-first fragment.
 * Used for the packet and for the packet quoted by an ICMPv6 error (iterative, no recursion). */
static uint8_t v6_ext_walk(const uint8_t *p, uint32_t cap, uint8_t nh, uint32_t *off,
                           uint16_t *flags, uint32_t *frag_id)
{
    uint32_t o = *off;
    unsigned count = 0;

    for (;;) {
        uint32_t hlen;
        switch (nh) {
        case 0:   /* hop-by-hop options */
        case 43:  /* routing */
        case 60:  /* destination options */
        case 135: /* mobility (RFC 6275) */
        case 44:  /* fragment */
        case 51:  /* AH (RFC 4302): length in 32-bit words minus 2 */
            break;
        default:
            *off = o;
            return nh; /* upper layer, ESP (50), No Next Header (59), or unknown */
        }
        if (count >= MAX_V6_EXT || o > cap || cap - o < 8) {
            *flags |= PF_PKT_EXT_LOOP | PF_PKT_IPV6_EXT;
            *off = o;
            return nh;
        }
        count++;
        *flags |= PF_PKT_IPV6_EXT;
        if (nh == 44) {
            /* Fragment header: next, reserved, offset(13) res(2) M(1), identification. */
            uint16_t fo = be16(p + o + 2);
            *flags |= PF_PKT_FRAGMENT;
            *frag_id = be32(p + o + 4);
            nh = p[o];
            o += 8;
            if ((fo & 0xFFF8u) != 0) {
                *off = o; /* non-first fragment: what follows is not a header */
                return nh;
            }
            *flags |= PF_PKT_FIRST_FRAGMENT;
            continue;
        }
        hlen = nh == 51 ? ((uint32_t)p[o + 1] + 2u) * 4u : ((uint32_t)p[o + 1] + 1u) * 8u;
        nh = p[o];
        if (hlen > cap - o) {
            *flags |= PF_PKT_EXT_LOOP;
            *off = o;
            return nh;
        }
        o += hlen;
    }
}

/* ---- ICMP error quote -------------------------------------------------------------------- */

/* RFC 792 / RFC 1122: destination unreachable, source quench, redirect, time exceeded, parameter
 * problem; RFC 4443: destination unreachable, packet too big, time exceeded, parameter problem. */
static inline int icmp4_is_error(uint8_t t)
{
    return t == 3 || t == 4 || t == 5 || t == 11 || t == 12;
}
static inline int icmp6_is_error(uint8_t t) { return t >= 1 && t <= 4; }

/* Parses the IP packet quoted by an ICMP error (RFC 792 / RFC 4443: the invoking packet's IP
 * header and at least 8 bytes of its payload): inner_* of out. */
static void decode_inner(const uint8_t *p, uint32_t n, pf_decoded *out)
{
    uint32_t off;
    uint8_t proto;
    int nonfirst_frag = 0;

    if (n < 1)
        return;
    if ((p[0] >> 4) == 4) {
        uint32_t hl = (uint32_t)(p[0] & 0x0Fu) * 4u;
        if (n < 20 || hl < 20 || hl > n)
            return;
        proto = p[9];
        memcpy(out->inner_src, p + 12, 4);
        memcpy(out->inner_dst, p + 16, 4);
        off = hl;
        nonfirst_frag = (be16(p + 6) & 0x1FFFu) != 0;
    } else if ((p[0] >> 4) == 6) {
        uint16_t fl = 0;
        uint32_t fid = 0;
        if (n < 40)
            return;
        memcpy(out->inner_src, p + 8, 16);
        memcpy(out->inner_dst, p + 24, 16);
        off = 40;
        proto = v6_ext_walk(p, n, p[6], &off, &fl, &fid);
        if (fl & PF_PKT_EXT_LOOP)
            return;
        nonfirst_frag = (fl & (PF_PKT_FRAGMENT | PF_PKT_FIRST_FRAGMENT)) == PF_PKT_FRAGMENT;
    } else {
        return;
    }
    out->inner_l4proto = proto;
    if (!nonfirst_frag) {
        const uint8_t *l4 = p + off;
        uint32_t m = n - off;
        if (proto == 6 || proto == 17) {
            if (m < 4)
                return;
            out->inner_sport = be16(l4);
            out->inner_dport = be16(l4 + 2);
        } else if (proto == 1 || proto == 58) {
            /* A quoted echo: identifier as the port (nf_conntrack_proto_icmp.c tuple). */
            uint8_t t = m >= 1 ? l4[0] : 0;
            int echo = proto == 1 ? (t == 8 || t == 0) : (t == 128 || t == 129);
            if (echo) {
                if (m < 8)
                    return;
                out->inner_sport = be16(l4 + 4);
            }
        }
    }
    out->flags |= PF_PKT_HAS_INNER;
}

/* ---- L4 ---------------------------------------------------------------------------------- */

/* The TCP options conntrack reads (nf_conntrack_proto_tcp.c: tcp_options for window scale and
 * SACK-permitted, tcp_sack for the highest SACK right edge). Stops at EOL or a malformed option,
 * never reads past len. */
static void tcp_options(const uint8_t *p, uint32_t len, pf_decoded *out)
{
    uint32_t i = 0;
    while (i < len) {
        uint8_t kind = p[i];
        if (kind == 0)
            return; /* EOL */
        if (kind == 1) {
            i++; /* NOP */
            continue;
        }
        if (i + 1 >= len)
            return;
        uint8_t olen = p[i + 1];
        if (olen < 2 || olen > len - i)
            return; /* "silly options" / partial option */
        if (kind == 3 && olen == 3) {
            out->tcp_wscale = p[i + 2] > 14 ? 14 : p[i + 2]; /* RFC 1323 limit */
            out->tcp_opts |= PF_TCPOPT_WSCALE;
        } else if (kind == 4 && olen == 2) {
            out->tcp_opts |= PF_TCPOPT_SACK_PERM;
        } else if (kind == 5 && olen >= 10 && (olen - 2) % 8 == 0) {
            for (uint32_t b = 2; b + 8 <= olen; b += 8) {
                uint32_t right = be32(p + i + b + 4);
                if (!(out->tcp_opts & PF_TCPOPT_SACK) || (int32_t)(right - out->tcp_sack_max) > 0)
                    out->tcp_sack_max = right;
                out->tcp_opts |= PF_TCPOPT_SACK;
            }
        }
        i += olen;
    }
}

/* l4: the L4 header, cap: captured bytes of it (bounded by the IP length), plen: L4 length from
 * the IP header (payload lengths are computed from it, not from caplen). */
static void decode_l4(const uint8_t *l4, uint32_t cap, uint32_t plen, int v6, pf_decoded *out)
{
    switch (out->l4proto) {
    case 6: { /* TCP (RFC 9293 3.1) */
        uint32_t hl;
        if (cap < 20 || (l4[12] >> 4) < 5) {
            out->flags |= PF_PKT_L4_TRUNCATED;
            return;
        }
        hl = (uint32_t)(l4[12] >> 4) * 4u;
        out->sport = be16(l4);
        out->dport = be16(l4 + 2);
        out->tcp_seq = be32(l4 + 4);
        out->tcp_ack = be32(l4 + 8);
        out->tcp_flags = l4[13] & 0x3Fu; /* the PF_TCP_* bits; ECE/CWR are not needed */
        out->tcp_window = be16(l4 + 14);
        out->l4_payload_len = (plen - hl) & (0u - (uint32_t)(plen > hl)); /* no branch: data or not */
        out->flags |= PF_PKT_HAS_L4;
        if (hl > plen)
            out->flags |= PF_PKT_TCP_BAD_DOFF;
        if (hl > 20 && hl <= cap)
            tcp_options(l4 + 20, hl - 20, out);
        return;
    }
    case 17: /* UDP */
        if (cap < 8) {
            out->flags |= PF_PKT_L4_TRUNCATED;
            return;
        }
        out->sport = be16(l4);
        out->dport = be16(l4 + 2);
        out->l4_payload_len = (plen - 8) & (0u - (uint32_t)(plen > 8));
        out->flags |= PF_PKT_HAS_L4;
        return;
    case 1:
    case 58: {
        /* ICMP inside IPv6 or ICMPv6 inside IPv4 is not a valid combination: generic. */
        int is6 = out->l4proto == 58;
        uint8_t t;
        if (is6 != v6)
            return;
        if (cap < 2) {
            out->flags |= PF_PKT_L4_TRUNCATED;
            return;
        }
        t = l4[0];
        out->icmp_type = t;
        out->icmp_code = l4[1];
        if (is6 ? icmp6_is_error(t) : icmp4_is_error(t)) {
            out->flags |= PF_PKT_ICMP_ERROR;
            if (cap < 8) {
                out->flags |= PF_PKT_L4_TRUNCATED;
                return;
            }
            decode_inner(l4 + 8, cap - 8, out);
            return;
        }
        if (is6 ? (t == 128 || t == 129) : (t == 8 || t == 0)) {
            if (cap < 8) {
                out->flags |= PF_PKT_L4_TRUNCATED;
                return;
            }
            out->sport = be16(l4 + 4);
            out->dport = 0;
            out->flags |= PF_PKT_HAS_L4;
        }
        return;
    }
    default:
        return; /* SCTP, DCCP, UDP-Lite, GRE, ESP ...: no ports needed */
    }
}

/* ---- L3 ---------------------------------------------------------------------------------- */

/* An IPv4 address into a 16-byte field (the other 12 bytes zero) as two 8-byte stores, so that
 * the conntrack key builder's 8-byte loads are forwarded from them (a load spanning a 4-byte
 * copy and the earlier zeroing would wait for both stores to reach the cache). */
static inline void store_v4(uint8_t *dst16, const uint8_t *a)
{
    uint32_t v;
    memcpy(&v, a, 4);
    /* v keeps network order; it must land in bytes 0-3 of the field */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t lo = v, hi = 0;
#else
    const uint64_t lo = (uint64_t)v << 32, hi = 0;
#endif
    memcpy(dst16, &lo, 8);
    memcpy(dst16 + 8, &hi, 8);
}

/* IPv4 (RFC 791). p/n: the IP packet and the captured bytes of it. */
static int decode_ipv4(const uint8_t *p, uint32_t n, pf_decoded *out)
{
    uint32_t hl, tot, cap;
    uint16_t fo;

    out->l3 = 4;
    if (n < 1)
        return st(out, PF_DEC_TRUNCATED);
    if ((p[0] >> 4) != 4)
        return st(out, PF_DEC_BAD_HEADER);
    hl = (uint32_t)(p[0] & 0x0Fu) * 4u;
    if (hl < 20)
        return st(out, PF_DEC_BAD_HEADER);
    if (n < 20 || hl > n)
        return st(out, PF_DEC_TRUNCATED);
    tot = be16(p + 2);
    if (tot == 0)
        tot = n; /* TSO / GSO capture: the stack leaves the length 0 */
    else if (tot < hl)
        return st(out, PF_DEC_BAD_HEADER);
    out->ip_len = tot;
    if (hl > 20)
        out->flags |= PF_PKT_IPV4_OPTIONS;
    out->frag_id = be16(p + 4);
    fo = be16(p + 6);
    out->ttl = p[8];
    out->l4proto = p[9];
    store_v4(out->src, p + 12);
    store_v4(out->dst, p + 16);
    if (fo & 0x3FFFu) { /* MF or a fragment offset */
        out->flags |= PF_PKT_FRAGMENT;
        if (fo & 0x1FFFu)
            return st(out, PF_DEC_OK); /* non-first fragment: no L4 header */
        out->flags |= PF_PKT_FIRST_FRAGMENT;
    }
    cap = n < tot ? n : tot; /* Ethernet padding is not L4 */
    decode_l4(p + hl, cap - hl, tot - hl, 0, out);
    return st(out, PF_DEC_OK);
}

/* IPv6 (RFC 8200). */
static int decode_ipv6(const uint8_t *p, uint32_t n, pf_decoded *out)
{
    uint32_t plen, tot, cap, off = 40;

    out->l3 = 6;
    if (n < 1)
        return st(out, PF_DEC_TRUNCATED);
    if ((p[0] >> 4) != 6)
        return st(out, PF_DEC_BAD_HEADER);
    if (n < 40)
        return st(out, PF_DEC_TRUNCATED);
    plen = be16(p + 4);
    tot = plen ? 40u + plen : n; /* 0: jumbogram (RFC 2675) or GSO capture */
    out->ip_len = tot;
    out->ttl = p[7];
    memcpy(out->src, p + 8, 16);
    memcpy(out->dst, p + 24, 16);
    cap = n < tot ? n : tot;
    out->l4proto = v6_ext_walk(p, cap, p[6], &off, &out->flags, &out->frag_id);
    if (out->flags & PF_PKT_EXT_LOOP)
        return st(out, PF_DEC_OK);
    if ((out->flags & (PF_PKT_FRAGMENT | PF_PKT_FIRST_FRAGMENT)) == PF_PKT_FRAGMENT)
        return st(out, PF_DEC_OK);
    decode_l4(p + off, cap - off, tot > off ? tot - off : 0, 1, out);
    return st(out, PF_DEC_OK);
}

static int decode_ip_by_version(const uint8_t *p, uint32_t n, pf_decoded *out)
{
    if (n < 1)
        return st(out, PF_DEC_TRUNCATED);
    switch (p[0] >> 4) {
    case 4:
        return decode_ipv4(p, n, out);
    case 6:
        return decode_ipv6(p, n, out);
    default:
        return st(out, PF_DEC_BAD_HEADER);
    }
}

/* ---- L2 ---------------------------------------------------------------------------------- */

/* From an ethertype field onwards: VLAN tags (802.1Q / 802.1ad), 802.3 length + LLC/SNAP,
 * PPPoE session (RFC 2516), then IP. `off` is the offset just after the ethertype `et`. */
static int decode_ethertype(const uint8_t *p, uint32_t n, uint32_t off, uint16_t et,
                            pf_decoded *out)
{
    unsigned tags = 0;

    while (et == ET_VLAN || et == ET_QINQ || et == ET_QINQ_OLD) {
        if (++tags > MAX_VLAN_WALK)
            return st(out, PF_DEC_BAD_HEADER);
        if (n - off < 4)
            return st(out, PF_DEC_TRUNCATED);
        if (out->n_vlan < PF_MAX_VLAN)
            out->vlan_id[out->n_vlan++] = be16(p + off) & 0x0FFFu;
        else
            out->flags |= PF_PKT_VLAN_EXCESS;
        et = be16(p + off + 2);
        off += 4;
    }
    if (et <= 1500) {
        /* IEEE 802.3 length field: an 802.2 LLC header follows. Only SNAP (AA AA 03) with the
         * RFC 1042 / 802.1H OUIs carries an ethertype (RFC 1042). */
        if (n - off < 3)
            return st(out, PF_DEC_TRUNCATED);
        if (p[off] != 0xAA || p[off + 1] != 0xAA || p[off + 2] != 0x03)
            return st(out, PF_DEC_NOT_IP);
        if (n - off < 8)
            return st(out, PF_DEC_TRUNCATED);
        if (p[off + 3] != 0 || p[off + 4] != 0 || (p[off + 5] != 0 && p[off + 5] != 0xF8))
            return st(out, PF_DEC_NOT_IP);
        et = be16(p + off + 6);
        off += 8;
    }
    out->ethertype = et;
    switch (et) {
    case ET_IPV4:
        return decode_ipv4(p + off, n - off, out);
    case ET_IPV6:
        return decode_ipv6(p + off, n - off, out);
    case ET_PPPOE_SESS: {
        /* ver/type 0x11, code 0x00 (session data), session id, length, then the PPP protocol
         * (RFC 2516 section 4, RFC 1661). */
        uint16_t proto;
        if (n - off < 7)
            return st(out, PF_DEC_TRUNCATED);
        if (p[off] != 0x11 || p[off + 1] != 0)
            return st(out, PF_DEC_BAD_HEADER);
        out->has_pppoe = 1;
        out->pppoe_sid = be16(p + off + 2);
        off += 6;
        /* PPP protocol field (RFC 1661 2): an odd first byte is a protocol compressed to one
         * byte (Protocol-Field-Compression, seen in real captures). */
        if (p[off] & 1u) {
            proto = p[off];
            off += 1;
        } else {
            if (n - off < 2)
                return st(out, PF_DEC_TRUNCATED);
            proto = be16(p + off);
            off += 2;
        }
        if (proto == 0x0021) {
            out->ethertype = ET_IPV4;
            return decode_ipv4(p + off, n - off, out);
        }
        if (proto == 0x0057) {
            out->ethertype = ET_IPV6;
            return decode_ipv6(p + off, n - off, out);
        }
        return st(out, PF_DEC_NOT_IP); /* LCP, IPCP, CHAP ... */
    }
    default:
        return st(out, PF_DEC_NOT_IP); /* ARP, PPPoE discovery, MPLS (not routed), LLDP ... */
    }
}

static int decode_ether(const uint8_t *p, uint32_t n, pf_decoded *out)
{
    if (n < 14)
        return st(out, PF_DEC_TRUNCATED);
    memcpy(out->dst_mac, p, 6);
    memcpy(out->src_mac, p + 6, 6);
    out->flags |= PF_PKT_HAS_MAC;
    if (p[0] & 1u)
        out->flags |= PF_PKT_L2_MULTICAST;
    return decode_ethertype(p, n, 14, be16(p + 12), out);
}

/* SLL protocol field: an ethertype, or below 0x0600 a Linux ETH_P_* pseudo-type
 * (include/uapi/linux/if_ether.h); only ETH_P_802_2 (4: an LLC header follows) can carry IP. */
static int decode_sll_proto(const uint8_t *p, uint32_t n, uint32_t off, uint16_t proto,
                            pf_decoded *out)
{
    if (proto < 0x0600u && proto != 4u) {
        out->ethertype = proto;
        return st(out, PF_DEC_NOT_IP); /* 802.3 raw, CAN, netlink family ... */
    }
    return decode_ethertype(p, n, off, proto, out);
}

/* Linux cooked capture v1 (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html):
 * packet type, ARPHRD, address length, address (8), protocol. */
static int decode_sll(const uint8_t *p, uint32_t n, pf_decoded *out)
{
    uint16_t ptype;
    if (n < 16)
        return st(out, PF_DEC_TRUNCATED);
    ptype = be16(p);
    if (ptype == 1 || ptype == 2) /* PACKET_BROADCAST, PACKET_MULTICAST */
        out->flags |= PF_PKT_L2_MULTICAST;
    return decode_sll_proto(p, n, 16, be16(p + 14), out);
}

/* Linux cooked capture v2 (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html):
 * protocol, reserved, interface index, ARPHRD, packet type, address length, address (8). */
static int decode_sll2(const uint8_t *p, uint32_t n, pf_decoded *out)
{
    if (n < 20)
        return st(out, PF_DEC_TRUNCATED);
    out->sll_ifindex = (int32_t)be32(p + 4);
    if (p[10] == 1 || p[10] == 2)
        out->flags |= PF_PKT_L2_MULTICAST;
    return decode_sll_proto(p, n, 20, be16(p), out);
}

/* BSD loopback: a 4-byte address family (https://www.tcpdump.org/linktypes/LINKTYPE_NULL.html).
 * NULL: host order of the capturing machine (either); LOOP: always big-endian. */
static int decode_null(const uint8_t *p, uint32_t n, int loop, pf_decoded *out)
{
    uint32_t fam;
    if (n < 4)
        return st(out, PF_DEC_TRUNCATED);
    fam = be32(p);
    if (!loop && fam > 0xFFFFu)
        fam = le32(p);
    switch (fam) {
    case 2:
        return decode_ipv4(p + 4, n - 4, out);
    case 24:
    case 28:
    case 30: /* AF_INET6 of NetBSD/OpenBSD, FreeBSD, Darwin */
        return decode_ipv6(p + 4, n - 4, out);
    default:
        return st(out, PF_DEC_NOT_IP);
    }
}

/* ---- 802.11 + radiotap ------------------------------------------------------------------- */

/* Radiotap header (https://www.radiotap.org/): version 0, pad, length le16, present bitmaps
 * (le32, chained by bit 31), then fields each aligned to its natural size from the start of the
 * header. We need Channel (bit 3) and the FCS flag of Flags (bit 1); the fields before them are
 * TSFT (bit 0, u64) only, so both can always be located from the first bitmap. */
static int decode_radiotap(const uint8_t *p, uint32_t n, const pf_record *rec, pf_decoded *out)
{
    uint32_t rtlen, present, off, end = n;
    int fcs = 0, datapad = 0;

    if (n < 8)
        return st(out, PF_DEC_TRUNCATED);
    if (p[0] != 0)
        return st(out, PF_DEC_BAD_HEADER);
    rtlen = le16(p + 2);
    if (rtlen < 8)
        return st(out, PF_DEC_BAD_HEADER);
    if (rtlen > n)
        return st(out, PF_DEC_TRUNCATED);
    present = le32(p + 4);
    off = 8;
    {
        uint32_t w = present;
        int ok = 1;
        while (w & 0x80000000u) { /* skip extended bitmaps */
            if (rtlen - off < 4) {
                ok = 0; /* bitmap chain runs past the header: fields cannot be located */
                break;
            }
            w = le32(p + off);
            off += 4;
        }
        if (ok) {
            if (present & 0x1u) { /* TSFT: u64, aligned to 8 */
                off = (off + 7u) & ~7u;
                off += 8;
            }
            if (present & 0x2u) { /* Flags: u8 */
                if (off < rtlen) {
                    fcs = (p[off] & 0x10u) != 0;  /* FCS at the end of the frame */
                    datapad = (p[off] & 0x20u) != 0; /* padding after the 802.11 header */
                }
                off += 1;
            }
            if (present & 0x4u) /* Rate: u8 */
                off += 1;
            if (present & 0x8u) { /* Channel: freq le16, flags le16, aligned to 2 */
                off = (off + 1u) & ~1u;
                if (off <= rtlen && rtlen - off >= 4)
                    out->radio_freq_mhz = le16(p + off);
            }
        }
    }
    /* With FCS at the end (Flags 0x10), the last 4 bytes are not payload, but only when the
     * whole frame was captured: a snapped capture has lost them already. */
    if (fcs && rec->caplen >= rec->wirelen && end - rtlen >= 4)
        end -= 4;
    p += rtlen;
    n = end - rtlen;

    /* 802.11 MAC header (IEEE 802.11-2020 9.2): frame control (2, LE), duration (2), A1, A2, A3,
     * sequence control (2), [A4], [QoS control (2)], [HT control (4)]. */
    {
        uint8_t fc0, fc1, type, subtype;
        uint32_t hl = 24;
        const uint8_t *da, *sa;
        int amsdu = 0;

        if (n < 2)
            return st(out, PF_DEC_TRUNCATED);
        fc0 = p[0];
        fc1 = p[1];
        if ((fc0 & 3u) != 0)
            return st(out, PF_DEC_BAD_HEADER); /* protocol version 0 only */
        type = (uint8_t)((fc0 >> 2) & 3u);
        subtype = (uint8_t)(fc0 >> 4);
        if (type != 2)
            return st(out, PF_DEC_NOT_IP); /* management, control, extension */
        if ((fc1 & 3u) == 3u)
            hl += 6; /* ToDS and FromDS: A4 */
        if (subtype & 0x8u)
            hl += 2; /* QoS data */
        if ((subtype & 0x8u) && (fc1 & 0x80u))
            hl += 4; /* +HTC (order bit in a QoS frame) */
        if (n < hl)
            return st(out, PF_DEC_TRUNCATED);
        switch (fc1 & 3u) {
        case 0: da = p + 4; sa = p + 10; break;  /* IBSS: A1 = DA, A2 = SA */
        case 1: da = p + 16; sa = p + 10; break; /* ToDS: A3 = DA, A2 = SA */
        case 2: da = p + 4; sa = p + 16; break;  /* FromDS: A1 = DA, A3 = SA */
        default: da = p + 16; sa = p + 24; break; /* WDS/mesh: A3 = DA, A4 = SA */
        }
        memcpy(out->dst_mac, da, 6);
        memcpy(out->src_mac, sa, 6);
        out->flags |= PF_PKT_HAS_MAC;
        if ((fc1 & 3u) == 1u)
            out->flags |= PF_PKT_WIFI_FROM_STA; /* received by the AP's radio */
        else if ((fc1 & 3u) == 2u)
            out->flags |= PF_PKT_WIFI_TO_STA;   /* sent by the AP's radio */
        if (da[0] & 1u)
            out->flags |= PF_PKT_L2_MULTICAST;
        if (subtype & 0x4u)
            return st(out, PF_DEC_NOT_IP); /* Null / CF-only / QoS Null: no payload */
        if (fc1 & 0x40u)
            return st(out, PF_DEC_NOT_IP); /* protected: payload encrypted */
        if ((fc1 & 0x04u) || (le16(p + 22) & 0x0Fu))
            return st(out, PF_DEC_NOT_IP); /* MSDU fragment: no complete LLC payload */
        if ((subtype & 0x8u) && (p[hl - ((fc1 & 0x80u) ? 6u : 2u)] & 0x80u))
            amsdu = 1; /* QoS control bit 7: A-MSDU present */
        if (datapad) {
            /* Radiotap Flags 0x20: the payload starts on a 32-bit boundary after the header. */
            hl = (hl + 3u) & ~3u;
            if (n < hl)
                return st(out, PF_DEC_TRUNCATED);
        }
        p += hl;
        n -= hl;
        if (amsdu) {
            /* A-MSDU subframe header: DA, SA, length; decode the first subframe. */
            if (n < 14)
                return st(out, PF_DEC_TRUNCATED);
            memcpy(out->dst_mac, p, 6);
            memcpy(out->src_mac, p + 6, 6);
            out->flags &= (uint16_t)~PF_PKT_L2_MULTICAST;
            if (p[0] & 1u)
                out->flags |= PF_PKT_L2_MULTICAST;
            p += 14;
            n -= 14;
        }
    }
    /* LLC/SNAP (RFC 1042): AA AA 03, OUI 00 00 00 (or 00 00 F8, 802.1H), ethertype. */
    if (n < 8)
        return st(out, PF_DEC_TRUNCATED);
    if (p[0] != 0xAA || p[1] != 0xAA || p[2] != 0x03 || p[3] != 0 || p[4] != 0 ||
        (p[5] != 0 && p[5] != 0xF8))
        return st(out, PF_DEC_NOT_IP);
    out->ethertype = be16(p + 6);
    if (out->ethertype == ET_IPV4)
        return decode_ipv4(p + 8, n - 8, out);
    if (out->ethertype == ET_IPV6)
        return decode_ipv6(p + 8, n - 8, out);
    return st(out, PF_DEC_NOT_IP); /* EAPOL, ARP ... */
}

/* ---- entry ------------------------------------------------------------------------------- */

/* Zeroes every field before the conntrack key cache. In 64-byte pieces on purpose: GCC turns
 * a single memset of more than 64 bytes into `rep stosq`, whose start-up cost (tens of cycles)
 * was a measurable share of the per-packet time (BENCHMARKS.md, "What changed in session 13"). */
#define PF_DECODED_ZERO offsetof(pf_decoded, ct_key)
_Static_assert(PF_DECODED_ZERO > 128 && PF_DECODED_ZERO <= 192, "zero_fields covers 129-192 bytes");
static inline void zero_fields(pf_decoded *out)
{
    char *p = (char *)out;
    memset(p, 0, 64);
    memset(p + 64, 0, 64);
    memset(p + 128, 0, PF_DECODED_ZERO - 128);
}

int pf_decode(const pf_record *rec, pf_decoded *out)
{
    const uint8_t *p = rec->data;
    const uint32_t n = rec->caplen;

    /* the conntrack key cache at the end of the struct needs only its flag cleared */
    zero_fields(out);
    out->ct_key_ok = 0;
    out->route_by = NULL;
    out->sll_ifindex = -1;
    switch (rec->linktype) {
    case PF_LINKTYPE_ETHERNET:
        return decode_ether(p, n, out);
    case PF_LINKTYPE_RAW:
        return decode_ip_by_version(p, n, out);
    case PF_LINKTYPE_IPV4:
        return decode_ipv4(p, n, out);
    case PF_LINKTYPE_IPV6:
        return decode_ipv6(p, n, out);
    case PF_LINKTYPE_LINUX_SLL:
        return decode_sll(p, n, out);
    case PF_LINKTYPE_LINUX_SLL2:
        return decode_sll2(p, n, out);
    case PF_LINKTYPE_NULL:
        return decode_null(p, n, 0, out);
    case PF_LINKTYPE_LOOP:
        return decode_null(p, n, 1, out);
    case PF_LINKTYPE_IEEE802_11_RADIOTAP:
        return decode_radiotap(p, n, rec, out);
    default:
        return st(out, PF_DEC_UNSUPPORTED_LINK);
    }
}
