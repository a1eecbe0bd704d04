/*
 * irq_gen.c — the synthetic interrupt-stream generator (see irq_gen.h for the model).
 *
 * Each vector is a stream that knows its next interrupt (time, ios), computed ahead from
 * its own arrivals: an nvme vector collects completions until the threshold or the time
 * limit, a nic RX vector counts the packets of its poll window, a nic TX vector counts
 * tx_batch packets. A binary min-heap of the streams by (time, vector) merges them; after
 * a stream's interrupt is written, the stream computes its next one and sinks into place.
 */
#include "irq_gen.h"

#include "../model/irq_remap/irte.h"
#include "../model/irq_remap/msi.h"
#include "sched.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NVME_RATE_DEFAULT 200000.0  /* completions per second per queue (estimate)        */
#define NIC_RATE_DEFAULT 1000000.0  /* packets per second per queue, RX and TX (estimate) */
#define COALESCE_NS_DEFAULT 100000u /* one NVMe Aggregation Time unit: 100 us             */
#define TIME_LIMIT (1ull << 63)     /* timestamps stay below 2^63 ns (292 years)          */

void iommu_irq_gen_params_default(struct iommu_irq_gen_params *p)
{
    memset(p, 0, sizeof *p);
    p->pattern = IOMMU_IRQ_NVME;
    p->count = 0;
    p->cpus = 4;
    p->queues = 0;
    p->migrate_every = 0;
    p->vm = false;
    p->p_halted = 0.3;
    p->p_preempted = 0.1;
    p->preempt_ns = 1000000;
    p->coalesce = 1;
    p->coalesce_ns = IOMMU_IRQ_GEN_AUTO;
    p->rate = 0;
    p->napi_ns = 20000;
    p->tx_batch = 32;
    p->seed = 1;
}

uint32_t iommu_irq_gen_queues(const struct iommu_irq_gen_params *p)
{
    return p->queues ? p->queues : p->cpus;
}

double iommu_irq_gen_rate(const struct iommu_irq_gen_params *p)
{
    if (p->rate != 0)
        return p->rate;
    return p->pattern == IOMMU_IRQ_NIC ? NIC_RATE_DEFAULT : NVME_RATE_DEFAULT;
}

uint64_t iommu_irq_gen_coalesce_ns(const struct iommu_irq_gen_params *p)
{
    if (p->coalesce_ns != IOMMU_IRQ_GEN_AUTO)
        return p->coalesce_ns;
    return p->coalesce > 1 ? COALESCE_NS_DEFAULT : 0;
}

uint32_t iommu_irq_gen_vectors(const struct iommu_irq_gen_params *p)
{
    uint32_t q = iommu_irq_gen_queues(p);
    return p->pattern == IOMMU_IRQ_NIC ? 2 * q : q;
}

static void sched_params_of(const struct iommu_irq_gen_params *p, struct iommu_sched_params *s)
{
    iommu_sched_params_default(s);
    s->cpus = p->cpus;
    s->migrate_every = p->migrate_every;
    s->vm = p->vm;
    s->p_halted = p->p_halted;
    s->p_preempted = p->p_preempted;
    s->preempt_ns = p->preempt_ns;
    s->seed = p->seed;
}

enum iommu_status iommu_irq_gen_params_validate(const struct iommu_irq_gen_params *p,
                                                char *reason, size_t size)
{
    if (p->pattern != IOMMU_IRQ_NVME && p->pattern != IOMMU_IRQ_NIC)
        return iommu_reason_inval(reason, size, "pattern %u unknown (nvme or nic)", p->pattern);
    if (p->count == 0)
        return iommu_reason_inval(reason, size, "count must be >= 1");
    if (p->cpus < 1 || p->cpus > IOMMU_IRQ_GEN_CPUS_MAX)
        return iommu_reason_inval(reason, size, "cpus %u out of range (1 .. %u)", p->cpus, IOMMU_IRQ_GEN_CPUS_MAX);
    if (iommu_irq_gen_queues(p) > IOMMU_IRQ_GEN_QUEUES_MAX)
        return iommu_reason_inval(reason, size, "queues %u out of range (1 .. %u)", iommu_irq_gen_queues(p),
                   IOMMU_IRQ_GEN_QUEUES_MAX);
    struct iommu_sched_params sp;
    sched_params_of(p, &sp);
    enum iommu_status st = iommu_sched_params_validate(&sp, reason, size);
    if (st != IOMMU_OK)
        return st;
    if (p->coalesce < 1 || p->coalesce > IOMMU_IRQ_GEN_COALESCE_MAX)
        return iommu_reason_inval(reason, size, "coalesce %u out of range (1 .. %u)", p->coalesce,
                   IOMMU_IRQ_GEN_COALESCE_MAX);
    if (p->coalesce_ns != IOMMU_IRQ_GEN_AUTO && p->coalesce_ns > IOMMU_IRQ_GEN_COALESCE_NS_MAX)
        return iommu_reason_inval(reason, size, "coalesce_ns %llu out of range (0 .. %llu)",
                   (unsigned long long)p->coalesce_ns, IOMMU_IRQ_GEN_COALESCE_NS_MAX);
    if (p->rate != 0 && !(p->rate >= 1 && p->rate <= IOMMU_IRQ_GEN_RATE_MAX))
        return iommu_reason_inval(reason, size, "rate %g out of range (1 .. 1e9 per second)", p->rate);
    if (p->napi_ns > IOMMU_IRQ_GEN_NAPI_NS_MAX)
        return iommu_reason_inval(reason, size, "napi_ns %llu out of range (0 .. %llu)",
                   (unsigned long long)p->napi_ns, IOMMU_IRQ_GEN_NAPI_NS_MAX);
    if (p->tx_batch < 1 || p->tx_batch > IOMMU_IRQ_GEN_TX_BATCH_MAX)
        return iommu_reason_inval(reason, size, "tx_batch %u out of range (1 .. %u)", p->tx_batch,
                   IOMMU_IRQ_GEN_TX_BATCH_MAX);
    return IOMMU_OK;
}

/* ---- arrivals ------------------------------------------------------------------------- */

void iommu_irq_arrivals_init(struct iommu_irq_arrivals *a, uint64_t seed, uint32_t vector,
                             double rate)
{
    iommu_rng_seed(&a->rng, seed ^ ((uint64_t)vector + 1) * 0x9E3779B97F4A7C15ull);
    a->mean_ns = 1e9 / rate;
    a->t = 0;
}

uint64_t iommu_irq_arrivals_next(struct iommu_irq_arrivals *a)
{
    double u = iommu_rng_unit(&a->rng); /* [0, 1): -log1p(-u) is finite */
    a->t += -log1p(-u) * a->mean_ns;
    if (a->t >= 18446744073709549568.0) /* the largest double below 2^64 */
        return UINT64_MAX;
    uint64_t whole = (uint64_t)a->t;
    return whole == UINT64_MAX ? UINT64_MAX : whole + 1;
}

/* ---- streams -------------------------------------------------------------------------- */

enum { K_NVME, K_RX, K_TX };

struct stream {
    struct iommu_irq_arrivals arr;
    uint64_t next_arr; /* the first arrival not yet part of an interrupt                   */
    uint64_t irq_t;    /* the stream's next interrupt: its time ...                         */
    uint32_t irq_ios;  /* ... and the I/Os it completes (>= 1)                              */
    uint32_t vector;   /* its index in the streams, the IRTE index and the MSI handle       */
    uint32_t queue;    /* its consumer: thread `queue`                                      */
    uint8_t kind;
};

/* Computes s's next interrupt from its arrivals (the arrivals it covers are consumed). */
static void stream_advance(struct stream *s, uint32_t coalesce, uint64_t coalesce_ns,
                           uint64_t napi_ns, uint32_t tx_batch)
{
    uint64_t first = s->next_arr;
    s->next_arr = iommu_irq_arrivals_next(&s->arr);
    switch (s->kind) {
    case K_NVME: {
        /* the first pending completion is `first`; more join until the threshold, or the
         * time limit passes first (an arrival exactly at the limit still joins) */
        uint32_t pending = 1;
        uint64_t last = first;
        uint64_t deadline = coalesce_ns && first <= UINT64_MAX - coalesce_ns
                                ? first + coalesce_ns : UINT64_MAX;
        while (pending < coalesce) {
            if (coalesce_ns && s->next_arr > deadline) {
                s->irq_t = deadline;
                s->irq_ios = pending;
                return;
            }
            last = s->next_arr;
            pending++;
            s->next_arr = iommu_irq_arrivals_next(&s->arr);
        }
        s->irq_t = last;
        s->irq_ios = pending;
        return;
    }
    case K_RX: {
        /* NAPI: the interrupt at the first packet; the poll window [first, first + napi)
         * takes every packet arriving in it */
        uint64_t end = first <= UINT64_MAX - napi_ns ? first + napi_ns : UINT64_MAX;
        uint32_t ios = 1;
        while (s->next_arr < end && ios < UINT32_MAX) {
            ios++;
            s->next_arr = iommu_irq_arrivals_next(&s->arr);
        }
        s->irq_t = first;
        s->irq_ios = ios;
        return;
    }
    default: { /* K_TX: one interrupt per tx_batch packets, at the last one */
        uint64_t last = first;
        for (uint32_t k = 1; k < tx_batch; k++) {
            last = s->next_arr;
            s->next_arr = iommu_irq_arrivals_next(&s->arr);
        }
        s->irq_t = last;
        s->irq_ios = tx_batch;
        return;
    }
    }
}

static bool stream_before(const struct stream *a, const struct stream *b)
{
    return a->irq_t < b->irq_t || (a->irq_t == b->irq_t && a->vector < b->vector);
}

static void heap_sift_down(struct stream **h, uint32_t n, uint32_t pos)
{
    struct stream *x = h[pos];
    for (;;) {
        uint32_t l = 2 * pos + 1, best = pos;
        struct stream *bx = x;
        if (l < n && stream_before(h[l], bx))
            best = l, bx = h[l];
        if (l + 1 < n && stream_before(h[l + 1], bx))
            best = l + 1, bx = h[l + 1];
        if (best == pos)
            break;
        h[pos] = bx;
        pos = best;
    }
    h[pos] = x;
}

/* ---- the generator -------------------------------------------------------------------- */

struct gen {
    iommu_trace_writer_t *w;
    struct iommu_trace_error *err;
    enum iommu_status st;
};

static bool put(struct gen *g, struct iommu_trace_event *ev, uint64_t t)
{
    ev->flags |= IOMMU_EVF_TIME;
    ev->time_ns = t;
    g->st = iommu_trace_write(g->w, ev, g->err);
    return g->st == IOMMU_OK;
}

static enum iommu_status fail(struct iommu_trace_error *err, enum iommu_status st,
                              const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}

enum iommu_status iommu_trace_gen_irq(const struct iommu_irq_gen_params *p,
                                      iommu_trace_writer_t *w, struct iommu_trace_error *err)
{
    char reason[256];
    if (iommu_irq_gen_params_validate(p, reason, sizeof reason) != IOMMU_OK)
        return fail(err, IOMMU_ERR_INVAL, "gen irq: %s", reason);
    const bool nic = p->pattern == IOMMU_IRQ_NIC;
    const iommu_sid_t sid = nic ? IOMMU_IRQ_GEN_NIC_SID : IOMMU_IRQ_GEN_NVME_SID;
    const uint32_t queues = iommu_irq_gen_queues(p), nvec = iommu_irq_gen_vectors(p);
    const double rate = iommu_irq_gen_rate(p);
    const uint64_t coalesce_ns = iommu_irq_gen_coalesce_ns(p);
    struct iommu_sched_params sp;
    sched_params_of(p, &sp);

    struct stream *streams = calloc(nvec, sizeof *streams);
    struct stream **heap = calloc(nvec, sizeof *heap);
    iommu_sched_t *sched = iommu_sched_create(&sp);
    if (!streams || !heap || !sched) {
        free(streams);
        free(heap);
        iommu_sched_destroy(sched);
        return fail(err, IOMMU_ERR_NOMEM, "gen irq: out of memory");
    }
    struct gen g = {w, err, IOMMU_OK};
    struct iommu_trace_event ev;

    /* set-up at t = 0: the remapping table, its invalidations, the consumers' placement */
    for (uint32_t i = 0; i < nvec && g.st == IOMMU_OK; i++) {
        uint32_t q = nic ? i / 2 : i;
        struct iommu_irte e;
        memset(&e, 0, sizeof e);
        e.p = true;
        e.vector = (uint8_t)(IOMMU_IRQ_GEN_VECTOR_BASE +
                             i % (IOMMU_IRQ_GEN_VECTOR_LAST - IOMMU_IRQ_GEN_VECTOR_BASE + 1));
        e.dlm = 0;   /* fixed */
        e.dm = false; /* physical */
        e.dst = iommu_irte_dst_field(q % p->cpus, false);
        e.svt = IOMMU_IRTE_SVT_SID;
        e.sq = IOMMU_IRTE_SQ_ALL;
        e.sid = sid;
        uint64_t raw[2];
        iommu_irte_encode(&e, raw);
        iommu_trace_event_init(&ev, IOMMU_EV_IRTE);
        ev.index = i;
        ev.lo = raw[0];
        ev.hi = raw[1];
        if (!put(&g, &ev, 0))
            break;
        iommu_trace_event_init(&ev, IOMMU_EV_INV);
        ev.inv_type = IOMMU_INV_IEC_INDEX;
        ev.index = i;
        ev.am = 0;
        put(&g, &ev, 0);
    }
    if (g.st == IOMMU_OK) {
        iommu_trace_event_init(&ev, IOMMU_EV_INV);
        ev.inv_type = IOMMU_INV_WAIT;
        put(&g, &ev, 0);
    }
    for (uint32_t q = 0; q < queues && g.st == IOMMU_OK; q++) {
        iommu_trace_event_init(&ev, IOMMU_EV_SCHED);
        ev.thread = q;
        ev.cpu = q % p->cpus;
        ev.state = IOMMU_SCHED_RUN;
        put(&g, &ev, 0);
    }

    /* the streams, each with its first interrupt, in a heap by (time, vector) */
    for (uint32_t i = 0; i < nvec; i++) {
        struct stream *s = &streams[i];
        s->vector = i;
        s->queue = nic ? i / 2 : i;
        s->kind = !nic ? K_NVME : (i % 2 ? K_TX : K_RX);
        iommu_irq_arrivals_init(&s->arr, p->seed, i, rate);
        s->next_arr = iommu_irq_arrivals_next(&s->arr);
        stream_advance(s, p->coalesce, coalesce_ns, p->napi_ns, p->tx_batch);
        heap[i] = s;
    }
    for (uint32_t i = nvec / 2; i-- > 0;)
        heap_sift_down(heap, nvec, i);

    struct iommu_trace_event out[8];
    for (uint64_t n = 0; n < p->count && g.st == IOMMU_OK; n++) {
        struct stream *s = heap[0];
        uint64_t t = s->irq_t;
        if (t >= TIME_LIMIT) {
            g.st = fail(err, IOMMU_ERR_INVAL,
                        "gen irq: timestamps pass 2^63 ns after %llu interrupts (raise the "
                        "rate or lower the count)", (unsigned long long)n);
            break;
        }
        /* the scheduler's pending changes due by now, at their own times */
        unsigned k;
        while (g.st == IOMMU_OK && (k = iommu_sched_due(sched, t, out, 8)) > 0)
            for (unsigned j = 0; j < k && g.st == IOMMU_OK; j++)
                put(&g, &out[j], out[j].time_ns);
        /* its changes before this interrupt; the placement repeats the set-up's event */
        bool placed = iommu_sched_where(sched, s->queue, NULL, NULL);
        k = iommu_sched_before_irq(sched, s->queue, t, out);
        for (unsigned j = placed ? 0 : 1; j < k && g.st == IOMMU_OK; j++)
            put(&g, &out[j], t);
        if (g.st != IOMMU_OK)
            break;
        iommu_trace_event_init(&ev, IOMMU_EV_MSI);
        ev.sid = sid;
        ev.pa = iommu_msi_addr_remappable((uint16_t)s->vector, false);
        ev.data = 0;
        ev.flags = IOMMU_EVF_THREAD;
        ev.thread = s->queue;
        ev.ios = s->irq_ios;
        if (!put(&g, &ev, t))
            break;
        uint8_t state;
        if (iommu_sched_where(sched, s->queue, NULL, &state) && state == IOMMU_SCHED_STOP)
            iommu_sched_woken(sched, s->queue); /* the interrupt wakes the halted vCPU */
        stream_advance(s, p->coalesce, coalesce_ns, p->napi_ns, p->tx_batch);
        heap_sift_down(heap, nvec, 0);
    }
    free(streams);
    free(heap);
    iommu_sched_destroy(sched);
    return g.st;
}
