/* desc.c — queued-invalidation descriptor layouts: decode with validity checks, encode. */
#include "desc.h"

#include <string.h>

#define BITS(hi, lo) ((((hi) >= 63) ? ~0ull : ((1ull << ((hi) + 1)) - 1)) & ~((1ull << (lo)) - 1))
#define GET(v, hi, lo) (((v) & BITS(hi, lo)) >> (lo))

/* Bits each type defines (everything else is reserved and must be zero). */
#define TYPE_BITS (BITS(3, 0) | BITS(11, 9))
static const uint64_t defined_qw0[11] = {
    [IOMMU_QI_CC] = TYPE_BITS | BITS(5, 4) | BITS(31, 16) | BITS(47, 32) | BITS(49, 48),
    [IOMMU_QI_IOTLB] = TYPE_BITS | BITS(5, 4) | BITS(7, 6) | BITS(31, 16),
    [IOMMU_QI_DEVTLB] = TYPE_BITS | BITS(15, 12) | BITS(20, 16) | BITS(47, 32) | BITS(63, 52),
    [IOMMU_QI_IEC] = TYPE_BITS | BITS(4, 4) | BITS(31, 27) | BITS(47, 32),
    [IOMMU_QI_WAIT] = TYPE_BITS | BITS(7, 4) | BITS(63, 32),
    [IOMMU_QI_PASID_IOTLB] = TYPE_BITS | BITS(5, 4) | BITS(31, 16) | BITS(51, 32),
    [IOMMU_QI_PASID_CACHE] = TYPE_BITS | BITS(5, 4) | BITS(31, 16) | BITS(51, 32),
};
static const uint64_t defined_qw1[11] = {
    [IOMMU_QI_CC] = 0,
    [IOMMU_QI_IOTLB] = BITS(6, 0) | BITS(63, 12),
    [IOMMU_QI_DEVTLB] = BITS(0, 0) | BITS(63, 12),
    [IOMMU_QI_IEC] = 0,
    [IOMMU_QI_WAIT] = BITS(63, 2),
    [IOMMU_QI_PASID_IOTLB] = BITS(6, 0) | BITS(63, 12),
    [IOMMU_QI_PASID_CACHE] = 0,
};

const char *iommu_qi_type_name(unsigned type)
{
    static const char *const names[] = {
        [IOMMU_QI_CC] = "cc", [IOMMU_QI_IOTLB] = "iotlb", [IOMMU_QI_DEVTLB] = "devtlb",
        [IOMMU_QI_IEC] = "iec", [IOMMU_QI_WAIT] = "wait", [IOMMU_QI_PASID_IOTLB] = "pasid-iotlb",
        [IOMMU_QI_PASID_CACHE] = "pasid-cache", [IOMMU_QI_PASID_DEVTLB] = "pasid-devtlb",
        [IOMMU_QI_PGRP_RESP] = "page-group-response", [IOMMU_QI_PAGE_RESP] = "page-response",
    };
    return type < sizeof names / sizeof *names && names[type] ? names[type] : "unknown";
}

const char *iommu_qi_error_name(unsigned code)
{
    static const char *const names[] = {
        "none", "tail beyond the queue", "descriptor fetch error", "invalid descriptor type",
        "reserved field set", "descriptor needs 256-bit queue", "tail misaligned (256-bit queue)",
        "unsupported descriptor type",
    };
    return code < sizeof names / sizeof *names ? names[code] : "unknown";
}

enum iommu_qi_error iommu_qi_decode(const uint64_t qw[4], bool dw256, struct iommu_qi_desc *d)
{
    memset(d, 0, sizeof *d);
    const uint64_t q0 = qw[0], q1 = qw[1];
    unsigned type = (unsigned)(GET(q0, 3, 0) | (GET(q0, 11, 9) << 4));
    d->type = (uint8_t)type;
    if (type == 0 || type > IOMMU_QI_PAGE_RESP)
        return IOMMU_QI_ERR_INVALID_TYPE;
    if (type >= IOMMU_QI_PASID_IOTLB && !dw256)
        return IOMMU_QI_ERR_WIDTH;
    if (type >= IOMMU_QI_PASID_DEVTLB)
        return IOMMU_QI_ERR_UNSUPPORTED_TYPE;
    if ((q0 & ~defined_qw0[type]) || (q1 & ~defined_qw1[type]) || (q0 & BITS(11, 9)))
        return IOMMU_QI_ERR_RESERVED;
    if (dw256 && (qw[2] || qw[3]))
        return IOMMU_QI_ERR_RESERVED;
    switch (type) {
    case IOMMU_QI_CC:
        d->g = (uint8_t)GET(q0, 5, 4);
        d->did = (iommu_did_t)GET(q0, 31, 16);
        d->sid = (iommu_sid_t)GET(q0, 47, 32);
        d->fm = (uint8_t)GET(q0, 49, 48);
        return d->g == 0 ? IOMMU_QI_ERR_RESERVED : IOMMU_QI_OK;
    case IOMMU_QI_IOTLB:
        d->g = (uint8_t)GET(q0, 5, 4);
        d->dw = GET(q0, 6, 6);
        d->dr = GET(q0, 7, 7);
        d->did = (iommu_did_t)GET(q0, 31, 16);
        d->am = (uint8_t)GET(q1, 5, 0);
        d->ih = GET(q1, 6, 6);
        d->addr = q1 & BITS(63, 12);
        return d->g == 0 ? IOMMU_QI_ERR_RESERVED : IOMMU_QI_OK;
    case IOMMU_QI_DEVTLB:
        d->pfsid = (uint16_t)(GET(q0, 15, 12) | (GET(q0, 63, 52) << 4));
        d->mip = (uint8_t)GET(q0, 20, 16);
        d->sid = (iommu_sid_t)GET(q0, 47, 32);
        d->s = GET(q1, 0, 0);
        d->addr = q1 & BITS(63, 12);
        return IOMMU_QI_OK;
    case IOMMU_QI_IEC:
        d->g = (uint8_t)GET(q0, 4, 4);
        d->im = (uint8_t)GET(q0, 31, 27);
        d->iidx = (uint16_t)GET(q0, 47, 32);
        return IOMMU_QI_OK;
    case IOMMU_QI_WAIT:
        d->wait_if = GET(q0, 4, 4);
        d->wait_sw = GET(q0, 5, 5);
        d->wait_fn = GET(q0, 6, 6);
        d->wait_pd = GET(q0, 7, 7);
        d->status_data = (uint32_t)GET(q0, 63, 32);
        d->addr = q1 & BITS(63, 2);
        return IOMMU_QI_OK;
    case IOMMU_QI_PASID_IOTLB:
        d->g = (uint8_t)GET(q0, 5, 4);
        d->did = (iommu_did_t)GET(q0, 31, 16);
        d->pasid = (iommu_pasid_t)GET(q0, 51, 32);
        d->am = (uint8_t)GET(q1, 5, 0);
        d->ih = GET(q1, 6, 6);
        d->addr = q1 & BITS(63, 12);
        return d->g < IOMMU_QI_PIOTLB_G_PASID ? IOMMU_QI_ERR_RESERVED : IOMMU_QI_OK;
    case IOMMU_QI_PASID_CACHE:
        d->g = (uint8_t)GET(q0, 5, 4);
        d->did = (iommu_did_t)GET(q0, 31, 16);
        d->pasid = (iommu_pasid_t)GET(q0, 51, 32);
        return d->g == 2 ? IOMMU_QI_ERR_RESERVED : IOMMU_QI_OK;
    default:
        return IOMMU_QI_ERR_UNSUPPORTED_TYPE;
    }
}

static void zero(uint64_t qw[4]) { qw[0] = qw[1] = qw[2] = qw[3] = 0; }

void iommu_qi_enc_cc(uint64_t qw[4], unsigned g, iommu_did_t did, iommu_sid_t sid, unsigned fm)
{
    zero(qw);
    qw[0] = IOMMU_QI_CC | ((uint64_t)(g & 3) << 4) | ((uint64_t)did << 16) |
            ((uint64_t)sid << 32) | ((uint64_t)(fm & 3) << 48);
}

void iommu_qi_enc_iotlb(uint64_t qw[4], unsigned g, iommu_did_t did, uint64_t addr, unsigned am,
                        bool ih, bool dr, bool dw)
{
    zero(qw);
    qw[0] = IOMMU_QI_IOTLB | ((uint64_t)(g & 3) << 4) | ((uint64_t)dw << 6) | ((uint64_t)dr << 7) |
            ((uint64_t)did << 16);
    qw[1] = (addr & BITS(63, 12)) | ((uint64_t)ih << 6) | (am & 0x3f);
}

void iommu_qi_enc_devtlb(uint64_t qw[4], iommu_sid_t sid, uint16_t pfsid, unsigned mip,
                         uint64_t addr, unsigned size_shift)
{
    zero(qw);
    qw[0] = IOMMU_QI_DEVTLB | ((uint64_t)(pfsid & 0xf) << 12) | ((uint64_t)(mip & 0x1f) << 16) |
            ((uint64_t)sid << 32) | ((uint64_t)(pfsid >> 4) << 52);
    if (size_shift <= 12) {
        qw[1] = addr & BITS(63, 12);
    } else if (size_shift >= 64) {
        qw[1] = BITS(62, 12) | 1; /* bit 63 clear: the whole space */
    } else {
        /* S = 1; bits 12 .. size_shift-2 set, bit size_shift-1 clear */
        uint64_t base = addr & ~((1ull << size_shift) - 1);
        qw[1] = base | (BITS(size_shift - 2, 12) & (size_shift >= 14 ? ~0ull : 0)) | 1;
    }
}

void iommu_qi_devtlb_range(const struct iommu_qi_desc *d, uint64_t *base, unsigned *size_shift)
{
    if (!d->s) {
        *base = d->addr;
        *size_shift = 12;
        return;
    }
    /* the lowest clear address bit at or above 12 gives the size: bit p clear -> 2^(p+1) */
    uint64_t a = d->addr >> 12;
    unsigned p = 12;
    while (p < 64 && (a & 1)) {
        a >>= 1;
        p++;
    }
    if (p >= 63) {
        *base = 0;
        *size_shift = 64;
        return;
    }
    *size_shift = p + 1;
    *base = d->addr & ~((1ull << (p + 1)) - 1);
}

void iommu_qi_enc_iec(uint64_t qw[4], bool index_selective, uint16_t iidx, unsigned im)
{
    zero(qw);
    qw[0] = IOMMU_QI_IEC | ((uint64_t)index_selective << 4) | ((uint64_t)(im & 0x1f) << 27) |
            ((uint64_t)iidx << 32);
}

void iommu_qi_enc_wait(uint64_t qw[4], bool sw, bool iflag, bool fn, bool pd,
                       uint64_t status_addr, uint32_t status_data)
{
    zero(qw);
    qw[0] = IOMMU_QI_WAIT | ((uint64_t)iflag << 4) | ((uint64_t)sw << 5) | ((uint64_t)fn << 6) |
            ((uint64_t)pd << 7) | ((uint64_t)status_data << 32);
    qw[1] = status_addr & BITS(63, 2);
}

void iommu_qi_enc_pasid_iotlb(uint64_t qw[4], unsigned g, iommu_did_t did, iommu_pasid_t pasid,
                              uint64_t addr, unsigned am, bool ih)
{
    zero(qw);
    qw[0] = IOMMU_QI_PASID_IOTLB | ((uint64_t)(g & 3) << 4) | ((uint64_t)did << 16) |
            ((uint64_t)(pasid & 0xfffff) << 32);
    qw[1] = (addr & BITS(63, 12)) | ((uint64_t)ih << 6) | (am & 0x3f);
}

void iommu_qi_enc_pasid_cache(uint64_t qw[4], unsigned g, iommu_did_t did, iommu_pasid_t pasid)
{
    zero(qw);
    qw[0] = IOMMU_QI_PASID_CACHE | ((uint64_t)(g & 3) << 4) | ((uint64_t)did << 16) |
            ((uint64_t)(pasid & 0xfffff) << 32);
}
