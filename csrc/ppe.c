/* TEMPORARY placeholder until the PPE model lands (being written now): the driver refuses
 * every flow, so mode hw behaves like mode sw. Not wired to any test or documentation. */
#include <stdlib.h>
#include "ppe.h"
struct pf_ppe { int unused; };
int pf_ppe_create(const pf_config *cfg, pf_ppe **out, pf_error_info *err)
{ (void)cfg; (void)err; *out = calloc(1, sizeof(pf_ppe)); return *out ? PF_OK : PF_E_NOMEM; }
void pf_ppe_destroy(pf_ppe *p) { free(p); }
int pf_ppe_commit(pf_ppe *p, uint32_t flow, const pf_ppe_dir_info info[2], int64_t now, int refused[2])
{ (void)p; (void)flow; (void)info; (void)now; refused[0] = refused[1] = PF_R_HW_NO_PPE; return PF_R_HW_NO_PPE; }
int pf_ppe_packet(pf_ppe *p, uint32_t flow, int dir, int64_t now, int eligible, uint8_t tcp_flags, int *reason)
{ (void)p; (void)flow; (void)dir; (void)now; (void)eligible; (void)tcp_flags; *reason = PF_R_HW_NO_PPE; return 0; }
void pf_ppe_remove(pf_ppe *p, uint32_t flow, int64_t now) { (void)p; (void)flow; (void)now; }
int64_t pf_ppe_last_hit(const pf_ppe *p, uint32_t flow) { (void)p; (void)flow; return INT64_MIN; }
void pf_ppe_tick(pf_ppe *p, int64_t now, uint64_t ticks_elapsed, pf_stats *st) { (void)p; (void)now; (void)ticks_elapsed; (void)st; }
uint64_t pf_ppe_bound(const pf_ppe *p) { (void)p; return 0; }
int pf_ppe_dump(const pf_ppe *p, FILE *out) { (void)p; (void)out; return 0; }
