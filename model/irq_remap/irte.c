/* irte.c — IRTE bit layouts and checks (see irte.h). */
#include "irte.h"

#include "../common/fault_codes.h"

/* Reserved bits of each format (lo, hi words). */
#define REMAP_RSVD_LO ((0x7ull << 12) | (0xFFull << 24))
#define REMAP_RSVD_LO_XAPIC ((0xFFull << 32) | (0xFFFFull << 48))
#define REMAP_RSVD_HI (~0ull << 20)
#define POST_RSVD_LO ((0x3Full << 2) | (0x3ull << 12) | (0x3FFFull << 24))
#define POST_RSVD_HI (0xFFFull << 20)

void iommu_irte_encode(const struct iommu_irte *e, uint64_t out[2])
{
    uint64_t lo = (uint64_t)e->p | (uint64_t)e->fpd << 1 | (uint64_t)(e->avail & 0xFu) << 8 |
                  (uint64_t)e->im << 15 | (uint64_t)e->vector << 16;
    uint64_t hi = (uint64_t)e->sid | (uint64_t)(e->sq & 3u) << 16 | (uint64_t)(e->svt & 3u) << 18;
    if (e->im) {
        lo |= (uint64_t)e->urg << 14 | ((e->pda >> 6) & 0x3FFFFFFull) << 38;
        hi |= (e->pda >> 32) << 32;
    } else {
        lo |= (uint64_t)e->dm << 2 | (uint64_t)e->rh << 3 | (uint64_t)e->tm << 4 |
              (uint64_t)(e->dlm & 7u) << 5 | (uint64_t)e->dst << 32;
    }
    out[0] = lo;
    out[1] = hi;
}

void iommu_irte_decode(const uint64_t in[2], struct iommu_irte *e)
{
    const uint64_t lo = in[0], hi = in[1];
    *e = (struct iommu_irte){0};
    e->p = lo & 1;
    e->fpd = (lo >> 1) & 1;
    e->avail = (lo >> 8) & 0xF;
    e->im = (lo >> 15) & 1;
    e->vector = (uint8_t)(lo >> 16);
    e->sid = (iommu_sid_t)hi;
    e->sq = (hi >> 16) & 3;
    e->svt = (hi >> 18) & 3;
    if (e->im) {
        e->urg = (lo >> 14) & 1;
        e->pda = ((lo >> 38) << 6) | (hi & 0xFFFFFFFF00000000ull);
    } else {
        e->dm = (lo >> 2) & 1;
        e->rh = (lo >> 3) & 1;
        e->tm = (lo >> 4) & 1;
        e->dlm = (lo >> 5) & 7;
        e->dst = (uint32_t)(lo >> 32);
    }
}

uint8_t iommu_irte_check(const uint64_t in[2], bool eim, bool posted_ok)
{
    const uint64_t lo = in[0], hi = in[1];
    if ((hi >> 18 & 3) == 3) /* SVT 11b reserved */
        return IOMMU_FR_IR_RESERVED;
    if ((lo >> 15) & 1) {
        if (!posted_ok || (lo & POST_RSVD_LO) || (hi & POST_RSVD_HI))
            return IOMMU_FR_IR_RESERVED;
        return 0;
    }
    if ((lo & REMAP_RSVD_LO) || (hi & REMAP_RSVD_HI) || (!eim && (lo & REMAP_RSVD_LO_XAPIC)))
        return IOMMU_FR_IR_RESERVED;
    return 0;
}

bool iommu_irte_sid_ok(const struct iommu_irte *e, iommu_sid_t sid)
{
    switch (e->svt) {
    case IOMMU_IRTE_SVT_NONE:
        return true;
    case IOMMU_IRTE_SVT_SID: {
        static const uint16_t mask[4] = {0xFFFF, 0xFFFB, 0xFFF9, 0xFFF8};
        const uint16_t m = mask[e->sq & 3];
        return (sid & m) == (e->sid & m);
    }
    case IOMMU_IRTE_SVT_BUS: {
        const unsigned bus = IOMMU_SID_BUS(sid);
        return (unsigned)(e->sid >> 8) <= bus && bus <= (unsigned)(e->sid & 0xFF);
    }
    default:
        return false;
    }
}
