/*
 * sched.c — the synthetic scheduler (see sched.h for the model).
 *
 * Consumers live in a dense array (index = order of first appearance), found by thread id
 * through an open-addressing hash table (linear probing, load <= 1/2, doubled when full;
 * entries are never removed). Pending "runs again" changes are an indexed binary min-heap
 * of consumer indices ordered by (due time, thread id), so the next due change is at the
 * top and a consumer's pending change can be replaced or cancelled in O(log n). The dense
 * indices never move, so growing the hash table does not disturb the heap.
 */
#include "sched.h"

#include "../model/common/rng.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_POS UINT32_MAX   /* consumer.heap_pos: nothing pending                       */
#define NONE UINT32_MAX     /* a consumer index that is no consumer                     */
#define INITIAL_CONSUMERS 16u

struct consumer {
    uint64_t thread;   /* its id (any 64-bit value)                                        */
    uint64_t irqs;     /* interrupts counted for it by iommu_sched_before_irq              */
    uint64_t due;      /* when its pending run is due; meaningful only while in the heap   */
    uint32_t cpu;      /* < cpus                                                           */
    uint32_t heap_pos; /* its place in heap[], NO_POS when nothing is pending; a pending
                        * change exists only while state == IOMMU_SCHED_PREEMPT           */
    uint8_t state;     /* enum iommu_sched_state                                           */
};

struct iommu_sched {
    struct iommu_sched_params p;
    struct iommu_rng rng;
    struct consumer *cons; /* [0, ncons) in use, cap allocated                            */
    uint32_t ncons, cap;
    uint32_t *slots;       /* hash table: consumer index + 1, 0 = empty; mask + 1 slots, a
                            * power of two >= 2 * cap                                     */
    uint32_t mask;
    uint32_t *heap;        /* consumer indices, a min-heap by (due, thread); cap entries  */
    uint32_t nheap;
};

void iommu_sched_params_default(struct iommu_sched_params *p)
{
    memset(p, 0, sizeof *p);
    p->cpus = 4;
    p->migrate_every = 0;
    p->vm = false;
    p->p_halted = 0.3;
    p->p_preempted = 0.1;
    p->preempt_ns = 1000000; /* 1 ms */
    p->seed = 1;
}

static bool is_prob(double x)
{
    return x >= 0.0 && x <= 1.0; /* false for NaN */
}

enum iommu_status iommu_sched_params_validate(const struct iommu_sched_params *p, char *reason,
                                              size_t size)
{
    if (p->cpus < 1)
        return iommu_reason_inval(reason, size, "sched: cpus must be >= 1");
    if (!is_prob(p->p_halted))
        return iommu_reason_inval(reason, size, "sched: p_halted %g out of range (0 .. 1)", p->p_halted);
    if (!is_prob(p->p_preempted))
        return iommu_reason_inval(reason, size, "sched: p_preempted %g out of range (0 .. 1)", p->p_preempted);
    if (p->p_halted + p->p_preempted > 1.0 + 1e-12)
        return iommu_reason_inval(reason, size, "sched: p_halted + p_preempted must be <= 1 (%g + %g)",
                   p->p_halted, p->p_preempted);
    if (p->preempt_ns < 1)
        return iommu_reason_inval(reason, size, "sched: preempt_ns must be >= 1");
    return IOMMU_OK;
}

/* ---- consumers: dense array + hash table ------------------------------------------------ */

static uint64_t mix(uint64_t x) /* splitmix64's finalizer: spreads sequential ids */
{
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static uint32_t find(const iommu_sched_t *s, uint64_t thread)
{
    for (uint32_t h = (uint32_t)mix(thread) & s->mask;; h = (h + 1) & s->mask) {
        uint32_t v = s->slots[h];
        if (!v)
            return NONE;
        if (s->cons[v - 1].thread == thread)
            return v - 1;
    }
}

static void slot_insert(uint32_t *slots, uint32_t mask, uint64_t thread, uint32_t index)
{
    uint32_t h = (uint32_t)mix(thread) & mask;
    while (slots[h])
        h = (h + 1) & mask;
    slots[h] = index + 1;
}

/* Doubles the consumer array, the heap and the hash table; false when out of memory (the
 * old tables stay as they were). */
static bool grow(iommu_sched_t *s)
{
    if (s->cap > (UINT32_MAX - 1) / 4)
        return false;
    uint32_t cap = s->cap * 2, mask = cap * 2 - 1;
    struct consumer *cons = realloc(s->cons, (size_t)cap * sizeof *cons);
    if (!cons)
        return false;
    s->cons = cons;
    uint32_t *heap = realloc(s->heap, (size_t)cap * sizeof *heap);
    if (!heap)
        return false;
    s->heap = heap;
    uint32_t *slots = calloc((size_t)mask + 1, sizeof *slots);
    if (!slots)
        return false;
    for (uint32_t i = 0; i < s->ncons; i++)
        slot_insert(slots, mask, s->cons[i].thread, i);
    free(s->slots);
    s->slots = slots;
    s->mask = mask;
    s->cap = cap;
    return true;
}

/* Adds a consumer on CPU thread % cpus, running; NONE when out of memory. */
static uint32_t add(iommu_sched_t *s, uint64_t thread)
{
    if (s->ncons == s->cap && !grow(s))
        return NONE;
    uint32_t i = s->ncons++;
    s->cons[i] = (struct consumer){.thread = thread, .irqs = 0, .due = 0,
                                   .cpu = (uint32_t)(thread % s->p.cpus),
                                   .heap_pos = NO_POS, .state = IOMMU_SCHED_RUN};
    slot_insert(s->slots, s->mask, thread, i);
    return i;
}

/* ---- pending changes: indexed min-heap ------------------------------------------------- */

static bool before(const iommu_sched_t *s, uint32_t a, uint32_t b)
{
    const struct consumer *x = &s->cons[a], *y = &s->cons[b];
    return x->due < y->due || (x->due == y->due && x->thread < y->thread);
}

static void heap_set(iommu_sched_t *s, uint32_t pos, uint32_t c)
{
    s->heap[pos] = c;
    s->cons[c].heap_pos = pos;
}

static void sift_up(iommu_sched_t *s, uint32_t pos)
{
    uint32_t c = s->heap[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (!before(s, c, s->heap[parent]))
            break;
        heap_set(s, pos, s->heap[parent]);
        pos = parent;
    }
    heap_set(s, pos, c);
}

static void sift_down(iommu_sched_t *s, uint32_t pos)
{
    uint32_t c = s->heap[pos];
    for (;;) {
        uint32_t l = 2 * pos + 1, best = pos, bc = c;
        if (l < s->nheap && before(s, s->heap[l], bc))
            best = l, bc = s->heap[l];
        if (l + 1 < s->nheap && before(s, s->heap[l + 1], bc))
            best = l + 1, bc = s->heap[l + 1];
        if (best == pos)
            break;
        heap_set(s, pos, bc);
        pos = best;
    }
    heap_set(s, pos, c);
}

static void heap_remove(iommu_sched_t *s, uint32_t c)
{
    uint32_t pos = s->cons[c].heap_pos;
    if (pos == NO_POS)
        return;
    s->cons[c].heap_pos = NO_POS;
    uint32_t last = s->heap[--s->nheap];
    if (pos == s->nheap)
        return;
    heap_set(s, pos, last);
    sift_down(s, pos);
    sift_up(s, s->cons[last].heap_pos);
}

static void heap_push(iommu_sched_t *s, uint32_t c)
{
    assert(s->cons[c].heap_pos == NO_POS && s->nheap < s->cap);
    s->heap[s->nheap] = c;
    s->cons[c].heap_pos = s->nheap;
    sift_up(s, s->nheap++);
}

/* ---- the model -------------------------------------------------------------------------- */

iommu_sched_t *iommu_sched_create(const struct iommu_sched_params *p)
{
    assert(iommu_sched_params_validate(p, NULL, 0) == IOMMU_OK);
    iommu_sched_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->p = *p;
    iommu_rng_seed(&s->rng, p->seed);
    s->cap = INITIAL_CONSUMERS;
    s->mask = 2 * INITIAL_CONSUMERS - 1;
    s->cons = malloc(s->cap * sizeof *s->cons);
    s->heap = malloc(s->cap * sizeof *s->heap);
    s->slots = calloc((size_t)s->mask + 1, sizeof *s->slots);
    if (!s->cons || !s->heap || !s->slots) {
        iommu_sched_destroy(s);
        return NULL;
    }
    return s;
}

void iommu_sched_destroy(iommu_sched_t *s)
{
    if (!s)
        return;
    free(s->cons);
    free(s->heap);
    free(s->slots);
    free(s);
}

bool iommu_sched_place(iommu_sched_t *s, uint64_t thread, uint32_t cpu)
{
    if (cpu >= s->p.cpus || find(s, thread) != NONE)
        return false;
    const uint32_t i = add(s, thread);
    if (i == NONE)
        return false;
    s->cons[i].cpu = cpu;
    return true;
}

static void sched_event(struct iommu_trace_event *ev, const struct consumer *c)
{
    iommu_trace_event_init(ev, IOMMU_EV_SCHED);
    ev->thread = c->thread;
    ev->cpu = c->cpu;
    ev->state = c->state;
}

unsigned iommu_sched_before_irq(iommu_sched_t *s, uint64_t thread, uint64_t t_ns,
                                struct iommu_trace_event out[4])
{
    unsigned n = 0;
    uint32_t i = find(s, thread);
    if (i == NONE) {
        i = add(s, thread);
        if (i == NONE)
            return 0; /* out of memory: this interrupt's consumer is not modelled */
        sched_event(&out[n++], &s->cons[i]);
    }
    struct consumer *c = &s->cons[i];
    c->irqs++;
    if (s->p.migrate_every && c->irqs % s->p.migrate_every == 0 && s->p.cpus > 1) {
        /* uniform among the other cpus - 1: draw in [0, cpus - 1) and skip the current */
        uint32_t r = iommu_rng_below(&s->rng, s->p.cpus - 1);
        c->cpu = r >= c->cpu ? r + 1 : r;
        sched_event(&out[n++], c);
    }
    if (s->p.vm) {
        double u = iommu_rng_unit(&s->rng);
        uint8_t st = u < s->p.p_halted                     ? IOMMU_SCHED_STOP
                     : u < s->p.p_halted + s->p.p_preempted ? IOMMU_SCHED_PREEMPT
                                                            : IOMMU_SCHED_RUN;
        heap_remove(s, i); /* this draw decides anew */
        if (st == IOMMU_SCHED_PREEMPT && t_ns > 0) {
            uint64_t due = t_ns + s->p.preempt_ns;
            c->due = due < t_ns || due == UINT64_MAX ? UINT64_MAX - 1 : due; /* saturate */
            heap_push(s, i);
        }
        if (st != c->state) {
            c->state = st;
            sched_event(&out[n++], c);
        }
    }
    assert(n <= 3);
    return n;
}

uint64_t iommu_sched_next_due(const iommu_sched_t *s)
{
    return s->nheap ? s->cons[s->heap[0]].due : UINT64_MAX;
}

unsigned iommu_sched_due(iommu_sched_t *s, uint64_t t_ns, struct iommu_trace_event *out,
                         unsigned max)
{
    unsigned n = 0;
    while (n < max && s->nheap && s->cons[s->heap[0]].due <= t_ns) {
        uint32_t i = s->heap[0];
        struct consumer *c = &s->cons[i];
        heap_remove(s, i);
        c->state = IOMMU_SCHED_RUN;
        sched_event(&out[n], c);
        out[n].flags |= IOMMU_EVF_TIME;
        out[n].time_ns = c->due;
        n++;
    }
    return n;
}

void iommu_sched_woken(iommu_sched_t *s, uint64_t thread)
{
    uint32_t i = find(s, thread);
    if (i != NONE && s->cons[i].state == IOMMU_SCHED_STOP)
        s->cons[i].state = IOMMU_SCHED_RUN;
}

bool iommu_sched_where(const iommu_sched_t *s, uint64_t thread, uint32_t *cpu, uint8_t *state)
{
    uint32_t i = find(s, thread);
    if (i == NONE)
        return false;
    if (cpu)
        *cpu = s->cons[i].cpu;
    if (state)
        *state = s->cons[i].state;
    return true;
}
