/* wheel.c: see wheel.h. */
#include <stdlib.h>

#include "wheel.h"

int pf_wheel_init(pf_wheel *w, uint32_t n)
{
    w->n = n;
    w->prev = malloc(sizeof(uint32_t) * (size_t)n);
    w->next = malloc(sizeof(uint32_t) * (size_t)n);
    w->tick = malloc(sizeof(int64_t) * (size_t)n);
    w->linked = 0;
    if (!w->prev || !w->next || !w->tick) {
        pf_wheel_free(w);
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        w->prev[i] = w->next[i] = PF_WHEEL_NONE;
        w->tick[i] = INT64_MAX;
    }
    for (uint32_t s = 0; s < PF_WHEEL_SLOTS; s++)
        w->heads[s] = PF_WHEEL_NONE;
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

void pf_wheel_remove(pf_wheel *w, uint32_t idx)
{
    if (w->tick[idx] == INT64_MAX)
        return;
    uint32_t slot = (uint32_t)((uint64_t)w->tick[idx] & (PF_WHEEL_SLOTS - 1));
    uint32_t p = w->prev[idx], nx = w->next[idx];
    if (p == PF_WHEEL_NONE)
        w->heads[slot] = nx;
    else
        w->next[p] = nx;
    if (nx != PF_WHEEL_NONE)
        w->prev[nx] = p;
    w->prev[idx] = w->next[idx] = PF_WHEEL_NONE;
    w->tick[idx] = INT64_MAX;
    w->linked--;
}

void pf_wheel_set(pf_wheel *w, uint32_t idx, int64_t tick)
{
    if (tick == INT64_MAX)
        tick = INT64_MAX - 1;
    if (w->tick[idx] != INT64_MAX) {
        uint64_t old_slot = (uint64_t)w->tick[idx] & (PF_WHEEL_SLOTS - 1);
        if (old_slot == ((uint64_t)tick & (PF_WHEEL_SLOTS - 1))) {
            w->tick[idx] = tick; /* same slot: just move the deadline */
            return;
        }
        pf_wheel_remove(w, idx);
    }
    uint32_t slot = (uint32_t)((uint64_t)tick & (PF_WHEEL_SLOTS - 1));
    w->tick[idx] = tick;
    w->prev[idx] = PF_WHEEL_NONE;
    w->next[idx] = w->heads[slot];
    if (w->heads[slot] != PF_WHEEL_NONE)
        w->prev[w->heads[slot]] = idx;
    w->heads[slot] = idx;
    w->linked++;
}

void pf_wheel_run_slot(pf_wheel *w, int64_t tick, pf_wheel_fn fn, void *ctx)
{
    uint32_t slot = (uint32_t)((uint64_t)tick & (PF_WHEEL_SLOTS - 1));
    uint32_t idx = w->heads[slot];
    while (idx != PF_WHEEL_NONE) {
        uint32_t nx = w->next[idx];
        int64_t due = w->tick[idx];
        if (due <= tick) {
            pf_wheel_remove(w, idx);
            fn(ctx, idx, due);
            /* fn may have re-linked idx into this very slot (at the head): nx is still valid
             * because only idx itself was touched. */
        }
        idx = nx;
    }
}

void pf_wheel_run_all(pf_wheel *w, int64_t tick, pf_wheel_fn fn, void *ctx)
{
    /* fn may re-arm an object into a slot this pass has already visited (a flow refreshed since
     * it was armed): pass again until a pass finds nothing due. Each call removes its object or
     * re-arms it to a strictly later tick, so this ends. */
    uint64_t calls;
    do {
        calls = 0;
        for (uint32_t s = 0; s < PF_WHEEL_SLOTS; s++) {
            uint32_t idx = w->heads[s];
            while (idx != PF_WHEEL_NONE) {
                uint32_t nx = w->next[idx];
                int64_t due = w->tick[idx];
                if (due <= tick) {
                    pf_wheel_remove(w, idx);
                    fn(ctx, idx, due);
                    calls++;
                }
                idx = nx;
            }
        }
    } while (calls);
}
