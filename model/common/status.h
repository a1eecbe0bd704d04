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

#include <stddef.h>
/* Writes a one-line reason (printf format) into reason[size] when reason is not NULL, for
 * the validators and parsers that explain a refusal. iommu_reason_inval returns
 * IOMMU_ERR_INVAL, iommu_reason_fail -1, so a check reads `return iommu_reason_inval(...)`. */
enum iommu_status iommu_reason_inval(char *reason, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int iommu_reason_fail(char *reason, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif
