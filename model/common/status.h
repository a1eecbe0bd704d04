/*
 * status.h — return codes of every core API (0 = ok). Translation faults are not status
 * codes: they are fault records with architectural reason codes (see model/iommu/fault.h).
 */
#ifndef IOMMU_COMMON_STATUS_H
#define IOMMU_COMMON_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

enum iommu_status {
    IOMMU_OK = 0,
    IOMMU_ERR_INVAL,     /* an argument or configuration value is out of range    */
    IOMMU_ERR_NOMEM,     /* allocation failed                                     */
    IOMMU_ERR_OVERLAP,   /* a map overlaps an existing mapping                    */
    IOMMU_ERR_NOTFOUND,  /* the named object (domain, device, mapping) is unknown */
    IOMMU_ERR_ALIGN,     /* an address or length is not aligned as required      */
    IOMMU_ERR_EXISTS,    /* the object exists already (attach twice, …)          */
    IOMMU_ERR_UNSUPP,    /* the configuration does not support the request        */
    IOMMU_ERR_IO,        /* a file could not be read or written                   */
    IOMMU_ERR_FORMAT,    /* malformed input                                       */
};

/* A short constant description ("overlaps an existing mapping"). */
const char *iommu_status_str(enum iommu_status st);

#ifdef __cplusplus
}
#endif
#endif
