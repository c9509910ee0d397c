/* record.h: what the capture reader (pcap.c) hands to the decoder (decode.c), and what the
 * decoder hands to the simulator (sim.c). Internal to the C core (not part of the cffi API). */
#ifndef PF_RECORD_H
#define PF_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "pyflow.h"

/* Link-layer header types (https://www.tcpdump.org/linktypes.html). */
#define PF_LINKTYPE_NULL 0
#define PF_LINKTYPE_ETHERNET 1
#define PF_LINKTYPE_RAW 101
#define PF_LINKTYPE_LOOP 108
#define PF_LINKTYPE_LINUX_SLL 113
#define PF_LINKTYPE_IEEE802_11_RADIOTAP 127
#define PF_LINKTYPE_IPV4 228
#define PF_LINKTYPE_IPV6 229
#define PF_LINKTYPE_LINUX_SLL2 276

/* Largest caplen accepted in a record: libpcap's MAXIMUM_SNAPLEN. */
#define PF_MAX_CAPLEN 262144u

/* One captured packet as it is in the file. `data` points into the reader's mapping and stays
 * valid until the reader is closed. */
typedef struct pf_record {
    uint64_t index;        /* 0-based number of this packet record in the file */
    uint64_t file_offset;  /* byte offset of the record (classic pcap) or block (pcapng) header */
    int64_t ts_ns;         /* timestamp, nanoseconds since the Unix epoch */
    uint32_t caplen;       /* bytes present in the file */
    uint32_t wirelen;      /* original length on the wire (>= caplen for sane files) */
    const uint8_t *data;   /* caplen bytes */
    uint32_t linktype;     /* LINKTYPE_* of the record's interface */
    int32_t if_id;         /* pcapng interface id (IDB index within the section), -1 in classic pcap */
    const char *if_name;   /* the interface's if_name ("" if none); set by the run driver */
    uint8_t bad_record;    /* nonzero: the record is unusable (e.g. EPB naming an unknown interface);
                              the value is a PF_R_* reason and the simulator counts it unparsed */
} pf_record;

/* Decoder result status. */
enum pf_decode_status {
    PF_DEC_OK = 0,            /* an IPv4 or IPv6 packet; fields below are valid */
    PF_DEC_NOT_IP = 1,        /* a well-formed frame that is not IP (ARP, STP, LLDP, 802.11 mgmt ...) */
    PF_DEC_TRUNCATED = 2,     /* the headers up to and including L3 do not fit in caplen */
    PF_DEC_BAD_HEADER = 3,    /* an impossible header (IP version mismatch, IHL < 5, ...) */
    PF_DEC_UNSUPPORTED_LINK = 4 /* a link type the decoder does not know */
};

/* pf_decoded.flags bits */
#define PF_PKT_IPV4_OPTIONS 0x0001u   /* IPv4 IHL > 5 */
#define PF_PKT_FRAGMENT 0x0002u       /* IPv4 MF or offset != 0, or an IPv6 fragment header */
#define PF_PKT_FIRST_FRAGMENT 0x0004u /* a fragment with offset 0 (carries the L4 header) */
#define PF_PKT_IPV6_EXT 0x0008u       /* an IPv6 extension header follows the fixed header */
#define PF_PKT_HAS_L4 0x0010u         /* sport/dport (and TCP fields) were read */
#define PF_PKT_ICMP_ERROR 0x0020u     /* ICMP/ICMPv6 error; inner_* holds the quoted tuple */
#define PF_PKT_HAS_INNER 0x0040u      /* inner_* is valid (quoted header long enough) */
#define PF_PKT_HAS_MAC 0x0080u        /* src_mac/dst_mac valid */
#define PF_PKT_L4_TRUNCATED 0x0100u   /* L3 ok, but the L4 header is cut by caplen */
#define PF_PKT_EXT_LOOP 0x0200u       /* IPv6 extension chain too long / ran past the packet */
#define PF_PKT_L2_MULTICAST 0x0400u   /* destination MAC is multicast/broadcast */
#define PF_PKT_VLAN_EXCESS 0x0800u    /* more VLAN tags than vlan_id[] holds */
#define PF_PKT_WIFI_FROM_STA 0x1000u  /* 802.11 data frame ToDS only: a station sends to the AP */
#define PF_PKT_WIFI_TO_STA 0x2000u    /* 802.11 data frame FromDS only: the AP sends to a station */
#define PF_PKT_TCP_BAD_DOFF 0x4000u   /* TCP data offset past the segment (by the IP length) */

/* TCP flag bits as in the TCP header */
#define PF_TCP_FIN 0x01u
#define PF_TCP_SYN 0x02u
#define PF_TCP_RST 0x04u
#define PF_TCP_PSH 0x08u
#define PF_TCP_ACK 0x10u
#define PF_TCP_URG 0x20u

/* pf_decoded.tcp_opts bits (TCP options conntrack reads: tcp_options, tcp_sack) */
#define PF_TCPOPT_WSCALE 0x01u
#define PF_TCPOPT_SACK_PERM 0x02u
#define PF_TCPOPT_SACK 0x04u

#define PF_MAX_VLAN 2

/* A connection tuple with its two endpoints ordered, so both directions share it (conntrack.h). */
typedef struct pf_ct_key {
    uint8_t addr_a[16];
    uint8_t addr_b[16];
    uint16_t port_a, port_b;
    uint8_t l3, proto;
    uint8_t pad[2];
} pf_ct_key;

/* One decoded packet. Addresses are in network byte order; IPv4 uses the first 4 bytes and
 * leaves the other 12 zero. Ports are host order. For ICMP echo request/reply, sport holds the
 * echo identifier and dport 0 (the conntrack tuple of nf_conntrack_proto_icmp.c). */
typedef struct pf_decoded {
    uint8_t status;          /* enum pf_decode_status */
    uint8_t l3;              /* 4 or 6; 0 when not IP */
    uint8_t l4proto;         /* final protocol number after IPv6 extension headers */
    uint8_t tcp_flags;       /* PF_TCP_* when TCP and PF_PKT_HAS_L4 */
    uint8_t ttl;             /* IPv4 TTL / IPv6 hop limit */
    uint8_t n_vlan;          /* number of 802.1Q/802.1ad tags read (outermost first) */
    uint8_t has_pppoe;       /* PPPoE session header present */
    uint8_t icmp_type, icmp_code;
    uint8_t inner_l4proto;   /* ICMP error: protocol of the quoted packet */
    uint16_t flags;          /* PF_PKT_* */
    uint16_t vlan_id[PF_MAX_VLAN];
    uint16_t pppoe_sid;
    uint16_t ethertype;      /* final ethertype (0 when the link has none, e.g. RAW) */
    uint16_t radio_freq_mhz; /* 802.11 radiotap channel frequency, 0 if none */
    uint16_t sport, dport;
    uint16_t inner_sport, inner_dport;
    uint16_t tcp_window;
    int32_t sll_ifindex;     /* SLL2 interface index, -1 if none */
    uint32_t ip_len;         /* L3 length from the IP header (IPv4 total length, IPv6 40 + payload) */
    uint32_t l4_payload_len; /* TCP/UDP payload bytes by the IP length (not caplen) */
    uint32_t frag_id;        /* IPv4 identification / IPv6 fragment identification */
    uint32_t tcp_seq, tcp_ack;
    uint32_t tcp_sack_max;   /* highest SACK block right edge (PF_TCPOPT_SACK) */
    uint8_t ft_pre_ok;       /* ft_pre is computed (sim.c packet_precheck, cached for a grid) */
    uint8_t ft_pre;          /* why the flowtable cannot look this packet up, 0 when it can */
    uint8_t tcp_opts;        /* PF_TCPOPT_* seen in the captured TCP options */
    uint8_t tcp_wscale;      /* window scale option value (PF_TCPOPT_WSCALE) */
    uint8_t src_mac[6], dst_mac[6];
    uint8_t src[16], dst[16];
    uint8_t inner_src[16], inner_dst[16]; /* ICMP error: the quoted packet's src/dst */
    /* the conntrack key and its hash, computed by the first simulator that needs them
     * (pf_ct_packet_key) and reused by the others of a what-if grid */
    pf_ct_key ct_key;
    uint32_t ct_hash;
    uint8_t ct_key_ok;
    uint8_t ct_dir_is_a;
    /* the routing result (interfaces, or why the packet is not forwarded), computed by the first
     * simulator that needs it and reused by the others of a run that have the same topology;
     * route_by names that topology (NULL: not computed for this packet) */
    const void *route_by;
    int8_t route_in_if, route_out_if;
    uint8_t route_path, route_reason;
} pf_decoded;

#endif
