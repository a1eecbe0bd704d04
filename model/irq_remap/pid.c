/* pid.c — posted-interrupt descriptor layout and posting (see pid.h). */
#include "pid.h"

#define PID_ON 1ull
#define PID_SN 2ull

void iommu_pid_encode(const struct iommu_pid *d, uint64_t out[8])
{
    for (int i = 0; i < 4; i++)
        out[i] = d->pir[i];
    out[4] = (d->on ? PID_ON : 0) | (d->sn ? PID_SN : 0) | (uint64_t)d->nv << 16 |
             (uint64_t)d->ndst << 32;
    out[5] = out[6] = out[7] = 0;
}

void iommu_pid_decode(const uint64_t in[8], struct iommu_pid *d)
{
    for (int i = 0; i < 4; i++)
        d->pir[i] = in[i];
    d->on = in[4] & PID_ON;
    d->sn = (in[4] & PID_SN) != 0;
    d->nv = (uint8_t)(in[4] >> 16);
    d->ndst = (uint32_t)(in[4] >> 32);
}

bool iommu_pid_post(uint64_t pid[8], uint8_t vector, bool urg)
{
    pid[vector / 64] |= 1ull << (vector % 64);
    if ((pid[4] & PID_ON) || ((pid[4] & PID_SN) && !urg))
        return false;
    pid[4] |= PID_ON;
    return true;
}
