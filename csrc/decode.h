/* decode.h: packet decoder, link layer to L4 (or to the tuple quoted in an ICMP error).
 * Prefix: pf_decode. */
#ifndef PF_DECODE_H
#define PF_DECODE_H

#include "record.h"

/* Decodes rec->data (rec->caplen bytes, link type rec->linktype) into *out and returns
 * out->status (enum pf_decode_status). Never reads outside [data, data + caplen), never allocates.
 * rec->bad_record is not looked at: the caller decides whether to decode a bad record.
 *
 * Conventions beyond record.h:
 *  - out is zeroed first; sll_ifindex is -1 unless the link type is LINUX_SLL2.
 *  - ethertype is the last ethertype read (after VLAN tags / LLC-SNAP); for PPPoE carrying IP it
 *    is 0x0800 / 0x86DD (has_pppoe says the session header was there), for PPPoE carrying
 *    another PPP protocol 0x8864. Links without an ethertype (RAW, NULL, LOOP) leave 0.
 *  - LINUX_SLL / SLL2 packet types BROADCAST and MULTICAST set PF_PKT_L2_MULTICAST (there is no
 *    destination MAC in those headers).
 *  - An L4 problem never changes status (stays PF_DEC_OK): a TCP header shorter than 20 bytes or
 *    with data offset < 5, a UDP header shorter than 8 bytes, an ICMP header shorter than 8 bytes
 *    set PF_PKT_L4_TRUNCATED and leave PF_PKT_HAS_L4 clear.
 *  - ICMP / ICMPv6: icmp_type/icmp_code are set whenever the first 2 bytes are present;
 *    PF_PKT_HAS_L4 only for echo request/reply (sport = identifier, dport = 0);
 *    PF_PKT_ICMP_ERROR for the error types; PF_PKT_HAS_INNER when the quoted IP header (and for
 *    TCP/UDP the 4 port bytes, for a quoted echo the 8-byte ICMP header) is present.
 *  - A non-first fragment has l4proto set (IPv4 protocol / IPv6 next header after the fragment
 *    header) but no L4 fields.
 *  - tcp_flags holds the six PF_TCP_* bits (ECE and CWR masked off).
 *  - 802.11: only unprotected, non-fragmented Data frames with payload are decoded; an A-MSDU
 *    is decoded from its first subframe. */
int pf_decode(const pf_record *rec, pf_decoded *out);

#endif
