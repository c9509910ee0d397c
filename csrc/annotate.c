/* annotate.c: the annotated pcapng writer. See annotate.h.
 *
 * Block layouts: draft-ietf-opsawg-pcapng, section 4.1 (SHB), 4.2 (IDB), 4.3 (EPB), 3.5
 * (options: code u16, length u16, value padded to 32 bits, opt_endofopt to close the list).
 * Everything is written in host byte order (the SHB byte-order magic says which). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* open O_CLOEXEC, fstat, ftruncate under -std=c11 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "annotate.h"

#define AN_BUF_SIZE (1u << 20)      /* larger than any block: 28 + 262144 + 65540 + 4 + 4 */
#define AN_MAX_COMMENT 65532u       /* opt_comment length is u16; keep the padded value < 64 KiB */
#define AN_MAP_SIZE 256u            /* missing input ids below this get one placeholder each */
#define AN_NONE 0xffffffffu

#define SHB_TYPE 0x0A0D0D0Au
#define SHB_BOM 0x1A2B3C4Du
#define IDB_TYPE 0x00000001u
#define EPB_TYPE 0x00000006u
#define OPT_ENDOFOPT 0
#define OPT_COMMENT 1
#define OPT_SHB_USERAPPL 4
#define OPT_IF_NAME 2
#define OPT_IF_TSRESOL 9
#define LINKTYPE_USER0 147u

typedef struct out_iface {
    uint32_t linktype;
    uint32_t snaplen;
    char name[64];
} out_iface;

struct pf_annotator {
    int fd;
    int io_errno;            /* first write error (errno), 0 when none */
    uint8_t *buf;
    size_t used;
    uint64_t packets;
    char path[160];          /* for error messages */
    /* IDBs of the current output section. Invariant: outs[i] describes the reader's interface
     * i of the current input section for every i below min(n_outs, reader count), so the output
     * interface id of a packet is its input id. Placeholders (records naming an interface
     * without IDB) are appended after them. */
    out_iface *outs;
    uint32_t n_outs, cap_outs;
    uint32_t synced;         /* reader interface count at the last sync */
    uint32_t sections;       /* SHBs written */
    /* placeholder output id per missing input id, AN_NONE until needed */
    uint32_t missing[AN_MAP_SIZE];
    uint32_t missing_shared; /* for input ids >= AN_MAP_SIZE */
};

static inline uint32_t pad4(uint32_t n) { return (n + 3u) & ~3u; }

/* ---- buffered output --------------------------------------------------------------------- */

static void write_all(pf_annotator *a, const uint8_t *p, size_t n)
{
    while (n && !a->io_errno) {
        ssize_t w = write(a->fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            a->io_errno = errno ? errno : EIO;
            return;
        }
        if (w == 0) {
            a->io_errno = EIO;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void flush(pf_annotator *a)
{
    if (a->used) {
        write_all(a, a->buf, a->used);
        a->used = 0;
    }
}

/* Makes room for `n` contiguous bytes in the buffer (every block fits: n < AN_BUF_SIZE). */
static inline uint8_t *reserve(pf_annotator *a, size_t n)
{
    if (a->used + n > AN_BUF_SIZE)
        flush(a);
    uint8_t *p = a->buf + a->used;
    a->used += n;
    return p;
}

static inline uint8_t *st16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
    return p + 2;
}

static inline uint8_t *st32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
    return p + 4;
}

/* An option with its value padded with zeros to 32 bits. */
static inline uint8_t *st_opt(uint8_t *p, uint16_t code, const void *v, uint32_t len)
{
    p = st16(p, code);
    p = st16(p, (uint16_t)len);
    memcpy(p, v, len);
    memset(p + len, 0, pad4(len) - len);
    return p + pad4(len);
}

/* ---- blocks ------------------------------------------------------------------------------ */

/* Starts an output section: SHB, then no interfaces. */
static void write_shb(pf_annotator *a)
{
    a->sections++;
    a->n_outs = 0;
    for (uint32_t i = 0; i < AN_MAP_SIZE; i++)
        a->missing[i] = AN_NONE;
    a->missing_shared = AN_NONE;
    static const char appl[] = "pyflow";
    const uint32_t alen = (uint32_t)sizeof appl - 1;
    const uint32_t total = 8 + 4 + 2 + 2 + 8 + (4 + pad4(alen)) + 4 + 4;
    uint8_t *p = reserve(a, total);
    p = st32(p, SHB_TYPE);
    p = st32(p, total);
    p = st32(p, SHB_BOM);
    p = st16(p, 1); /* major */
    p = st16(p, 0); /* minor */
    uint64_t section_len = UINT64_MAX; /* -1: not specified */
    memcpy(p, &section_len, 8);
    p += 8;
    p = st_opt(p, OPT_SHB_USERAPPL, appl, alen);
    p = st32(p, OPT_ENDOFOPT); /* code 0, length 0 */
    st32(p, total);
}

/* Writes an IDB and records it; returns its output id, AN_NONE when out of memory. */
static uint32_t add_iface(pf_annotator *a, uint32_t linktype, uint32_t snaplen, const char *name)
{
    if (a->n_outs == a->cap_outs) {
        uint32_t cap = a->cap_outs ? a->cap_outs * 2 : 16;
        out_iface *n = realloc(a->outs, (size_t)cap * sizeof *n);
        if (!n)
            return AN_NONE;
        a->outs = n;
        a->cap_outs = cap;
    }
    out_iface *o = &a->outs[a->n_outs];
    o->linktype = linktype;
    o->snaplen = snaplen;
    snprintf(o->name, sizeof o->name, "%s", name ? name : "");

    /* The IDB's link type field is 16 bits; nothing real is larger. */
    uint16_t lt = linktype > 0xffffu ? (uint16_t)LINKTYPE_USER0 : (uint16_t)linktype;
    uint32_t nlen = (uint32_t)strlen(o->name);
    uint32_t total = 8 + 2 + 2 + 4 + (nlen ? 4 + pad4(nlen) : 0) + (4 + 4) + 4 + 4;
    uint8_t *p = reserve(a, total);
    p = st32(p, IDB_TYPE);
    p = st32(p, total);
    p = st16(p, lt);
    p = st16(p, 0);
    p = st32(p, snaplen);
    if (nlen)
        p = st_opt(p, OPT_IF_NAME, o->name, nlen);
    const uint8_t resol = 9; /* 10^-9 s: timestamps are written from ts_ns as they are */
    p = st_opt(p, OPT_IF_TSRESOL, &resol, 1);
    p = st32(p, OPT_ENDOFOPT);
    st32(p, total);
    return a->n_outs++;
}

static int same_iface(const out_iface *o, const pf_reader_iface *i)
{
    return o->linktype == i->linktype && o->snaplen == i->snaplen &&
           strncmp(o->name, i->name, sizeof o->name) == 0;
}

/* Brings the output interfaces up to date with the reader's list. New input IDBs are appended.
 * When an input interface differs from the output one with the same id (the input started a new
 * section whose interfaces differ, or a placeholder took the id), a new output section starts
 * and repeats the reader's current interfaces, so ids stay section-local and equal to the
 * input's, as Wireshark numbers them. A new input section with the same interfaces continues
 * the current output section (same ids, same meaning). Returns PF_OK or PF_E_NOMEM. */
static int sync_ifaces(pf_annotator *a, const pf_reader *r)
{
    uint32_t n = pf_reader_iface_count(r);
    for (uint32_t i = 0; i < n && i < a->n_outs; i++) {
        const pf_reader_iface *ifc = pf_reader_iface_get(r, i);
        if (ifc && !same_iface(&a->outs[i], ifc)) {
            write_shb(a);
            break;
        }
    }
    for (uint32_t i = a->n_outs; i < n; i++) {
        const pf_reader_iface *ifc = pf_reader_iface_get(r, i);
        if (!ifc)
            break;
        if (add_iface(a, ifc->linktype, ifc->snaplen, ifc->name) == AN_NONE)
            return PF_E_NOMEM;
    }
    a->synced = n;
    return PF_OK;
}

/* Output interface for a record naming input interface `in_id` that has no IDB. */
static uint32_t missing_iface(pf_annotator *a, uint32_t in_id)
{
    uint32_t *slot = in_id < AN_MAP_SIZE ? &a->missing[in_id] : &a->missing_shared;
    if (*slot == AN_NONE) {
        char name[64];
        if (in_id < AN_MAP_SIZE)
            snprintf(name, sizeof name, "pyflow-missing-if%u", in_id);
        else
            snprintf(name, sizeof name, "pyflow-missing-if");
        *slot = add_iface(a, LINKTYPE_USER0, 0, name);
    }
    return *slot;
}

/* ---- public API -------------------------------------------------------------------------- */

static int set_err(pf_error_info *err, int code, const char *fmt, const char *path, int e)
{
    if (err) {
        err->code = code;
        err->offset = 0;
        snprintf(err->message, sizeof err->message, fmt, path, e ? strerror(e) : "");
    }
    return code;
}

int pf_annotate_open(const char *path, const char *input_path, pf_annotator **out,
                     pf_error_info *err)
{
    *out = NULL;
    if (!path || !*path)
        return set_err(err, PF_E_ARG, "annotated output: empty path%s%s", "", 0);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return set_err(err, PF_E_IO, "cannot create annotated output %s: %s", path, errno);
    struct stat so, si;
    if (fstat(fd, &so) != 0) {
        int e = errno;
        close(fd);
        return set_err(err, PF_E_IO, "cannot create annotated output %s: %s", path, e);
    }
    if (input_path && stat(input_path, &si) == 0 && si.st_dev == so.st_dev &&
        si.st_ino == so.st_ino) {
        close(fd);
        return set_err(err, PF_E_ARG, "annotated output %s is the input capture%s", path, 0);
    }
    if (S_ISREG(so.st_mode) && ftruncate(fd, 0) != 0) {
        int e = errno;
        close(fd);
        return set_err(err, PF_E_IO, "cannot truncate annotated output %s: %s", path, e);
    }
    pf_annotator *a = calloc(1, sizeof *a);
    uint8_t *buf = malloc(AN_BUF_SIZE);
    if (!a || !buf) {
        free(a);
        free(buf);
        close(fd);
        return set_err(err, PF_E_NOMEM, "out of memory for the annotated output %s%s", path, 0);
    }
    a->fd = fd;
    a->buf = buf;
    snprintf(a->path, sizeof a->path, "%s", path);
    write_shb(a);
    *out = a;
    return PF_OK;
}

int pf_annotate_packet(pf_annotator *a, const pf_record *rec, const pf_reader *r,
                       const char *comment, size_t comment_len)
{
    if (a->io_errno)
        return PF_E_IO;
    /* output interface */
    uint32_t in_id = rec->if_id < 0 ? 0u : (uint32_t)rec->if_id;
    const pf_reader_iface *ifc = pf_reader_iface_get(r, in_id);
    uint32_t oid = in_id;
    if (a->synced != pf_reader_iface_count(r) ||
        (ifc && (in_id >= a->n_outs || !same_iface(&a->outs[in_id], ifc)))) {
        int rc = sync_ifaces(a, r);
        if (rc)
            return rc;
    }
    if (!ifc)
        oid = missing_iface(a, in_id);
    if (oid == AN_NONE)
        return PF_E_NOMEM;

    /* comment: at most AN_MAX_COMMENT bytes, not cutting a UTF-8 sequence */
    uint32_t clen = 0;
    if (comment && comment_len) {
        size_t n = comment_len;
        if (n > AN_MAX_COMMENT) {
            n = AN_MAX_COMMENT;
            while (n > 0 && ((uint8_t)comment[n] & 0xC0u) == 0x80u)
                n--;
        }
        clen = (uint32_t)n;
    }

    const uint32_t caplen = rec->caplen;
    const uint32_t total = 28 + pad4(caplen) + (clen ? 4 + pad4(clen) + 4 : 0) + 4;
    const uint64_t ts = rec->ts_ns < 0 ? 0u : (uint64_t)rec->ts_ns; /* pcapng time is unsigned */
    uint8_t *p = reserve(a, total);
    p = st32(p, EPB_TYPE);
    p = st32(p, total);
    p = st32(p, oid);
    p = st32(p, (uint32_t)(ts >> 32));
    p = st32(p, (uint32_t)ts);
    p = st32(p, caplen);
    p = st32(p, rec->wirelen);
    if (caplen)
        memcpy(p, rec->data, caplen);
    memset(p + caplen, 0, pad4(caplen) - caplen);
    p += pad4(caplen);
    if (clen) {
        p = st_opt(p, OPT_COMMENT, comment, clen);
        p = st32(p, OPT_ENDOFOPT);
    }
    st32(p, total);
    a->packets++;
    return a->io_errno ? PF_E_IO : PF_OK;
}

int pf_annotate_close(pf_annotator *a, pf_error_info *err)
{
    if (!a)
        return PF_OK;
    flush(a);
    if (close(a->fd) != 0 && !a->io_errno)
        a->io_errno = errno ? errno : EIO;
    int rc = PF_OK;
    if (a->io_errno)
        rc = set_err(err, PF_E_IO, "cannot write annotated output %s: %s", a->path, a->io_errno);
    free(a->buf);
    free(a->outs);
    free(a);
    return rc;
}

uint64_t pf_annotate_count(const pf_annotator *a) { return a ? a->packets : 0; }

int pf_annotate_comment(char *buf, size_t len, int path, int reason, const char *tuple,
                        const char *extra)
{
    if (!buf || len == 0)
        return 0;
    int n = snprintf(buf, len, "pyflow path=%s reason=%s%s%s%s%s", pf_path_name(path),
                     pf_reason_name(reason), tuple && *tuple ? " flow=" : "",
                     tuple ? tuple : "", extra && *extra ? " " : "", extra ? extra : "");
    if (n < 0) {
        buf[0] = '\0';
        return 0;
    }
    if ((size_t)n >= len)
        n = (int)(len - 1);
    return n;
}
