/* fault.c — FRCD_REG encoding (VT-d spec 11.4.14). */
#include "fault.h"

void iommu_fault_record_encode(const struct iommu_fault_record *r, uint64_t out[2])
{
    out[0] = r->fi & ~0xFFFull;
    uint64_t hi = (uint64_t)r->sid;
    hi |= (uint64_t)(r->priv ? 1 : 0) << (93 - 64);
    hi |= (uint64_t)(r->exe ? 1 : 0) << (94 - 64);
    hi |= (uint64_t)(r->pp ? 1 : 0) << (95 - 64);
    hi |= (uint64_t)r->reason << (96 - 64);
    hi |= (uint64_t)(r->pasid & 0xFFFFFu) << (104 - 64);
    hi |= (uint64_t)(r->at & 3u) << (124 - 64);
    hi |= (uint64_t)(r->is_read ? 1 : 0) << (126 - 64);
    hi |= (uint64_t)(r->f ? 1 : 0) << (127 - 64);
    out[1] = hi;
}

void iommu_fault_record_decode(const uint64_t in[2], struct iommu_fault_record *r)
{
    const uint64_t hi = in[1];
    r->fi = in[0] & ~0xFFFull;
    r->sid = (iommu_sid_t)(hi & 0xFFFF);
    r->priv = (hi >> (93 - 64)) & 1;
    r->exe = (hi >> (94 - 64)) & 1;
    r->pp = (hi >> (95 - 64)) & 1;
    r->reason = (uint8_t)(hi >> (96 - 64));
    r->pasid = (uint32_t)((hi >> (104 - 64)) & 0xFFFFFu);
    r->at = (uint8_t)((hi >> (124 - 64)) & 3u);
    r->is_read = (hi >> (126 - 64)) & 1;
    r->f = (hi >> (127 - 64)) & 1;
}
