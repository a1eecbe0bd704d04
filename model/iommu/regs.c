/*
 * regs.c — CAP_REG / ECAP_REG values from the configuration and their field tables
 * (VT-d spec 11.4.2 and 11.4.3). Fields not listed are reserved or deprecated and read 0.
 */
#include "regs.h"

#include <stdio.h>
#include <string.h>

#include "iommu.h"

const struct iommu_reg_field iommu_cap_fields[] = {
    {"ND", 0, 2, "Number of domains supported"},
    {"AFL", 3, 3, "Advanced fault logging"},
    {"RWBF", 4, 4, "Required write-buffer flushing"},
    {"PLMR", 5, 5, "Protected low-memory region"},
    {"PHMR", 6, 6, "Protected high-memory region"},
    {"CM", 7, 7, "Caching mode"},
    {"SAGAW", 8, 12, "Supported adjusted guest address widths"},
    {"MGAW", 16, 21, "Maximum guest address width"},
    {"ZLR", 22, 22, "Zero-length read"},
    {"FRO", 24, 33, "Fault-recording register offset"},
    {"SLLPS", 34, 37, "Second-level large page support"},
    {"PSI", 39, 39, "Page-selective invalidation"},
    {"NFR", 40, 47, "Number of fault-recording registers"},
    {"MAMV", 48, 53, "Maximum address mask value"},
    {"DWD", 54, 54, "Write draining"},
    {"DRD", 55, 55, "Read draining"},
    {"FL1GP", 56, 56, "First-level 1-GByte page support"},
    {"PI", 59, 59, "Posted interrupts support"},
    {"FL5LP", 60, 60, "First-level 5-level paging support"},
    {NULL, 0, 0, NULL},
};

const struct iommu_reg_field iommu_ecap_fields[] = {
    {"C", 0, 0, "Page-walk coherency"},
    {"QI", 1, 1, "Queued invalidation support"},
    {"DT", 2, 2, "Device-TLB support"},
    {"IR", 3, 3, "Interrupt remapping support"},
    {"EIM", 4, 4, "Extended interrupt mode (x2APIC)"},
    {"PT", 6, 6, "Pass-through"},
    {"SC", 7, 7, "Snoop control"},
    {"IRO", 8, 17, "IOTLB register offset"},
    {"MHMV", 20, 23, "Maximum handle mask value"},
    {"NEST", 26, 26, "Nested translation support"},
    {"PRS", 29, 29, "Page request support"},
    {"PSS", 35, 39, "PASID size supported"},
    {"PASID", 40, 40, "Process address space ID support"},
    {"SMTS", 43, 43, "Scalable mode translation support"},
    {"SLTS", 46, 46, "Second-level translation support"},
    {"FLTS", 47, 47, "First-level translation support"},
    {NULL, 0, 0, NULL},
};

static uint64_t bit(bool b, unsigned pos)
{
    return (uint64_t)(b ? 1 : 0) << pos;
}

uint64_t iommu_reg_cap(const struct iommu_cfg *c)
{
    uint64_t v = 0;
    v |= (uint64_t)(c->nd & 7u);
    v |= bit(c->rwbf, 4) | bit(c->plmr, 5) | bit(c->phmr, 6) | bit(c->caching_mode, 7);
    v |= (uint64_t)(c->sagaw & 0x1Fu) << 8;
    v |= (uint64_t)((c->mgaw - 1u) & 0x3Fu) << 16;
    v |= bit(c->zlr, 22);
    v |= (uint64_t)((c->fro / 16u) & 0x3FFu) << 24;
    v |= (uint64_t)((c->sllps_2m ? 1u : 0u) | (c->sllps_1g ? 2u : 0u)) << 34;
    v |= bit(c->psi, 39);
    v |= (uint64_t)((c->nfr - 1u) & 0xFFu) << 40;
    v |= (uint64_t)(c->mamv & 0x3Fu) << 48;
    v |= bit(c->dwd, 54) | bit(c->drd, 55) | bit(c->fl_1g, 56) | bit(c->pi, 59) |
         bit(c->fl_5level, 60);
    return v;
}

uint64_t iommu_reg_ecap(const struct iommu_cfg *c)
{
    uint64_t v = 0;
    v |= bit(c->coherent, 0) | bit(c->qi, 1) | bit(c->dev_tlb, 2) | bit(c->ir, 3) |
         bit(c->eim, 4) | bit(c->pass_through, 6) | bit(c->snoop_control, 7);
    v |= (uint64_t)((c->iro / 16u) & 0x3FFu) << 8;
    v |= (uint64_t)(c->mhmv & 0xFu) << 20;
    v |= bit(c->nested, 26);
    if (c->pasid) {
        v |= (uint64_t)((c->pasid_bits - 1u) & 0x1Fu) << 35;
        v |= bit(true, 40);
    }
    v |= bit(c->scalable_mode, 43) | bit(c->scalable_mode && c->sl, 46) |
         bit(c->scalable_mode && c->fl, 47);
    return v;
}

void iommu_reg_field_explain(const struct iommu_reg_field *f, uint64_t v, char *buf, size_t size)
{
    const char *n = f->name;
    buf[0] = '\0';
    if (n[0] == 'N' && n[1] == 'D' && !n[2]) {
        snprintf(buf, size, "%u-bit domain ids (%llu domains)", 4u + 2u * (unsigned)v,
                 1ull << (4u + 2u * (unsigned)v));
    } else if (!strcmp(n, "SAGAW")) {
        snprintf(buf, size, "%s%s%s", (v & 2) ? "3-level/39-bit " : "",
                 (v & 4) ? "4-level/48-bit " : "", (v & 8) ? "5-level/57-bit " : "");
    } else if (!strcmp(n, "MGAW")) {
        snprintf(buf, size, "%llu-bit", (unsigned long long)v + 1);
    } else if (!strcmp(n, "FRO") || !strcmp(n, "IRO")) {
        snprintf(buf, size, "offset 0x%llx", (unsigned long long)v * 16);
    } else if (!strcmp(n, "SLLPS")) {
        snprintf(buf, size, "%s%s", (v & 1) ? "2MB " : "", (v & 2) ? "1GB " : "");
        if (!v)
            snprintf(buf, size, "4KB pages only");
    } else if (!strcmp(n, "NFR")) {
        snprintf(buf, size, "%llu records", (unsigned long long)v + 1);
    } else if (!strcmp(n, "MAMV")) {
        snprintf(buf, size, "up to 2^%llu pages per invalidation", (unsigned long long)v);
    } else if (!strcmp(n, "PSS")) {
        snprintf(buf, size, "%llu-bit PASIDs", (unsigned long long)v + 1);
    } else if (f->lo == f->hi) {
        snprintf(buf, size, "%s", v ? "yes" : "no");
    }
}
