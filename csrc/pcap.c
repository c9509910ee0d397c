/* pcap.c: capture file reader (classic pcap and pcapng), zero-copy over a read-only mapping.
 * Prefix: pf_reader_.
 *
 * Formats:
 *  - classic pcap: https://www.tcpdump.org/manpages/pcap-savefile.5.html and
 *    draft-ietf-opsawg-pcap (file header, 16-byte record header, us/ns magics);
 *  - pcapng: draft-ietf-opsawg-pcapng (section 3 block layout, 4.1 SHB, 4.2 IDB, 4.3 EPB,
 *    4.4 SPB, appendix A obsolete Packet Block).
 *
 * Safety rule for the whole file: every read goes through a bounds check against
 * [base, base + size) done in uint64_t arithmetic, so no length read from the file can make a
 * pointer leave the mapping, whatever its value. */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcap.h"

#define PF_READER_MAX_IFACES 256u

/* Magic numbers as read in host order from the first 4 bytes. */
#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAPNG_SHB_TYPE 0x0A0D0D0Au
#define PCAPNG_BOM 0x1A2B3C4Du

/* pcapng block types (draft-ietf-opsawg-pcapng section 10.1). */
#define NG_OPB 0x00000002u /* obsolete Packet Block (appendix A) */
#define NG_IDB 0x00000001u
#define NG_SPB 0x00000003u
#define NG_EPB 0x00000006u

/* pcapng IDB options (section 4.2). */
#define NG_OPT_ENDOFOPT 0
#define NG_OPT_IF_NAME 2
#define NG_OPT_IF_TSRESOL 9
#define NG_OPT_IF_TSOFFSET 14

/* How to turn a raw timestamp count into nanoseconds (precomputed per interface so the
 * per-packet path is one multiply in the common microsecond/nanosecond cases). */
enum ts_kind {
    TS_MUL = 0, /* ns = ts * ts_arg (decimal resolutions 10^-0 .. 10^-9) */
    TS_DIV = 1, /* ns = ts / ts_arg (decimal resolutions finer than 1 ns, ts_arg = 10^(n-9)) */
    TS_BIN = 2, /* binary resolution 2^-ts_arg */
    TS_ZERO = 3 /* resolution so fine that every count is below 1 ns */
};

typedef struct reader_iface {
    uint8_t ts_kind;
    uint8_t ts_shift;  /* TS_BIN: n */
    uint64_t ts_arg;   /* TS_MUL multiplier or TS_DIV divisor */
    int64_t ts_off_ns; /* if_tsoffset converted to ns (saturated) */
} reader_iface;

#define PF_RELEASE_CHUNK (4u << 20)   /* 4 MiB, a multiple of any page size */
#define PF_RELEASE_MARGIN (1u << 20)  /* > PF_MAX_CAPLEN + the largest header */

struct pf_reader {
    const uint8_t *base;
    uint64_t size;
    uint64_t pos;          /* offset of the next record / block header */
    uint64_t index;        /* packet records returned so far */
    uint64_t truncated;    /* records / blocks cut by the end of the file */
    int64_t last_ts;       /* previous packet's timestamp (for SPB, which has none) */
    int mapped;            /* base comes from mmap (unmap on close) */
    uint64_t released;     /* bytes at the start of the mapping already given back (DONTNEED) */
    uint64_t release_at;   /* read position at which the next release is due (UINT64_MAX: never) */
    int is_pcapng;
    int big;               /* current file / section is big-endian */
    int done;              /* end reached (0 from now on) */
    int failed;            /* fatal error seen: repeat it */
    uint32_t ts_mul;       /* classic pcap: 1000 (us) or 1 (ns) */
    uint32_t n_ifaces;
    pf_error_info fail;    /* copy of the fatal error (sticky) */
    pf_reader_iface pub[PF_READER_MAX_IFACES];
    reader_iface priv[PF_READER_MAX_IFACES];
};

/* ---- byte helpers ------------------------------------------------------------------------ */

static inline uint16_t bswap16_(uint16_t v) { return (uint16_t)__builtin_bswap16(v); }

static inline uint16_t ld16(const uint8_t *p, int big)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return big ? bswap16_(v) : v;
#else
    return big ? v : bswap16_(v);
#endif
}

static inline uint32_t ld32(const uint8_t *p, int big)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return big ? __builtin_bswap32(v) : v;
#else
    return big ? v : __builtin_bswap32(v);
#endif
}

static inline uint64_t ld64(const uint8_t *p, int big)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return big ? __builtin_bswap64(v) : v;
#else
    return big ? v : __builtin_bswap64(v);
#endif
}

static inline uint32_t ld32_host(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

static inline int64_t sat64(i128 v)
{
    if (v > (i128)INT64_MAX)
        return INT64_MAX;
    if (v < (i128)INT64_MIN)
        return INT64_MIN;
    return (int64_t)v;
}

/* ---- errors ------------------------------------------------------------------------------ */

__attribute__((format(printf, 4, 5)))
static int set_err(pf_error_info *err, int code, uint64_t offset, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        err->offset = offset;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Fatal error during reading: remembered so that later calls return it again instead of
 * resuming at an unknown position. */
__attribute__((format(printf, 4, 5)))
static int fail(pf_reader *r, pf_error_info *err, uint64_t offset, const char *fmt, ...)
{
    va_list ap;
    r->failed = 1;
    r->fail.code = PF_E_CORRUPT;
    r->fail.offset = offset;
    va_start(ap, fmt);
    vsnprintf(r->fail.message, sizeof r->fail.message, fmt, ap);
    va_end(ap);
    if (err)
        *err = r->fail;
    return PF_E_CORRUPT;
}

/* ---- timestamps -------------------------------------------------------------------------- */

static const uint64_t pow10_tab[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull,
    1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull,
    100000000000000ull, 1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
    1000000000000000000ull, 10000000000000000000ull};

/* if_tsresol (draft-ietf-opsawg-pcapng 4.2): most significant bit clear: 10^-n seconds,
 * set: 2^-n seconds. Default (option absent) is 10^-6. */
static void iface_set_tsresol(reader_iface *ri, uint8_t tsresol)
{
    unsigned n = tsresol & 0x7fu;
    if (tsresol & 0x80u) {
        ri->ts_kind = TS_BIN;
        ri->ts_shift = (uint8_t)n;
        ri->ts_arg = 0;
    } else if (n <= 9) {
        ri->ts_kind = TS_MUL;
        ri->ts_arg = pow10_tab[9 - n];
    } else if (n - 9 <= 19) {
        ri->ts_kind = TS_DIV;
        ri->ts_arg = pow10_tab[n - 9];
    } else {
        ri->ts_kind = TS_ZERO; /* even UINT64_MAX counts are < 1 ns */
        ri->ts_arg = 0;
    }
}

static inline int64_t ng_ts_ns(const reader_iface *ri, uint64_t ts)
{
    i128 ns;
    switch (ri->ts_kind) {
    case TS_MUL:
        ns = (i128)ts * (i128)ri->ts_arg;
        break;
    case TS_DIV:
        ns = (i128)(ts / ri->ts_arg);
        break;
    case TS_BIN: {
        /* (ts >> n) whole seconds plus the fraction scaled; the fraction times 1e9 is below
         * 2^94, so unsigned 128-bit arithmetic cannot overflow for any n <= 127. */
        unsigned n = ri->ts_shift;
        u128 sec = n >= 64 ? 0 : ts >> n;
        u128 frac = n >= 64 ? ts : ts & ((1ull << n) - 1);
        ns = (i128)(sec * 1000000000u + ((frac * 1000000000u) >> n));
        break;
    }
    default:
        ns = 0;
        break;
    }
    return sat64(ns + ri->ts_off_ns);
}

/* ---- open / close ------------------------------------------------------------------------ */

static pf_reader *reader_alloc(const uint8_t *base, uint64_t size, int mapped)
{
    pf_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->base = base;
    r->size = size;
    r->mapped = mapped;
    r->release_at = mapped ? (uint64_t)PF_RELEASE_CHUNK + PF_RELEASE_MARGIN : UINT64_MAX;
    return r;
}

/* Interface slot `i` of the current section with its defaults. */
static void iface_reset(pf_reader *r, uint32_t i, uint32_t linktype, uint32_t snaplen)
{
    r->pub[i].linktype = linktype;
    r->pub[i].snaplen = snaplen;
    r->pub[i].name[0] = '\0';
    r->priv[i].ts_off_ns = 0;
    iface_set_tsresol(&r->priv[i], 6);
}

/* Parses the SHB at `off` (its 12 first bytes are known to be present). A malformed SHB is
 * PF_E_FORMAT / PF_E_TRUNCATED when it is the file header (`first`), PF_E_CORRUPT later; a later
 * SHB cut by the end of the file returns -1000 (counted as truncated by the caller). */
static int ng_section(pf_reader *r, uint64_t off, int first, pf_error_info *err)
{
    const uint8_t *b = r->base + off;
    uint64_t rem = r->size - off;
    uint32_t bom = ld32_host(b + 8);
    int big;
    uint32_t len;

    if (bom == PCAPNG_BOM)
        big = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__;
    else if (bom == __builtin_bswap32(PCAPNG_BOM))
        big = __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__;
    else if (first)
        return set_err(err, PF_E_FORMAT, off, "pcapng: bad byte-order magic 0x%08x", bom);
    else
        return fail(r, err, off, "block at 0x%llx: section header with bad byte-order magic 0x%08x",
                    (unsigned long long)off, bom);

    len = ld32(b + 4, big);
    /* SHB: type, length, BOM, major, minor, section length (8), trailing length = 28 bytes. */
    if (len < 28 || (len & 3u)) {
        if (first)
            return set_err(err, PF_E_FORMAT, off, "pcapng: bad section header length %u", len);
        return fail(r, err, off, "block at 0x%llx: bad section header length %u",
                    (unsigned long long)off, len);
    }
    if (rem < 28 || len > rem) {
        if (first)
            return set_err(err, PF_E_TRUNCATED, off,
                           "pcapng: file ends inside the section header (%llu of %u bytes)",
                           (unsigned long long)rem, len);
        return -1000; /* cut by EOF: caller counts and ends */
    }
    {
        uint16_t major = ld16(b + 12, big);
        uint32_t trail = ld32(b + len - 4, big);
        if (major != 1) {
            if (first)
                return set_err(err, PF_E_FORMAT, off + 12, "pcapng: unsupported version %u.%u",
                               major, ld16(b + 14, big));
            return fail(r, err, off, "block at 0x%llx: unsupported pcapng version %u",
                        (unsigned long long)off, major);
        }
        if (trail != len) {
            if (first)
                return set_err(err, PF_E_FORMAT, off,
                               "pcapng: section header trailing length %u != %u", trail, len);
            return fail(r, err, off, "block at 0x%llx: trailing length %u != %u",
                        (unsigned long long)off, trail, len);
        }
    }
    /* A new section starts a new interface list (draft-ietf-opsawg-pcapng 4.1). */
    r->big = big;
    r->n_ifaces = 0;
    r->pos = off + len;
    return PF_OK;
}

static int reader_init(pf_reader *r, pf_error_info *err)
{
    const uint8_t *b = r->base;
    uint64_t size = r->size;
    uint32_t magic;
    int big;

    if (size < 4) {
        /* Too short for any magic: a prefix of a known magic is a truncated file, anything else
         * is not a capture. */
        static const uint8_t known[6][4] = {
            {0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4}, {0x4d, 0x3c, 0xb2, 0xa1},
            {0xa1, 0xb2, 0x3c, 0x4d}, {0x0a, 0x0d, 0x0d, 0x0a}, {0, 0, 0, 0}};
        for (int i = 0; i < 5; i++)
            if (memcmp(b, known[i], (size_t)size) == 0)
                return set_err(err, PF_E_TRUNCATED, 0, "file ends inside its header (%llu bytes)",
                               (unsigned long long)size);
        return set_err(err, PF_E_FORMAT, 0, "not a pcap or pcapng file (%llu bytes)",
                       (unsigned long long)size);
    }
    magic = ld32_host(b);

    if (magic == PCAPNG_SHB_TYPE) {
        r->is_pcapng = 1;
        if (size < 12)
            return set_err(err, PF_E_TRUNCATED, 0,
                           "pcapng: file ends inside the section header (%llu bytes)",
                           (unsigned long long)size);
        return ng_section(r, 0, 1, err);
    }

    if (magic == PCAP_MAGIC_US || magic == PCAP_MAGIC_NS)
        big = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__;
    else if (magic == __builtin_bswap32(PCAP_MAGIC_US) || magic == __builtin_bswap32(PCAP_MAGIC_NS))
        big = __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__;
    else
        return set_err(err, PF_E_FORMAT, 0, "not a pcap or pcapng file (magic 0x%08x)",
                       ld32(b, 1));

    /* Classic header (pcap-savefile(5)): magic, major, minor, thiszone, sigfigs, snaplen,
     * network = 24 bytes. */
    if (size < 24)
        return set_err(err, PF_E_TRUNCATED, 0,
                       "file ends inside the pcap header (%llu of 24 bytes)",
                       (unsigned long long)size);
    r->big = big;
    {
        uint16_t major = ld16(b + 4, big), minor = ld16(b + 6, big);
        uint32_t m = ld32(b, big);
        if (major != 2)
            return set_err(err, PF_E_FORMAT, 4, "unsupported pcap version %u.%u", major, minor);
        r->ts_mul = m == PCAP_MAGIC_NS ? 1u : 1000u;
    }
    /* The upper 4 bits of `network` are the FCS length field (LINKTYPE spec), not the type. */
    iface_reset(r, 0, ld32(b + 20, big) & 0x0FFFFFFFu, ld32(b + 16, big));
    r->n_ifaces = 1;
    r->pos = 24;
    return PF_OK;
}

int pf_reader_open_mem(const uint8_t *buf, size_t len, pf_reader **out, pf_error_info *err)
{
    pf_reader *r;
    int rc;

    *out = NULL;
    if (len == 0)
        return set_err(err, PF_E_EMPTY, 0, "empty file (0 bytes)");
    if (!buf)
        return set_err(err, PF_E_ARG, 0, "NULL buffer");
    r = reader_alloc(buf, (uint64_t)len, 0);
    if (!r)
        return set_err(err, PF_E_NOMEM, 0, "out of memory");
    rc = reader_init(r, err);
    if (rc < 0) {
        free(r);
        return rc;
    }
    *out = r;
    return PF_OK;
}

int pf_reader_open(const char *path, pf_reader **out, pf_error_info *err)
{
    struct stat st;
    void *map;
    pf_reader *r;
    int fd, rc;

    *out = NULL;
    if (!path)
        return set_err(err, PF_E_ARG, 0, "NULL path");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return set_err(err, PF_E_OPEN, 0, "cannot open: %s", strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = set_err(err, PF_E_OPEN, 0, "cannot stat: %s", strerror(errno));
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return set_err(err, PF_E_OPEN, 0, "not a regular file");
    }
    if (st.st_size == 0) {
        close(fd);
        return set_err(err, PF_E_EMPTY, 0, "empty file (0 bytes)");
    }
    if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        return set_err(err, PF_E_NOMEM, 0, "file too large to map");
    }
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    /* The mapping keeps its own reference to the file. */
    close(fd);
    if (map == MAP_FAILED) {
        if (errno == ENOMEM)
            return set_err(err, PF_E_NOMEM, 0, "cannot map: %s", strerror(errno));
        return set_err(err, PF_E_OPEN, 0, "cannot map: %s", strerror(errno));
    }
    /* Advisory only: a failure changes nothing. */
    (void)madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);

    r = reader_alloc(map, (uint64_t)st.st_size, 1);
    if (!r) {
        munmap(map, (size_t)st.st_size);
        return set_err(err, PF_E_NOMEM, 0, "out of memory");
    }
    rc = reader_init(r, err);
    if (rc < 0) {
        pf_reader_close(r);
        return rc;
    }
    *out = r;
    return PF_OK;
}

void pf_reader_close(pf_reader *r)
{
    if (!r)
        return;
    if (r->mapped)
        munmap((void *)(uintptr_t)r->base, (size_t)r->size);
    free(r);
}

/* ---- classic pcap ------------------------------------------------------------------------ */

/* Specialised per byte order (`big` is a constant in each copy: no byte-order test per field). */
static inline __attribute__((always_inline)) int pcap_next_bo(pf_reader *r, pf_record *rec,
                                                              pf_error_info *err, const int big)
{
    const uint64_t off = r->pos;
    const uint64_t rem = r->size - off;
    const uint8_t *h = r->base + off;
    uint32_t caplen, wirelen;
    int64_t ts;

    if (rem == 0) {
        r->done = 1;
        return 0;
    }
    rec->index = r->index;
    rec->file_offset = off;
    rec->linktype = r->pub[0].linktype;
    rec->if_id = -1;
    if (__builtin_expect(rem < 16, 0)) {
        /* Record header cut by the end of the file: nothing of the packet is present. */
        rec->ts_ns = r->last_ts;
        rec->caplen = 0;
        rec->wirelen = 0; /* the header field is not (fully) present */
        rec->data = r->base + r->size;
        rec->bad_record = PF_R_TRUNCATED_RECORD;
        goto truncated;
    }
    caplen = ld32(h + 8, big);
    wirelen = ld32(h + 12, big);
    /* ts_sec is unsigned 32 bits (pcap-savefile(5)): no overflow in int64. The sub-second field is
     * not range-checked: a bad value only shifts this timestamp. */
    ts = (int64_t)ld32(h, big) * 1000000000 + (int64_t)ld32(h + 4, big) * r->ts_mul;
    if (__builtin_expect(caplen > PF_MAX_CAPLEN, 0))
        return fail(r, err, off, "record %llu: caplen %u exceeds %u", (unsigned long long)r->index,
                    caplen, PF_MAX_CAPLEN);
    rec->ts_ns = ts;
    rec->wirelen = wirelen;
    rec->data = h + 16;
    r->last_ts = ts;
    if (__builtin_expect((uint64_t)caplen > rem - 16, 0)) {
        rec->caplen = (uint32_t)(rem - 16);
        rec->bad_record = PF_R_TRUNCATED_RECORD;
        goto truncated;
    }
    rec->caplen = caplen;
    rec->bad_record = PF_R_NONE;
    r->pos = off + 16 + caplen;
    r->index++;
    return 1;

truncated:
    r->truncated++;
    r->pos = r->size;
    r->done = 1;
    r->index++;
    return 1;
}

static int pcap_next(pf_reader *r, pf_record *rec, pf_error_info *err)
{
    return r->big ? pcap_next_bo(r, rec, err, 1) : pcap_next_bo(r, rec, err, 0);
}

/* ---- pcapng ------------------------------------------------------------------------------ */

/* IDB (draft-ietf-opsawg-pcapng 4.2): linktype u16, reserved u16, snaplen u32, options. `b` is the
 * block, `len` its validated total length. Malformed options are ignored (they do not affect
 * where the next block starts). */
static int ng_idb(pf_reader *r, uint64_t off, const uint8_t *b, uint32_t len, pf_error_info *err)
{
    const int big = r->big;
    uint32_t i, p, end;

    if (len < 20)
        return fail(r, err, off, "block at 0x%llx: interface description length %u < 20",
                    (unsigned long long)off, len);
    if (r->n_ifaces >= PF_READER_MAX_IFACES)
        return PF_OK; /* ignored: packets naming it are PF_R_BAD_INTERFACE */
    i = r->n_ifaces++;
    iface_reset(r, i, ld16(b + 8, big), ld32(b + 12, big));

    /* Options: code u16, length u16, value padded to 32 bits (section 3.5). */
    p = 16;
    end = len - 4;
    while (end - p >= 4) {
        uint16_t code = ld16(b + p, big);
        uint32_t olen = ld16(b + p + 2, big);
        const uint8_t *v = b + p + 4;
        if (code == NG_OPT_ENDOFOPT || olen > end - p - 4)
            break;
        if (code == NG_OPT_IF_NAME) {
            const uint32_t room = (uint32_t)sizeof r->pub[i].name - 1;
            uint32_t n = olen < room ? olen : room;
            memcpy(r->pub[i].name, v, n);
            r->pub[i].name[n] = '\0';
        } else if (code == NG_OPT_IF_TSRESOL && olen >= 1) {
            iface_set_tsresol(&r->priv[i], v[0]);
        } else if (code == NG_OPT_IF_TSOFFSET && olen >= 8) {
            /* if_tsoffset: signed seconds added to every timestamp of the interface. */
            r->priv[i].ts_off_ns = sat64((i128)(int64_t)ld64(v, big) * 1000000000);
        }
        p += 4 + ((olen + 3u) & ~3u);
        if (p > end)
            break;
    }
    return PF_OK;
}

/* Fills rec for a packet block (EPB / OPB / SPB) at `off`. `avail` is the number of bytes of the
 * block present in the file (== len for a complete block); `len` the block's total length.
 * Returns 1, or PF_E_CORRUPT for an impossible captured length. */
static int ng_packet(pf_reader *r, uint32_t type, uint64_t off, const uint8_t *b, uint64_t len,
                     uint64_t avail, int cut, pf_record *rec, pf_error_info *err)
{
    const int big = r->big;
    uint32_t if_id, caplen, wirelen;
    uint64_t body_room; /* data bytes the block (or what exists of it) can hold */
    uint64_t ts_raw = 0;
    int have_ts = 0;
    const uint64_t fixed = type == NG_SPB ? 12 : 28; /* header (8) + fixed fields */

    rec->index = r->index;
    rec->file_offset = off;
    rec->bad_record = PF_R_NONE;

    if (avail < fixed) {
        /* Only possible for a block cut by EOF: the fixed fields themselves are missing. */
        if (!cut)
            return fail(r, err, off, "block at 0x%llx: packet block length %llu < %llu",
                        (unsigned long long)off, (unsigned long long)len,
                        (unsigned long long)fixed + 4);
        if (type == NG_SPB || avail < 12)
            if_id = 0;
        else
            if_id = type == NG_OPB ? ld16(b + 8, big) : ld32(b + 8, big);
        caplen = 0;
        wirelen = 0;
        rec->data = b + avail;
    } else {
        if (!cut && len < fixed + 4)
            return fail(r, err, off, "block at 0x%llx: packet block length %llu < %llu",
                        (unsigned long long)off, (unsigned long long)len,
                        (unsigned long long)fixed + 4);
        /* Room for data: up to the trailing length of a complete block, or to EOF. */
        body_room = cut ? avail - fixed : len - fixed - 4;
        if (type == NG_SPB) {
            if_id = 0;
            wirelen = ld32(b + 8, big);
            caplen = wirelen;
            /* SPB (4.4): captured length = min(original length, snaplen of interface 0), the
             * rest of the body is padding. */
            if (r->n_ifaces > 0 && r->pub[0].snaplen != 0 && caplen > r->pub[0].snaplen)
                caplen = r->pub[0].snaplen;
            if (caplen > body_room)
                caplen = (uint32_t)body_room;
        } else {
            if_id = type == NG_OPB ? ld16(b + 8, big) : ld32(b + 8, big);
            ts_raw = ((uint64_t)ld32(b + 12, big) << 32) | ld32(b + 16, big);
            have_ts = 1;
            caplen = ld32(b + 20, big);
            wirelen = ld32(b + 24, big);
            if (cut && caplen > body_room)
                caplen = (uint32_t)body_room; /* only the bytes that exist */
            if (caplen > PF_MAX_CAPLEN)
                return fail(r, err, off, "record %llu: caplen %u exceeds %u",
                            (unsigned long long)r->index, caplen, PF_MAX_CAPLEN);
            if (caplen > body_room)
                return fail(r, err, off, "block at 0x%llx: caplen %u exceeds block body %llu",
                            (unsigned long long)off, caplen, (unsigned long long)body_room);
        }
        if (caplen > PF_MAX_CAPLEN) /* SPB cut to its body: same limit as everywhere */
            return fail(r, err, off, "record %llu: caplen %u exceeds %u",
                        (unsigned long long)r->index, caplen, PF_MAX_CAPLEN);
        rec->data = b + fixed;
    }

    rec->caplen = caplen;
    rec->wirelen = wirelen;
    rec->if_id = (int32_t)if_id;
    if (if_id < r->n_ifaces) {
        rec->linktype = r->pub[if_id].linktype;
        if (have_ts)
            r->last_ts = ng_ts_ns(&r->priv[if_id], ts_raw);
    } else {
        /* No IDB for it: the record is unusable; UINT32_MAX makes a decoder that ignores
         * bad_record answer "unsupported link" rather than guess. */
        rec->linktype = UINT32_MAX;
        rec->bad_record = PF_R_BAD_INTERFACE;
        if (if_id > INT32_MAX)
            rec->if_id = INT32_MAX;
    }
    rec->ts_ns = r->last_ts;
    if (cut)
        rec->bad_record = PF_R_TRUNCATED_RECORD;
    r->index++;
    return 1;
}

static int ng_next(pf_reader *r, pf_record *rec, pf_error_info *err)
{
    for (;;) {
        const uint64_t off = r->pos;
        const uint64_t rem = r->size - off;
        const uint8_t *b = r->base + off;
        uint32_t type, len;
        int rc;

        if (rem == 0) {
            r->done = 1;
            return 0;
        }
        if (__builtin_expect(rem < 12, 0)) {
            /* Not even type + length + one word: a cut block. */
            type = rem >= 4 ? ld32(b, r->big) : 0;
            r->truncated++;
            r->done = 1;
            r->pos = r->size;
            if (rem >= 4 && (type == NG_EPB || type == NG_SPB || type == NG_OPB))
                return ng_packet(r, type, off, b, 0, rem, 1, rec, err);
            return 0;
        }
        type = ld32(b, r->big);
        if (type == PCAPNG_SHB_TYPE) {
            rc = ng_section(r, off, 0, err);
            if (rc == -1000) {
                r->truncated++;
                r->done = 1;
                r->pos = r->size;
                return 0;
            }
            if (rc < 0)
                return rc;
            continue;
        }
        len = ld32(b + 4, r->big);
        /* Block structure (draft-ietf-opsawg-pcapng 3.1): total length covers type, length,
         * body padded to 32 bits and the trailing copy of the length. */
        if (len < 12)
            return fail(r, err, off, "block at 0x%llx: length %u < 12", (unsigned long long)off,
                        len);
        if (len & 3u)
            return fail(r, err, off, "block at 0x%llx: length %u not a multiple of 4",
                        (unsigned long long)off, len);
        if ((uint64_t)len > rem) {
            /* Cut by the end of the file: a packet block is returned with the bytes present. */
            r->truncated++;
            r->done = 1;
            r->pos = r->size;
            if (type == NG_EPB || type == NG_SPB || type == NG_OPB)
                return ng_packet(r, type, off, b, len, rem, 1, rec, err);
            return 0;
        }
        {
            uint32_t trail = ld32(b + len - 4, r->big);
            if (trail != len)
                return fail(r, err, off, "block at 0x%llx: trailing length %u != %u",
                            (unsigned long long)off, trail, len);
        }
        r->pos = off + len;
        switch (type) {
        case NG_EPB:
        case NG_SPB:
        case NG_OPB:
            return ng_packet(r, type, off, b, len, len, 0, rec, err);
        case NG_IDB:
            rc = ng_idb(r, off, b, len, err);
            if (rc < 0)
                return rc;
            break;
        default:
            break; /* NRB, ISB, DSB, custom ...: not needed */
        }
    }
}

/* ---- public ------------------------------------------------------------------------------ */

int pf_reader_next(pf_reader *r, pf_record *rec, pf_error_info *err)
{
    if (__builtin_expect(r->failed | r->done, 0)) {
        if (!r->failed)
            return 0;
        if (err)
            *err = r->fail;
        return r->fail.code;
    }
    /* Keep resident memory bounded on multi-GB files: give back the pages well behind the read
     * position (the previous record's data is still in use, so keep a margin). release_at is
     * released + PF_RELEASE_CHUNK + PF_RELEASE_MARGIN for a mapped file, else never. */
    if (__builtin_expect(r->pos >= r->release_at, 0)) {
        uint64_t upto = (r->pos - PF_RELEASE_MARGIN) & ~(uint64_t)(PF_RELEASE_CHUNK - 1);
        if (upto > r->released) {
            (void)madvise((void *)(uintptr_t)(r->base + r->released), (size_t)(upto - r->released),
                          MADV_DONTNEED);
            r->released = upto;
        }
        r->release_at = r->released + PF_RELEASE_CHUNK + PF_RELEASE_MARGIN;
    }
    if (r->is_pcapng)
        return ng_next(r, rec, err);
    return pcap_next(r, rec, err);
}

uint32_t pf_reader_iface_count(const pf_reader *r) { return r->n_ifaces; }

const pf_reader_iface *pf_reader_iface_get(const pf_reader *r, uint32_t if_id)
{
    return if_id < r->n_ifaces ? &r->pub[if_id] : NULL;
}

uint64_t pf_reader_size(const pf_reader *r) { return r->size; }
uint64_t pf_reader_offset(const pf_reader *r) { return r->pos; }
int pf_reader_is_pcapng(const pf_reader *r) { return r->is_pcapng; }
uint64_t pf_reader_truncated_count(const pf_reader *r) { return r->truncated; }
