/* annotate.h: the annotated pcapng writer (`pyflow replay TRACE --annotate OUT.pcapng`).
 * Prefix: pf_annotate_. Internal to the C core (not part of the cffi API): run.c drives it in
 * the same pass as the simulation, one call per packet record, in file order.
 *
 * Output (draft-ietf-opsawg-pcapng), in host byte order:
 *  - SHB with shb_userappl "pyflow";
 *  - one IDB per input capture interface (same linktype, snaplen and if_name; if_tsresol 9), in
 *    input order, so output interface ids are the input ones. A multi-section input whose later
 *    section has different interfaces gives a new output section at that point (ids are
 *    section-local, as in the input); identical sections are merged;
 *  - one EPB per input packet record (also the records the reader flagged bad: what exists of
 *    them), same bytes, caplen, wirelen and timestamp (ns), with the comment as opt_comment.
 * Buffered: one fixed 1 MiB buffer allocated at open, no per-packet allocation. */
#ifndef PF_ANNOTATE_H
#define PF_ANNOTATE_H

#include <stddef.h>

#include "pcap.h"

typedef struct pf_annotator pf_annotator;

/* Creates (or truncates) `path` and writes the SHB. `input_path` is the capture being read
 * (NULL when reading from memory): when `path` names the same file, nothing is touched and
 * PF_E_ARG is returned (truncating the mapped input would crash the reader with SIGBUS).
 * Errors: PF_E_IO (cannot create / write: message has the path and strerror), PF_E_ARG,
 * PF_E_NOMEM. On error *out is NULL. */
int pf_annotate_open(const char *path, const char *input_path, pf_annotator **out,
                     pf_error_info *err);

/* Writes `rec` as an EPB carrying `comment` (comment_len bytes of UTF-8, 0 for no comment;
 * longer than 65532 bytes is cut at a UTF-8 character boundary). `r` is the reader the record
 * comes from: when the reader has seen new IDBs, they are written (all of them, in input order,
 * used or not) before the packet, so output ids equal input ids. A record naming an interface without IDB (PF_R_BAD_INTERFACE) goes to a
 * placeholder interface (linktype USER0 = 147, if_name "pyflow-missing-if<N>").
 * Returns PF_OK, or PF_E_IO once a write failed (sticky; pf_annotate_close gives the message). */
int pf_annotate_packet(pf_annotator *a, const pf_record *rec, const pf_reader *r,
                       const char *comment, size_t comment_len);

/* Flushes and closes. Returns PF_OK, or PF_E_IO when any write (or the flush / fclose) failed:
 * then `err` (may be NULL) gets the path and strerror. Accepts NULL (returns PF_OK). */
int pf_annotate_close(pf_annotator *a, pf_error_info *err);

/* Formats "pyflow path=<path> reason=<reason>[ flow=<tuple>][ <extra>]" into buf (always
 * NUL-terminated when len > 0). `tuple` / `extra` NULL or "" are left out. Returns the length
 * of the text in buf (cut to len - 1 when it does not fit), ready to pass as comment_len. */
int pf_annotate_comment(char *buf, size_t len, int path, int reason, const char *tuple,
                        const char *extra);

/* Packets written so far (for tests and the run info). */
uint64_t pf_annotate_count(const pf_annotator *a);

#endif
