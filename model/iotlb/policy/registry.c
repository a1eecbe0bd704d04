/*
 * registry.c — the replacement policies by name. Adding a policy: one file in this folder
 * defining a `const struct iommu_repl_policy`, its extern declaration in policy.h, and one
 * line in the table below. Lookups happen at configuration time only.
 */
#include "policy.h"

#include <string.h>

static const struct iommu_repl_policy *const all_policies[] = {
    &iommu_repl_lru,
    &iommu_repl_plru,
    &iommu_repl_fifo,
    &iommu_repl_random,
    NULL,
};

/* Alternative names accepted in configurations. */
static const struct {
    const char *alias;
    const struct iommu_repl_policy *policy;
} aliases[] = {
    {"tree-plru", &iommu_repl_plru},
};

const struct iommu_repl_policy *iommu_repl_policy_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; all_policies[i]; i++)
        if (strcmp(all_policies[i]->name, name) == 0)
            return all_policies[i];
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(aliases[i].alias, name) == 0)
            return aliases[i].policy;
    return NULL;
}

const struct iommu_repl_policy *const *iommu_repl_policy_all(void)
{
    return all_policies;
}
