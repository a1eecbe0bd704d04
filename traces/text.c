/*
 * text.c — the text form (v1 to v3): one event per line, `name key=value ...` (docs/trace-format.md).
 * iommu_trace_parse_line turns a line into an event, iommu_trace_format_line writes the
 * canonical line of an event (parse(format(e)) == e and format(parse(l)) is stable).
 *
 * Workload: replays parse 10^7-10^8 lines, so the parser is a single left-to-right pass
 * over the bytes: no sscanf/strtok, no allocation, no copy of the line, keys found by a
 * switch on their length. Error paths may be slow; they format one-line reasons naming the
 * event and the key ("dma: bad number 'x1' for 'iova'").
 */
#include "trace_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- keys ----------------------------------------------------------------------------- */
enum key {
    K_SID, K_DID, K_MODE, K_PASID, K_ALIAS, K_HANDLE, K_IOVA, K_OFF, K_PA, K_LEN, K_PERM,
    K_MORE, K_PAGE, K_STAGE, K_OP, K_X, K_PRIV, K_ATS, K_TYPE, K_ADDR, K_AM, K_INDEX, K_IH,
    K_DATA, K_LO, K_HI, K_THREAD, K_CPU, K_STATE, K_IOS, K_T, K_NKEYS
};
_Static_assert(K_NKEYS <= 32, "key sets are uint32_t bit masks");
#define B(k) (1u << (k))

static const char *const key_names[K_NKEYS] = {
    [K_SID] = "sid",     [K_DID] = "did",     [K_MODE] = "mode",   [K_PASID] = "pasid",
    [K_ALIAS] = "alias", [K_IOVA] = "iova",   [K_PA] = "pa",       [K_LEN] = "len",
    [K_PERM] = "perm",   [K_PAGE] = "page",   [K_STAGE] = "stage", [K_OP] = "op",
    [K_X] = "x",         [K_PRIV] = "priv",   [K_ATS] = "ats",     [K_TYPE] = "type",
    [K_ADDR] = "addr",   [K_AM] = "am",       [K_INDEX] = "index", [K_IH] = "ih",
    [K_DATA] = "data",   [K_LO] = "lo",       [K_HI] = "hi",       [K_THREAD] = "thread",
    [K_CPU] = "cpu",     [K_STATE] = "state", [K_T] = "t",       [K_HANDLE] = "handle",
    [K_OFF] = "off",     [K_MORE] = "more",   [K_IOS] = "ios",
};
/* Keys that are bare words (no "=value"). */
#define K_BARE (B(K_X) | B(K_PRIV) | B(K_IH) | B(K_MORE))

/* Allowed and required keys per event type; the order of enum key is the canonical order
 * of the fields in a line (and of "missing field" reports). */
static const uint32_t ev_allowed[IOMMU_EV_NTYPES] = {
    [IOMMU_EV_ATTACH] = B(K_SID) | B(K_DID) | B(K_MODE) | B(K_PASID) | B(K_ALIAS) | B(K_T),
    [IOMMU_EV_DETACH] = B(K_SID) | B(K_PASID) | B(K_T),
    [IOMMU_EV_MAP] = B(K_DID) | B(K_IOVA) | B(K_PA) | B(K_LEN) | B(K_PERM) | B(K_PAGE) |
                     B(K_STAGE) | B(K_T),
    [IOMMU_EV_UNMAP] = B(K_DID) | B(K_IOVA) | B(K_LEN) | B(K_STAGE) | B(K_T),
    [IOMMU_EV_DMA] = B(K_SID) | B(K_IOVA) | B(K_HANDLE) | B(K_OFF) | B(K_LEN) | B(K_OP) |
                     B(K_X) | B(K_PRIV) | B(K_ATS) | B(K_PASID) | B(K_T),
    [IOMMU_EV_INV] = B(K_TYPE) | B(K_DID) | B(K_SID) | B(K_ADDR) | B(K_AM) | B(K_INDEX) |
                     B(K_IH) | B(K_PASID) | B(K_T),
    [IOMMU_EV_MSI] = B(K_SID) | B(K_ADDR) | B(K_DATA) | B(K_THREAD) | B(K_IOS) | B(K_T),
    [IOMMU_EV_IRTE] = B(K_INDEX) | B(K_LO) | B(K_HI) | B(K_T),
    [IOMMU_EV_SCHED] = B(K_THREAD) | B(K_CPU) | B(K_STATE) | B(K_T),
    [IOMMU_EV_DMA_MAP] = B(K_SID) | B(K_HANDLE) | B(K_PA) | B(K_LEN) | B(K_PERM) | B(K_MORE) |
                         B(K_CPU) | B(K_T),
    [IOMMU_EV_DMA_UNMAP] = B(K_HANDLE) | B(K_CPU) | B(K_T),
};
static const uint32_t ev_required[IOMMU_EV_NTYPES] = {
    [IOMMU_EV_ATTACH] = B(K_SID) | B(K_DID) | B(K_MODE),
    [IOMMU_EV_DETACH] = B(K_SID),
    [IOMMU_EV_MAP] = B(K_DID) | B(K_IOVA) | B(K_PA) | B(K_LEN) | B(K_PERM) | B(K_PAGE),
    [IOMMU_EV_UNMAP] = B(K_DID) | B(K_IOVA) | B(K_LEN),
    [IOMMU_EV_DMA] = B(K_SID) | B(K_LEN) | B(K_OP), /* and one of iova, handle */
    [IOMMU_EV_INV] = B(K_TYPE),
    [IOMMU_EV_MSI] = B(K_SID) | B(K_ADDR) | B(K_DATA),
    [IOMMU_EV_IRTE] = B(K_INDEX) | B(K_LO) | B(K_HI),
    [IOMMU_EV_SCHED] = B(K_THREAD) | B(K_CPU) | B(K_STATE),
    [IOMMU_EV_DMA_MAP] = B(K_SID) | B(K_HANDLE) | B(K_PA) | B(K_LEN) | B(K_PERM),
    [IOMMU_EV_DMA_UNMAP] = B(K_HANDLE),
};

static const char *const mode_names[4] = {"sl", "fl", "nested", "pt"};
static const char *const ats_names[3] = {"untranslated", "req", "translated"};

/* Byte classes for the tokenizer: one table lookup per byte. */
enum { C_SPACE = 1, C_EQ = 2 };
static const uint8_t char_class[256] = {
    ['\t'] = C_SPACE, ['\n'] = C_SPACE, ['\v'] = C_SPACE, ['\f'] = C_SPACE,
    ['\r'] = C_SPACE, [' '] = C_SPACE,   ['='] = C_EQ,
};

static inline bool is_space(char c)
{
    return char_class[(unsigned char)c] & C_SPACE;
}

static inline bool eq(const char *s, size_t n, const char *lit, size_t litn)
{
    return n == litn && !memcmp(s, lit, n);
}
#define EQ(s, n, lit) eq(s, n, lit, sizeof(lit) - 1)

static unsigned lookup_event(const char *s, size_t n)
{
    switch (n) {
    case 3:
        if (EQ(s, n, "dma")) return IOMMU_EV_DMA;
        if (EQ(s, n, "map")) return IOMMU_EV_MAP;
        if (EQ(s, n, "inv")) return IOMMU_EV_INV;
        if (EQ(s, n, "msi")) return IOMMU_EV_MSI;
        return 0;
    case 4: return EQ(s, n, "irte") ? IOMMU_EV_IRTE : 0;
    case 5:
        if (EQ(s, n, "unmap")) return IOMMU_EV_UNMAP;
        if (EQ(s, n, "sched")) return IOMMU_EV_SCHED;
        return 0;
    case 6:
        if (EQ(s, n, "attach")) return IOMMU_EV_ATTACH;
        if (EQ(s, n, "detach")) return IOMMU_EV_DETACH;
        return 0;
    case 7: return EQ(s, n, "dma_map") ? IOMMU_EV_DMA_MAP : 0;
    case 9: return EQ(s, n, "dma_unmap") ? IOMMU_EV_DMA_UNMAP : 0;
    default: return 0;
    }
}

static int lookup_key(const char *s, size_t n)
{
    switch (n) {
    case 1:
        if (*s == 't') return K_T;
        if (*s == 'x') return K_X;
        return -1;
    case 2:
        if (EQ(s, n, "op")) return K_OP;
        if (EQ(s, n, "pa")) return K_PA;
        if (EQ(s, n, "am")) return K_AM;
        if (EQ(s, n, "ih")) return K_IH;
        if (EQ(s, n, "lo")) return K_LO;
        if (EQ(s, n, "hi")) return K_HI;
        return -1;
    case 3:
        if (EQ(s, n, "sid")) return K_SID;
        if (EQ(s, n, "len")) return K_LEN;
        if (EQ(s, n, "did")) return K_DID;
        if (EQ(s, n, "ats")) return K_ATS;
        if (EQ(s, n, "cpu")) return K_CPU;
        if (EQ(s, n, "off")) return K_OFF;
        if (EQ(s, n, "ios")) return K_IOS;
        return -1;
    case 4:
        if (EQ(s, n, "iova")) return K_IOVA;
        if (EQ(s, n, "mode")) return K_MODE;
        if (EQ(s, n, "perm")) return K_PERM;
        if (EQ(s, n, "page")) return K_PAGE;
        if (EQ(s, n, "priv")) return K_PRIV;
        if (EQ(s, n, "type")) return K_TYPE;
        if (EQ(s, n, "addr")) return K_ADDR;
        if (EQ(s, n, "data")) return K_DATA;
        if (EQ(s, n, "more")) return K_MORE;
        return -1;
    case 5:
        if (EQ(s, n, "pasid")) return K_PASID;
        if (EQ(s, n, "alias")) return K_ALIAS;
        if (EQ(s, n, "stage")) return K_STAGE;
        if (EQ(s, n, "index")) return K_INDEX;
        if (EQ(s, n, "state")) return K_STATE;
        return -1;
    case 6:
        if (EQ(s, n, "thread")) return K_THREAD;
        if (EQ(s, n, "handle")) return K_HANDLE;
        return -1;
    default: return -1;
    }
}

/* ---- errors --------------------------------------------------------------------------- */

/* Copies s[0..n) for a message: at most 40 characters, non-printable bytes as \xNN, so a
 * message stays one printable line whatever the input holds. */
static const char *quote(char *dst, size_t size, const char *s, size_t n)
{
    size_t o = 0, i = 0;
    for (; i < n && o + 5 < size && i < 40; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F && c != '\'') {
            dst[o++] = (char)c;
        } else {
            snprintf(dst + o, size - o, "\\x%02x", c);
            o += 4;
        }
    }
    if (i < n && o + 4 <= size) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o < size ? o : size - 1] = 0;
    return dst;
}

/* ---- values --------------------------------------------------------------------------- */
enum { NUM_OK = 0, NUM_BAD = -1, NUM_RANGE = -2 };

/* Decimal, or hex with 0x/0X. */
static int parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        for (size_t i = 2; i < n; i++) {
            unsigned c = (unsigned char)s[i], d;
            if (c - '0' < 10) d = c - '0';
            else if ((c | 0x20) - 'a' < 6) d = (c | 0x20) - 'a' + 10;
            else return NUM_BAD;
            if (v >> 60) {
                /* keep scanning so a bad digit wins over "out of range" */
                for (size_t j = i + 1; j < n; j++) {
                    unsigned cj = (unsigned char)s[j];
                    if (!(cj - '0' < 10 || (cj | 0x20) - 'a' < 6))
                        return NUM_BAD;
                }
                return NUM_RANGE;
            }
            v = v << 4 | d;
        }
        *out = v;
        return NUM_OK;
    }
    if (n == 0)
        return NUM_BAD;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d >= 10)
            return NUM_BAD;
        if (v > (UINT64_MAX - d) / 10) {
            for (size_t j = i + 1; j < n; j++)
                if ((unsigned)((unsigned char)s[j] - '0') >= 10)
                    return NUM_BAD;
            return NUM_RANGE;
        }
        v = v * 10 + d;
    }
    *out = v;
    return NUM_OK;
}

/* A size: a number, or a decimal number with a K, M or G suffix (powers of 1024). */
static int parse_size(const char *s, size_t n, uint64_t *out)
{
    if (n >= 2) {
        unsigned shift = 0;
        switch (s[n - 1]) {
        case 'K': case 'k': shift = 10; break;
        case 'M': case 'm': shift = 20; break;
        case 'G': case 'g': shift = 30; break;
        default: break;
        }
        if (shift) {
            if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                return NUM_BAD; /* no suffix on hex numbers */
            uint64_t v;
            int st = parse_u64(s, n - 1, &v);
            if (st)
                return st;
            if (v > (UINT64_MAX >> shift))
                return NUM_RANGE;
            *out = v << shift;
            return NUM_OK;
        }
    }
    return parse_u64(s, n, out);
}

static inline int hexval(char c)
{
    unsigned u = (unsigned char)c;
    if (u - '0' < 10) return (int)(u - '0');
    if ((u | 0x20) - 'a' < 6) return (int)((u | 0x20) - 'a' + 10);
    return -1;
}

static bool parse_sid(const char *s, size_t n, iommu_sid_t *out)
{
    /* fast path: bb:dd.f */
    if (n == 7 && s[2] == ':' && s[5] == '.') {
        int b1 = hexval(s[0]), b0 = hexval(s[1]), d1 = hexval(s[3]), d0 = hexval(s[4]);
        int f = hexval(s[6]);
        if (b1 < 0 || b0 < 0 || d1 < 0 || d0 < 0 || f < 0)
            return false;
        unsigned dev = (unsigned)(d1 * 16 + d0);
        if (dev > 0x1F || f > 7)
            return false;
        *out = IOMMU_SID((unsigned)(b1 * 16 + b0), dev, (unsigned)f);
        return true;
    }
    /* a plain requester-id number (decimal or 0x hex, as every other number here) */
    if (!memchr(s, ':', n)) {
        uint64_t v;
        if (parse_u64(s, n, &v) != NUM_OK || v > 0xFFFF)
            return false;
        *out = (iommu_sid_t)v;
        return true;
    }
    /* other b:d.f spellings (one-digit fields): the shared parser, on a bounded copy */
    char buf[24];
    if (n >= sizeof buf || memchr(s, 0, n))
        return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    return iommu_sid_parse(buf, out);
}

/* ---- the parser ----------------------------------------------------------------------- */

int iommu_trace_parse_line(const char *line, size_t len, struct iommu_trace_event *ev,
                           char *reason, size_t reason_size)
{
    const char *p = line, *end = line + len;
    char q[200];
    while (p < end && is_space(*p))
        p++;
    if (p == end || *p == '#')
        return 0;
    const char *tok = p;
    while (p < end && !is_space(*p))
        p++;
    unsigned type = lookup_event(tok, (size_t)(p - tok));
    if (!type)
        return iommu_reason_fail(reason, reason_size, "unknown event '%s'",
                     quote(q, sizeof q, tok, (size_t)(p - tok)));
    const char *en = iommu_ev_name(type);
    iommu_trace_event_init(ev, type);
    uint32_t seen = 0, allowed = ev_allowed[type];

    for (;;) {
        while (p < end && is_space(*p))
            p++;
        if (p == end || *p == '#')
            break;
        tok = p;
        const char *eqs = NULL;
        while (p < end && !char_class[(unsigned char)*p])
            p++;
        const char *kend = p;
        if (p < end && *p == '=') {
            eqs = p++;
            while (p < end && !is_space(*p))
                p++;
        }
        int k = lookup_key(tok, (size_t)(kend - tok));
        if (k < 0 || !(allowed & B(k)))
            return iommu_reason_fail(reason, reason_size, "%s: unknown key '%s'", en,
                         quote(q, sizeof q, tok, (size_t)(kend - tok)));
        if (seen & B(k))
            return iommu_reason_fail(reason, reason_size, "%s: duplicate key '%s'", en, key_names[k]);
        seen |= B(k);
        if (B(k) & K_BARE) {
            if (eqs)
                return iommu_reason_fail(reason, reason_size, "%s: '%s' takes no value", en, key_names[k]);
            if (k == K_X) ev->access |= IOMMU_ACC_X;
            else if (k == K_PRIV) ev->access |= IOMMU_ACC_PRIV;
            else if (k == K_MORE) ev->flags |= IOMMU_EVF_MORE;
            else ev->flags |= IOMMU_EVF_IH;
            continue;
        }
        if (!eqs)
            return iommu_reason_fail(reason, reason_size, "%s: '%s' needs a value (%s=...)", en,
                         key_names[k], key_names[k]);
        const char *v = eqs + 1;
        size_t vn = (size_t)(p - v);
        uint64_t num = 0, max = UINT64_MAX;
        int st;
        switch (k) {
        case K_SID:
        case K_ALIAS: {
            iommu_sid_t sid;
            if (!parse_sid(v, vn, &sid))
                return iommu_reason_fail(reason, reason_size,
                             "%s: bad %s '%s' (expected bus:dev.fn in hex, dev <= 1f, fn <= 7)",
                             en, key_names[k], quote(q, sizeof q, v, vn));
            if (k == K_SID) {
                ev->sid = sid;
            } else {
                ev->alias = sid;
                ev->flags |= IOMMU_EVF_ALIAS;
            }
            continue;
        }
        case K_MODE:
            for (unsigned m = 0; m < 4; m++)
                if (eq(v, vn, mode_names[m], strlen(mode_names[m]))) {
                    ev->mode = (uint8_t)m;
                    goto next;
                }
            return iommu_reason_fail(reason, reason_size, "%s: bad mode '%s' (expected sl, fl, nested or pt)",
                         en, quote(q, sizeof q, v, vn));
        case K_PERM: {
            if (type == IOMMU_EV_DMA_MAP) { /* the DMA API's directions: no execute */
                if (EQ(v, vn, "r")) ev->access = IOMMU_ACC_R;
                else if (EQ(v, vn, "w")) ev->access = IOMMU_ACC_W;
                else if (EQ(v, vn, "rw") || EQ(v, vn, "wr")) ev->access = IOMMU_ACC_R | IOMMU_ACC_W;
                else
                    return iommu_reason_fail(reason, reason_size, "%s: bad perm '%s' (expected r, w or rw)",
                                 en, quote(q, sizeof q, v, vn));
                continue;
            }
            unsigned perm = 0;
            for (size_t i = 0; i < vn; i++) {
                unsigned bit = v[i] == 'r' ? IOMMU_ACC_R : v[i] == 'w' ? IOMMU_ACC_W
                               : v[i] == 'x' ? IOMMU_ACC_X : 0;
                if (!bit || (perm & bit)) {
                    perm = 0;
                    break;
                }
                perm |= bit;
            }
            if (!perm)
                return iommu_reason_fail(reason, reason_size,
                             "%s: bad perm '%s' (expected a non-empty subset of rwx)", en,
                             quote(q, sizeof q, v, vn));
            ev->access = (uint8_t)perm;
            continue;
        }
        case K_PAGE:
            if (EQ(v, vn, "4K")) ev->page_shift = IOMMU_PAGE_SHIFT_4K;
            else if (EQ(v, vn, "2M")) ev->page_shift = IOMMU_PAGE_SHIFT_2M;
            else if (EQ(v, vn, "1G")) ev->page_shift = IOMMU_PAGE_SHIFT_1G;
            else
                return iommu_reason_fail(reason, reason_size, "%s: bad page '%s' (expected 4K, 2M or 1G)", en,
                             quote(q, sizeof q, v, vn));
            continue;
        case K_STAGE:
            if (EQ(v, vn, "1")) ev->stage = 1;
            else if (EQ(v, vn, "2")) ev->stage = 2;
            else
                return iommu_reason_fail(reason, reason_size, "%s: bad stage '%s' (expected 1 or 2)", en,
                             quote(q, sizeof q, v, vn));
            continue;
        case K_OP:
            if (EQ(v, vn, "r")) ev->access |= IOMMU_ACC_R;
            else if (EQ(v, vn, "w")) ev->access |= IOMMU_ACC_W;
            else
                return iommu_reason_fail(reason, reason_size, "%s: bad op '%s' (expected r or w)", en,
                             quote(q, sizeof q, v, vn));
            continue;
        case K_ATS:
            for (unsigned a = 0; a < 3; a++)
                if (eq(v, vn, ats_names[a], strlen(ats_names[a]))) {
                    ev->ats = (uint8_t)a;
                    goto next;
                }
            return iommu_reason_fail(reason, reason_size,
                         "%s: bad ats '%s' (expected untranslated, req or translated)", en,
                         quote(q, sizeof q, v, vn));
        case K_TYPE:
            for (unsigned t = 1; t < IOMMU_INV_NTYPES; t++) {
                const char *tn = iommu_inv_type_name(t);
                if (eq(v, vn, tn, strlen(tn))) {
                    ev->inv_type = (uint8_t)t;
                    goto next;
                }
            }
            return iommu_reason_fail(reason, reason_size, "%s: unknown type '%s'", en,
                         quote(q, sizeof q, v, vn));
        case K_STATE:
            if (EQ(v, vn, "run")) ev->state = IOMMU_SCHED_RUN;
            else if (EQ(v, vn, "stop")) ev->state = IOMMU_SCHED_STOP;
            else if (EQ(v, vn, "preempt")) ev->state = IOMMU_SCHED_PREEMPT;
            else
                return iommu_reason_fail(reason, reason_size,
                             "%s: bad state '%s' (expected run, stop or preempt)", en,
                             quote(q, sizeof q, v, vn));
            continue;
        case K_LEN:
            st = parse_size(v, vn, &num);
            if (type == IOMMU_EV_DMA)
                max = 0xFFFFFFFFull;
            break;
        case K_OFF: st = parse_size(v, vn, &num); break;
        case K_DID: max = 0xFFFF; st = parse_u64(v, vn, &num); break;
        case K_PASID: max = IOMMU_PASID_MAX; st = parse_u64(v, vn, &num); break;
        case K_AM: max = 63; st = parse_u64(v, vn, &num); break;
        case K_INDEX: max = IOMMU_TRACE_INDEX_MAX; st = parse_u64(v, vn, &num); break;
        case K_DATA:
        case K_IOS:
        case K_CPU: max = 0xFFFFFFFFull; st = parse_u64(v, vn, &num); break;
        default: st = parse_u64(v, vn, &num); break;
        }
        if (st == NUM_BAD)
            return iommu_reason_fail(reason, reason_size, "%s: bad number '%s' for '%s'", en,
                         quote(q, sizeof q, v, vn), key_names[k]);
        if (st == NUM_RANGE || num > max) {
            bool hex = vn > 1 && (v[1] == 'x' || v[1] == 'X');
            return iommu_reason_fail(reason, reason_size,
                         hex ? "%s: %s '%s' out of range (max 0x%llx)"
                             : "%s: %s '%s' out of range (max %llu)",
                         en, key_names[k], quote(q, sizeof q, v, vn), (unsigned long long)max);
        }
        switch (k) {
        case K_DID: ev->did = (iommu_did_t)num; break;
        case K_PASID: ev->pasid = (iommu_pasid_t)num; ev->flags |= IOMMU_EVF_PASID; break;
        case K_IOVA: ev->iova = num; break;
        case K_PA: ev->pa = num; break;
        case K_LEN: ev->len = num; break;
        case K_OFF: ev->iova = num; break;
        case K_HANDLE:
            ev->handle = num;
            if (type == IOMMU_EV_DMA) ev->flags |= IOMMU_EVF_HANDLE;
            break;
        case K_ADDR:
            if (type == IOMMU_EV_MSI) ev->pa = num;
            else ev->iova = num, ev->flags |= IOMMU_EVF_ADDR;
            break;
        case K_AM: ev->am = (uint8_t)num; break;
        case K_INDEX: ev->index = (uint32_t)num; break;
        case K_DATA: ev->data = (uint32_t)num; break;
        case K_LO: ev->lo = num; break;
        case K_HI: ev->hi = num; break;
        case K_THREAD:
            ev->thread = num;
            if (type == IOMMU_EV_MSI) ev->flags |= IOMMU_EVF_THREAD;
            break;
        case K_IOS: ev->ios = (uint32_t)num; break;
        case K_CPU: ev->cpu = (uint32_t)num; break;
        case K_T: ev->time_ns = num; ev->flags |= IOMMU_EVF_TIME; break;
        default: break;
        }
    next:;
    }

    uint32_t missing = ev_required[type] & ~seen;
    if (type == IOMMU_EV_DMA && !(seen & (B(K_IOVA) | B(K_HANDLE))))
        missing |= B(K_IOVA);
    if (missing) {
        int k = __builtin_ctz(missing);
        if (type == IOMMU_EV_DMA && k == K_IOVA)
            return iommu_reason_fail(reason, reason_size, "dma: missing field 'iova' (or 'handle')");
        return iommu_reason_fail(reason, reason_size, "%s: missing field '%s'", en, key_names[k]);
    }
    if (type == IOMMU_EV_DMA) {
        if ((seen & B(K_IOVA)) && (seen & B(K_HANDLE)))
            return iommu_reason_fail(reason, reason_size,
                         "dma: iova and handle exclude each other (address by one or the other)");
        if ((seen & B(K_OFF)) && !(seen & B(K_HANDLE)))
            return iommu_reason_fail(reason, reason_size, "dma: off needs handle (an offset into a buffer)");
    }
    if (type == IOMMU_EV_INV) {
        const struct iommu_inv_fields *f = iommu_trace_inv_fields(ev->inv_type);
        const char *tn = iommu_inv_type_name(ev->inv_type);
        unsigned any = (unsigned)(f->need | f->opt);
        uint32_t ok = B(K_TYPE) | B(K_T), need = 0;
        if (any & IOMMU_INVF_DID) ok |= B(K_DID);
        if (any & IOMMU_INVF_SID) ok |= B(K_SID);
        if (any & IOMMU_INVF_ADDR) ok |= B(K_ADDR) | B(K_AM);
        if (any & IOMMU_INVF_INDEX) ok |= B(K_INDEX) | B(K_AM);
        if (any & IOMMU_INVF_PASID) ok |= B(K_PASID);
        if (any & IOMMU_INVF_IH) ok |= B(K_IH);
        if (f->need & IOMMU_INVF_DID) need |= B(K_DID);
        if (f->need & IOMMU_INVF_SID) need |= B(K_SID);
        if (f->need & IOMMU_INVF_ADDR) need |= B(K_ADDR) | B(K_AM);
        if (f->need & IOMMU_INVF_INDEX) need |= B(K_INDEX) | B(K_AM);
        if (f->need & IOMMU_INVF_PASID) need |= B(K_PASID);
        if ((f->opt & IOMMU_INVF_ADDR) && (seen & (B(K_ADDR) | B(K_AM))))
            need |= B(K_ADDR) | B(K_AM); /* an optional address comes with its mask */
        uint32_t extra = seen & ~ok;
        if (extra)
            return iommu_reason_fail(reason, reason_size, "inv: key '%s' not allowed for type=%s",
                         key_names[__builtin_ctz(extra)], tn);
        missing = need & ~seen;
        if (missing)
            return iommu_reason_fail(reason, reason_size, "inv: type=%s: missing field '%s'", tn,
                         key_names[__builtin_ctz(missing)]);
    }
    if (iommu_trace_event_check(ev, reason, reason_size))
        return -1;
    return 1;
}

/* ---- the formatter -------------------------------------------------------------------- */

static inline char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static inline char *put_dec(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static inline char *put_hex(char *p, uint64_t v)
{
    static const char digits[16] = "0123456789abcdef";
    char tmp[16];
    int n = 0;
    *p++ = '0';
    *p++ = 'x';
    do {
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static inline char *put_sid(char *p, iommu_sid_t sid)
{
    static const char digits[16] = "0123456789abcdef";
    unsigned bus = IOMMU_SID_BUS(sid), dev = IOMMU_SID_DEV(sid);
    p[0] = digits[bus >> 4];
    p[1] = digits[bus & 15];
    p[2] = ':';
    p[3] = digits[dev >> 4];
    p[4] = digits[dev & 15];
    p[5] = '.';
    p[6] = (char)('0' + IOMMU_SID_FN(sid));
    return p + 7;
}

#define KEY(p, lit) (memcpy(p, lit, sizeof(lit) - 1), (p) + sizeof(lit) - 1)

int iommu_trace_format_line(const struct iommu_trace_event *ev, char *buf, size_t size)
{
    if (iommu_trace_event_check(ev, NULL, 0))
        return -1;
    char tmp[400]; /* longest line is < 250 bytes */
    char *p = put_str(tmp, iommu_ev_name(ev->type));
    switch (ev->type) {
    case IOMMU_EV_ATTACH:
        p = put_sid(KEY(p, " sid="), ev->sid);
        p = put_dec(KEY(p, " did="), ev->did);
        p = put_str(KEY(p, " mode="), mode_names[ev->mode]);
        if (ev->flags & IOMMU_EVF_PASID) p = put_dec(KEY(p, " pasid="), ev->pasid);
        if (ev->flags & IOMMU_EVF_ALIAS) p = put_sid(KEY(p, " alias="), ev->alias);
        break;
    case IOMMU_EV_DETACH:
        p = put_sid(KEY(p, " sid="), ev->sid);
        if (ev->flags & IOMMU_EVF_PASID) p = put_dec(KEY(p, " pasid="), ev->pasid);
        break;
    case IOMMU_EV_MAP:
        p = put_dec(KEY(p, " did="), ev->did);
        p = put_hex(KEY(p, " iova="), ev->iova);
        p = put_hex(KEY(p, " pa="), ev->pa);
        p = put_hex(KEY(p, " len="), ev->len);
        p = KEY(p, " perm=");
        if (ev->access & IOMMU_ACC_R) *p++ = 'r';
        if (ev->access & IOMMU_ACC_W) *p++ = 'w';
        if (ev->access & IOMMU_ACC_X) *p++ = 'x';
        p = put_str(KEY(p, " page="), iommu_trace_page_name(ev->page_shift));
        if (ev->stage) p = put_dec(KEY(p, " stage="), ev->stage);
        break;
    case IOMMU_EV_UNMAP:
        p = put_dec(KEY(p, " did="), ev->did);
        p = put_hex(KEY(p, " iova="), ev->iova);
        p = put_hex(KEY(p, " len="), ev->len);
        if (ev->stage) p = put_dec(KEY(p, " stage="), ev->stage);
        break;
    case IOMMU_EV_DMA:
        p = put_sid(KEY(p, " sid="), ev->sid);
        if (ev->flags & IOMMU_EVF_HANDLE) {
            p = put_dec(KEY(p, " handle="), ev->handle);
            p = put_dec(KEY(p, " off="), ev->iova);
        } else {
            p = put_hex(KEY(p, " iova="), ev->iova);
        }
        p = put_dec(KEY(p, " len="), ev->len);
        p = (ev->access & IOMMU_ACC_W) ? KEY(p, " op=w") : KEY(p, " op=r");
        if (ev->access & IOMMU_ACC_X) p = KEY(p, " x");
        if (ev->access & IOMMU_ACC_PRIV) p = KEY(p, " priv");
        if (ev->ats) p = put_str(KEY(p, " ats="), ats_names[ev->ats]);
        if (ev->flags & IOMMU_EVF_PASID) p = put_dec(KEY(p, " pasid="), ev->pasid);
        break;
    case IOMMU_EV_INV: {
        const struct iommu_inv_fields *f = iommu_trace_inv_fields(ev->inv_type);
        unsigned any = (unsigned)(f->need | f->opt);
        p = put_str(KEY(p, " type="), iommu_inv_type_name(ev->inv_type));
        if (any & IOMMU_INVF_DID) p = put_dec(KEY(p, " did="), ev->did);
        if (any & IOMMU_INVF_SID) p = put_sid(KEY(p, " sid="), ev->sid);
        if (ev->flags & IOMMU_EVF_ADDR) {
            p = put_hex(KEY(p, " addr="), ev->iova);
            p = put_dec(KEY(p, " am="), ev->am);
        }
        if (any & IOMMU_INVF_INDEX) {
            p = put_dec(KEY(p, " index="), ev->index);
            p = put_dec(KEY(p, " am="), ev->am);
        }
        if (ev->flags & IOMMU_EVF_PASID) p = put_dec(KEY(p, " pasid="), ev->pasid);
        if (ev->flags & IOMMU_EVF_IH) p = KEY(p, " ih");
        break;
    }
    case IOMMU_EV_MSI:
        p = put_sid(KEY(p, " sid="), ev->sid);
        p = put_hex(KEY(p, " addr="), ev->pa);
        p = put_hex(KEY(p, " data="), ev->data);
        if (ev->flags & IOMMU_EVF_THREAD) p = put_dec(KEY(p, " thread="), ev->thread);
        if (ev->ios != 1) p = put_dec(KEY(p, " ios="), ev->ios);
        break;
    case IOMMU_EV_IRTE:
        p = put_dec(KEY(p, " index="), ev->index);
        p = put_hex(KEY(p, " lo="), ev->lo);
        p = put_hex(KEY(p, " hi="), ev->hi);
        break;
    case IOMMU_EV_SCHED:
        p = put_dec(KEY(p, " thread="), ev->thread);
        p = put_dec(KEY(p, " cpu="), ev->cpu);
        p = ev->state == IOMMU_SCHED_RUN       ? KEY(p, " state=run")
            : ev->state == IOMMU_SCHED_PREEMPT ? KEY(p, " state=preempt")
                                               : KEY(p, " state=stop");
        break;
    case IOMMU_EV_DMA_MAP:
        p = put_sid(KEY(p, " sid="), ev->sid);
        p = put_dec(KEY(p, " handle="), ev->handle);
        p = put_hex(KEY(p, " pa="), ev->pa);
        p = put_dec(KEY(p, " len="), ev->len);
        p = KEY(p, " perm=");
        if (ev->access & IOMMU_ACC_R) *p++ = 'r';
        if (ev->access & IOMMU_ACC_W) *p++ = 'w';
        if (ev->flags & IOMMU_EVF_MORE) p = KEY(p, " more");
        if (ev->cpu) p = put_dec(KEY(p, " cpu="), ev->cpu);
        break;
    case IOMMU_EV_DMA_UNMAP:
        p = put_dec(KEY(p, " handle="), ev->handle);
        if (ev->cpu) p = put_dec(KEY(p, " cpu="), ev->cpu);
        break;
    default:
        return -1;
    }
    if (ev->flags & IOMMU_EVF_TIME)
        p = put_dec(KEY(p, " t="), ev->time_ns);
    size_t n = (size_t)(p - tmp);
    if (n >= size)
        return -1;
    memcpy(buf, tmp, n);
    buf[n] = 0;
    return (int)n;
}
