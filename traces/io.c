/*
 * io.c — streaming trace readers and writers for both forms: text (.trace, gzip .trace.gz,
 * "-" for stdin/stdout) and binary (.bin), plus reading a trace held in memory.
 *
 * Workload: traces of 10^7-10^8 events, read once front to back. Memory is constant in the
 * trace length: one fixed buffer per reader/writer (1 MiB), refilled in big reads; lines
 * are parsed in place and records decoded in place. Every error names the file and the
 * line (text) or the byte offset of the record (binary), on one line.
 *
 * Versions: readers take version 1, 2 and 3 files (the header says which; a text file
 * without a header is the current version) and reject an event newer than its file (a
 * dma_map in a version-1 file, a sched state=preempt in a version-2 file); writers write
 * version 3.
 *
 * iommu_trace_next is a small fast path (a binary reader with a whole record buffered
 * decodes a dma record inline, trace_impl.h) in front of next_other (dma records with a
 * timestamp or pasid, out of line) and next_slow (everything else, every error): the fast
 * path is what a replay loop runs 10^8 times, so it stays small enough to inline.
 */
#define _POSIX_C_SOURCE 200809L /* dup, close */
#include "trace_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define BUF_SIZE (1u << 20)         /* reader/writer buffer                     */
#define LINE_MAX_LEN (64u << 10)    /* longest text line accepted               */
#define TEXT_HEADER "# iommusim trace v3" /* "v" IOMMU_TRACE_VERSION */
_Static_assert(IOMMU_TRACE_VERSION == 3, "TEXT_HEADER names the version writers write");
#define TEXT_HEADER_PREFIX "# iommusim trace"

static void seterr(struct iommu_trace_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && !strcmp(s + n - m, suffix);
}

int iommu_trace_form_of(const char *path)
{
    if (!strcmp(path, "-"))
        return IOMMU_TRACE_TEXT;
    if (ends_with(path, ".bin"))
        return IOMMU_TRACE_BINARY;
    if (ends_with(path, ".trace") || ends_with(path, ".trace.gz"))
        return IOMMU_TRACE_TEXT;
    return -1;
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* ---- reader --------------------------------------------------------------------------- */

enum src_kind { SRC_GZ, SRC_FILE, SRC_MEM };

struct iommu_trace_reader {
    /* first, together: all the fast path of iommu_trace_next touches. While it runs, cur
     * (not start) is the read position and last (not pos) marks the last event; next_slow
     * brings start and pos up to date before the general code runs. */
    const uint8_t *cur;      /* buf + start                                           */
    const uint8_t *fast_lim; /* cur < fast_lim: MAXREC bytes are buffered at cur and the
                              * binary reader is neither failed nor ended; buf (never
                              * true) otherwise                                        */
    const uint8_t *last;     /* binary: the last event's record if the fast path
                              * returned it, else NULL (pos has its offset)           */
    uint64_t count;          /* events returned                                       */
    struct iommu_bin_state bin;

    char *buf;           /* buf[start, end) holds unread bytes; cap bytes allocated   */
    size_t start, end;
    uint64_t buf_off;    /* file offset of buf[0]                                      */
    uint64_t pos;        /* text: line of the last event; binary: its offset           */
    int form;            /* enum iommu_trace_form                                     */
    enum src_kind src;
    char *path;          /* for messages ("-" shown as "<stdin>")                     */
    gzFile gz;           /* SRC_GZ: text files and stdin (gzip or plain)              */
    FILE *file;          /* SRC_FILE: binary files                                    */
    const uint8_t *mem;  /* SRC_MEM                                                   */
    size_t mem_size, mem_pos;
    size_t cap;
    bool eof;            /* the source has no more bytes                               */
    bool failed;         /* an error was returned; every later call fails again        */
    bool ended;          /* binary: end record seen                                    */
    char errmsg[sizeof(((struct iommu_trace_error *)0)->msg)];
    uint64_t line;       /* text: lines consumed so far                                */
    unsigned version;    /* format version of the file (header; text without one: current) */
};

/* Sets fast_lim after anything that changes the buffer or the reader's state. */
static void update_fast(iommu_trace_reader_t *r)
{
    bool on = IOMMU_BIN_FAST && r->form == IOMMU_TRACE_BINARY && !r->failed && !r->ended &&
              r->end >= IOMMU_TRACE_BIN_MAXREC;
    r->fast_lim = (const uint8_t *)r->buf + (on ? r->end - IOMMU_TRACE_BIN_MAXREC + 1 : 0);
}

/* Reads up to n bytes into dst; returns bytes read, 0 at end, -1 on a read error (msg). */
static long src_read(iommu_trace_reader_t *r, void *dst, size_t n, char *msg, size_t msz)
{
    switch (r->src) {
    case SRC_MEM: {
        size_t k = r->mem_size - r->mem_pos;
        if (k > n)
            k = n;
        memcpy(dst, r->mem + r->mem_pos, k);
        r->mem_pos += k;
        return (long)k;
    }
    case SRC_FILE: {
        size_t k = fread(dst, 1, n, r->file);
        if (k < n && ferror(r->file)) {
            snprintf(msg, msz, "read error: %s", strerror(errno));
            return -1;
        }
        return (long)k;
    }
    case SRC_GZ: {
        /* bytes read before an error are returned first; the error comes with the next
         * read, so the lines before a damaged spot still parse and the message names the
         * line where the data stops */
        int k = gzread(r->gz, dst, (unsigned)n);
        if (k > 0)
            return k;
        int errnum = Z_OK;
        const char *zmsg = gzerror(r->gz, &errnum);
        if (k < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
            if (errnum == Z_ERRNO) {
                snprintf(msg, msz, "read error: %s", strerror(errno));
            } else {
                /* zlib prefixes its messages with the path; we name the file ourselves */
                size_t pl = strlen(r->path);
                if (zmsg && !strncmp(zmsg, r->path, pl) && !strncmp(zmsg + pl, ": ", 2))
                    zmsg += pl + 2;
                snprintf(msg, msz, "gzip: %s", zmsg ? zmsg : "read error");
            }
            return -1;
        }
        return 0;
    }
    }
    return -1;
}

/* Moves unread bytes to the front and reads more; -1 on a read error (errmsg set). */
static int refill(iommu_trace_reader_t *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->buf_off += r->start;
        r->end -= r->start;
        r->start = 0;
    }
    while (!r->eof && r->end < r->cap) {
        char msg[300];
        long k = src_read(r, r->buf + r->end, r->cap - r->end, msg, sizeof msg);
        if (k < 0) {
            if (r->form == IOMMU_TRACE_TEXT)
                snprintf(r->errmsg, sizeof r->errmsg, "%s:%llu: %s", r->path,
                         (unsigned long long)(r->line + 1), msg);
            else
                snprintf(r->errmsg, sizeof r->errmsg, "%s: offset %llu: %s", r->path,
                         (unsigned long long)(r->buf_off + r->end), msg);
            return -1;
        }
        if (k == 0)
            r->eof = true;
        r->end += (size_t)k;
        if (r->form == IOMMU_TRACE_TEXT)
            break; /* a text reader needs only one more line; don't block on a pipe */
    }
    update_fast(r);
    return 0;
}

static int reader_fail(iommu_trace_reader_t *r, struct iommu_trace_error *err)
{
    r->failed = true;
    update_fast(r);
    seterr(err, "%s", r->errmsg);
    return -1;
}

static int check_bin_header(iommu_trace_reader_t *r)
{
    while (r->end < IOMMU_TRACE_BIN_HDR && !r->eof)
        if (refill(r))
            return -1;
    const uint8_t *h = (const uint8_t *)r->buf;
    size_t have = r->end;
    size_t cmp = have < 8 ? have : 8;
    if (memcmp(h, IOMMU_TRACE_BIN_MAGIC, cmp) || have == 0) {
        if (have == 0)
            snprintf(r->errmsg, sizeof r->errmsg, "%s: offset 0: empty file, not a binary trace",
                     r->path);
        else if (have >= 2 && h[0] == '#')
            snprintf(r->errmsg, sizeof r->errmsg,
                     "%s: not an iommusim binary trace (bad magic; a text trace? name it .trace)",
                     r->path);
        else if (have >= 2 && h[0] == 0x1f && h[1] == 0x8b)
            snprintf(r->errmsg, sizeof r->errmsg,
                     "%s: not an iommusim binary trace (bad magic; gzip data? name it .trace.gz)",
                     r->path);
        else
            snprintf(r->errmsg, sizeof r->errmsg, "%s: not an iommusim binary trace (bad magic)",
                     r->path);
        return -1;
    }
    if (have < IOMMU_TRACE_BIN_HDR) {
        snprintf(r->errmsg, sizeof r->errmsg, "%s: offset %zu: truncated header", r->path, have);
        return -1;
    }
    unsigned version = h[8] | h[9] << 8, hflags = h[10] | h[11] << 8;
    if (version < IOMMU_TRACE_VERSION_MIN || version > IOMMU_TRACE_VERSION) {
        snprintf(r->errmsg, sizeof r->errmsg,
                 "%s: unsupported binary trace version %u (this build reads versions %u to %u)",
                 r->path, version, IOMMU_TRACE_VERSION_MIN, IOMMU_TRACE_VERSION);
        return -1;
    }
    if (hflags || h[12] || h[13] || h[14] || h[15]) {
        snprintf(r->errmsg, sizeof r->errmsg,
                 "%s: offset 10: unsupported header flags (reserved, must be zero in version %u)",
                 r->path, version);
        return -1;
    }
    r->version = version;
    r->bin.version = version; /* the msi record's layout depends on it */
    r->start = IOMMU_TRACE_BIN_HDR;
    r->cur = (const uint8_t *)r->buf + r->start;
    return 0;
}

static iommu_trace_reader_t *reader_new(int form, const char *name, size_t cap,
                                        struct iommu_trace_error *err)
{
    iommu_trace_reader_t *r = calloc(1, sizeof *r);
    if (r) {
        r->form = form;
        r->path = dupstr(name);
        r->cap = cap;
        r->buf = malloc(r->cap);
    }
    if (!r || !r->path || !r->buf) {
        seterr(err, "%s: out of memory", name);
        iommu_trace_close(r);
        return NULL;
    }
    r->cur = r->fast_lim = (const uint8_t *)r->buf; /* fast path off until the header */
    r->version = IOMMU_TRACE_VERSION; /* text without a header; a header overrides it */
    return r;
}

static iommu_trace_reader_t *reader_start(iommu_trace_reader_t *r,
                                          struct iommu_trace_error *err)
{
    if (r->form == IOMMU_TRACE_BINARY && check_bin_header(r)) {
        seterr(err, "%s", r->errmsg);
        iommu_trace_close(r);
        return NULL;
    }
    return r;
}

iommu_trace_reader_t *iommu_trace_open(const char *path, struct iommu_trace_error *err)
{
    int form = iommu_trace_form_of(path);
    if (form < 0) {
        seterr(err, "%s: unknown trace file extension (expected .trace, .trace.gz or .bin)",
               path);
        return NULL;
    }
    bool in = !strcmp(path, "-");
    iommu_trace_reader_t *r = reader_new(form, in ? "<stdin>" : path, BUF_SIZE, err);
    if (!r)
        return NULL;
    if (form == IOMMU_TRACE_TEXT) {
        /* zlib reads gzip and plain text alike; the fd of stdin is dup'ed so that closing
         * the reader leaves standard input open */
        r->src = SRC_GZ;
        if (in) {
            int fd = dup(0);
            r->gz = fd >= 0 ? gzdopen(fd, "rb") : NULL;
            if (!r->gz && fd >= 0)
                close(fd);
        } else {
            errno = 0;
            r->gz = gzopen(path, "rb");
        }
        if (!r->gz) {
            seterr(err, "%s: cannot open: %s", r->path, errno ? strerror(errno) : "out of memory");
            iommu_trace_close(r);
            return NULL;
        }
        gzbuffer(r->gz, 256u << 10);
    } else {
        r->src = SRC_FILE;
        r->file = fopen(path, "rb");
        if (!r->file) {
            seterr(err, "%s: cannot open: %s", path, strerror(errno));
            iommu_trace_close(r);
            return NULL;
        }
    }
    return reader_start(r, err);
}

iommu_trace_reader_t *iommu_trace_open_mem(const void *data, size_t size,
                                           enum iommu_trace_form form, const char *name,
                                           struct iommu_trace_error *err)
{
    if (form != IOMMU_TRACE_TEXT && form != IOMMU_TRACE_BINARY) {
        seterr(err, "%s: unknown trace form %d", name, (int)form);
        return NULL;
    }
    /* a small trace in memory needs no 1 MiB buffer: all of it fits, plus one byte so a
     * full buffer never stops the reader before it sees the end */
    size_t cap = BUF_SIZE;
    if (size + 1 < cap)
        cap = size + 1 < IOMMU_TRACE_BIN_MAXREC ? IOMMU_TRACE_BIN_MAXREC : size + 1;
    iommu_trace_reader_t *r = reader_new(form, name, cap, err);
    if (!r)
        return NULL;
    r->src = SRC_MEM;
    r->mem = data;
    r->mem_size = size;
    return reader_start(r, err);
}

/* The first line: a header, if it is one, must name a version this build reads
 * ("# iommusim trace v1" .. "... v3", then the end of the line or a blank); sets
 * r->version. */
static int check_text_header(iommu_trace_reader_t *r, const char *line, size_t n)
{
    size_t pn = sizeof(TEXT_HEADER_PREFIX) - 1;
    if (n < pn || memcmp(line, TEXT_HEADER_PREFIX, pn))
        return 0; /* no header: allowed */
    for (unsigned ver = IOMMU_TRACE_VERSION_MIN; ver <= IOMMU_TRACE_VERSION; ver++) {
        char hdr[40];
        size_t hn = (size_t)snprintf(hdr, sizeof hdr, TEXT_HEADER_PREFIX " v%u", ver);
        if (n >= hn && !memcmp(line, hdr, hn) &&
            (n == hn || line[hn] == ' ' || line[hn] == '\t' || line[hn] == '\r')) {
            r->version = ver;
            return 0;
        }
    }
    const char *v = line + pn;
    size_t vn = n - pn;
    while (vn && (*v == ' ' || *v == '\t'))
        v++, vn--;
    size_t w = 0;
    while (w < vn && w < 20 && v[w] > ' ' && v[w] < 0x7F && v[w] != '\'')
        w++;
    snprintf(r->errmsg, sizeof r->errmsg,
             "%s:1: unsupported trace version '%.*s' (this build reads v%d to v%d)", r->path,
             (int)w, v, IOMMU_TRACE_VERSION_MIN, IOMMU_TRACE_VERSION);
    return -1;
}

/* An event newer than the file's version (a dma_map in a version-1 file, an msi with
 * thread= in a version-2 file) is malformed: words the message for the event at `pos`
 * (text: its line; binary: its offset); 0 if the event fits. */
static int check_event_version(iommu_trace_reader_t *r, const struct iommu_trace_event *ev,
                               uint64_t pos)
{
    unsigned need = iommu_trace_event_version(ev);
    if (need <= r->version)
        return 0;
    const char *what = iommu_trace_event_newest_part(ev);
    if (r->form == IOMMU_TRACE_TEXT)
        snprintf(r->errmsg, sizeof r->errmsg,
                 "%s:%llu: %s is new in trace version %u, but the header says v%u", r->path,
                 (unsigned long long)pos, what, need, r->version);
    else
        snprintf(r->errmsg, sizeof r->errmsg,
                 "%s: offset %llu: %s is new in trace version %u, but the header says version %u",
                 r->path, (unsigned long long)pos, what, need, r->version);
    return -1;
}

static int next_text(iommu_trace_reader_t *r, struct iommu_trace_event *ev,
                     struct iommu_trace_error *err)
{
    for (;;) {
        char *s = r->buf + r->start;
        size_t avail = r->end - r->start;
        char *nl = avail ? memchr(s, '\n', avail) : NULL;
        size_t n;
        if (nl) {
            n = (size_t)(nl - s);
        } else if (r->eof) {
            if (!avail)
                return 0;
            n = avail; /* a last line without a newline */
        } else {
            if (avail > LINE_MAX_LEN) {
                snprintf(r->errmsg, sizeof r->errmsg, "%s:%llu: line longer than %u bytes",
                         r->path, (unsigned long long)(r->line + 1), LINE_MAX_LEN);
                return reader_fail(r, err);
            }
            if (refill(r))
                return reader_fail(r, err);
            continue;
        }
        if (n > LINE_MAX_LEN) {
            snprintf(r->errmsg, sizeof r->errmsg, "%s:%llu: line longer than %u bytes", r->path,
                     (unsigned long long)(r->line + 1), LINE_MAX_LEN);
            return reader_fail(r, err);
        }
        if (r->line == 0 && avail >= 8 && !memcmp(s, IOMMU_TRACE_BIN_MAGIC, 8)) {
            snprintf(r->errmsg, sizeof r->errmsg,
                     "%s:1: a binary trace read as text (name it .bin)", r->path);
            return reader_fail(r, err);
        }
        r->start += n + (nl != NULL);
        r->line++;
        if (r->line == 1 && check_text_header(r, s, n))
            return reader_fail(r, err);
        char reason[400];
        int st = iommu_trace_parse_line(s, n, ev, reason, sizeof reason);
        if (st > 0) {
            if (r->version < IOMMU_TRACE_VERSION && check_event_version(r, ev, r->line))
                return reader_fail(r, err);
            r->pos = r->line;
            r->count++;
            return 1;
        }
        if (st < 0) {
            snprintf(r->errmsg, sizeof r->errmsg, "%s:%llu: %s", r->path,
                     (unsigned long long)r->line, reason);
            return reader_fail(r, err);
        }
    }
}

static int next_bin(iommu_trace_reader_t *r, struct iommu_trace_event *ev,
                    struct iommu_trace_error *err)
{
    for (;;) {
        if (r->end - r->start < IOMMU_TRACE_BIN_MAXREC && !r->eof && refill(r))
            return reader_fail(r, err);
        uint64_t off = r->buf_off + r->start;
        if (r->ended) {
            if (r->start == r->end)
                return 0;
            snprintf(r->errmsg, sizeof r->errmsg, "%s: offset %llu: data after the end record",
                     r->path, (unsigned long long)off);
            return reader_fail(r, err);
        }
        if (r->start == r->end) {
            snprintf(r->errmsg, sizeof r->errmsg,
                     "%s: offset %llu: truncated trace (no end record)", r->path,
                     (unsigned long long)off);
            return reader_fail(r, err);
        }
        const uint8_t *p = (const uint8_t *)r->buf + r->start;
        char reason[400];
        long k = iommu_bin_decode(&r->bin, p, (const uint8_t *)r->buf + r->end, ev, reason,
                                  sizeof reason);
        if (k == 0) {
            snprintf(r->errmsg, sizeof r->errmsg, "%s: offset %llu: truncated event", r->path,
                     (unsigned long long)off);
            return reader_fail(r, err);
        }
        if (k < 0) {
            snprintf(r->errmsg, sizeof r->errmsg, "%s: offset %llu: %s", r->path,
                     (unsigned long long)off, reason);
            return reader_fail(r, err);
        }
        r->start += (size_t)k;
        if (ev->type == IOMMU_TRACE_BIN_END) {
            if (ev->len != r->count) {
                snprintf(r->errmsg, sizeof r->errmsg,
                         "%s: offset %llu: end record counts %llu events, the file holds %llu",
                         r->path, (unsigned long long)off, (unsigned long long)ev->len,
                         (unsigned long long)r->count);
                return reader_fail(r, err);
            }
            r->ended = true;
            update_fast(r);
            continue;
        }
        if (r->version < IOMMU_TRACE_VERSION && check_event_version(r, ev, off))
            return reader_fail(r, err);
        r->pos = off;
        r->count++;
        return 1;
    }
}

#if defined(__GNUC__) || defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

/* Everything but the fast path: kept out of line so that iommu_trace_next stays small
 * enough to inline into the caller's loop (across files with LTO). */
static NOINLINE int next_slow(iommu_trace_reader_t *r, struct iommu_trace_event *ev,
                              struct iommu_trace_error *err)
{
    if (r->failed) {
        seterr(err, "%s", r->errmsg);
        return -1;
    }
    r->start = (size_t)(r->cur - (const uint8_t *)r->buf);
    if (r->last) {
        r->pos = r->buf_off + (uint64_t)(r->last - (const uint8_t *)r->buf);
        r->last = NULL;
    }
    int st = r->form == IOMMU_TRACE_TEXT ? next_text(r, ev, err) : next_bin(r, ev, err);
    r->cur = (const uint8_t *)r->buf + r->start;
    return st;
}

#if IOMMU_BIN_FAST
/* iommu_trace_next at a record the inline path declines, with MAXREC bytes buffered: a dma
 * record with a timestamp or a pasid still takes the fast decoder (here, out of line, so
 * that the inline path keeps the code and registers of the common case only); anything
 * else goes to next_slow. */
static NOINLINE int next_other(iommu_trace_reader_t *r, struct iommu_trace_event *ev,
                               struct iommu_trace_error *err)
{
    const uint8_t *p = r->cur;
    size_t k = iommu_bin_decode_dma_fast(&r->bin, p, ev, IOMMU_EVF_TIME | IOMMU_EVF_PASID);
    if (k) {
        r->cur = p + k;
        r->last = p;
        r->count++;
        return 1;
    }
    return next_slow(r, ev, err);
}
#endif

int iommu_trace_next(iommu_trace_reader_t *r, struct iommu_trace_event *ev,
                     struct iommu_trace_error *err)
{
#if IOMMU_BIN_FAST
    /* a binary reader with a whole record buffered, at a dma record without a timestamp
     * or pasid: decode it right here */
    const uint8_t *p = r->cur;
    if (p < r->fast_lim) {
        size_t k = iommu_bin_decode_dma_fast(&r->bin, p, ev, 0);
        if (k) {
            r->cur = p + k;
            r->last = p;
            r->count++;
            return 1;
        }
        return next_other(r, ev, err);
    }
#endif
    return next_slow(r, ev, err); /* text, the end of a buffer, errors */
}

uint64_t iommu_trace_position(const iommu_trace_reader_t *r)
{
    return r->last ? r->buf_off + (uint64_t)(r->last - (const uint8_t *)r->buf) : r->pos;
}

const char *iommu_trace_path(const iommu_trace_reader_t *r)
{
    return r->path;
}

uint64_t iommu_trace_count(const iommu_trace_reader_t *r)
{
    return r->count;
}

unsigned iommu_trace_version(const iommu_trace_reader_t *r)
{
    return r->version;
}

void iommu_trace_close(iommu_trace_reader_t *r)
{
    if (!r)
        return;
    if (r->gz)
        gzclose(r->gz);
    if (r->file)
        fclose(r->file);
    free(r->buf);
    free(r->path);
    free(r);
}

/* ---- writer --------------------------------------------------------------------------- */

struct iommu_trace_writer {
    int form;            /* enum iommu_trace_form                           */
    char *path;          /* for messages ("-" shown as "<stdout>")          */
    gzFile gz;           /* .trace.gz                                       */
    FILE *file;          /* .trace, .bin, stdout                            */
    bool is_stdout;
    char *buf;           /* buf[0, len) waits to be written; BUF_SIZE bytes */
    size_t len;
    uint64_t count;      /* events written                                  */
    enum iommu_status status; /* first error; later writes fail with it     */
    char errmsg[sizeof(((struct iommu_trace_error *)0)->msg)];
    struct iommu_bin_state bin;
};

static enum iommu_status writer_fail(iommu_trace_writer_t *w, struct iommu_trace_error *err,
                                     enum iommu_status st)
{
    if (w->status == IOMMU_OK)
        w->status = st;
    seterr(err, "%s", w->errmsg);
    return w->status;
}

static int flush_buf(iommu_trace_writer_t *w)
{
    if (!w->len)
        return 0;
    bool ok;
    if (w->gz) {
        ok = gzwrite(w->gz, w->buf, (unsigned)w->len) == (int)w->len;
        if (!ok) {
            int errnum = Z_OK;
            const char *zmsg = gzerror(w->gz, &errnum);
            snprintf(w->errmsg, sizeof w->errmsg, "%s: write error: %s", w->path,
                     errnum == Z_ERRNO ? strerror(errno) : zmsg);
        }
    } else {
        ok = fwrite(w->buf, 1, w->len, w->file) == w->len;
        if (!ok)
            snprintf(w->errmsg, sizeof w->errmsg, "%s: write error: %s", w->path,
                     strerror(errno));
    }
    w->len = 0;
    return ok ? 0 : -1;
}

iommu_trace_writer_t *iommu_trace_create(const char *path, struct iommu_trace_error *err)
{
    int form = iommu_trace_form_of(path);
    if (form < 0) {
        seterr(err, "%s: unknown trace file extension (expected .trace, .trace.gz or .bin)",
               path);
        return NULL;
    }
    bool out = !strcmp(path, "-");
    iommu_trace_writer_t *w = calloc(1, sizeof *w);
    if (w) {
        w->form = form;
        w->path = dupstr(out ? "<stdout>" : path);
        w->buf = malloc(BUF_SIZE);
    }
    if (!w || !w->path || !w->buf) {
        seterr(err, "%s: out of memory", path);
        if (w) {
            free(w->path);
            free(w->buf);
            free(w);
        }
        return NULL;
    }
    if (out) {
        w->file = stdout;
        w->is_stdout = true;
    } else if (ends_with(path, ".gz")) {
        errno = 0;
        w->gz = gzopen(path, "wb6");
    } else {
        w->file = fopen(path, "wb");
    }
    if (!w->gz && !w->file) {
        seterr(err, "%s: cannot create: %s", path, errno ? strerror(errno) : "out of memory");
        free(w->path);
        free(w->buf);
        free(w);
        return NULL;
    }
    if (form == IOMMU_TRACE_TEXT) {
        memcpy(w->buf, TEXT_HEADER "\n", sizeof(TEXT_HEADER));
        w->len = sizeof(TEXT_HEADER);
    } else {
        iommu_bin_header((uint8_t *)w->buf);
        w->len = IOMMU_TRACE_BIN_HDR;
        w->bin.version = IOMMU_TRACE_VERSION;
    }
    return w;
}

enum iommu_status iommu_trace_write(iommu_trace_writer_t *w, const struct iommu_trace_event *ev,
                                    struct iommu_trace_error *err)
{
    if (w->status != IOMMU_OK)
        return writer_fail(w, err, w->status);
    char reason[400];
    if (iommu_trace_event_check(ev, reason, sizeof reason)) {
        /* an invalid event is the caller's error, not the file's: the writer stays usable */
        seterr(err, "%s: event %llu: %s", w->path, (unsigned long long)(w->count + 1), reason);
        return IOMMU_ERR_INVAL;
    }
    if (BUF_SIZE - w->len < 512 && flush_buf(w))
        return writer_fail(w, err, IOMMU_ERR_IO);
    if (w->form == IOMMU_TRACE_TEXT) {
        int n = iommu_trace_format_line(ev, w->buf + w->len, BUF_SIZE - w->len - 1);
        if (n < 0) { /* cannot happen for a checked event */
            seterr(err, "%s: event %llu: cannot format", w->path,
                   (unsigned long long)(w->count + 1));
            return IOMMU_ERR_INVAL;
        }
        w->len += (size_t)n;
        w->buf[w->len++] = '\n';
    } else {
        w->len += iommu_bin_encode(&w->bin, ev, (uint8_t *)w->buf + w->len);
    }
    w->count++;
    return IOMMU_OK;
}

uint64_t iommu_trace_written(const iommu_trace_writer_t *w)
{
    return w->count;
}

enum iommu_status iommu_trace_finish(iommu_trace_writer_t *w, struct iommu_trace_error *err)
{
    if (!w)
        return IOMMU_OK;
    enum iommu_status st = w->status;
    if (st == IOMMU_OK) {
        if (w->form == IOMMU_TRACE_BINARY)
            w->len += iommu_bin_encode_end(w->count, (uint8_t *)w->buf + w->len);
        if (flush_buf(w))
            st = IOMMU_ERR_IO;
    }
    if (w->gz) {
        int zst = gzclose(w->gz);
        if (zst != Z_OK && st == IOMMU_OK) {
            snprintf(w->errmsg, sizeof w->errmsg, "%s: write error: %s", w->path,
                     zst == Z_ERRNO ? strerror(errno) : "gzip close failed");
            st = IOMMU_ERR_IO;
        }
    } else if (w->is_stdout) {
        if (fflush(stdout) && st == IOMMU_OK) {
            snprintf(w->errmsg, sizeof w->errmsg, "%s: write error: %s", w->path,
                     strerror(errno));
            st = IOMMU_ERR_IO;
        }
    } else if (w->file) {
        if (fclose(w->file) && st == IOMMU_OK) {
            snprintf(w->errmsg, sizeof w->errmsg, "%s: write error: %s", w->path,
                     strerror(errno));
            st = IOMMU_ERR_IO;
        }
    }
    if (st != IOMMU_OK)
        seterr(err, "%s", w->errmsg);
    free(w->path);
    free(w->buf);
    free(w);
    return st;
}
