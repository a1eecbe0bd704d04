/* msi.c — interrupt-request decode (see msi.h). */
#include "msi.h"

#include <assert.h>

#include "../common/fault_codes.h"

uint8_t iommu_msi_decode(uint64_t addr, uint32_t data, struct iommu_msi *m)
{
    assert(iommu_msi_is_interrupt(addr));
    *m = (struct iommu_msi){0};
    m->remappable = (addr & IOMMU_MSI_ADDR_IF) != 0;
    if (!m->remappable) {
        m->dest = (uint8_t)(addr >> 12);
        m->rh = (addr >> 3) & 1;
        m->dm = (addr >> 2) & 1;
        m->vector = (uint8_t)data;
        m->dlm = (data >> 8) & 7;
        m->tm = (data >> 15) & 1;
        return 0;
    }
    m->handle = (uint16_t)(((addr >> 5) & 0x7FFF) | ((addr >> 2) & 1) << 15);
    m->shv = (addr & IOMMU_MSI_ADDR_SHV) != 0;
    m->subhandle = m->shv ? (uint16_t)data : 0;
    m->index = (uint32_t)m->handle + m->subhandle;
    if (data >> 16)
        return IOMMU_FR_IR_RESERVED_REQ;
    return 0;
}

uint64_t iommu_msi_addr_remappable(uint16_t handle, bool shv)
{
    return IOMMU_IRQ_RANGE_BASE | (uint64_t)(handle & 0x7FFF) << 5 | IOMMU_MSI_ADDR_IF |
           (shv ? IOMMU_MSI_ADDR_SHV : 0) | (uint64_t)(handle >> 15) << 2;
}

uint64_t iommu_msi_addr_compat(uint8_t dest, bool dm, bool rh)
{
    return IOMMU_IRQ_RANGE_BASE | (uint64_t)dest << 12 | (uint64_t)rh << 3 | (uint64_t)dm << 2;
}

uint32_t iommu_msi_data_compat(uint8_t vector, unsigned dlm, bool tm)
{
    return vector | (dlm & 7u) << 8 | (uint32_t)tm << 15;
}
