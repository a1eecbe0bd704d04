/*
 * test_formats.cpp — bit-layout tests of every VT-d table entry (VT-d 9.1-9.8): each field
 * set alone must produce exactly the word(s) the specification's field definition gives;
 * crafted words must decode to the fields; reserved bits must be flagged exactly where the
 * specification reserves them.
 */
#include <gtest/gtest.h>

#include "model/walker/walker_drive.h"

namespace {

/* ---- 9.1 Root Entry ------------------------------------------------------------------- */
TEST(FormatRoot, EachFieldEncodesToItsBits)
{
    uint64_t w[2] = {~0ull, ~0ull};
    iommu_vtd_root r{};
    r.p = true;
    iommu_vtd_root_encode(&r, w);
    EXPECT_EQ(w[0], 0x1ull);
    EXPECT_EQ(w[1], 0x0ull);
    r = {};
    r.ctp = 0x0000123456789000ull;
    iommu_vtd_root_encode(&r, w);
    EXPECT_EQ(w[0], 0x0000123456789000ull);
    EXPECT_EQ(w[1], 0x0ull);
    r.ctp = 0x0000123456789FFFull; /* low bits are not part of the pointer */
    iommu_vtd_root_encode(&r, w);
    EXPECT_EQ(w[0], 0x0000123456789000ull);
}

TEST(FormatRoot, DecodeAndReserved)
{
    const uint64_t w[2] = {0x0000000ABCDEF001ull, 0};
    iommu_vtd_root r;
    iommu_vtd_root_decode(w, &r);
    EXPECT_TRUE(r.p);
    EXPECT_EQ(r.ctp, 0x0000000ABCDEF000ull);
    EXPECT_TRUE(iommu_vtd_root_reserved_ok(w, 46));
    const uint64_t b1[2] = {0x1001 | (1ull << 1), 0};          /* bit 1 */
    const uint64_t b11[2] = {0x1001 | (1ull << 11), 0};        /* bit 11 */
    const uint64_t hi[2] = {0x1001, 1ull << 0};                /* bit 64 */
    const uint64_t hi2[2] = {0x1001, 1ull << 63};              /* bit 127 */
    const uint64_t haw[2] = {0x1001 | (1ull << 46), 0};        /* CTP bit 46 */
    EXPECT_FALSE(iommu_vtd_root_reserved_ok(b1, 46));
    EXPECT_FALSE(iommu_vtd_root_reserved_ok(b11, 46));
    EXPECT_FALSE(iommu_vtd_root_reserved_ok(hi, 46));
    EXPECT_FALSE(iommu_vtd_root_reserved_ok(hi2, 46));
    EXPECT_FALSE(iommu_vtd_root_reserved_ok(haw, 46));
    EXPECT_TRUE(iommu_vtd_root_reserved_ok(haw, 47));
    EXPECT_TRUE(iommu_vtd_root_reserved_ok(haw, 52));
    const uint64_t top[2] = {0x1001 | (1ull << 52), 0};
    EXPECT_FALSE(iommu_vtd_root_reserved_ok(top, 52));
    const uint64_t notp[2] = {0xFFE, 5}; /* P = 0: nothing checked */
    EXPECT_TRUE(iommu_vtd_root_reserved_ok(notp, 46));
}

/* ---- 9.2 Scalable-Mode Root Entry ------------------------------------------------------- */
TEST(FormatSmRoot, EachFieldEncodesToItsBits)
{
    uint64_t w[2];
    iommu_vtd_sm_root r{};
    r.lp = true;
    iommu_vtd_sm_root_encode(&r, w);
    EXPECT_EQ(w[0], 0x1ull);
    EXPECT_EQ(w[1], 0x0ull);
    r = {};
    r.lctp = 0x5000;
    iommu_vtd_sm_root_encode(&r, w);
    EXPECT_EQ(w[0], 0x5000ull);
    EXPECT_EQ(w[1], 0x0ull);
    r = {};
    r.up = true; /* bit 64 */
    iommu_vtd_sm_root_encode(&r, w);
    EXPECT_EQ(w[0], 0x0ull);
    EXPECT_EQ(w[1], 0x1ull);
    r = {};
    r.uctp = 0x00003FFFFFFFF000ull; /* bits 127:76 hold UCTP 63:12 */
    iommu_vtd_sm_root_encode(&r, w);
    EXPECT_EQ(w[0], 0x0ull);
    EXPECT_EQ(w[1], 0x00003FFFFFFFF000ull);
}

TEST(FormatSmRoot, DecodeAndReservedPerHalf)
{
    const uint64_t w[2] = {0x7001, 0x9001};
    iommu_vtd_sm_root r;
    iommu_vtd_sm_root_decode(w, &r);
    EXPECT_TRUE(r.lp);
    EXPECT_EQ(r.lctp, 0x7000ull);
    EXPECT_TRUE(r.up);
    EXPECT_EQ(r.uctp, 0x9000ull);
    const uint64_t bad_upper[2] = {0x7001, 0x9001 | (1ull << 5)}; /* bit 69 */
    EXPECT_TRUE(iommu_vtd_sm_root_reserved_ok(bad_upper, 0x7F, 46));
    EXPECT_FALSE(iommu_vtd_sm_root_reserved_ok(bad_upper, 0x80, 46));
    const uint64_t bad_lower[2] = {0x7001 | (1ull << 11), 0x9001}; /* bit 11 */
    EXPECT_FALSE(iommu_vtd_sm_root_reserved_ok(bad_lower, 0x00, 46));
    EXPECT_TRUE(iommu_vtd_sm_root_reserved_ok(bad_lower, 0xFF, 46));
    const uint64_t haw[2] = {0x7001 | (1ull << 50), 0};
    EXPECT_FALSE(iommu_vtd_sm_root_reserved_ok(haw, 3, 46));
    EXPECT_TRUE(iommu_vtd_sm_root_reserved_ok(haw, 3, 52));
}

/* ---- 9.3 Context Entry -------------------------------------------------------------------- */
TEST(FormatCtx, EachFieldEncodesToItsBits)
{
    struct Case {
        iommu_vtd_ctx e;
        uint64_t w0, w1;
    };
    iommu_vtd_ctx z{};
    std::vector<Case> cases;
    iommu_vtd_ctx e = z;
    e.p = true;
    cases.push_back({e, 0x1, 0});
    e = z;
    e.fpd = true;
    cases.push_back({e, 0x2, 0});
    e = z;
    e.tt = 1;
    cases.push_back({e, 0x4, 0});
    e = z;
    e.tt = 2;
    cases.push_back({e, 0x8, 0});
    e = z;
    e.tt = 3;
    cases.push_back({e, 0xC, 0});
    e = z;
    e.slptptr = 0x0000001122334000ull;
    cases.push_back({e, 0x0000001122334000ull, 0});
    e = z;
    e.aw = 1;
    cases.push_back({e, 0, 0x1});
    e = z;
    e.aw = 3;
    cases.push_back({e, 0, 0x3});
    e = z;
    e.did = 0xABCD; /* bits 87:72 */
    cases.push_back({e, 0, 0xABCD00ull});
    e = z;
    e.did = 0xFFFF;
    cases.push_back({e, 0, 0xFFFF00ull});
    for (const Case &c : cases) {
        uint64_t w[2];
        iommu_vtd_ctx_encode(&c.e, w);
        EXPECT_EQ(w[0], c.w0);
        EXPECT_EQ(w[1], c.w1);
        iommu_vtd_ctx d;
        iommu_vtd_ctx_decode(w, &d);
        EXPECT_EQ(d.p, c.e.p);
        EXPECT_EQ(d.fpd, c.e.fpd);
        EXPECT_EQ(d.tt, c.e.tt);
        EXPECT_EQ(d.slptptr, c.e.slptptr);
        EXPECT_EQ(d.aw, c.e.aw);
        EXPECT_EQ(d.did, c.e.did);
    }
}

TEST(FormatCtx, TruncatesFieldsToTheirWidth)
{
    iommu_vtd_ctx e{};
    e.tt = 0xFF; /* 2 bits */
    e.aw = 0xFF; /* 3 bits */
    uint64_t w[2];
    iommu_vtd_ctx_encode(&e, w);
    EXPECT_EQ(w[0], 0xCull);
    EXPECT_EQ(w[1], 0x7ull);
}

TEST(FormatCtx, ReservedBits)
{
    const uint64_t ok[2] = {0x0000000000123001ull, 0x0000000000050002ull};
    EXPECT_TRUE(iommu_vtd_ctx_reserved_ok(ok, 46));
    const uint64_t ign[2] = {0x123001, 0x50002 | 0x78}; /* bits 70:67 ignored */
    EXPECT_TRUE(iommu_vtd_ctx_reserved_ok(ign, 46));
    const uint64_t r4[2] = {0x123001 | 0x10, 0x2};       /* bit 4 */
    const uint64_t r71[2] = {0x123001, 0x2 | 0x80};       /* bit 71 */
    const uint64_t r88[2] = {0x123001, 0x2 | (1ull << 24)}; /* bit 88 */
    const uint64_t r127[2] = {0x123001, 0x2 | (1ull << 63)};
    const uint64_t haw[2] = {0x123001 | (1ull << 46), 0x2};
    EXPECT_FALSE(iommu_vtd_ctx_reserved_ok(r4, 46));
    EXPECT_FALSE(iommu_vtd_ctx_reserved_ok(r71, 46));
    EXPECT_FALSE(iommu_vtd_ctx_reserved_ok(r88, 46));
    EXPECT_FALSE(iommu_vtd_ctx_reserved_ok(r127, 46));
    EXPECT_FALSE(iommu_vtd_ctx_reserved_ok(haw, 46));
    EXPECT_TRUE(iommu_vtd_ctx_reserved_ok(haw, 52));
}

/* ---- 9.4 Scalable-Mode Context Entry ---------------------------------------------------- */
TEST(FormatSmCtx, EachFieldEncodesToItsBits)
{
    struct Case {
        iommu_vtd_sm_ctx e;
        uint64_t w0, w1;
    };
    const iommu_vtd_sm_ctx z{};
    std::vector<Case> cases;
    iommu_vtd_sm_ctx e = z;
    e.p = true;
    cases.push_back({e, 0x1, 0});
    e = z;
    e.fpd = true;
    cases.push_back({e, 0x2, 0});
    e = z;
    e.dte = true;
    cases.push_back({e, 0x4, 0});
    e = z;
    e.paside = true;
    cases.push_back({e, 0x8, 0});
    e = z;
    e.pre = true;
    cases.push_back({e, 0x10, 0});
    e = z;
    e.pdts = 7; /* bits 11:9 */
    cases.push_back({e, 0xE00, 0});
    e = z;
    e.pdts = 1;
    cases.push_back({e, 0x200, 0});
    e = z;
    e.pasid_dir = 0x0000000FEDCBA000ull;
    cases.push_back({e, 0x0000000FEDCBA000ull, 0});
    e = z;
    e.rid_pasid = 0xFFFFF; /* bits 83:64 */
    cases.push_back({e, 0, 0xFFFFF});
    e = z;
    e.rid_pasid = 0x12345;
    cases.push_back({e, 0, 0x12345});
    e = z;
    e.rid_priv = true; /* bit 84 */
    cases.push_back({e, 0, 0x100000});
    for (const Case &c : cases) {
        uint64_t w[4] = {~0ull, ~0ull, ~0ull, ~0ull};
        iommu_vtd_sm_ctx_encode(&c.e, w);
        EXPECT_EQ(w[0], c.w0);
        EXPECT_EQ(w[1], c.w1);
        EXPECT_EQ(w[2], 0ull);
        EXPECT_EQ(w[3], 0ull);
        iommu_vtd_sm_ctx d;
        iommu_vtd_sm_ctx_decode(w, &d);
        EXPECT_EQ(d.p, c.e.p);
        EXPECT_EQ(d.fpd, c.e.fpd);
        EXPECT_EQ(d.dte, c.e.dte);
        EXPECT_EQ(d.paside, c.e.paside);
        EXPECT_EQ(d.pre, c.e.pre);
        EXPECT_EQ(d.pdts, c.e.pdts);
        EXPECT_EQ(d.pasid_dir, c.e.pasid_dir);
        EXPECT_EQ(d.rid_pasid, c.e.rid_pasid);
        EXPECT_EQ(d.rid_priv, c.e.rid_priv);
    }
}

TEST(FormatSmCtx, ReservedBits)
{
    const uint64_t ok[4] = {0x5E09, 0x100001, 0, 0};
    EXPECT_TRUE(iommu_vtd_sm_ctx_reserved_ok(ok, 46));
    const uint64_t r5[4] = {0x5E09 | 0x20, 0, 0, 0};          /* bit 5 */
    const uint64_t r8[4] = {0x5E09 | 0x100, 0, 0, 0};         /* bit 8 */
    const uint64_t r85[4] = {0x5E09, 1ull << 21, 0, 0};       /* bit 85 */
    const uint64_t r128[4] = {0x5E09, 0, 1, 0};               /* bit 128 */
    const uint64_t r255[4] = {0x5E09, 0, 0, 1ull << 63};      /* bit 255 */
    const uint64_t haw[4] = {0x5E09 | (1ull << 46), 0, 0, 0};
    EXPECT_FALSE(iommu_vtd_sm_ctx_reserved_ok(r5, 46));
    EXPECT_FALSE(iommu_vtd_sm_ctx_reserved_ok(r8, 46));
    EXPECT_FALSE(iommu_vtd_sm_ctx_reserved_ok(r85, 46));
    EXPECT_FALSE(iommu_vtd_sm_ctx_reserved_ok(r128, 46));
    EXPECT_FALSE(iommu_vtd_sm_ctx_reserved_ok(r255, 46));
    EXPECT_FALSE(iommu_vtd_sm_ctx_reserved_ok(haw, 46));
    EXPECT_TRUE(iommu_vtd_sm_ctx_reserved_ok(haw, 52));
}

/* ---- 9.5 PASID Directory Entry -------------------------------------------------------- */
TEST(FormatPasidDir, FieldsAndReserved)
{
    uint64_t w[1];
    iommu_vtd_pasid_dir e{};
    e.p = true;
    iommu_vtd_pasid_dir_encode(&e, w);
    EXPECT_EQ(w[0], 0x1ull);
    e = {};
    e.fpd = true;
    iommu_vtd_pasid_dir_encode(&e, w);
    EXPECT_EQ(w[0], 0x2ull);
    e = {};
    e.pasid_table = 0x0000001234567000ull;
    iommu_vtd_pasid_dir_encode(&e, w);
    EXPECT_EQ(w[0], 0x0000001234567000ull);
    const uint64_t in[1] = {0x0000000000ABC003ull};
    iommu_vtd_pasid_dir_decode(in, &e);
    EXPECT_TRUE(e.p);
    EXPECT_TRUE(e.fpd);
    EXPECT_EQ(e.pasid_table, 0xABC000ull);
    EXPECT_TRUE(iommu_vtd_pasid_dir_reserved_ok(in, 46));
    const uint64_t r2[1] = {0xABC001 | 0x4};     /* bit 2 */
    const uint64_t r11[1] = {0xABC001 | 0x800};  /* bit 11 */
    const uint64_t haw[1] = {0xABC001 | (1ull << 46)};
    EXPECT_FALSE(iommu_vtd_pasid_dir_reserved_ok(r2, 46));
    EXPECT_FALSE(iommu_vtd_pasid_dir_reserved_ok(r11, 46));
    EXPECT_FALSE(iommu_vtd_pasid_dir_reserved_ok(haw, 46));
    EXPECT_TRUE(iommu_vtd_pasid_dir_reserved_ok(haw, 52));
}

/* ---- 9.6 PASID-Table Entry ------------------------------------------------------------ */
TEST(FormatPasidEntry, EachFieldEncodesToItsBits)
{
    struct Case {
        iommu_vtd_pasid_entry e;
        unsigned word;
        uint64_t value;
    };
    const iommu_vtd_pasid_entry z{};
    std::vector<Case> cases;
    auto add = [&](void (*set)(iommu_vtd_pasid_entry &), unsigned word, uint64_t value) {
        iommu_vtd_pasid_entry e = z;
        set(e);
        cases.push_back({e, word, value});
    };
    add([](iommu_vtd_pasid_entry &e) { e.p = true; }, 0, 0x1);
    add([](iommu_vtd_pasid_entry &e) { e.fpd = true; }, 0, 0x2);
    add([](iommu_vtd_pasid_entry &e) { e.aw = 2; }, 0, 0x8);      /* bits 4:2 */
    add([](iommu_vtd_pasid_entry &e) { e.aw = 7; }, 0, 0x1C);
    add([](iommu_vtd_pasid_entry &e) { e.slee = true; }, 0, 0x20); /* bit 5 */
    add([](iommu_vtd_pasid_entry &e) { e.pgtt = 1; }, 0, 0x40);    /* bits 8:6 */
    add([](iommu_vtd_pasid_entry &e) { e.pgtt = 4; }, 0, 0x100);
    add([](iommu_vtd_pasid_entry &e) { e.slade = true; }, 0, 0x200); /* bit 9 */
    add([](iommu_vtd_pasid_entry &e) { e.slptptr = 0x3FFFFFFFF000ull; }, 0, 0x3FFFFFFFF000ull);
    add([](iommu_vtd_pasid_entry &e) { e.did = 0xBEEF; }, 1, 0xBEEF); /* bits 79:64 */
    add([](iommu_vtd_pasid_entry &e) { e.pwsnp = true; }, 1, 1ull << 23); /* bit 87 */
    add([](iommu_vtd_pasid_entry &e) { e.pgsnp = true; }, 1, 1ull << 24); /* bit 88 */
    add([](iommu_vtd_pasid_entry &e) { e.cd = true; }, 1, 1ull << 25);    /* bit 89 */
    add([](iommu_vtd_pasid_entry &e) { e.emte = true; }, 1, 1ull << 26);  /* bit 90 */
    add([](iommu_vtd_pasid_entry &e) { e.emt = 7; }, 1, 7ull << 27);      /* bits 93:91 */
    add([](iommu_vtd_pasid_entry &e) { e.pwt = true; }, 1, 1ull << 30);   /* bit 94 */
    add([](iommu_vtd_pasid_entry &e) { e.pcd = true; }, 1, 1ull << 31);   /* bit 95 */
    add([](iommu_vtd_pasid_entry &e) { e.pat = 0x07050600u; }, 1, 0x0705060000000000ull);
    add([](iommu_vtd_pasid_entry &e) { e.sre = true; }, 2, 0x1);   /* bit 128 */
    add([](iommu_vtd_pasid_entry &e) { e.ere = true; }, 2, 0x2);   /* bit 129 */
    add([](iommu_vtd_pasid_entry &e) { e.flpm = 1; }, 2, 0x4);     /* bits 131:130 */
    add([](iommu_vtd_pasid_entry &e) { e.flpm = 3; }, 2, 0xC);
    add([](iommu_vtd_pasid_entry &e) { e.wpe = true; }, 2, 0x10);  /* bit 132 */
    add([](iommu_vtd_pasid_entry &e) { e.nxe = true; }, 2, 0x20);  /* bit 133 */
    add([](iommu_vtd_pasid_entry &e) { e.smep = true; }, 2, 0x40); /* bit 134 */
    add([](iommu_vtd_pasid_entry &e) { e.eafe = true; }, 2, 0x80); /* bit 135 */
    add([](iommu_vtd_pasid_entry &e) { e.flptptr = 0x0000000055555000ull; }, 2,
        0x0000000055555000ull); /* bits 191:140 */
    for (const Case &c : cases) {
        uint64_t w[8];
        for (auto &x : w)
            x = ~0ull;
        iommu_vtd_pasid_entry_encode(&c.e, w);
        for (unsigned i = 0; i < 8; i++)
            EXPECT_EQ(w[i], i == c.word ? c.value : 0ull) << "word " << i << " value " << std::hex
                                                          << c.value;
        iommu_vtd_pasid_entry d;
        iommu_vtd_pasid_entry_decode(w, &d);
        uint64_t again[8];
        iommu_vtd_pasid_entry_encode(&d, again);
        for (unsigned i = 0; i < 8; i++)
            EXPECT_EQ(again[i], w[i]);
    }
}

TEST(FormatPasidEntry, DecodeCrafted)
{
    const uint64_t w[8] = {0x00000000AB0000E7ull, 0x0000000100000042ull, 0x00000000CD000025ull,
                           0, 0, 0, 0, 0};
    iommu_vtd_pasid_entry e;
    iommu_vtd_pasid_entry_decode(w, &e);
    EXPECT_TRUE(e.p);
    EXPECT_TRUE(e.fpd);
    EXPECT_EQ(e.aw, 1u);          /* bits 4:2 of 0xE7 = 0b001 */
    EXPECT_TRUE(e.slee);          /* bit 5 */
    EXPECT_EQ(e.pgtt, 3u);        /* bits 8:6 of 0xE7 -> 0b011 */
    EXPECT_FALSE(e.slade);
    EXPECT_EQ(e.slptptr, 0xAB000000ull);
    EXPECT_EQ(e.did, 0x0042u);
    EXPECT_EQ(e.pat, 1u);
    EXPECT_TRUE(e.sre);
    EXPECT_FALSE(e.ere);
    EXPECT_EQ(e.flpm, 1u);
    EXPECT_TRUE(e.nxe);
    EXPECT_EQ(e.flptptr, 0xCD000000ull);
    EXPECT_TRUE(iommu_vtd_pasid_entry_reserved_ok(w, 46));
}

TEST(FormatPasidEntry, ReservedBits)
{
    const uint64_t base[8] = {0x1000 | 0x81 /* P, PGTT=2 */, 0x1, 0, 0, 0, 0, 0, 0};
    EXPECT_TRUE(iommu_vtd_pasid_entry_reserved_ok(base, 46));
    auto with = [&](unsigned word, uint64_t bits) {
        uint64_t w[8];
        for (unsigned i = 0; i < 8; i++)
            w[i] = base[i];
        w[word] |= bits;
        return iommu_vtd_pasid_entry_reserved_ok(w, 46);
    };
    EXPECT_FALSE(with(0, 1ull << 10));  /* bit 10 */
    EXPECT_FALSE(with(0, 1ull << 11));  /* bit 11 */
    EXPECT_FALSE(with(1, 1ull << 16));  /* bit 80 */
    EXPECT_FALSE(with(1, 1ull << 22));  /* bit 86 */
    EXPECT_FALSE(with(2, 1ull << 8));   /* bit 136 */
    EXPECT_FALSE(with(2, 1ull << 11));  /* bit 139 */
    EXPECT_FALSE(with(3, 1));           /* bit 192 */
    EXPECT_FALSE(with(7, 1ull << 63));  /* bit 511 */
    EXPECT_FALSE(with(0, 1ull << 46));  /* SLPTPTR beyond HAW, PGTT = SL */
    EXPECT_TRUE(with(2, 1ull << 46));   /* FLPTPTR unused with PGTT = SL */
    uint64_t fl[8] = {0x41 /* P, PGTT=1 */, 0, 1ull << 46, 0, 0, 0, 0, 0};
    EXPECT_FALSE(iommu_vtd_pasid_entry_reserved_ok(fl, 46)); /* FLPTPTR beyond HAW */
    EXPECT_TRUE(iommu_vtd_pasid_entry_reserved_ok(fl, 52));
    fl[0] |= 1ull << 50; /* SLPTPTR unused with PGTT = FL */
    EXPECT_TRUE(iommu_vtd_pasid_entry_reserved_ok(fl, 52));
    const uint64_t notp[8] = {0xC00, ~0ull, ~0ull, ~0ull, 0, 0, 0, 0};
    EXPECT_TRUE(iommu_vtd_pasid_entry_reserved_ok(notp, 46));
}

/* ---- 9.7 First-Level Paging Entries ---------------------------------------------------- */
TEST(FormatFlPte, EachFieldEncodesToItsBits)
{
    struct Case {
        unsigned level;
        iommu_vtd_fl_pte e;
        uint64_t w;
    };
    const iommu_vtd_fl_pte z{};
    std::vector<Case> cases;
    auto add = [&](unsigned level, void (*set)(iommu_vtd_fl_pte &), uint64_t w) {
        iommu_vtd_fl_pte e = z;
        set(e);
        cases.push_back({level, e, w});
    };
    add(4, [](iommu_vtd_fl_pte &e) { e.p = true; }, 0x1);
    add(4, [](iommu_vtd_fl_pte &e) { e.rw = true; }, 0x2);
    add(4, [](iommu_vtd_fl_pte &e) { e.us = true; }, 0x4);
    add(4, [](iommu_vtd_fl_pte &e) { e.pwt = true; }, 0x8);
    add(4, [](iommu_vtd_fl_pte &e) { e.pcd = true; }, 0x10);
    add(4, [](iommu_vtd_fl_pte &e) { e.a = true; }, 0x20);
    add(1, [](iommu_vtd_fl_pte &e) { e.d = true; }, 0x40);
    add(2, [](iommu_vtd_fl_pte &e) { e.ps = true; }, 0x80);
    add(3, [](iommu_vtd_fl_pte &e) { e.ps = true; }, 0x80);
    add(1, [](iommu_vtd_fl_pte &e) { e.pat = true; }, 0x80);   /* PTE: PAT is bit 7 */
    add(2, [](iommu_vtd_fl_pte &e) { e.ps = e.pat = true; }, 0x1080); /* large: bit 12 */
    add(3, [](iommu_vtd_fl_pte &e) { e.ps = e.pat = true; }, 0x1080);
    add(1, [](iommu_vtd_fl_pte &e) { e.g = true; }, 0x100);
    add(1, [](iommu_vtd_fl_pte &e) { e.ea = true; }, 0x400);
    add(1, [](iommu_vtd_fl_pte &e) { e.xd = true; }, 0x8000000000000000ull);
    add(1, [](iommu_vtd_fl_pte &e) { e.addr = 0x000FFFFFFFFFF000ull; }, 0x000FFFFFFFFFF000ull);
    add(4, [](iommu_vtd_fl_pte &e) { e.addr = 0x0000001234567000ull; }, 0x0000001234567000ull);
    add(2, [](iommu_vtd_fl_pte &e) { e.ps = true; e.addr = 0x40200000ull; }, 0x40200080ull);
    add(3, [](iommu_vtd_fl_pte &e) { e.ps = true; e.addr = 0x1C0000000ull; }, 0x1C0000080ull);
    for (const Case &c : cases) {
        uint64_t w;
        iommu_vtd_fl_pte_encode(&c.e, c.level, &w);
        EXPECT_EQ(w, c.w) << "level " << c.level;
        iommu_vtd_fl_pte d;
        iommu_vtd_fl_pte_decode(&w, c.level, &d);
        uint64_t again;
        iommu_vtd_fl_pte_encode(&d, c.level, &again);
        EXPECT_EQ(again, c.w);
    }
}

TEST(FormatFlPte, DecodeLargeLeafMasksLowAddressBits)
{
    const uint64_t w = 0x0000000040201087ull; /* P RW US PS, PAT, address 2 MB aligned */
    iommu_vtd_fl_pte e;
    iommu_vtd_fl_pte_decode(&w, 2, &e);
    EXPECT_TRUE(e.ps);
    EXPECT_TRUE(e.pat);
    EXPECT_EQ(e.addr, 0x40200000ull);
    iommu_vtd_fl_pte_decode(&w, 1, &e); /* the same word as a PTE: bit 7 = PAT */
    EXPECT_FALSE(e.ps);
    EXPECT_TRUE(e.pat);
    EXPECT_EQ(e.addr, 0x40201000ull);
}

TEST(FormatFlPte, ReservedBits)
{
    auto ok = [](uint64_t v, unsigned level, uint8_t haw = 46, bool fl_1g = true, bool nxe = true) {
        return iommu_vtd_fl_pte_reserved_ok(&v, level, haw, fl_1g, nxe);
    };
    EXPECT_TRUE(ok(0x0000000000123007ull, 4));
    EXPECT_FALSE(ok(0x0000000000123087ull, 4));       /* PS at a PML4E */
    EXPECT_FALSE(ok(0x0000000000123087ull, 5));       /* PS at a PML5E */
    EXPECT_TRUE(ok(0x0000000040000087ull, 3));        /* 1 GB leaf with FL1GP */
    EXPECT_FALSE(ok(0x0000000040000087ull, 3, 46, false)); /* 1 GB leaf without FL1GP */
    EXPECT_FALSE(ok(0x0000000040002087ull, 3));       /* bit 13 in a 1 GB leaf */
    EXPECT_FALSE(ok(0x0000000060000087ull, 3));       /* bit 29 in a 1 GB leaf */
    EXPECT_TRUE(ok(0x0000000040001087ull, 3));        /* bit 12 = PAT */
    EXPECT_FALSE(ok(0x0000000040102087ull, 2));       /* bit 20 in a 2 MB leaf */
    EXPECT_TRUE(ok(0x0000000040201087ull, 2));
    EXPECT_TRUE(ok(0x0000000000123087ull, 1));        /* bit 7 = PAT in a PTE */
    EXPECT_FALSE(ok(0x0000400000123007ull, 1));       /* address bit 46 >= HAW */
    EXPECT_TRUE(ok(0x0000400000123007ull, 1, 47));
    EXPECT_TRUE(ok(0x7FF0000000123007ull, 1));        /* bits 62:52 ignored */
    EXPECT_TRUE(ok(0x8000000000123007ull, 1, 46, true, true));   /* XD with NXE */
    EXPECT_FALSE(ok(0x8000000000123007ull, 1, 46, true, false)); /* XD without NXE */
    EXPECT_TRUE(ok(0xFFFFFFFFFFFFFFFEull, 4));        /* not present: nothing checked */
}

/* ---- 9.8 Second-Level Paging Entries --------------------------------------------------- */
TEST(FormatSlPte, EachFieldEncodesToItsBits)
{
    struct Case {
        unsigned level;
        iommu_vtd_sl_pte e;
        uint64_t w;
    };
    const iommu_vtd_sl_pte z{};
    std::vector<Case> cases;
    auto add = [&](unsigned level, void (*set)(iommu_vtd_sl_pte &), uint64_t w) {
        iommu_vtd_sl_pte e = z;
        set(e);
        cases.push_back({level, e, w});
    };
    add(1, [](iommu_vtd_sl_pte &e) { e.r = true; }, 0x1);
    add(1, [](iommu_vtd_sl_pte &e) { e.w = true; }, 0x2);
    add(1, [](iommu_vtd_sl_pte &e) { e.x = true; }, 0x4);
    add(1, [](iommu_vtd_sl_pte &e) { e.emt = 6; }, 0x30);  /* bits 5:3 */
    add(1, [](iommu_vtd_sl_pte &e) { e.emt = 1; }, 0x08);
    add(1, [](iommu_vtd_sl_pte &e) { e.ipat = true; }, 0x40);
    add(2, [](iommu_vtd_sl_pte &e) { e.ps = true; }, 0x80);
    add(3, [](iommu_vtd_sl_pte &e) { e.ps = true; }, 0x80);
    add(1, [](iommu_vtd_sl_pte &e) { e.ps = true; }, 0x0);  /* no PS at level 1 */
    add(1, [](iommu_vtd_sl_pte &e) { e.a = true; }, 0x100);
    add(1, [](iommu_vtd_sl_pte &e) { e.d = true; }, 0x200);
    add(1, [](iommu_vtd_sl_pte &e) { e.snp = true; }, 0x800);
    add(1, [](iommu_vtd_sl_pte &e) { e.tm = true; }, 0x4000000000000000ull);
    add(1, [](iommu_vtd_sl_pte &e) { e.addr = 0x000FFFFFFFFFF000ull; }, 0x000FFFFFFFFFF000ull);
    add(2, [](iommu_vtd_sl_pte &e) { e.ps = true; e.addr = 0x40201000ull; }, 0x40200080ull);
    add(3, [](iommu_vtd_sl_pte &e) { e.ps = true; e.addr = 0x7FFFFF000ull; }, 0x7C0000080ull);
    for (const Case &c : cases) {
        uint64_t w;
        iommu_vtd_sl_pte_encode(&c.e, c.level, &w);
        EXPECT_EQ(w, c.w) << "level " << c.level;
        iommu_vtd_sl_pte d;
        iommu_vtd_sl_pte_decode(&w, c.level, &d);
        uint64_t again;
        iommu_vtd_sl_pte_encode(&d, c.level, &again);
        EXPECT_EQ(again, c.w);
    }
}

TEST(FormatSlPte, DecodeCrafted)
{
    const uint64_t w = 0x4000000080200BF3ull; /* R W EMT=6 IPAT PS A D SNP TM, 2 MB at 0x80200000 */
    iommu_vtd_sl_pte e;
    iommu_vtd_sl_pte_decode(&w, 2, &e);
    EXPECT_TRUE(e.r);
    EXPECT_TRUE(e.w);
    EXPECT_FALSE(e.x);
    EXPECT_EQ(e.emt, 6u);
    EXPECT_TRUE(e.ipat);
    EXPECT_TRUE(e.ps);
    EXPECT_TRUE(e.a);
    EXPECT_TRUE(e.d);
    EXPECT_TRUE(e.snp);
    EXPECT_TRUE(e.tm);
    EXPECT_EQ(e.addr, 0x80200000ull);
    EXPECT_TRUE(iommu_vtd_sl_pte_reserved_ok(&w, 2, 46, true, true));
}

TEST(FormatSlPte, ReservedBits)
{
    auto ok = [](uint64_t v, unsigned level, uint8_t haw = 46, bool s2m = true, bool s1g = true) {
        return iommu_vtd_sl_pte_reserved_ok(&v, level, haw, s2m, s1g);
    };
    EXPECT_TRUE(ok(0x0000000000123007ull, 4));
    EXPECT_TRUE(ok(0x0000000000123007ull | 0x78, 4)); /* bits 6:3 ignored in non-leaf */
    EXPECT_FALSE(ok(0x0000000000123083ull, 4));       /* PS at an SL-PML4E */
    EXPECT_FALSE(ok(0x0000000000123083ull, 5));       /* PS at an SL-PML5E */
    EXPECT_FALSE(ok(0x0000000000123803ull, 3));       /* SNP in a non-leaf entry */
    EXPECT_FALSE(ok(0x4000000000123003ull, 2));       /* TM in a non-leaf entry */
    EXPECT_TRUE(ok(0x4000000000123803ull, 1));        /* SNP and TM in a leaf */
    EXPECT_TRUE(ok(0x0000000040000083ull, 3));        /* 1 GB leaf, SLLPS 1 GB */
    EXPECT_FALSE(ok(0x0000000040000083ull, 3, 46, true, false));
    EXPECT_FALSE(ok(0x0000000040001083ull, 3));       /* bit 12 in a 1 GB leaf */
    EXPECT_FALSE(ok(0x0000000060000083ull, 3));       /* bit 29 in a 1 GB leaf */
    EXPECT_TRUE(ok(0x0000000000200083ull, 2));        /* 2 MB leaf */
    EXPECT_FALSE(ok(0x0000000000200083ull, 2, 46, false, true)); /* no 2 MB support */
    EXPECT_FALSE(ok(0x0000000000201083ull, 2));       /* bit 12 in a 2 MB leaf */
    EXPECT_FALSE(ok(0x0000000000300083ull, 2));       /* bit 20 in a 2 MB leaf */
    EXPECT_TRUE(ok(0x0000000000123083ull, 1));        /* bit 7 ignored in a PTE */
    EXPECT_FALSE(ok(0x0000400000123003ull, 1));       /* address bit 46 >= HAW */
    EXPECT_TRUE(ok(0x0000400000123003ull, 1, 52));
    EXPECT_TRUE(ok(0xBFF0000000123003ull, 1));        /* 61:52 and 63 ignored */
    EXPECT_TRUE(ok(0xFFFFFFFFFFFFFFFCull, 4));        /* R = W = 0: not present */
}

TEST(FormatHelpers, LeafShiftIndexAndFaultNames)
{
    EXPECT_EQ(iommu_vtd_leaf_shift(1), 12u);
    EXPECT_EQ(iommu_vtd_leaf_shift(2), 21u);
    EXPECT_EQ(iommu_vtd_leaf_shift(3), 30u);
    EXPECT_EQ(iommu_vtd_pt_index(0x0000123456789ABCull, 4), 0x24u);
    EXPECT_EQ(iommu_vtd_pt_index(0x0000123456789ABCull, 3), 0xD1u);
    EXPECT_EQ(iommu_vtd_pt_index(0x0000123456789ABCull, 2), 0xB3u);
    EXPECT_EQ(iommu_vtd_pt_index(0x0000123456789ABCull, 1), 0x189u);
    EXPECT_EQ(iommu_vtd_pt_index(0x01FF000000000000ull, 5), 0x1FFu);
    EXPECT_TRUE(iommu_vtd_pte_is_leaf(0x80, 2));
    EXPECT_TRUE(iommu_vtd_pte_is_leaf(0x80, 3));
    EXPECT_FALSE(iommu_vtd_pte_is_leaf(0x80, 4));
    EXPECT_TRUE(iommu_vtd_pte_is_leaf(0x0, 1));
    EXPECT_STREQ(iommu_vtd_fault_str(0x5), "write not permitted");
    EXPECT_STREQ(iommu_vtd_fault_str(0x41), "SM: context entry not present");
    EXPECT_STREQ(iommu_vtd_fault_str(0xEE), "unknown");
}

} // namespace
