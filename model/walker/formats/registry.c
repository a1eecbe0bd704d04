/*
 * registry.c — the page-table formats by id and by name. Adding a format: one file in this
 * folder defining `const struct iommu_pt_format_ops iommu_pt_<name>` and
 * `iommu_pt_<name>_decode`, a new enum iommu_pt_format value in ../pt_format.h, and one line
 * in list.h (the table below is built from it).
 * Lookups happen at configuration time and once per walk (by id: one bounds check and one
 * load).
 */
#include "../pt_format.h"

#include <string.h>

/* Indexed by enum iommu_pt_format, built from formats/list.h. Ids are dense from 1 (a new
 * format takes the next id and raises IOMMU_PT_FORMAT_ID_LIMIT), so by_id + 1 is the
 * NULL-terminated list of all formats (tests/model/walker/test_pt_format.cpp checks this). */
static const struct iommu_pt_format_ops *const by_id[IOMMU_PT_FORMAT_ID_LIMIT + 1] = {
#define IOMMU_PT_FORMAT(id, name) [id] = &iommu_pt_##name,
#include "list.h"
#undef IOMMU_PT_FORMAT
    [IOMMU_PT_FORMAT_ID_LIMIT] = NULL,
};

/* Alternative names accepted in configurations. */
static const struct {
    const char *alias;
    unsigned id;
} aliases[] = {
    {"second-level", IOMMU_PT_SECOND_LEVEL},
    {"first-level", IOMMU_PT_FIRST_LEVEL},
    {"ia32e", IOMMU_PT_FIRST_LEVEL},
};

const struct iommu_pt_format_ops *iommu_pt_format_get(unsigned id)
{
    return id < IOMMU_PT_FORMAT_ID_LIMIT ? by_id[id] : NULL;
}

const struct iommu_pt_format_ops *iommu_pt_format_find(const char *name)
{
    if (!name)
        return NULL;
    for (unsigned i = 0; i < IOMMU_PT_FORMAT_ID_LIMIT; i++)
        if (by_id[i] && strcmp(by_id[i]->name, name) == 0)
            return by_id[i];
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(aliases[i].alias, name) == 0)
            return by_id[aliases[i].id];
    return NULL;
}

const struct iommu_pt_format_ops *const *iommu_pt_format_all(void)
{
    return by_id + 1; /* ids start at 1; the table ends with NULL */
}
