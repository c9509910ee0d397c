/* test_reader.c: reads a capture with pf_reader_*, decodes every record with pf_decode and prints
 * one line per record plus a summary (or the fatal error and its offset).
 *
 * usage: test_reader [-q] [-m] [-n N] FILE
 *   -q  summary only        -m  read through pf_reader_open_mem (file loaded by stdio)
 *   -n  repeat the read N times (throughput measurement, implies -q)
 *   -f  mutation fuzzing: N runs over random mutations / truncations of FILE in memory (seed -s),
 *       meant for the ASan/UBSan build; prints only a count */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "pcap.h"

static const char *status_name[] = {"ok", "not_ip", "truncated", "bad_header", "unsupported_link"};

/* local copy: pf_strerror lives in another module, this driver links only pcap.c + decode.c */
static const char *pf_strerror_local(int code)
{
    static const char *names[] = {"ok", "nomem", "open", "empty", "format", "truncated",
                                  "corrupt", "arg", "io", "cancelled"};
    return code <= 0 && code >= -9 ? names[-code] : "?";
}

static void addr_str(int l3, const uint8_t *a, char *buf, size_t len)
{
    if (l3 == 4)
        inet_ntop(AF_INET, a, buf, (socklen_t)len);
    else if (l3 == 6)
        inet_ntop(AF_INET6, a, buf, (socklen_t)len);
    else
        snprintf(buf, len, "-");
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long sz;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        /* exact-size heap buffer so that ASan catches any read past the end */
        buf = malloc(sz ? (size_t)sz : 1);
        if (buf && fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)sz;
    }
    fclose(f);
    return buf;
}

/* xorshift64: deterministic mutations for a given seed */
static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int fuzz(const uint8_t *orig, size_t len, long runs)
{
    uint64_t records = 0, errors = 0;
    for (long i = 0; i < runs; i++) {
        size_t n = len;
        uint8_t *b;
        pf_reader *r;
        pf_record rec;
        pf_decoded d;
        pf_error_info err;
        int rc;
        if (rng() % 4 == 0 && len)
            n = (size_t)(rng() % len);
        b = malloc(n ? n : 1);
        if (!b)
            return 1;
        memcpy(b, orig, n);
        for (int k = (int)(rng() % 8) + 1; k > 0 && n; k--) {
            size_t at = (size_t)(rng() % n);
            switch (rng() % 4) {
            case 0: b[at] = (uint8_t)rng(); break;
            case 1: b[at] = 0xff; break;
            case 2: b[at] = 0; break;
            default: b[at] ^= (uint8_t)(1u << (rng() % 8)); break;
            }
        }
        rc = pf_reader_open_mem(b, n, &r, &err);
        if (rc == 0) {
            while ((rc = pf_reader_next(r, &rec, &err)) == 1) {
                records++;
                pf_decode(&rec, &d);
            }
            pf_reader_close(r);
        }
        errors += rc < 0;
        free(b);
    }
    printf("fuzz: %ld runs, %llu records, %llu errors\n", runs, (unsigned long long)records,
           (unsigned long long)errors);
    return 0;
}

struct counts {
    uint64_t records, bytes, status[5], bad[64], v4, v6, tcp, udp, icmp, vlan, pppoe, frag, ip6ext,
        ipopts, icmperr, inner, l4trunc, extloop, freq;
};

int main(int argc, char **argv)
{
    int quiet = 0, mem = 0, i, rc = 0;
    long reps = 1, fuzz_runs = 0;
    const char *path = NULL;
    uint8_t *buf = NULL;
    size_t buflen = 0;
    struct counts c;
    pf_error_info err;
    struct timespec t0, t1;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-q"))
            quiet = 1;
        else if (!strcmp(argv[i], "-m"))
            mem = 1;
        else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
            reps = atol(argv[++i]);
            quiet = 1;
        } else if (!strcmp(argv[i], "-f") && i + 1 < argc) {
            fuzz_runs = atol(argv[++i]);
            mem = 1;
        } else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
            rng_state = strtoull(argv[++i], NULL, 0) | 1u;
        } else
            path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "usage: %s [-q] [-m] [-n N] FILE\n", argv[0]);
        return 2;
    }
    if (mem) {
        buf = slurp(path, &buflen);
        if (!buf && buflen) {
            fprintf(stderr, "cannot read %s\n", path);
            return 2;
        }
    }
    if (fuzz_runs > 0) {
        rc = fuzz(buf, buflen, fuzz_runs);
        free(buf);
        return rc;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long rep = 0; rep < reps; rep++) {
        pf_reader *r = NULL;
        pf_record rec;
        pf_decoded d;

        memset(&c, 0, sizeof c);
        memset(&err, 0, sizeof err);
        rc = mem ? pf_reader_open_mem(buf, buflen, &r, &err) : pf_reader_open(path, &r, &err);
        if (rc < 0) {
            printf("open error %d (%s) at offset %llu: %s\n", rc, pf_strerror_local(rc),
                   (unsigned long long)err.offset, err.message);
            free(buf);
            return 1;
        }
        while ((rc = pf_reader_next(r, &rec, &err)) == 1) {
            c.records++;
            c.bytes += rec.caplen;
            if (rec.bad_record)
                c.bad[rec.bad_record & 63]++;
            pf_decode(&rec, &d);
            c.status[d.status < 5 ? d.status : 0]++;
            if (d.status == PF_DEC_OK) {
                c.v4 += d.l3 == 4;
                c.v6 += d.l3 == 6;
                c.tcp += d.l4proto == 6 && (d.flags & PF_PKT_HAS_L4);
                c.udp += d.l4proto == 17 && (d.flags & PF_PKT_HAS_L4);
                c.icmp += d.l4proto == 1 || d.l4proto == 58;
                c.frag += !!(d.flags & PF_PKT_FRAGMENT);
                c.ip6ext += !!(d.flags & PF_PKT_IPV6_EXT);
                c.ipopts += !!(d.flags & PF_PKT_IPV4_OPTIONS);
                c.icmperr += !!(d.flags & PF_PKT_ICMP_ERROR);
                c.inner += !!(d.flags & PF_PKT_HAS_INNER);
                c.l4trunc += !!(d.flags & PF_PKT_L4_TRUNCATED);
                c.extloop += !!(d.flags & PF_PKT_EXT_LOOP);
            }
            c.vlan += d.n_vlan > 0;
            c.pppoe += d.has_pppoe;
            c.freq += d.radio_freq_mhz != 0;
            if (!quiet) {
                char s[64], t[64];
                addr_str(d.l3, d.src, s, sizeof s);
                addr_str(d.l3, d.dst, t, sizeof t);
                printf("%llu off=%llu ts=%lld cap=%u wire=%u if=%d lt=%u bad=%u dec=%s l3=%u l4=%u "
                       "%s %s sp=%u dp=%u fl=0x%04x",
                       (unsigned long long)rec.index, (unsigned long long)rec.file_offset,
                       (long long)rec.ts_ns, rec.caplen, rec.wirelen, rec.if_id, rec.linktype,
                       rec.bad_record, status_name[d.status < 5 ? d.status : 0], d.l3, d.l4proto, s,
                       t, d.sport, d.dport, d.flags);
                if (d.n_vlan == 1)
                    printf(" vlan=%u", d.vlan_id[0]);
                else if (d.n_vlan > 1)
                    printf(" vlan=%u,%u", d.vlan_id[0], d.vlan_id[1]);
                if (d.has_pppoe)
                    printf(" pppoe=%u", d.pppoe_sid);
                if (d.radio_freq_mhz)
                    printf(" freq=%u", d.radio_freq_mhz);
                if (d.sll_ifindex >= 0)
                    printf(" ifindex=%d", d.sll_ifindex);
                if (d.l4proto == 6 && (d.flags & PF_PKT_HAS_L4))
                    printf(" tcp=0x%02x seq=%u ack=%u win=%u pl=%u", d.tcp_flags, d.tcp_seq,
                           d.tcp_ack, d.tcp_window, d.l4_payload_len);
                if (d.flags & PF_PKT_ICMP_ERROR)
                    printf(" icmp=%u/%u", d.icmp_type, d.icmp_code);
                if (d.flags & PF_PKT_HAS_INNER) {
                    int il3 = (d.inner_src[4] | d.inner_src[5] | d.inner_src[8] | d.inner_dst[4] |
                               d.inner_dst[12]) ? 6 : (d.l3 == 6 ? 6 : 4);
                    addr_str(il3, d.inner_src, s, sizeof s);
                    addr_str(il3, d.inner_dst, t, sizeof t);
                    printf(" inner=%u %s:%u>%s:%u", d.inner_l4proto, s, d.inner_sport, t,
                           d.inner_dport);
                }
                printf("\n");
            }
        }
        if (!quiet || rep == reps - 1) {
            printf("records=%llu bytes=%llu ok=%llu not_ip=%llu trunc=%llu bad_hdr=%llu unsup=%llu "
                   "bad_rec_trunc=%llu bad_rec_if=%llu ipv4=%llu ipv6=%llu tcp=%llu udp=%llu "
                   "icmp=%llu vlan=%llu pppoe=%llu frag=%llu ip6ext=%llu ipopts=%llu icmperr=%llu "
                   "inner=%llu l4trunc=%llu extloop=%llu freq=%llu ifaces=%u pcapng=%d "
                   "truncated=%llu\n",
                   (unsigned long long)c.records, (unsigned long long)c.bytes,
                   (unsigned long long)c.status[0], (unsigned long long)c.status[1],
                   (unsigned long long)c.status[2], (unsigned long long)c.status[3],
                   (unsigned long long)c.status[4], (unsigned long long)c.bad[PF_R_TRUNCATED_RECORD],
                   (unsigned long long)c.bad[PF_R_BAD_INTERFACE], (unsigned long long)c.v4,
                   (unsigned long long)c.v6, (unsigned long long)c.tcp, (unsigned long long)c.udp,
                   (unsigned long long)c.icmp, (unsigned long long)c.vlan,
                   (unsigned long long)c.pppoe, (unsigned long long)c.frag,
                   (unsigned long long)c.ip6ext, (unsigned long long)c.ipopts,
                   (unsigned long long)c.icmperr, (unsigned long long)c.inner,
                   (unsigned long long)c.l4trunc, (unsigned long long)c.extloop,
                   (unsigned long long)c.freq, pf_reader_iface_count(r), pf_reader_is_pcapng(r),
                   (unsigned long long)pf_reader_truncated_count(r));
            if (rc < 0)
                printf("error %d at offset %llu: %s\n", rc, (unsigned long long)err.offset,
                       err.message);
        }
        pf_reader_close(r);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (reps > 1) {
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        printf("%.1f M records/s (%ld reps, %.3f s)\n", (double)c.records * (double)reps / s / 1e6,
               reps, s);
    }
    free(buf);
    return rc < 0 ? 1 : 0;
}
