/* wheel.c: see wheel.h. The per-object arrays come from calloc and zero means "unlinked" (links
 * and ticks are stored plus one), so a table of millions of objects costs no page until used. */
#include <stdlib.h>

#include "wheel.h"

#define W_NONE 0u /* stored link value for "none" (links are index + 1) */

int pf_wheel_init(pf_wheel *w, uint32_t n)
{
    w->n = n;
    w->prev = calloc((size_t)n, sizeof(uint32_t));
    w->next = calloc((size_t)n, sizeof(uint32_t));
    w->tick = calloc((size_t)n, sizeof(int64_t));
    w->linked = 0;
    if (!w->prev || !w->next || !w->tick) {
        pf_wheel_free(w);
        return -1;
    }
    for (uint32_t s = 0; s < PF_WHEEL_SLOTS; s++)
        w->heads[s] = W_NONE;
    return 0;
}

void pf_wheel_free(pf_wheel *w)
{
    free(w->prev);
    free(w->next);
    free(w->tick);
    w->prev = w->next = NULL;
    w->tick = NULL;
}

static inline uint32_t slot_of(int64_t tick) { return (uint32_t)((uint64_t)tick & (PF_WHEEL_SLOTS - 1)); }

void pf_wheel_remove(pf_wheel *w, uint32_t idx)
{
    if (!w->tick[idx])
        return;
    uint32_t slot = slot_of(w->tick[idx] - 1);
    uint32_t p = w->prev[idx], nx = w->next[idx];
    if (p == W_NONE)
        w->heads[slot] = nx;
    else
        w->next[p - 1] = nx;
    if (nx != W_NONE)
        w->prev[nx - 1] = p;
    w->prev[idx] = w->next[idx] = W_NONE;
    w->tick[idx] = 0;
    w->linked--;
}

void pf_wheel_set(pf_wheel *w, uint32_t idx, int64_t tick)
{
    if (tick < 0)
        tick = 0;
    if (tick >= INT64_MAX - 1)
        tick = INT64_MAX - 2;
    if (w->tick[idx]) {
        if (slot_of(w->tick[idx] - 1) == slot_of(tick)) {
            w->tick[idx] = tick + 1; /* same slot: just move the deadline */
            return;
        }
        pf_wheel_remove(w, idx);
    }
    uint32_t slot = slot_of(tick);
    w->tick[idx] = tick + 1;
    w->prev[idx] = W_NONE;
    w->next[idx] = w->heads[slot];
    if (w->heads[slot] != W_NONE)
        w->prev[w->heads[slot] - 1] = idx + 1;
    w->heads[slot] = idx + 1;
    w->linked++;
}

static uint64_t run_list(pf_wheel *w, uint32_t slot, int64_t tick, pf_wheel_fn fn, void *ctx)
{
    uint64_t calls = 0;
    uint32_t link = w->heads[slot];
    while (link != W_NONE) {
        uint32_t idx = link - 1;
        uint32_t nx = w->next[idx];
        int64_t due = w->tick[idx] - 1;
        if (due <= tick) {
            pf_wheel_remove(w, idx);
            fn(ctx, idx, due);
            /* fn may re-link idx (at a list head): nx is still valid, only idx was touched */
            calls++;
        }
        link = nx;
    }
    return calls;
}

void pf_wheel_run_slot(pf_wheel *w, int64_t tick, pf_wheel_fn fn, void *ctx)
{
    run_list(w, slot_of(tick), tick, fn, ctx);
}

void pf_wheel_run_all(pf_wheel *w, int64_t tick, pf_wheel_fn fn, void *ctx)
{
    /* fn may re-arm an object into a slot this pass has already visited (a flow refreshed since
     * it was armed): pass again until a pass finds nothing due. Each call removes its object or
     * re-arms it to a strictly later tick, so this ends. */
    uint64_t calls;
    do {
        calls = 0;
        for (uint32_t s = 0; s < PF_WHEEL_SLOTS; s++)
            calls += run_list(w, s, tick, fn, ctx);
    } while (calls);
}
