/*
 * regs.h — VT-d capability registers (VT-d spec 11.4.2 CAP_REG, 11.4.3 ECAP_REG) derived
 * from the unit's configuration, and their field tables for decoding them as a person reads
 * them (`iommusim info`). Only fields the model gives meaning to are derived from config;
 * every other field is 0 and documented as such.
 */
#ifndef IOMMU_IOMMU_REGS_H
#define IOMMU_IOMMU_REGS_H

#include "../common/types.h"

#ifdef __cplusplus
extern "C" {
#endif

struct iommu_cfg;

/* One register field: bits [lo, hi]. */
struct iommu_reg_field {
    const char *name; /* spec mnemonic: "SAGAW" */
    uint8_t lo, hi;
    const char *desc; /* "Supported Adjusted Guest Address Widths" */
};

/* Field tables, terminated by an entry with name == NULL. */
extern const struct iommu_reg_field iommu_cap_fields[];
extern const struct iommu_reg_field iommu_ecap_fields[];

uint64_t iommu_reg_cap(const struct iommu_cfg *cfg);
uint64_t iommu_reg_ecap(const struct iommu_cfg *cfg);
#define IOMMU_REG_VER 0x10u /* VER_REG: architecture version 1.0 (VT-d 11.4.1) */

static inline uint64_t iommu_reg_field_get(uint64_t reg, const struct iommu_reg_field *f)
{
    unsigned w = (unsigned)(f->hi - f->lo + 1);
    return (reg >> f->lo) & (w >= 64 ? ~0ull : ((1ull << w) - 1));
}

/* A person-readable meaning of a field's value ("4-level (48-bit)", "16-bit domain ids"),
 * written into buf; empty when the raw number says it all. */
void iommu_reg_field_explain(const struct iommu_reg_field *f, uint64_t value, char *buf,
                             size_t size);

#ifdef __cplusplus
}
#endif
#endif
