// test_sid.cpp — source-id formatting and parsing ("bb:dd.f" and plain numbers).
#include <gtest/gtest.h>

#include <string>

#include "model/common/types.h"

namespace {

std::string fmt(iommu_sid_t sid)
{
    char buf[8];
    return iommu_sid_format(sid, buf);
}

TEST(Sid, MacrosPackBusDeviceFunction)
{
    EXPECT_EQ(IOMMU_SID(0, 2, 0), 0x0010);
    EXPECT_EQ(IOMMU_SID(0xFF, 0x1F, 7), 0xFFFF);
    EXPECT_EQ(IOMMU_SID(0x3A, 0x04, 1), 0x3A21);
    EXPECT_EQ(IOMMU_SID_BUS(0x3A21), 0x3Au);
    EXPECT_EQ(IOMMU_SID_DEV(0x3A21), 0x04u);
    EXPECT_EQ(IOMMU_SID_FN(0x3A21), 1u);
    EXPECT_EQ(IOMMU_SID_DEVFN(0x3A21), 0x21u);
}

TEST(Sid, Format)
{
    EXPECT_EQ(fmt(IOMMU_SID(0, 2, 0)), "00:02.0");
    EXPECT_EQ(fmt(IOMMU_SID(0xFF, 0x1F, 7)), "ff:1f.7");
    EXPECT_EQ(fmt(IOMMU_SID(0x3A, 0, 1)), "3a:00.1");
    EXPECT_EQ(fmt(0), "00:00.0");
    char buf[8];
    EXPECT_EQ(iommu_sid_format(1, buf), buf);
}

TEST(Sid, ParseGoodInputs)
{
    struct {
        const char *s;
        iommu_sid_t want;
    } good[] = {
        {"00:02.0", 0x0010}, {"ff:1f.7", 0xFFFF}, {"FF:1F.7", 0xFFFF}, {"3a:04.1", 0x3A21},
        {"0:2.0", 0x0010},   {"0x10", 16},        {"16", 16},          {"0", 0},
        {"65535", 0xFFFF},   {"0xffff", 0xFFFF},
    };
    for (const auto &g : good) {
        iommu_sid_t out = 0xDEAD;
        EXPECT_TRUE(iommu_sid_parse(g.s, &out)) << g.s;
        EXPECT_EQ(out, g.want) << g.s;
    }
}

TEST(Sid, FormatParseRoundTripsEverySid)
{
    for (uint32_t s = 0; s <= 0xFFFF; s++) {
        char buf[8];
        iommu_sid_t out = 0;
        ASSERT_TRUE(iommu_sid_parse(iommu_sid_format((iommu_sid_t)s, buf), &out)) << buf;
        ASSERT_EQ(out, s);
    }
}

TEST(Sid, ParseRejectsBadInputs)
{
    const char *bad[] = {
        "",         "00:02",    "00:20.0",  "100:00.0", "00:00.8",  "zz:00.0", "00:02.0x",
        "00:02.",   ":02.0",    "00:.0",    "65536",    "-1",       "0x",      "0x10000",
        "12abc",    "00:02.0 ", "00:002.0", "00:02:0",  "0g:00.0", "00:0g.0",
        "00:02.-1", "1:2:3.4",  "00:02.8",
    };
    for (const char *s : bad) {
        iommu_sid_t out = 0x1234;
        EXPECT_FALSE(iommu_sid_parse(s, &out)) << "'" << s << "'";
        EXPECT_EQ(out, 0x1234) << "output written for '" << s << "'";
    }
}

} // namespace
