// trace_text_test.cpp — the text form: every event type and field parses, formats to its
// canonical line, and round-trips (the version-2 buffer events too: dma_map, dma_unmap, dma
// by handle); every malformed-line class gives its exact reason.
#include "traces/trace.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

struct Parsed {
    int rc;
    iommu_trace_event ev;
    std::string reason;
};

Parsed parse(const std::string &line)
{
    Parsed p{};
    char reason[512] = "";
    p.rc = iommu_trace_parse_line(line.data(), line.size(), &p.ev, reason, sizeof reason);
    p.reason = reason;
    return p;
}

std::string format(const iommu_trace_event &ev)
{
    char buf[512];
    int n = iommu_trace_format_line(&ev, buf, sizeof buf);
    return n < 0 ? std::string("<invalid>") : std::string(buf, size_t(n));
}

// Parses `line`, expects an event whose canonical form is `canon`, and checks the round trip.
void expect_canon(const std::string &line, const std::string &canon)
{
    SCOPED_TRACE(line);
    Parsed p = parse(line);
    ASSERT_EQ(p.rc, 1) << p.reason;
    EXPECT_EQ(format(p.ev), canon);
    Parsed q = parse(canon);
    ASSERT_EQ(q.rc, 1) << q.reason;
    EXPECT_TRUE(iommu_trace_event_equal(&p.ev, &q.ev));
    EXPECT_EQ(format(q.ev), canon); // stable
}

TEST(TraceText, AttachAllFields)
{
    Parsed p = parse("attach sid=00:02.0 did=1 mode=sl");
    ASSERT_EQ(p.rc, 1) << p.reason;
    EXPECT_EQ(p.ev.type, IOMMU_EV_ATTACH);
    EXPECT_EQ(p.ev.sid, IOMMU_SID(0, 2, 0));
    EXPECT_EQ(p.ev.did, 1);
    EXPECT_EQ(p.ev.mode, 0);
    EXPECT_EQ(p.ev.flags, 0);
    EXPECT_EQ(p.ev.pasid, IOMMU_PASID_NONE);

    p = parse("attach sid=05:1f.7 did=0xffff mode=nested pasid=0xfffff alias=00:1e.0 t=12");
    ASSERT_EQ(p.rc, 1) << p.reason;
    EXPECT_EQ(p.ev.sid, IOMMU_SID(5, 0x1f, 7));
    EXPECT_EQ(p.ev.did, 0xffff);
    EXPECT_EQ(p.ev.mode, 2);
    EXPECT_EQ(p.ev.pasid, 0xfffffu);
    EXPECT_EQ(p.ev.alias, IOMMU_SID(0, 0x1e, 0));
    EXPECT_EQ(p.ev.time_ns, 12u);
    EXPECT_EQ(p.ev.flags, IOMMU_EVF_PASID | IOMMU_EVF_ALIAS | IOMMU_EVF_TIME);

    expect_canon("attach sid=00:02.0 did=1 mode=sl", "attach sid=00:02.0 did=1 mode=sl");
    expect_canon("attach mode=fl did=7 sid=0a:00.1", "attach sid=0a:00.1 did=7 mode=fl");
    expect_canon("attach sid=1:2.3 did=2 mode=pt", "attach sid=01:02.3 did=2 mode=pt");
    expect_canon("attach sid=0x0110 did=2 mode=pt", "attach sid=01:02.0 did=2 mode=pt");
    expect_canon("attach sid=05:00.0 did=3 mode=nested pasid=0x10 alias=00:1e.0 t=5",
                 "attach sid=05:00.0 did=3 mode=nested pasid=16 alias=00:1e.0 t=5");
}

TEST(TraceText, DetachAllFields)
{
    expect_canon("detach sid=00:02.0", "detach sid=00:02.0");
    expect_canon("detach sid=00:02.0 pasid=7 t=99", "detach sid=00:02.0 pasid=7 t=99");
    Parsed p = parse("detach sid=ff:1f.7");
    ASSERT_EQ(p.rc, 1);
    EXPECT_EQ(p.ev.sid, 0xffff);
}

TEST(TraceText, MapAllFields)
{
    Parsed p = parse("map did=1 iova=0x100000 pa=0x40000000 len=0x1000 perm=rw page=4K");
    ASSERT_EQ(p.rc, 1) << p.reason;
    EXPECT_EQ(p.ev.type, IOMMU_EV_MAP);
    EXPECT_EQ(p.ev.did, 1);
    EXPECT_EQ(p.ev.iova, 0x100000u);
    EXPECT_EQ(p.ev.pa, 0x40000000u);
    EXPECT_EQ(p.ev.len, 0x1000u);
    EXPECT_EQ(p.ev.access, IOMMU_ACC_R | IOMMU_ACC_W);
    EXPECT_EQ(p.ev.page_shift, 12);
    EXPECT_EQ(p.ev.stage, 0);

    expect_canon("map did=1 iova=0x100000 pa=0x40000000 len=4K perm=wr page=4K",
                 "map did=1 iova=0x100000 pa=0x40000000 len=0x1000 perm=rw page=4K");
    expect_canon("map did=2 iova=0x200000 pa=0x200000 len=2M perm=r page=2M stage=1",
                 "map did=2 iova=0x200000 pa=0x200000 len=0x200000 perm=r page=2M stage=1");
    expect_canon("map did=2 iova=1073741824 pa=0x40000000 len=1G perm=xwr page=1G stage=2 t=1",
                 "map did=2 iova=0x40000000 pa=0x40000000 len=0x40000000 perm=rwx page=1G "
                 "stage=2 t=1");
    expect_canon("map did=3 iova=0x0 pa=0x0 len=8k perm=w page=4K",
                 "map did=3 iova=0x0 pa=0x0 len=0x2000 perm=w page=4K");
    p = parse("map did=1 iova=0x1000 pa=0x2000 len=0x1000 perm=x page=4K");
    ASSERT_EQ(p.rc, 1);
    EXPECT_EQ(p.ev.access, IOMMU_ACC_X);
}

TEST(TraceText, UnmapAllFields)
{
    expect_canon("unmap did=1 iova=0x100000 len=0x1000", "unmap did=1 iova=0x100000 len=0x1000");
    expect_canon("unmap did=1 iova=0x100000 len=64K stage=2 t=3",
                 "unmap did=1 iova=0x100000 len=0x10000 stage=2 t=3");
}

TEST(TraceText, DmaAllFields)
{
    Parsed p = parse("dma sid=00:02.0 iova=0x100040 len=64 op=r");
    ASSERT_EQ(p.rc, 1) << p.reason;
    EXPECT_EQ(p.ev.type, IOMMU_EV_DMA);
    EXPECT_EQ(p.ev.sid, IOMMU_SID(0, 2, 0));
    EXPECT_EQ(p.ev.iova, 0x100040u);
    EXPECT_EQ(p.ev.len, 64u);
    EXPECT_EQ(p.ev.access, IOMMU_ACC_R);
    EXPECT_EQ(p.ev.ats, IOMMU_ATS_UNTRANSLATED);

    p = parse("dma sid=00:02.0 iova=0x100040 len=4K op=r x priv ats=translated pasid=3 t=77");
    ASSERT_EQ(p.rc, 1) << p.reason;
    EXPECT_EQ(p.ev.access, IOMMU_ACC_R | IOMMU_ACC_X | IOMMU_ACC_PRIV);
    EXPECT_EQ(p.ev.ats, IOMMU_ATS_TRANSLATED);
    EXPECT_EQ(p.ev.len, 4096u);
    EXPECT_EQ(p.ev.pasid, 3u);
    EXPECT_EQ(p.ev.time_ns, 77u);
    EXPECT_EQ(p.ev.flags, IOMMU_EVF_PASID | IOMMU_EVF_TIME);

    expect_canon("dma sid=00:02.0 iova=0x100040 len=64 op=r", "dma sid=00:02.0 iova=0x100040 len=64 op=r");
    expect_canon("dma  sid=00:02.0\tiova=0x100040 len=0x40 op=w   # a comment",
                 "dma sid=00:02.0 iova=0x100040 len=64 op=w");
    expect_canon("dma t=5 priv op=w len=1 iova=7 sid=01:00.0 ats=req pasid=0",
                 "dma sid=01:00.0 iova=0x7 len=1 op=w priv ats=req pasid=0 t=5");
    expect_canon("dma sid=01:00.0 iova=0x0 len=4294967295 op=r x ats=untranslated",
                 "dma sid=01:00.0 iova=0x0 len=4294967295 op=r x");
    expect_canon("dma sid=01:00.0 iova=0xffffffffffffffc0 len=64 op=r\r",
                 "dma sid=01:00.0 iova=0xffffffffffffffc0 len=64 op=r");
}

TEST(TraceText, DmaMapAllFields)
{
    Parsed p = parse("dma_map sid=00:02.0 handle=7 pa=0x12345040 len=1500 perm=w");
    ASSERT_EQ(p.rc, 1) << p.reason;
    EXPECT_EQ(p.ev.type, IOMMU_EV_DMA_MAP);
    EXPECT_EQ(p.ev.sid, IOMMU_SID(0, 2, 0));
    EXPECT_EQ(p.ev.handle, 7u);
    EXPECT_EQ(p.ev.pa, 0x12345040u);
    EXPECT_EQ(p.ev.len, 1500u);
    EXPECT_EQ(p.ev.access, IOMMU_ACC_W);
    EXPECT_EQ(p.ev.cpu, 0u);
    EXPECT_EQ(p.ev.flags, 0);
    EXPECT_EQ(p.ev.pasid, IOMMU_PASID_NONE);
    EXPECT_EQ(iommu_trace_event_version(&p.ev), 2u);

    p = parse("dma_map sid=00:02.0 handle=0xffffffffffffffff pa=0x1 len=4K perm=rw more cpu=4294967295 t=9");
    ASSERT_EQ(p.rc, 1) << p.reason;
    EXPECT_EQ(p.ev.handle, UINT64_MAX);
    EXPECT_EQ(p.ev.len, 4096u);
    EXPECT_EQ(p.ev.access, IOMMU_ACC_R | IOMMU_ACC_W);
    EXPECT_EQ(p.ev.cpu, 4294967295u);
    EXPECT_EQ(p.ev.time_ns, 9u);
    EXPECT_EQ(p.ev.flags, IOMMU_EVF_MORE | IOMMU_EVF_TIME);

    expect_canon("dma_map sid=00:02.0 handle=7 pa=0x12345040 len=1500 perm=w",
                 "dma_map sid=00:02.0 handle=7 pa=0x12345040 len=1500 perm=w");
    expect_canon("dma_map t=3 cpu=2 more perm=wr len=0x10 pa=4097 handle=0x10 sid=1:3.0",
                 "dma_map sid=01:03.0 handle=16 pa=0x1001 len=16 perm=rw more cpu=2 t=3");
    expect_canon("dma_map sid=00:02.0 handle=0 pa=0 len=1 perm=r cpu=0",
                 "dma_map sid=00:02.0 handle=0 pa=0x0 len=1 perm=r"); // cpu 0 is the default
    expect_canon("dma_map sid=00:02.0 handle=1 pa=0x0 len=18446744073709551615 perm=r",
                 "dma_map sid=00:02.0 handle=1 pa=0x0 len=18446744073709551615 perm=r");
    expect_canon("dma_map sid=00:02.0 handle=1 pa=0xffffffffffffffff len=1 perm=w",
                 "dma_map sid=00:02.0 handle=1 pa=0xffffffffffffffff len=1 perm=w");
    expect_canon("dma_map sid=00:02.0 handle=18446744073709551615 pa=0x1000 len=8G perm=r",
                 "dma_map sid=00:02.0 handle=18446744073709551615 pa=0x1000 len=8589934592 perm=r");
}

TEST(TraceText, DmaUnmapAllFields)
{
    Parsed p = parse("dma_unmap handle=42");
    ASSERT_EQ(p.rc, 1) << p.reason;
    EXPECT_EQ(p.ev.type, IOMMU_EV_DMA_UNMAP);
    EXPECT_EQ(p.ev.handle, 42u);
    EXPECT_EQ(p.ev.cpu, 0u);
    EXPECT_EQ(p.ev.flags, 0);
    EXPECT_EQ(iommu_trace_event_version(&p.ev), 2u);
    expect_canon("dma_unmap handle=42", "dma_unmap handle=42");
    expect_canon("dma_unmap t=5 cpu=7 handle=0x2a", "dma_unmap handle=42 cpu=7 t=5");
    expect_canon("dma_unmap handle=1 cpu=0", "dma_unmap handle=1");
}

// A dma addressed by buffer: handle + off instead of iova; off defaults to 0 and is always
// written. The event's iova field holds the offset.
TEST(TraceText, DmaByHandle)
{
    Parsed p = parse("dma sid=00:03.0 handle=5 off=100 len=64 op=w");
    ASSERT_EQ(p.rc, 1) << p.reason;
    EXPECT_EQ(p.ev.type, IOMMU_EV_DMA);
    EXPECT_EQ(p.ev.flags, IOMMU_EVF_HANDLE);
    EXPECT_EQ(p.ev.handle, 5u);
    EXPECT_EQ(p.ev.iova, 100u);
    EXPECT_EQ(p.ev.len, 64u);
    EXPECT_EQ(p.ev.access, IOMMU_ACC_W);
    EXPECT_EQ(iommu_trace_event_version(&p.ev), 2u);

    p = parse("dma sid=00:03.0 handle=5 len=1500 op=r");
    ASSERT_EQ(p.rc, 1) << p.reason;
    EXPECT_EQ(p.ev.iova, 0u); // off defaults to 0
    EXPECT_EQ(p.ev.flags, IOMMU_EVF_HANDLE);

    p = parse("dma sid=00:03.0 iova=0x1000 len=64 op=r");
    ASSERT_EQ(p.rc, 1) << p.reason;
    EXPECT_EQ(p.ev.handle, 0u);
    EXPECT_EQ(iommu_trace_event_version(&p.ev), 1u);

    expect_canon("dma sid=00:03.0 handle=5 len=1500 op=w", "dma sid=00:03.0 handle=5 off=0 len=1500 op=w");
    expect_canon("dma sid=00:03.0 handle=5 off=0 len=1500 op=w", "dma sid=00:03.0 handle=5 off=0 len=1500 op=w");
    expect_canon("dma t=1 pasid=3 ats=req priv x op=r len=4K off=0x10 handle=0x5 sid=00:03.0",
                 "dma sid=00:03.0 handle=5 off=16 len=4096 op=r x priv ats=req pasid=3 t=1");
    expect_canon("dma sid=00:03.0 handle=1 off=2K len=1 op=r", "dma sid=00:03.0 handle=1 off=2048 len=1 op=r");
    expect_canon("dma sid=00:03.0 handle=1 off=18446744073709551614 len=1 op=r",
                 "dma sid=00:03.0 handle=1 off=18446744073709551614 len=1 op=r");

    // the same offset by handle and by iova are different events
    Parsed a = parse("dma sid=00:03.0 handle=0 off=0 len=1 op=r");
    Parsed b = parse("dma sid=00:03.0 iova=0 len=1 op=r");
    ASSERT_EQ(a.rc, 1);
    ASSERT_EQ(b.rc, 1);
    EXPECT_FALSE(iommu_trace_event_equal(&a.ev, &b.ev));
    // ... and the handle counts only with the flag
    b.ev.handle = 77;
    Parsed c = parse("dma sid=00:03.0 iova=0 len=1 op=r");
    EXPECT_TRUE(iommu_trace_event_equal(&b.ev, &c.ev));
    Parsed d = parse("dma sid=00:03.0 handle=0 len=1 op=r");
    EXPECT_TRUE(iommu_trace_event_equal(&a.ev, &d.ev));
    a.ev.handle = 77;
    EXPECT_FALSE(iommu_trace_event_equal(&a.ev, &d.ev));
}

TEST(TraceText, EveryInvType)
{
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"inv type=cc-global", "inv type=cc-global"},
        {"inv type=cc-domain did=4", "inv type=cc-domain did=4"},
        {"inv type=cc-device did=4 sid=00:02.0", "inv type=cc-device did=4 sid=00:02.0"},
        {"inv type=iotlb-global t=9", "inv type=iotlb-global t=9"},
        {"inv type=iotlb-domain did=1", "inv type=iotlb-domain did=1"},
        {"inv type=iotlb-page did=1 addr=0x100000 am=0", "inv type=iotlb-page did=1 addr=0x100000 am=0"},
        {"inv type=iotlb-page did=1 addr=0x100000 am=8 ih", "inv type=iotlb-page did=1 addr=0x100000 am=8 ih"},
        {"inv type=devtlb sid=02:00.0 addr=0x4000 am=2", "inv type=devtlb sid=02:00.0 addr=0x4000 am=2"},
        {"inv type=devtlb sid=02:00.0 addr=0x4000 am=0 pasid=9", "inv type=devtlb sid=02:00.0 addr=0x4000 am=0 pasid=9"},
        {"inv type=iec-global", "inv type=iec-global"},
        {"inv type=iec-index index=8 am=3", "inv type=iec-index index=8 am=3"},
        {"inv type=wait", "inv type=wait"},
        {"inv type=pasid-iotlb did=1 pasid=5", "inv type=pasid-iotlb did=1 pasid=5"},
        {"inv type=pasid-iotlb did=1 pasid=5 addr=0x2000 am=1 ih", "inv type=pasid-iotlb did=1 addr=0x2000 am=1 pasid=5 ih"},
        {"inv type=pasid-cache did=1", "inv type=pasid-cache did=1"},
        {"inv type=pasid-cache did=1 pasid=0x20", "inv type=pasid-cache did=1 pasid=32"},
    };
    bool seen[IOMMU_INV_NTYPES] = {};
    for (const auto &c : cases) {
        expect_canon(c.first, c.second);
        Parsed p = parse(c.first);
        seen[p.ev.inv_type] = true;
    }
    for (unsigned t = 1; t < IOMMU_INV_NTYPES; t++)
        EXPECT_TRUE(seen[t]) << iommu_inv_type_name(t);

    Parsed p = parse("inv type=iotlb-page did=3 addr=0x200000 am=9 ih");
    ASSERT_EQ(p.rc, 1) << p.reason;
    EXPECT_EQ(p.ev.inv_type, IOMMU_INV_IOTLB_PAGE);
    EXPECT_EQ(p.ev.did, 3);
    EXPECT_EQ(p.ev.iova, 0x200000u);
    EXPECT_EQ(p.ev.am, 9);
    EXPECT_EQ(p.ev.flags, IOMMU_EVF_ADDR | IOMMU_EVF_IH);
    p = parse("inv type=iec-index index=8 am=3");
    EXPECT_EQ(p.ev.index, 8u);
    EXPECT_EQ(p.ev.am, 3);
}

TEST(TraceText, MsiIrteSched)
{
    Parsed p = parse("msi sid=00:02.0 addr=0xfee00000 data=0x4021 t=10");
    ASSERT_EQ(p.rc, 1) << p.reason;
    EXPECT_EQ(p.ev.pa, 0xfee00000u);
    EXPECT_EQ(p.ev.data, 0x4021u);
    expect_canon("msi sid=00:02.0 addr=0xfee00000 data=0x4021", "msi sid=00:02.0 addr=0xfee00000 data=0x4021");
    expect_canon("msi sid=00:02.0 addr=0xfeeffffc data=16417 t=1", "msi sid=00:02.0 addr=0xfeeffffc data=0x4021 t=1");

    p = parse("irte index=3 lo=0x1 hi=0xffffffffffffffff");
    ASSERT_EQ(p.rc, 1) << p.reason;
    EXPECT_EQ(p.ev.index, 3u);
    EXPECT_EQ(p.ev.lo, 1u);
    EXPECT_EQ(p.ev.hi, UINT64_MAX);
    expect_canon("irte index=65535 lo=0x0 hi=0x0 t=4", "irte index=65535 lo=0x0 hi=0x0 t=4");

    p = parse("sched thread=7 cpu=2 state=run");
    ASSERT_EQ(p.rc, 1) << p.reason;
    EXPECT_EQ(p.ev.thread, 7u);
    EXPECT_EQ(p.ev.cpu, 2u);
    EXPECT_EQ(p.ev.state, 1);
    expect_canon("sched thread=7 cpu=2 state=run", "sched thread=7 cpu=2 state=run");
    expect_canon("sched state=stop cpu=0 thread=18446744073709551615 t=0",
                 "sched thread=18446744073709551615 cpu=0 state=stop t=0");
}

// Version 3: sched state=preempt, msi thread= and ios= (parse, canonical form, check,
// version, canon and equality).
TEST(TraceText, Version3MsiAndSched)
{
    Parsed p = parse("sched thread=3 cpu=1 state=preempt t=9");
    ASSERT_EQ(p.rc, 1) << p.reason;
    EXPECT_EQ(p.ev.state, IOMMU_SCHED_PREEMPT);
    EXPECT_EQ(iommu_trace_event_version(&p.ev), 3u);
    expect_canon("sched state=preempt cpu=1 thread=3", "sched thread=3 cpu=1 state=preempt");
    p = parse("sched thread=3 cpu=1 state=stop");
    EXPECT_EQ(p.ev.state, IOMMU_SCHED_STOP);
    EXPECT_EQ(iommu_trace_event_version(&p.ev), 1u);

    // an msi without the new fields is a version-1 event with ios = 1
    p = parse("msi sid=00:02.0 addr=0xfee00010 data=0");
    ASSERT_EQ(p.rc, 1) << p.reason;
    EXPECT_EQ(p.ev.ios, 1u);
    EXPECT_EQ(p.ev.flags, 0u);
    EXPECT_EQ(iommu_trace_event_version(&p.ev), 1u);
    // thread= sets the flag; ios= the count; canonical order sid addr data thread ios t
    p = parse("msi t=5 ios=4 thread=18446744073709551615 data=1 addr=0xfee00010 sid=00:02.0");
    ASSERT_EQ(p.rc, 1) << p.reason;
    EXPECT_EQ(p.ev.flags, IOMMU_EVF_THREAD | IOMMU_EVF_TIME);
    EXPECT_EQ(p.ev.thread, UINT64_MAX);
    EXPECT_EQ(p.ev.ios, 4u);
    EXPECT_EQ(iommu_trace_event_version(&p.ev), 3u);
    expect_canon("msi t=5 ios=4 thread=18446744073709551615 data=1 addr=0xfee00010 sid=00:02.0",
                 "msi sid=00:02.0 addr=0xfee00010 data=0x1 thread=18446744073709551615 ios=4 t=5");
    // ios=1 is the default and not written; thread=0 is a thread (the flag says so)
    expect_canon("msi sid=00:02.0 addr=0xfee00010 data=0 ios=1", "msi sid=00:02.0 addr=0xfee00010 data=0x0");
    expect_canon("msi sid=00:02.0 addr=0xfee00010 data=0 thread=0",
                 "msi sid=00:02.0 addr=0xfee00010 data=0x0 thread=0");
    expect_canon("msi sid=00:02.0 addr=0xfee00010 data=0 ios=0xffffffff",
                 "msi sid=00:02.0 addr=0xfee00010 data=0x0 ios=4294967295");
    p = parse("msi sid=00:02.0 addr=0xfee00010 data=0 ios=1");
    EXPECT_EQ(iommu_trace_event_version(&p.ev), 1u); // ios=1 is what v1 meant
    p = parse("msi sid=00:02.0 addr=0xfee00010 data=0 ios=2");
    EXPECT_EQ(iommu_trace_event_version(&p.ev), 3u);
    p = parse("msi sid=00:02.0 addr=0xfee00010 data=0 thread=0");
    EXPECT_EQ(iommu_trace_event_version(&p.ev), 3u);

    // the event in code: init gives ios = 1; the check rejects 0; canon keeps thread only
    // with the flag; equal sees ios and thread
    iommu_trace_event a, b, c;
    iommu_trace_event_init(&a, IOMMU_EV_MSI);
    EXPECT_EQ(a.ios, 1u);
    EXPECT_EQ(a.index, 1u); // ios shares its word with index (no event type uses both)
    a.pa = 0xfee00000;
    char reason[128];
    EXPECT_EQ(iommu_trace_event_check(&a, reason, sizeof reason), 0) << reason;
    a.ios = 0;
    EXPECT_EQ(iommu_trace_event_check(&a, reason, sizeof reason), -1);
    EXPECT_STREQ(reason, "msi: ios must be >= 1");
    char line[256];
    EXPECT_EQ(iommu_trace_format_line(&a, line, sizeof line), -1);
    a.ios = 3;
    a.thread = 77; // without the flag: not part of the event
    iommu_trace_event_canon(&c, &a);
    EXPECT_EQ(c.thread, 0u);
    EXPECT_EQ(c.ios, 3u);
    b = a;
    b.thread = 78;
    EXPECT_TRUE(iommu_trace_event_equal(&a, &b));
    a.flags = b.flags = IOMMU_EVF_THREAD;
    EXPECT_FALSE(iommu_trace_event_equal(&a, &b));
    b.thread = 77;
    EXPECT_TRUE(iommu_trace_event_equal(&a, &b));
    b.ios = 2;
    EXPECT_FALSE(iommu_trace_event_equal(&a, &b));
    iommu_trace_event_init(&a, IOMMU_EV_SCHED);
    a.state = 3;
    EXPECT_EQ(iommu_trace_event_check(&a, reason, sizeof reason), -1);
    EXPECT_STREQ(reason, "sched: state 3 out of range (0 stop, 1 run, 2 preempt)");
    a.state = IOMMU_SCHED_PREEMPT;
    ASSERT_GT(iommu_trace_format_line(&a, line, sizeof line), 0);
    EXPECT_STREQ(line, "sched thread=0 cpu=0 state=preempt");
}

// Every malformed msi, sched and irte line: one reason naming the event and the field.
TEST(TraceText, MalformedInterruptLines)
{
    struct BadLine {
        const char *line, *reason;
    } cases[] = {
        {"msi sid=00:02.0 addr=0xfef00000 data=1", "msi: addr 0xfef00000 outside the interrupt range 0xfee00000-0xfeefffff"},
        {"msi sid=00:02.0 addr=0xfedfffff data=1", "msi: addr 0xfedfffff outside the interrupt range 0xfee00000-0xfeefffff"},
        {"msi sid=00:02.0 addr=0xfee00000", "msi: missing field 'data'"},
        {"msi sid=00:02.0 data=1", "msi: missing field 'addr'"},
        {"msi addr=0xfee00000 data=1", "msi: missing field 'sid'"},
        {"msi sid=00:02.0 addr=0xfee00000 data=1 thread=x", "msi: bad number 'x' for 'thread'"},
        {"msi sid=00:02.0 addr=0xfee00000 data=1 thread=-1", "msi: bad number '-1' for 'thread'"},
        {"msi sid=00:02.0 addr=0xfee00000 data=1 thread=18446744073709551616", "msi: thread '18446744073709551616' out of range (max 18446744073709551615)"},
        {"msi sid=00:02.0 addr=0xfee00000 data=1 thread", "msi: 'thread' needs a value (thread=...)"},
        {"msi sid=00:02.0 addr=0xfee00000 data=1 thread=1 thread=2", "msi: duplicate key 'thread'"},
        {"msi sid=00:02.0 addr=0xfee00000 data=1 ios=0", "msi: ios must be >= 1"},
        {"msi sid=00:02.0 addr=0xfee00000 data=1 ios=4294967296", "msi: ios '4294967296' out of range (max 4294967295)"},
        {"msi sid=00:02.0 addr=0xfee00000 data=1 ios=1x", "msi: bad number '1x' for 'ios'"},
        {"msi sid=00:02.0 addr=0xfee00000 data=1 cpu=1", "msi: unknown key 'cpu'"},
        {"msi sid=00:02.0 addr=0xfee00000 data=1 state=run", "msi: unknown key 'state'"},
        {"sched thread=1 cpu=1 state=preempted", "sched: bad state 'preempted' (expected run, stop or preempt)"},
        {"sched thread=1 cpu=1 state=2", "sched: bad state '2' (expected run, stop or preempt)"},
        {"sched thread=1 cpu=1 state=", "sched: bad state '' (expected run, stop or preempt)"},
        {"sched thread=1 state=run", "sched: missing field 'cpu'"},
        {"sched cpu=1 state=run", "sched: missing field 'thread'"},
        {"sched thread=1 cpu=1", "sched: missing field 'state'"},
        {"sched thread=1 cpu=1 state=run ios=2", "sched: unknown key 'ios'"},
        {"irte index=1 lo=0x1", "irte: missing field 'hi'"},
        {"irte lo=0x1 hi=0x0", "irte: missing field 'index'"},
        {"irte index=1 hi=0x0", "irte: missing field 'lo'"},
        {"irte index=65536 lo=0x1 hi=0x0", "irte: index '65536' out of range (max 65535)"},
        {"irte index=0x10000 lo=0x1 hi=0x0", "irte: index '0x10000' out of range (max 0xffff)"},
        {"irte index=1 lo=abc hi=0x0", "irte: bad number 'abc' for 'lo'"},
        {"irte index=1 lo=0x1 hi=0x1g", "irte: bad number '0x1g' for 'hi'"},
        {"irte index=1 lo=0x10000000000000000 hi=0", "irte: lo '0x10000000000000000' out of range (max 0xffffffffffffffff)"},
    };
    for (const BadLine &c : cases) {
        Parsed p = parse(c.line);
        EXPECT_EQ(p.rc, -1) << c.line;
        EXPECT_EQ(p.reason, c.reason) << c.line;
    }
}

TEST(TraceText, BlankAndCommentLines)
{
    for (const char *l : {"", "   ", "\t", "# iommusim trace v1", "# iommusim trace v2", "# iommusim trace v3", "#",
                          "   # indented comment", "\r"}) {
        Parsed p = parse(l);
        EXPECT_EQ(p.rc, 0) << "'" << l << "': " << p.reason;
    }
}

TEST(TraceText, ParseLineUsesOnlyLenBytes)
{
    const char line[] = "dma sid=00:02.0 iova=0x10 len=64 op=rXXXX";
    iommu_trace_event ev;
    char reason[256];
    ASSERT_EQ(iommu_trace_parse_line(line, sizeof line - 5, &ev, reason, sizeof reason), 1) << reason;
    EXPECT_EQ(ev.access, IOMMU_ACC_R);
}

struct BadLine {
    const char *line;
    const char *reason;
};

TEST(TraceText, MalformedLinesExactReasons)
{
    const BadLine cases[] = {
        // unknown event
        {"foo sid=00:02.0", "unknown event 'foo'"},
        {"DMA sid=00:02.0", "unknown event 'DMA'"},
        {"dma\x01 x", "unknown event 'dma\\x01'"},
        {"averyveryveryveryveryveryveryveryverylongeventname", "unknown event 'averyveryveryveryveryveryveryveryverylon...'"},
        // unknown key
        {"dma sid=00:02.0 iova=0x10 len=64 op=r foo=1", "dma: unknown key 'foo'"},
        {"dma sid=00:02.0 iova=0x10 len=64 op=r did=1", "dma: unknown key 'did'"},
        {"map did=1 iova=0 pa=0 len=4K perm=r page=4K ih", "map: unknown key 'ih'"},
        {"attach sid=00:02.0 did=1 mode=sl =5", "attach: unknown key ''"},
        // missing field
        {"dma sid=00:02.0 iova=0x10 op=r", "dma: missing field 'len'"},
        {"dma iova=0x10 op=r", "dma: missing field 'sid'"},
        {"map did=1 iova=0 pa=0 len=4K perm=r", "map: missing field 'page'"},
        {"attach sid=00:02.0 did=1", "attach: missing field 'mode'"},
        {"unmap did=1 len=4K", "unmap: missing field 'iova'"},
        {"inv did=1", "inv: missing field 'type'"},
        {"inv type=iotlb-page did=1 am=0", "inv: type=iotlb-page: missing field 'addr'"},
        {"inv type=iotlb-page did=1 addr=0x1000", "inv: type=iotlb-page: missing field 'am'"},
        {"inv type=pasid-iotlb did=1 pasid=1 addr=0x1000", "inv: type=pasid-iotlb: missing field 'am'"},
        {"inv type=pasid-iotlb did=1", "inv: type=pasid-iotlb: missing field 'pasid'"},
        {"inv type=iec-index am=0", "inv: type=iec-index: missing field 'index'"},
        {"msi sid=00:02.0 addr=0xfee00000", "msi: missing field 'data'"},
        {"irte index=1 lo=0", "irte: missing field 'hi'"},
        {"sched thread=1 cpu=1", "sched: missing field 'state'"},
        {"detach pasid=1", "detach: missing field 'sid'"},
        // key not allowed for an inv type
        {"inv type=iotlb-global did=1", "inv: key 'did' not allowed for type=iotlb-global"},
        {"inv type=iotlb-page did=1 addr=0 am=0 pasid=2", "inv: key 'pasid' not allowed for type=iotlb-page"},
        {"inv type=wait ih", "inv: key 'ih' not allowed for type=wait"},
        {"inv type=pasid-iotlb did=1 pasid=1 ih", "inv: ih needs addr"},
        {"inv type=nope", "inv: unknown type 'nope'"},
        // bad numbers
        {"dma sid=00:02.0 iova=0xZZ len=64 op=r", "dma: bad number '0xZZ' for 'iova'"},
        {"dma sid=00:02.0 iova=12a len=64 op=r", "dma: bad number '12a' for 'iova'"},
        {"dma sid=00:02.0 iova= len=64 op=r", "dma: bad number '' for 'iova'"},
        {"dma sid=00:02.0 iova=0x len=64 op=r", "dma: bad number '0x' for 'iova'"},
        {"dma sid=00:02.0 iova=-1 len=64 op=r", "dma: bad number '-1' for 'iova'"},
        {"dma sid=00:02.0 iova=0x10 len=0x4K op=r", "dma: bad number '0x4K' for 'len'"},
        {"dma sid=00:02.0 iova=0x10 len=4T op=r", "dma: bad number '4T' for 'len'"},
        {"sched thread=1x cpu=1 state=run", "sched: bad number '1x' for 'thread'"},
        // out of range
        {"dma sid=00:02.0 iova=0x10000000000000000 len=64 op=r", "dma: iova '0x10000000000000000' out of range (max 0xffffffffffffffff)"},
        {"dma sid=00:02.0 iova=18446744073709551616 len=64 op=r", "dma: iova '18446744073709551616' out of range (max 18446744073709551615)"},
        {"attach sid=00:02.0 did=65536 mode=sl", "attach: did '65536' out of range (max 65535)"},
        {"attach sid=00:02.0 did=0x10000 mode=sl", "attach: did '0x10000' out of range (max 0xffff)"},
        {"attach sid=00:02.0 did=1 mode=sl pasid=0x100000", "attach: pasid '0x100000' out of range (max 0xfffff)"},
        {"dma sid=00:02.0 iova=0 len=4G op=r", "dma: len '4G' out of range (max 4294967295)"},
        {"dma sid=00:02.0 iova=0 len=0 op=r", "dma: len must be > 0"},
        {"dma sid=00:02.0 iova=0xffffffffffffffff len=2 op=r", "dma: iova + len wraps past 2^64"},
        {"inv type=iec-index index=65536 am=0", "inv: index '65536' out of range (max 65535)"},
        {"inv type=iotlb-page did=1 addr=0 am=64", "inv: am '64' out of range (max 63)"},
        {"inv type=iotlb-page did=1 addr=0 am=52", "inv: am 52 out of range (max 51)"},
        {"inv type=iotlb-page did=1 addr=0x1000 am=1", "inv: addr 0x1000 not aligned to 2^am pages (am=1)"},
        {"inv type=iec-index index=3 am=1", "inv: index 3 not aligned to 2^am entries (am=1)"},
        {"msi sid=00:02.0 addr=0xfef00000 data=1", "msi: addr 0xfef00000 outside the interrupt range 0xfee00000-0xfeefffff"},
        {"msi sid=00:02.0 addr=0xfee00000 data=0x100000000", "msi: data '0x100000000' out of range (max 0xffffffff)"},
        {"irte index=65536 lo=0 hi=0", "irte: index '65536' out of range (max 65535)"},
        {"sched thread=1 cpu=4294967296 state=run", "sched: cpu '4294967296' out of range (max 4294967295)"},
        // source-ids
        {"dma sid=00:20.0 iova=0 len=1 op=r", "dma: bad sid '00:20.0' (expected bus:dev.fn in hex, dev <= 1f, fn <= 7)"},
        {"dma sid=00:02.8 iova=0 len=1 op=r", "dma: bad sid '00:02.8' (expected bus:dev.fn in hex, dev <= 1f, fn <= 7)"},
        {"dma sid=100:02.0 iova=0 len=1 op=r", "dma: bad sid '100:02.0' (expected bus:dev.fn in hex, dev <= 1f, fn <= 7)"},
        {"dma sid=0x10000 iova=0 len=1 op=r", "dma: bad sid '0x10000' (expected bus:dev.fn in hex, dev <= 1f, fn <= 7)"},
        {"attach sid=00:02.0 did=1 mode=sl alias=zz", "attach: bad alias 'zz' (expected bus:dev.fn in hex, dev <= 1f, fn <= 7)"},
        // duplicates and value syntax
        {"dma sid=00:02.0 iova=0 len=1 len=2 op=r", "dma: duplicate key 'len'"},
        {"dma sid=00:02.0 iova=0 len=1 op=r x x", "dma: duplicate key 'x'"},
        {"dma sid=00:02.0 iova=0 len=1 op=r x=1", "dma: 'x' takes no value"},
        {"dma sid=00:02.0 iova len=1 op=r", "dma: 'iova' needs a value (iova=...)"},
        // enums
        {"dma sid=00:02.0 iova=0 len=1 op=rw", "dma: bad op 'rw' (expected r or w)"},
        {"dma sid=00:02.0 iova=0 len=1 op=w x", "dma: x (execute) needs op=r"},
        {"dma sid=00:02.0 iova=0 len=1 op=r ats=yes", "dma: bad ats 'yes' (expected untranslated, req or translated)"},
        {"attach sid=00:02.0 did=1 mode=SL", "attach: bad mode 'SL' (expected sl, fl, nested or pt)"},
        {"map did=1 iova=0 pa=0 len=4K perm=rr page=4K", "map: bad perm 'rr' (expected a non-empty subset of rwx)"},
        {"map did=1 iova=0 pa=0 len=4K perm= page=4K", "map: bad perm '' (expected a non-empty subset of rwx)"},
        {"map did=1 iova=0 pa=0 len=4K perm=rwz page=4K", "map: bad perm 'rwz' (expected a non-empty subset of rwx)"},
        {"map did=1 iova=0 pa=0 len=4K perm=r page=8K", "map: bad page '8K' (expected 4K, 2M or 1G)"},
        {"map did=1 iova=0 pa=0 len=4K perm=r page=4K stage=0", "map: bad stage '0' (expected 1 or 2)"},
        {"sched thread=1 cpu=1 state=go", "sched: bad state 'go' (expected run, stop or preempt)"},
        // map/unmap alignment and sizes
        {"map did=1 iova=0x1000 pa=0 len=2M perm=r page=2M", "map: iova 0x1000 not aligned to the 2M page size"},
        {"map did=1 iova=0 pa=0x1000 len=2M perm=r page=2M", "map: pa 0x1000 not aligned to the 2M page size"},
        {"map did=1 iova=0 pa=0 len=4K perm=r page=2M", "map: len 0x1000 not a multiple of the 2M page size"},
        {"map did=1 iova=0 pa=0 len=0 perm=r page=4K", "map: len must be > 0"},
        {"map did=1 iova=0xfffffffffffff000 pa=0 len=8K perm=r page=4K", "map: iova + len wraps past 2^64"},
        {"unmap did=1 iova=0x10 len=4K", "unmap: iova 0x10 not 4K-aligned"},
        {"unmap did=1 iova=0x1000 len=100", "unmap: len 0x64 not a multiple of 4K"},
        {"unmap did=1 iova=0x1000 len=0", "unmap: len must be > 0"},
        // dma_map (v2)
        {"dma_map sid=00:02.0 pa=0x1000 len=64 perm=r", "dma_map: missing field 'handle'"},
        {"dma_map handle=1 pa=0x1000 len=64 perm=r", "dma_map: missing field 'sid'"},
        {"dma_map sid=00:02.0 handle=1 len=64 perm=r", "dma_map: missing field 'pa'"},
        {"dma_map sid=00:02.0 handle=1 pa=0x1000 perm=r", "dma_map: missing field 'len'"},
        {"dma_map sid=00:02.0 handle=1 pa=0x1000 len=64", "dma_map: missing field 'perm'"},
        {"dma_map sid=00:02.0 handle=1 pa=0x1000 len=0 perm=r", "dma_map: len must be > 0"},
        {"dma_map sid=00:02.0 handle=1 pa=0x1000 len=64 perm=", "dma_map: bad perm '' (expected r, w or rw)"},
        {"dma_map sid=00:02.0 handle=1 pa=0x1000 len=64 perm=x", "dma_map: bad perm 'x' (expected r, w or rw)"},
        {"dma_map sid=00:02.0 handle=1 pa=0x1000 len=64 perm=rwx", "dma_map: bad perm 'rwx' (expected r, w or rw)"},
        {"dma_map sid=00:02.0 handle=1 pa=0x1000 len=64 perm=rr", "dma_map: bad perm 'rr' (expected r, w or rw)"},
        {"dma_map sid=00:02.0 handle=1 pa=0x1000 len=64 perm=R", "dma_map: bad perm 'R' (expected r, w or rw)"},
        {"dma_map sid=00:02.0 handle=1 pa=0xffffffffffffffc1 len=64 perm=r", "dma_map: pa + len wraps past 2^64"},
        {"dma_map sid=00:02.0 handle=1 pa=0x1000 len=64 perm=r iova=0x1000", "dma_map: unknown key 'iova'"},
        {"dma_map sid=00:02.0 handle=1 pa=0x1000 len=64 perm=r did=1", "dma_map: unknown key 'did'"},
        {"dma_map sid=00:02.0 handle=1 pa=0x1000 len=64 perm=r off=0", "dma_map: unknown key 'off'"},
        {"dma_map sid=00:02.0 handle=1 pa=0x1000 len=64 perm=r pasid=1", "dma_map: unknown key 'pasid'"},
        {"dma_map sid=00:02.0 handle=1 pa=0x1000 len=64 perm=r page=4K", "dma_map: unknown key 'page'"},
        {"dma_map sid=00:02.0 handle=1 pa=0x1000 len=64 perm=r more=1", "dma_map: 'more' takes no value"},
        {"dma_map sid=00:02.0 handle=1 pa=0x1000 len=64 perm=r more more", "dma_map: duplicate key 'more'"},
        {"dma_map sid=00:02.0 handle=1 handle=2 pa=0x1000 len=64 perm=r", "dma_map: duplicate key 'handle'"},
        {"dma_map sid=00:02.0 handle pa=0x1000 len=64 perm=r", "dma_map: 'handle' needs a value (handle=...)"},
        {"dma_map sid=00:02.0 handle=-1 pa=0x1000 len=64 perm=r", "dma_map: bad number '-1' for 'handle'"},
        {"dma_map sid=00:02.0 handle=18446744073709551616 pa=0x1000 len=64 perm=r", "dma_map: handle '18446744073709551616' out of range (max 18446744073709551615)"},
        {"dma_map sid=00:02.0 handle=1 pa=0x1000 len=64 perm=r cpu=4294967296", "dma_map: cpu '4294967296' out of range (max 4294967295)"},
        {"dma_map sid=00:20.0 handle=1 pa=0x1000 len=64 perm=r", "dma_map: bad sid '00:20.0' (expected bus:dev.fn in hex, dev <= 1f, fn <= 7)"},
        {"dma_map sid=00:02.0 handle=1 pa=0x1000 len=64K0 perm=r", "dma_map: bad number '64K0' for 'len'"},
        {"DMA_MAP sid=00:02.0 handle=1 pa=0x1000 len=64 perm=r", "unknown event 'DMA_MAP'"},
        {"dma-map sid=00:02.0 handle=1 pa=0x1000 len=64 perm=r", "unknown event 'dma-map'"},
        // dma_unmap (v2)
        {"dma_unmap", "dma_unmap: missing field 'handle'"},
        {"dma_unmap cpu=1 t=5", "dma_unmap: missing field 'handle'"},
        {"dma_unmap handle=1 more", "dma_unmap: unknown key 'more'"},
        {"dma_unmap handle=1 sid=00:02.0", "dma_unmap: unknown key 'sid'"},
        {"dma_unmap handle=1 len=64", "dma_unmap: unknown key 'len'"},
        {"dma_unmap handle=0x1g", "dma_unmap: bad number '0x1g' for 'handle'"},
        {"dma_unmap handle=1 cpu=-1", "dma_unmap: bad number '-1' for 'cpu'"},
        // dma by handle (v2)
        {"dma sid=00:02.0 len=64 op=r", "dma: missing field 'iova' (or 'handle')"},
        {"dma sid=00:02.0 off=0 len=64 op=r", "dma: missing field 'iova' (or 'handle')"},
        {"dma sid=00:02.0 op=r", "dma: missing field 'iova' (or 'handle')"},
        {"dma handle=1 len=64 op=r", "dma: missing field 'sid'"},
        {"dma sid=00:02.0 handle=1 op=r", "dma: missing field 'len'"},
        {"dma sid=00:02.0 iova=0x1000 handle=1 len=64 op=r", "dma: iova and handle exclude each other (address by one or the other)"},
        {"dma sid=00:02.0 iova=0x1000 handle=1 off=0 len=64 op=r", "dma: iova and handle exclude each other (address by one or the other)"},
        {"dma sid=00:02.0 iova=0x1000 off=0 len=64 op=r", "dma: off needs handle (an offset into a buffer)"},
        {"dma sid=00:02.0 handle=1 off=0 len=0 op=r", "dma: len must be > 0"},
        {"dma sid=00:02.0 handle=1 off=0xffffffffffffffff len=2 op=r", "dma: off + len wraps past 2^64"},
        {"dma sid=00:02.0 handle=1 off=x len=2 op=r", "dma: bad number 'x' for 'off'"},
        {"dma sid=00:02.0 handle=1 off=0 off=1 len=2 op=r", "dma: duplicate key 'off'"},
        {"dma sid=00:02.0 handle=1 len=2 op=rw", "dma: bad op 'rw' (expected r or w)"},
        {"dma sid=00:02.0 handle=1 len=2 op=r more", "dma: unknown key 'more'"},
        {"dma sid=00:02.0 handle=1 len=2 op=r cpu=0", "dma: unknown key 'cpu'"},
        {"dma sid=00:02.0 handle=1 len=2 op=r pa=0", "dma: unknown key 'pa'"},
        // `more` belongs to dma_map only
        {"map did=1 iova=0 pa=0 len=4K perm=r page=4K more", "map: unknown key 'more'"},
        {"unmap did=1 iova=0 len=4K more", "unmap: unknown key 'more'"},
        {"attach sid=00:02.0 did=1 mode=sl handle=1", "attach: unknown key 'handle'"},
    };
    for (const BadLine &c : cases) {
        Parsed p = parse(c.line);
        EXPECT_EQ(p.rc, -1) << c.line;
        EXPECT_EQ(p.reason, c.reason) << c.line;
    }
}

TEST(TraceText, FormatRejectsInvalidEventsAndSmallBuffers)
{
    iommu_trace_event ev;
    iommu_trace_event_init(&ev, IOMMU_EV_DMA);
    ev.len = 0;
    ev.access = IOMMU_ACC_R;
    char buf[256];
    EXPECT_EQ(iommu_trace_format_line(&ev, buf, sizeof buf), -1);
    ev.len = 64;
    int n = iommu_trace_format_line(&ev, buf, sizeof buf);
    ASSERT_GT(n, 0);
    EXPECT_EQ(iommu_trace_format_line(&ev, buf, size_t(n)), -1); // no room for the NUL
    EXPECT_EQ(iommu_trace_format_line(&ev, buf, size_t(n) + 1), n);

    iommu_trace_event_init(&ev, 42);
    EXPECT_EQ(iommu_trace_format_line(&ev, buf, sizeof buf), -1);
    char reason[128];
    EXPECT_EQ(iommu_trace_event_check(&ev, reason, sizeof reason), -1);
    EXPECT_STREQ(reason, "unknown event type 42");

    iommu_trace_event_init(&ev, IOMMU_EV_MAP);
    ev.flags = IOMMU_EVF_PASID;
    ev.pasid = 1;
    EXPECT_EQ(iommu_trace_event_check(&ev, reason, sizeof reason), -1);
    EXPECT_STREQ(reason, "map: takes no pasid");
    iommu_trace_event_init(&ev, IOMMU_EV_INV);
    ev.inv_type = IOMMU_INV_WAIT;
    ev.flags = IOMMU_EVF_IH;
    EXPECT_EQ(iommu_trace_event_check(&ev, reason, sizeof reason), -1);
    EXPECT_STREQ(reason, "inv: type=wait takes no ih");
    ev.flags = 0x80; /* THREAD (v3) belongs to msi only */
    EXPECT_EQ(iommu_trace_event_check(&ev, reason, sizeof reason), -1);
    EXPECT_STREQ(reason, "inv: type=wait takes no thread");
    iommu_trace_event_init(&ev, IOMMU_EV_SCHED);
    ev.flags = IOMMU_EVF_THREAD;
    EXPECT_EQ(iommu_trace_event_check(&ev, reason, sizeof reason), -1);
    EXPECT_STREQ(reason, "sched: takes no thread");

    // the version-2 events through the check (writers use it on events built in code)
    iommu_trace_event_init(&ev, IOMMU_EV_DMA_MAP);
    ev.len = 1;
    EXPECT_EQ(iommu_trace_event_check(&ev, reason, sizeof reason), -1);
    EXPECT_STREQ(reason, "dma_map: perm must be r, w or rw (bits 0x0)");
    ev.access = IOMMU_ACC_R | IOMMU_ACC_X;
    EXPECT_EQ(iommu_trace_event_check(&ev, reason, sizeof reason), -1);
    EXPECT_STREQ(reason, "dma_map: perm must be r, w or rw (bits 0x5)");
    ev.access = IOMMU_ACC_W | IOMMU_ACC_PRIV;
    EXPECT_EQ(iommu_trace_event_check(&ev, reason, sizeof reason), -1);
    ev.access = IOMMU_ACC_W;
    EXPECT_EQ(iommu_trace_event_check(&ev, reason, sizeof reason), 0) << reason;
    ev.flags = IOMMU_EVF_HANDLE;
    EXPECT_EQ(iommu_trace_event_check(&ev, reason, sizeof reason), -1);
    EXPECT_STREQ(reason, "dma_map: takes no handle");
    ev.flags = IOMMU_EVF_MORE | IOMMU_EVF_TIME;
    EXPECT_EQ(iommu_trace_event_check(&ev, reason, sizeof reason), 0) << reason;
    iommu_trace_event_init(&ev, IOMMU_EV_DMA_UNMAP);
    ev.flags = IOMMU_EVF_MORE;
    EXPECT_EQ(iommu_trace_event_check(&ev, reason, sizeof reason), -1);
    EXPECT_STREQ(reason, "dma_unmap: takes no more");
    ev.flags = IOMMU_EVF_PASID;
    EXPECT_EQ(iommu_trace_event_check(&ev, reason, sizeof reason), -1);
    EXPECT_STREQ(reason, "dma_unmap: takes no pasid");
    iommu_trace_event_init(&ev, IOMMU_EV_DMA);
    ev.access = IOMMU_ACC_R;
    ev.len = 1;
    ev.flags = IOMMU_EVF_MORE;
    EXPECT_EQ(iommu_trace_event_check(&ev, reason, sizeof reason), -1);
    EXPECT_STREQ(reason, "dma: takes no more");
    iommu_trace_event_init(&ev, IOMMU_EV_MAP);
    ev.flags = IOMMU_EVF_HANDLE;
    EXPECT_EQ(iommu_trace_event_check(&ev, reason, sizeof reason), -1);
    EXPECT_STREQ(reason, "map: takes no handle");
}

// Fields a type does not use are cleared by canon (the handle of a dma without the flag,
// a dma_map's did, ...), and a writer ignores them.
TEST(TraceText, CanonClearsUnusedBufferFields)
{
    iommu_trace_event ev, c;
    iommu_trace_event_init(&ev, IOMMU_EV_DMA_UNMAP);
    ev.handle = 9;
    ev.cpu = 2;
    ev.sid = 5;
    ev.pa = 7;
    ev.len = 3;
    iommu_trace_event_canon(&c, &ev);
    EXPECT_EQ(c.handle, 9u);
    EXPECT_EQ(c.cpu, 2u);
    EXPECT_EQ(c.sid, 0);
    EXPECT_EQ(c.pa, 0u);
    EXPECT_EQ(c.len, 0u);
    iommu_trace_event_init(&ev, IOMMU_EV_SCHED);
    ev.handle = 4;
    iommu_trace_event_canon(&c, &ev);
    EXPECT_EQ(c.handle, 0u);
    iommu_trace_event_init(&ev, IOMMU_EV_DMA_MAP);
    ev.did = 3;
    ev.iova = 0x1000;
    ev.handle = 1;
    iommu_trace_event_canon(&c, &ev);
    EXPECT_EQ(c.did, 0);
    EXPECT_EQ(c.iova, 0u);
    EXPECT_EQ(c.handle, 1u);
}

TEST(TraceText, NamesAndTables)
{
    EXPECT_STREQ(iommu_ev_name(IOMMU_EV_DMA), "dma");
    EXPECT_EQ(iommu_ev_name(0), nullptr);
    EXPECT_EQ(iommu_ev_name(IOMMU_EV_NTYPES), nullptr);
    for (unsigned t = 1; t < IOMMU_EV_NTYPES; t++)
        EXPECT_EQ(iommu_ev_type_of(iommu_ev_name(t)), t);
    EXPECT_EQ(iommu_ev_type_of("nope"), 0u);
    EXPECT_STREQ(iommu_ev_name(IOMMU_EV_DMA_MAP), "dma_map");
    EXPECT_STREQ(iommu_ev_name(IOMMU_EV_DMA_UNMAP), "dma_unmap");
    EXPECT_EQ(IOMMU_EV_DMA_MAP, 10);
    EXPECT_EQ(IOMMU_EV_DMA_UNMAP, 11);
    EXPECT_EQ(IOMMU_EV_NTYPES, 12);
    EXPECT_EQ(IOMMU_TRACE_VERSION, 3);
    EXPECT_EQ(IOMMU_EVF_THREAD, 0x80u);
    EXPECT_EQ(IOMMU_EVF_ALL, 0xFFu);
    EXPECT_STREQ(iommu_inv_type_name(IOMMU_INV_IOTLB_PAGE), "iotlb-page");
    EXPECT_EQ(iommu_inv_type_name(0), nullptr);
    EXPECT_EQ(iommu_inv_type_name(IOMMU_INV_NTYPES), nullptr);
    EXPECT_EQ(iommu_trace_form_of("a.trace"), IOMMU_TRACE_TEXT);
    EXPECT_EQ(iommu_trace_form_of("a.trace.gz"), IOMMU_TRACE_TEXT);
    EXPECT_EQ(iommu_trace_form_of("-"), IOMMU_TRACE_TEXT);
    EXPECT_EQ(iommu_trace_form_of("a.bin"), IOMMU_TRACE_BINARY);
    EXPECT_EQ(iommu_trace_form_of("a.txt"), -1);
    EXPECT_EQ(iommu_trace_form_of(".bin"), -1);
    EXPECT_EQ(iommu_trace_form_of("a.bin.gz"), -1);
}

} // namespace
