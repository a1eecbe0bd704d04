/*
 * list.h — every page-table format compiled into the walker, one X-macro line each:
 *
 *     IOMMU_PT_FORMAT(id, name)
 *
 * id is the format's enum iommu_pt_format value; name is its symbol suffix: the format's
 * file (formats/<name>.c) defines `const struct iommu_pt_format_ops iommu_pt_<name>` and the
 * external function `iommu_pt_<name>_decode` its table points to.
 *
 * Users define IOMMU_PT_FORMAT, include this file and undefine it again:
 *   pt_format.h         extern declarations of every table and decode function
 *   formats/registry.c  the lookup table by id (and so by name)
 *   walk.c              the per-entry dispatch: a compare with each listed decode function
 *                       before the indirect call, so that link-time optimisation can
 *                       inline the decode of the format being walked (docs/models/walker.md)
 * No include guard, on purpose.
 */
IOMMU_PT_FORMAT(IOMMU_PT_SECOND_LEVEL, vtd_sl) /* first: the walk compares in this order */
IOMMU_PT_FORMAT(IOMMU_PT_FIRST_LEVEL, vtd_fl)
