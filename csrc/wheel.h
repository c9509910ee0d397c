/* wheel.h: a timer wheel of 1-second slots over a fixed set of objects (indices 0..n-1).
 * Prefix: pf_wheel_. Used for flowtable GC (nf_flow_offload_work_gc runs every HZ) and for
 * reaping expired conntrack entries. Deadlines are in whole GC ticks (seconds since the first
 * packet); an object may sit in its slot for several turns of the wheel until its tick comes. */
#ifndef PF_WHEEL_H
#define PF_WHEEL_H

#include <stdint.h>

#define PF_WHEEL_SLOTS 4096u /* power of two */

typedef struct pf_wheel {
    uint32_t n;
    uint32_t *prev, *next; /* per object: linked neighbour index + 1, 0 for none */
    int64_t *tick;         /* per object: deadline tick + 1, 0 when unlinked */
    uint32_t heads[PF_WHEEL_SLOTS];
    uint64_t linked;
} pf_wheel;

int pf_wheel_init(pf_wheel *w, uint32_t n);
void pf_wheel_free(pf_wheel *w);
void pf_wheel_set(pf_wheel *w, uint32_t idx, int64_t tick);
void pf_wheel_remove(pf_wheel *w, uint32_t idx);
static inline int pf_wheel_linked(const pf_wheel *w, uint32_t idx) { return w->tick[idx] != 0; }

/* Calls fn(ctx, idx, due_tick) for every object whose deadline tick is <= `tick` in slot
 * (tick & mask); the object is unlinked before the call (fn may re-link it). */
typedef void (*pf_wheel_fn)(void *ctx, uint32_t idx, int64_t due_tick);
void pf_wheel_run_slot(pf_wheel *w, int64_t tick, pf_wheel_fn fn, void *ctx);
/* Calls fn for every object with deadline <= tick in the whole wheel (after a long time jump). */
void pf_wheel_run_all(pf_wheel *w, int64_t tick, pf_wheel_fn fn, void *ctx);

#endif
