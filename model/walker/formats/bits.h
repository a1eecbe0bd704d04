/*
 * bits.h — private bit-field helpers shared by the VT-d entry formats (model/walker/formats.c
 * and every page-table format in model/walker/formats/). Include only from those .c files:
 * the helpers are short static inline functions, so their names stay inside each file.
 *
 * Assumptions: fields live in one 64-bit word; bit positions are 0..63 and hi >= lo.
 */
#ifndef IOMMU_WALKER_FORMATS_BITS_H
#define IOMMU_WALKER_FORMATS_BITS_H

#include <stdbool.h>
#include <stdint.h>

/* Mask of bits hi:lo (inclusive) of a 64-bit word. */
static inline uint64_t mask(unsigned hi, unsigned lo)
{
    const uint64_t upper = hi >= 63 ? ~0ull : ((1ull << (hi + 1)) - 1);
    return upper & ~((1ull << lo) - 1);
}
/* Value of bits hi:lo of v. */
static inline uint64_t get(uint64_t v, unsigned hi, unsigned lo)
{
    return (v & mask(hi, lo)) >> lo;
}
/* Field value placed at bits hi:lo (truncated to the field's width). */
static inline uint64_t put(uint64_t value, unsigned hi, unsigned lo)
{
    return (value << lo) & mask(hi, lo);
}
/* Bit `pos` set when b. */
static inline uint64_t bit(bool b, unsigned pos)
{
    return b ? (1ull << pos) : 0;
}
/* Bit `pos` of v. */
static inline bool tst(uint64_t v, unsigned pos)
{
    return (v >> pos) & 1u;
}
/* Bits at/above the host address width within an address field ending at bit `top`. */
static inline uint64_t above_haw(uint8_t haw, unsigned top)
{
    if (haw > top)
        return 0;
    return mask(top, haw < 12 ? 12 : haw);
}
/* A pointer field (bits 63:12 of the word) as an address. */
static inline uint64_t ptr(uint64_t w)
{
    return w & mask(63, 12);
}

#endif
