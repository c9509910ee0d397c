/* pcap.h: capture file reader (classic pcap and pcapng), zero-copy over a read-only mmap.
 * Prefix: pf_reader_. */
#ifndef PF_PCAP_H
#define PF_PCAP_H

#include "record.h"

typedef struct pf_reader pf_reader;

/* Interface description (pcapng IDB, or the single implicit interface of a classic pcap). */
typedef struct pf_reader_iface {
    uint32_t linktype;
    uint32_t snaplen;
    char name[64];   /* if_name option, "" if absent */
} pf_reader_iface;

/* Opens and maps `path`, validates the file header.
 * Errors: PF_E_OPEN (missing / unreadable / not a regular file), PF_E_EMPTY (0 bytes),
 * PF_E_FORMAT (not a pcap or pcapng: bad magic, unsupported version),
 * PF_E_TRUNCATED (file shorter than its header), PF_E_NOMEM.
 * On error `err` (may be NULL) gets the code, the byte offset and a message; *out is NULL. */
int pf_reader_open(const char *path, pf_reader **out, pf_error_info *err);

/* Same over a caller-owned buffer (fuzzing, tests); the buffer must outlive the reader. */
int pf_reader_open_mem(const uint8_t *buf, size_t len, pf_reader **out, pf_error_info *err);

/* Next packet record. Returns 1 with *rec filled, 0 at the end of the data, <0 on a fatal
 * error (err filled: PF_E_CORRUPT with the offset of the bad record or block).
 * Non-fatal problems are counted in the reader and do not stop reading:
 *  - a last record cut short by the end of the file: returned once as a record with
 *    bad_record = PF_R_TRUNCATED_RECORD and caplen = the bytes present, then 0 (end);
 *    in pcapng this is a last block whose length runs past the end of the file (a cut non-packet
 *    block is only counted, see pf_reader_truncated_count);
 *  - a pcapng EPB naming an interface that has no IDB: bad_record = PF_R_BAD_INTERFACE.
 * Impossible lengths (caplen > PF_MAX_CAPLEN, pcapng block length not a multiple of 4, below the
 * minimum, caplen past the block body, or trailing length != leading length) are fatal
 * PF_E_CORRUPT: the reader cannot know where the next record starts. Never reads outside the mapping. */
int pf_reader_next(pf_reader *r, pf_record *rec, pf_error_info *err);

/* Interfaces seen so far (classic pcap: exactly one). */
uint32_t pf_reader_iface_count(const pf_reader *r);
const pf_reader_iface *pf_reader_iface_get(const pf_reader *r, uint32_t if_id);

uint64_t pf_reader_size(const pf_reader *r);      /* file size in bytes */
uint64_t pf_reader_offset(const pf_reader *r);    /* bytes consumed so far */
int pf_reader_is_pcapng(const pf_reader *r);
/* Records or blocks cut by the end of the file (a cut non-packet block is counted but not
 * returned). Added by pcap.c's author: additive. */
uint64_t pf_reader_truncated_count(const pf_reader *r);

/* Accepts NULL. Unmaps and frees. */
void pf_reader_close(pf_reader *r);

#endif
