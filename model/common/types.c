/* types.c — source-id formatting and parsing. */
#include "types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *iommu_sid_format(iommu_sid_t sid, char buf[8])
{
    snprintf(buf, 8, "%02x:%02x.%u", IOMMU_SID_BUS(sid), IOMMU_SID_DEV(sid),
             (unsigned)IOMMU_SID_FN(sid));
    return buf;
}

static bool parse_hex_field(const char *s, const char *end, unsigned long max, unsigned long *out)
{
    if (s == end || end - s > 2)
        return false;
    unsigned long v = 0;
    for (const char *p = s; p < end; p++) {
        int c = (unsigned char)*p, d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return false;
        v = v * 16 + (unsigned long)d;
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

bool iommu_sid_parse(const char *s, iommu_sid_t *out)
{
    const char *colon = strchr(s, ':');
    if (!colon) {
        /* a plain number */
        if (*s < '0' || *s > '9') /* no sign, no leading blanks */
            return false;
        char *end = NULL;
        unsigned long long v = strtoull(s, &end, 0);
        if (*end || v > 0xFFFF || *s == '-')
            return false;
        *out = (iommu_sid_t)v;
        return true;
    }
    const char *dot = strchr(colon + 1, '.');
    if (!dot)
        return false;
    unsigned long bus, dev, fn;
    if (!parse_hex_field(s, colon, 0xFF, &bus) || !parse_hex_field(colon + 1, dot, 0x1F, &dev) ||
        strlen(dot + 1) != 1 || !parse_hex_field(dot + 1, dot + 2, 7, &fn))
        return false;
    *out = IOMMU_SID(bus, dev, fn);
    return true;
}
