// test_physmem.cpp — sparse physical memory: zero reads without allocation, frame-crossing
// accesses, range and alignment errors, frame accounting.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "model/common/physmem.h"

namespace {

constexpr uint64_t LIMIT = 1ull << IOMMU_PHYSMEM_PA_BITS;

struct Mem {
    iommu_physmem_t *m = iommu_physmem_create();
    ~Mem() { iommu_physmem_destroy(m); }
};

TEST(Physmem, UntouchedMemoryReadsZeroWithoutAllocating)
{
    Mem mem;
    ASSERT_NE(mem.m, nullptr);
    EXPECT_EQ(iommu_physmem_frames(mem.m), 0u);
    EXPECT_EQ(iommu_physmem_read64(mem.m, 0), 0u);
    EXPECT_EQ(iommu_physmem_read64(mem.m, 0xFEDCBA98000ull), 0u);
    EXPECT_EQ(iommu_physmem_read64(mem.m, LIMIT - 8), 0u);
    std::vector<uint8_t> buf(3 * 4096 + 17, 0xEE);
    EXPECT_EQ(iommu_physmem_read(mem.m, 0x12345, buf.data(), buf.size()), IOMMU_OK);
    for (uint8_t b : buf)
        ASSERT_EQ(b, 0);
    EXPECT_EQ(iommu_physmem_frames(mem.m), 0u);
}

TEST(Physmem, Write64ReadBackLittleEndian)
{
    Mem mem;
    EXPECT_EQ(iommu_physmem_write64(mem.m, 0x1008, 0x1122334455667788ull), IOMMU_OK);
    EXPECT_EQ(iommu_physmem_read64(mem.m, 0x1008), 0x1122334455667788ull);
    EXPECT_EQ(iommu_physmem_read64(mem.m, 0x1000), 0u);
    EXPECT_EQ(iommu_physmem_read64(mem.m, 0x1010), 0u);
    uint8_t b[8];
    EXPECT_EQ(iommu_physmem_read(mem.m, 0x1008, b, 8), IOMMU_OK);
    EXPECT_EQ(b[0], 0x88);
    EXPECT_EQ(b[7], 0x11);
    uint8_t one = 0;
    EXPECT_EQ(iommu_physmem_read(mem.m, 0x100B, &one, 1), IOMMU_OK);
    EXPECT_EQ(one, 0x55);
    EXPECT_EQ(iommu_physmem_frames(mem.m), 1u);
}

TEST(Physmem, AccessesAcrossFrameBoundaries)
{
    Mem mem;
    std::vector<uint8_t> in(4096 + 100);
    for (size_t i = 0; i < in.size(); i++)
        in[i] = (uint8_t)(i * 7 + 3);
    const uint64_t pa = 0x7FFFFFFC0ull; // 64 bytes before a frame boundary
    EXPECT_EQ(iommu_physmem_write(mem.m, pa, in.data(), in.size()), IOMMU_OK);
    EXPECT_EQ(iommu_physmem_frames(mem.m), 3u); // spans three frames
    std::vector<uint8_t> out(in.size());
    EXPECT_EQ(iommu_physmem_read(mem.m, pa, out.data(), out.size()), IOMMU_OK);
    EXPECT_EQ(in, out);
    // an 8-byte value straddling the boundary, read with an unaligned byte read
    const uint8_t v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    EXPECT_EQ(iommu_physmem_write(mem.m, 0x2FFC, v, 8), IOMMU_OK);
    uint8_t w[8] = {};
    EXPECT_EQ(iommu_physmem_read(mem.m, 0x2FFC, w, 8), IOMMU_OK);
    EXPECT_EQ(std::memcmp(v, w, 8), 0);
    EXPECT_EQ(iommu_physmem_read64(mem.m, 0x3000), 0x0000000008070605ull);
    EXPECT_EQ(iommu_physmem_read64(mem.m, 0x2FF8), 0x0403020100000000ull);
    EXPECT_EQ(iommu_physmem_frames(mem.m), 5u);
    // bytes around the written range stay zero
    uint8_t edge[2] = {9, 9};
    EXPECT_EQ(iommu_physmem_read(mem.m, pa - 1, edge, 1), IOMMU_OK);
    EXPECT_EQ(iommu_physmem_read(mem.m, pa + in.size(), edge + 1, 1), IOMMU_OK);
    EXPECT_EQ(edge[0], 0);
    EXPECT_EQ(edge[1], 0);
}

TEST(Physmem, OutOfRangeAndMisalignedAccessesAreRejected)
{
    Mem mem;
    EXPECT_EQ(iommu_physmem_write64(mem.m, LIMIT, 1), IOMMU_ERR_INVAL);
    EXPECT_EQ(iommu_physmem_write64(mem.m, ~0ull & ~7ull, 1), IOMMU_ERR_INVAL);
    EXPECT_EQ(iommu_physmem_write64(mem.m, 0x1004, 1), IOMMU_ERR_ALIGN);
    EXPECT_EQ(iommu_physmem_write64(mem.m, LIMIT - 8, 0xAB), IOMMU_OK);
    EXPECT_EQ(iommu_physmem_read64(mem.m, LIMIT - 8), 0xABu);
    EXPECT_EQ(iommu_physmem_read64(mem.m, LIMIT), 0u);
    uint8_t b[16] = {};
    EXPECT_EQ(iommu_physmem_write(mem.m, LIMIT - 8, b, 16), IOMMU_ERR_INVAL);
    EXPECT_EQ(iommu_physmem_read(mem.m, LIMIT - 8, b, 16), IOMMU_ERR_INVAL);
    EXPECT_EQ(iommu_physmem_write(mem.m, ~0ull, b, 2), IOMMU_ERR_INVAL); // would wrap
    EXPECT_EQ(iommu_physmem_read(mem.m, LIMIT - 16, b, 16), IOMMU_OK);
    EXPECT_EQ(b[8], 0xAB);
    EXPECT_EQ(iommu_physmem_frames(mem.m), 1u); // the rejected writes allocated nothing
}

TEST(Physmem, InRange)
{
    EXPECT_TRUE(iommu_physmem_in_range(0, 0));
    EXPECT_TRUE(iommu_physmem_in_range(0, LIMIT));
    EXPECT_FALSE(iommu_physmem_in_range(1, LIMIT));
    EXPECT_TRUE(iommu_physmem_in_range(LIMIT - 1, 1));
    EXPECT_FALSE(iommu_physmem_in_range(LIMIT - 1, 2));
    EXPECT_FALSE(iommu_physmem_in_range(LIMIT, 0));
    EXPECT_FALSE(iommu_physmem_in_range(~0ull, 1));
    EXPECT_FALSE(iommu_physmem_in_range(8, ~0ull));
}

TEST(Physmem, FrameCountCountsDistinctFramesOnly)
{
    Mem mem;
    const uint64_t pas[] = {0, 0x1000, 0x1FF8, 0x100000000ull, 0x100000ff8ull,
                            LIMIT - 0x1000, 0xABCDE000ull, 0x1000};
    for (uint64_t pa : pas)
        EXPECT_EQ(iommu_physmem_write64(mem.m, pa, pa | 1), IOMMU_OK);
    EXPECT_EQ(iommu_physmem_frames(mem.m), 5u);
    for (uint64_t pa : pas)
        EXPECT_EQ(iommu_physmem_read64(mem.m, pa), pa | 1);
    // reads of neighbouring untouched frames allocate nothing
    EXPECT_EQ(iommu_physmem_read64(mem.m, 0x2000), 0u);
    EXPECT_EQ(iommu_physmem_read64(mem.m, 0x100001000ull), 0u);
    EXPECT_EQ(iommu_physmem_frames(mem.m), 5u);
    // a thousand frames far apart
    for (uint64_t i = 0; i < 1000; i++)
        EXPECT_EQ(iommu_physmem_write64(mem.m, (i << 36) | 0x40, i), IOMMU_OK);
    EXPECT_EQ(iommu_physmem_frames(mem.m), 5u + 999u); // i == 0 hits frame 0 again
    for (uint64_t i = 0; i < 1000; i++)
        ASSERT_EQ(iommu_physmem_read64(mem.m, (i << 36) | 0x40), i);
}

TEST(Physmem, DestroyAcceptsNull)
{
    iommu_physmem_destroy(nullptr);
    SUCCEED();
}

} // namespace
