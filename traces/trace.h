/*
 * trace.h — iommusim trace format v3: events, and streaming readers/writers for its text
 * form (.trace, .trace.gz) and its binary form (.bin). See docs/trace-format.md.
 *
 * Version 2 added the buffer-level events of a host DMA-API model (dma_map, dma_unmap, and
 * dma addressed by buffer handle + offset). Version 3 adds what an interrupt model needs:
 * the `preempt` state of a sched event, and an msi's consumer (`thread=`) and the number of
 * I/Os it completes (`ios=`, coalesced interrupts). Readers accept version 1 and 2 files
 * too (which never hold the newer events); writers write version 3.
 *
 * Both forms carry exactly the same events and convert losslessly both ways. Readers and
 * writers stream: memory use is constant in the trace length. Every error carries the file
 * name and the line (text) or byte offset (binary) where it was found.
 */
#ifndef IOMMU_TRACES_TRACE_H
#define IOMMU_TRACES_TRACE_H

#include "../model/common/status.h"
#include "../model/common/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IOMMU_TRACE_VERSION 3     /* what writers write                          */
#define IOMMU_TRACE_VERSION_MIN 1 /* oldest version readers accept               */

enum iommu_ev_type {
    IOMMU_EV_ATTACH = 1, /* device (sid[, pasid]) joins domain did in a translation mode  */
    IOMMU_EV_DETACH = 2, /* device (sid[, pasid]) leaves its domain                       */
    IOMMU_EV_MAP = 3,    /* did: [iova, iova+len) -> [pa, pa+len), perm, page size, stage */
    IOMMU_EV_UNMAP = 4,  /* did: [iova, iova+len) unmapped                                */
    IOMMU_EV_DMA = 5,    /* sid[, pasid]: access of len bytes at iova                     */
    IOMMU_EV_INV = 6,    /* invalidation request (reserved in v1 replay: parsed, counted) */
    IOMMU_EV_MSI = 7,    /* sid: MSI write addr/data [v3: consumer thread, ios]           */
    IOMMU_EV_IRTE = 8,   /* interrupt-table entry update                                  */
    IOMMU_EV_SCHED = 9,  /* thread/vCPU state on a CPU: run, stop [v3: preempt]           */
    IOMMU_EV_DMA_MAP = 10,   /* v2: driver maps a buffer (one segment) for device sid with
                              * the DMA API: handle, pa, len, perm, [MORE: segments follow] */
    IOMMU_EV_DMA_UNMAP = 11, /* v2: driver unmaps buffer `handle` (all its segments)        */
    IOMMU_EV_NTYPES = 12
};
/* "attach", "detach", ... ; NULL for an unknown type */
const char *iommu_ev_name(unsigned type);
/* Event type of a name ("dma" -> IOMMU_EV_DMA); 0 if unknown. */
unsigned iommu_ev_type_of(const char *name);

/* ATS type of a DMA (PCIe AT field). */
enum iommu_ats_type { IOMMU_ATS_UNTRANSLATED = 0, IOMMU_ATS_TRANSLATION_REQ = 1,
                      IOMMU_ATS_TRANSLATED = 2 };

/* Invalidation request types of an `inv` event. */
enum iommu_inv_type {
    IOMMU_INV_CC_GLOBAL = 1, IOMMU_INV_CC_DOMAIN = 2, IOMMU_INV_CC_DEVICE = 3,
    IOMMU_INV_IOTLB_GLOBAL = 4, IOMMU_INV_IOTLB_DOMAIN = 5, IOMMU_INV_IOTLB_PAGE = 6,
    IOMMU_INV_DEVTLB = 7, IOMMU_INV_IEC_GLOBAL = 8, IOMMU_INV_IEC_INDEX = 9,
    IOMMU_INV_WAIT = 10, IOMMU_INV_PASID_IOTLB = 11, IOMMU_INV_PASID_CACHE = 12,
    IOMMU_INV_NTYPES = 13
};
/* "cc-global", "iotlb-page", ... as written in the text form; NULL for an unknown type. */
const char *iommu_inv_type_name(unsigned inv_type);

/* Optional-field presence flags (iommu_trace_event.flags). */
enum iommu_ev_flags {
    IOMMU_EVF_TIME = 1u << 0,  /* time_ns is set (open-loop replay)           */
    IOMMU_EVF_PASID = 1u << 1, /* pasid is set                                */
    IOMMU_EVF_ALIAS = 1u << 2, /* attach: alias (requester id seen on the bus) */
    IOMMU_EVF_IH = 1u << 3,    /* inv: invalidation hint                      */
    IOMMU_EVF_ADDR = 1u << 4,  /* inv: iova (addr) and am are set: always for iotlb-page
                                * and devtlb, optional for pasid-iotlb (page-selective
                                * within the PASID), never for other types              */
    IOMMU_EVF_HANDLE = 1u << 5, /* v2, dma: addressed by buffer: handle is set and iova
                                 * holds the byte offset into the buffer's mapped range */
    IOMMU_EVF_MORE = 1u << 6,   /* v2, dma_map: a scatter-gather segment; more segments
                                 * of the same handle and sid follow                    */
    IOMMU_EVF_THREAD = 1u << 7, /* v3, msi: thread is set (the interrupt's consumer)    */
};
#define IOMMU_EVF_ALL 0xFFu /* every defined flag bit */

/* sched: the state of a thread or vCPU (iommu_trace_event.state; text `state=`). */
enum iommu_sched_state {
    IOMMU_SCHED_STOP = 0,    /* blocked or halted: waits for an event (a vCPU executed HLT) */
    IOMMU_SCHED_RUN = 1,     /* runs on `cpu`                                              */
    IOMMU_SCHED_PREEMPT = 2, /* v3: runnable, but descheduled on `cpu` (another task runs) */
};

/*
 * One event. Which fields an event uses (others are zero, except pasid, which is
 * IOMMU_PASID_NONE whenever IOMMU_EVF_PASID is clear; every event may carry [time_ns]):
 *  attach: sid, did, mode (enum iommu_xlat_mode), [pasid], [alias]
 *  detach: sid, [pasid]
 *  map:    did, iova, pa, len, perm (R/W/X bits), page_shift (12/21/30), stage (0 = the
 *          domain's translation stage, 1 = first level, 2 = second level)
 *  unmap:  did, iova, len, stage
 *  dma:    sid, iova, len, access (exactly one of R/W, optional X (reads only) and PRIV),
 *          ats, [pasid]. sid is the device's own id (the IOMMU sees the attach alias if any).
 *          With IOMMU_EVF_HANDLE (v2): handle, and iova is the byte offset into the
 *          buffer's mapped IOVA range (the replay adds the buffer's IOVA once mapped)
 *  inv:    inv_type, and by type: did, sid, iova (addr) + am, index + am, [pasid], [IH]
 *          (the table in docs/trace-format.md; IOMMU_EVF_ADDR marks addr/am)
 *  msi:    sid, pa (address, inside the interrupt range), data, ios (>= 1; 1 when the
 *          text has no `ios=`), [thread with IOMMU_EVF_THREAD (v3)]. ios != 1 or a
 *          thread make it a version-3 event
 *  irte:   index, lo, hi
 *  sched:  thread, cpu, state (enum iommu_sched_state; IOMMU_SCHED_PREEMPT is v3)
 *  dma_map:   sid, handle, pa, len (bytes, any alignment, >= 1), access (perm: R, W or
 *             R|W; R = the device reads the buffer, DMA_TO_DEVICE), cpu, [MORE]
 *  dma_unmap: handle, cpu
 */
struct iommu_trace_event {
    uint8_t type;       /* enum iommu_ev_type */
    uint8_t flags;      /* enum iommu_ev_flags */
    uint8_t access;     /* dma: access bits; map, dma_map: permission bits */
    uint8_t page_shift; /* map */
    uint8_t mode;       /* attach: translation mode */
    uint8_t stage;      /* map/unmap */
    uint8_t ats;        /* dma */
    uint8_t inv_type;   /* inv */
    uint8_t am;         /* inv: address mask (2^am pages) */
    uint8_t state;      /* sched */
    iommu_sid_t sid;
    iommu_sid_t alias;  /* attach: requester id the device's DMA carries (behind a bridge) */
    iommu_did_t did;
    iommu_pasid_t pasid;
    uint32_t data;      /* msi: data */
    union {             /* (one 32-bit word: no event type uses both; the struct stays 96 bytes) */
        uint32_t index; /* irte / inv iec-index: interrupt index */
        uint32_t ios;   /* msi: I/Os completed (>= 1; readers set 1 when absent, and so does
                         * iommu_trace_event_init for an msi) */
    };
    uint32_t cpu;       /* sched; dma_map/dma_unmap: CPU running the driver */
    uint64_t thread;    /* sched; msi with IOMMU_EVF_THREAD: the consumer (the thread or
                         * vCPU that handles the interrupt, as in `sched thread=`) */
    uint64_t time_ns;
    uint64_t iova;
    uint64_t pa;
    uint64_t len;
    uint64_t lo, hi;    /* irte: the two 64-bit halves */
    uint64_t handle;    /* dma_map / dma_unmap / dma with IOMMU_EVF_HANDLE: buffer id   */
};

/* Zeroes *ev, sets its type and pasid = IOMMU_PASID_NONE (and ios = 1 for an msi): the
 * start of every event. */
void iommu_trace_event_init(struct iommu_trace_event *ev, unsigned type);
/* Checks that ev is a valid event: known type, flags that apply to it, every field it uses
 * in range (docs/trace-format.md lists the rules). Fields its type does not use are
 * ignored. 0 if valid; -1 with a one-line reason ("map: len must be > 0") otherwise. */
int iommu_trace_event_check(const struct iommu_trace_event *ev, char *reason, size_t size);
/* The canonical copy of ev: fields its type does not use cleared, pasid NONE without
 * IOMMU_EVF_PASID. Readers return canonical events; writers write only the used fields. */
void iommu_trace_event_canon(struct iommu_trace_event *dst, const struct iommu_trace_event *src);
/* true if a and b are the same event (compares the canonical forms). */
bool iommu_trace_event_equal(const struct iommu_trace_event *a, const struct iommu_trace_event *b);
/* The oldest format version that has ev: 3 for an msi with IOMMU_EVF_THREAD or ios != 1
 * and a sched with state IOMMU_SCHED_PREEMPT; 2 for dma_map, dma_unmap and a dma with
 * IOMMU_EVF_HANDLE; 1 for everything else. A file holding an event newer than its version
 * is malformed (readers reject it). */
unsigned iommu_trace_event_version(const struct iommu_trace_event *ev);

/* Where an error was found; msg is one line: "FILE:LINE: reason" or "FILE: offset N: reason". */
struct iommu_trace_error {
    char msg[512];
};

typedef struct iommu_trace_reader iommu_trace_reader_t;
typedef struct iommu_trace_writer iommu_trace_writer_t;

enum iommu_trace_form { IOMMU_TRACE_TEXT = 0, IOMMU_TRACE_BINARY = 1 };
/* Form chosen by the file name: ".bin" is binary; ".trace" and ".trace.gz" are text; any
 * other name is an error (returns -1). */
int iommu_trace_form_of(const char *path);

/* Opens for reading (form by extension; a binary file is checked for its magic and version;
 * "-" reads text from standard input). NULL with err filled on failure. */
iommu_trace_reader_t *iommu_trace_open(const char *path, struct iommu_trace_error *err);
/* 1: *ev filled; 0: end of trace; -1: error (err filled). After an error the reader stays
 * in error. */
int iommu_trace_next(iommu_trace_reader_t *r, struct iommu_trace_event *ev,
                     struct iommu_trace_error *err);
/* Line (text) or byte offset (binary) of the last event returned, for callers' messages. */
uint64_t iommu_trace_position(const iommu_trace_reader_t *r);
const char *iommu_trace_path(const iommu_trace_reader_t *r);
void iommu_trace_close(iommu_trace_reader_t *r); /* accepts NULL */
/* Reads a trace held in memory (form given, not guessed; `name` is used in messages). The
 * memory must stay valid until close. Used by tests and the fuzz target. */
iommu_trace_reader_t *iommu_trace_open_mem(const void *data, size_t size,
                                           enum iommu_trace_form form, const char *name,
                                           struct iommu_trace_error *err);
/* Events returned so far. */
uint64_t iommu_trace_count(const iommu_trace_reader_t *r);
/* Format version of the trace being read: the binary header's, the text header's, or
 * IOMMU_TRACE_VERSION for a text trace without a header. */
unsigned iommu_trace_version(const iommu_trace_reader_t *r);

/* Creates for writing (form by extension; ".trace.gz" is gzip-compressed; "-" writes text to
 * standard output). */
iommu_trace_writer_t *iommu_trace_create(const char *path, struct iommu_trace_error *err);
/* Writes one event; returns IOMMU_ERR_INVAL for an event that is not valid (fields out of
 * range; nothing is written and the writer stays usable), IOMMU_ERR_IO on a write error
 * (every later call fails too). Fields the event's type does not use are ignored. */
enum iommu_status iommu_trace_write(iommu_trace_writer_t *w, const struct iommu_trace_event *ev,
                                    struct iommu_trace_error *err);
/* Events written so far. */
uint64_t iommu_trace_written(const iommu_trace_writer_t *w);
/* Flushes and closes; returns the first error seen (IOMMU_OK otherwise). Accepts NULL. */
enum iommu_status iommu_trace_finish(iommu_trace_writer_t *w, struct iommu_trace_error *err);

/* Parses one text line (without its newline) into ev. Returns 1 for an event, 0 for a blank
 * or comment line, -1 for an error with the reason (no file/line prefix) in reason[]. Used by
 * the reader and by the fuzz target. */
int iommu_trace_parse_line(const char *line, size_t len, struct iommu_trace_event *ev,
                           char *reason, size_t reason_size);
/* Formats ev as one text line (no newline) into buf; returns the length, or -1 if the event
 * is invalid or buf too small. */
int iommu_trace_format_line(const struct iommu_trace_event *ev, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
