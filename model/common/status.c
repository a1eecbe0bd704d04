/* status.c — descriptions of enum iommu_status. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>

const char *iommu_status_str(enum iommu_status st)
{
    switch (st) {
    case IOMMU_OK: return "ok";
    case IOMMU_ERR_INVAL: return "invalid argument or value out of range";
    case IOMMU_ERR_NOMEM: return "out of memory";
    case IOMMU_ERR_OVERLAP: return "overlaps an existing mapping";
    case IOMMU_ERR_NOTFOUND: return "not found";
    case IOMMU_ERR_ALIGN: return "misaligned address or length";
    case IOMMU_ERR_EXISTS: return "already exists";
    case IOMMU_ERR_UNSUPP: return "not supported by this configuration";
    case IOMMU_ERR_IO: return "I/O error";
    case IOMMU_ERR_FORMAT: return "malformed input";
    }
    return "unknown status";
}

static void vreason(char *reason, size_t size, const char *fmt, va_list ap)
{
    if (reason && size)
        vsnprintf(reason, size, fmt, ap);
}

enum iommu_status iommu_reason_inval(char *reason, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreason(reason, size, fmt, ap);
    va_end(ap);
    return IOMMU_ERR_INVAL;
}

int iommu_reason_fail(char *reason, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreason(reason, size, fmt, ap);
    va_end(ap);
    return -1;
}
