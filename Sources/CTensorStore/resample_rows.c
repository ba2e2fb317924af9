// AVX2 row kernels for FleetKernels' FrameTransformer (see fleet_resample_rows.h): the same
// integer arithmetic as its portable Swift loops, twice the width of its SSE2 rows, selected at
// run time with fleet_rows_avx2_available() (no build flags).
#include "fleet_resample_rows.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

int fleet_rows_avx2_available(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!((c & bit_OSXSAVE) && (c & bit_AVX))) return 0;
    // The OS must save the YMM registers (XCR0 bits 1 and 2).
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6) return 0;
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & bit_AVX2) != 0;
}

#define TARGET __attribute__((target("avx2")))

TARGET static inline __m256i load256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
TARGET static inline void store256(void *p, __m256i v) { _mm256_storeu_si256((__m256i *)p, v); }
TARGET static inline __m256i load2x128(const void *hi, const void *lo) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)lo)),
                                   _mm_loadu_si128((const __m128i *)hi), 1);
}

// Vertical: taps in pairs (w0 | w1 << 16) so one pmaddwd does two taps. The two rows' bytes are
// interleaved (x0 y0 x1 y1 ...) and zero-extended to (x, y) Int16 pairs; 32 samples a block,
// their Int32 sums in four registers across all taps. Lane order after the in-lane unpacks:
// a = samples 0-3 | 16-19, b = 4-7 | 20-23, c = 8-11 | 24-27, d = 12-15 | 28-31, which the
// in-lane packs and two cross-lane permutes put back in order.
//
// Weights that are multiples of 128 (k = w / 128) with 8-bit samples and down = 7 give
// (128 * sum(k * s) + 64) >> 7 = sum(k * s): with every k in 0...127 and k0 + k1 <= 128 per pair,
// pmaddubsw (u8 samples times s8 weights, pair sums at most 128 * 255) is exact, and so are the
// Int16 sums (at most 128 * 255 in all); that halves the unpacks and does 16 samples per multiply.
TARGET static size_t vertical_u8_k8(const uint8_t *const *r0, const uint8_t *const *r1, const __m256i *k, int pairs,
                                    size_t count, int16_t *dst) {
    size_t i = 0;
    for (;;) {
        if (i + 32 > count) i = count - 32;   // last block overlaps the one before
        __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
        for (int p = 0; p < pairs; p++) {
            __m256i x = load256(r0[p] + i), y = load256(r1[p] + i);
            lo = _mm256_add_epi16(lo, _mm256_maddubs_epi16(_mm256_unpacklo_epi8(x, y), k[p]));   // 0-7 | 16-23
            hi = _mm256_add_epi16(hi, _mm256_maddubs_epi16(_mm256_unpackhi_epi8(x, y), k[p]));   // 8-15 | 24-31
        }
        store256(dst + i, _mm256_permute2x128_si256(lo, hi, 0x20));
        store256(dst + i + 16, _mm256_permute2x128_si256(lo, hi, 0x31));
        i += 32;
        if (i >= count) break;
    }
    return count;
}

TARGET size_t fleet_vertical_u8(const uint8_t *const *rows, const int32_t *weights, int taps, size_t count, int down,
                                int16_t *dst) {
    enum { maxPairs = 32 };
    if (count < 32 || taps < 1 || taps > 2 * maxPairs) return 0;
    const int pairs = (taps + 1) / 2;
    int bytes = down == 7;   // pmaddubsw path possible?
    int32_t total = 0;
    for (int p = 0; p < pairs && bytes; p++) {
        int32_t w0 = weights[2 * p], w1 = 2 * p + 1 < taps ? weights[2 * p + 1] : 0;
        bytes = w0 % 128 == 0 && w1 % 128 == 0 && w0 >= 0 && w1 >= 0 && w0 / 128 <= 127 && w1 / 128 <= 127;
        total += w0 / 128 + w1 / 128;
    }
    bytes = bytes && total <= 128;
    if (bytes) {
        __m256i k[maxPairs];
        const uint8_t *r0[maxPairs], *r1[maxPairs];
        for (int p = 0; p < pairs; p++) {
            int32_t k0 = weights[2 * p] / 128, k1 = 2 * p + 1 < taps ? weights[2 * p + 1] / 128 : 0;
            k[p] = _mm256_set1_epi16((int16_t)((k1 << 8) | k0));
            r0[p] = rows[2 * p];
            r1[p] = rows[2 * p + 1 < taps ? 2 * p + 1 : taps - 1];
        }
        return vertical_u8_k8(r0, r1, k, pairs, count, dst);
    }
    __m256i k[maxPairs];
    const uint8_t *r0[maxPairs], *r1[maxPairs];
    for (int p = 0; p < pairs; p++) {
        int32_t w0 = weights[2 * p], w1 = 2 * p + 1 < taps ? weights[2 * p + 1] : 0;
        k[p] = _mm256_set1_epi32((int32_t)(((uint32_t)w1 << 16) | ((uint32_t)w0 & 0xFFFF)));
        r0[p] = rows[2 * p];
        r1[p] = rows[2 * p + 1 < taps ? 2 * p + 1 : taps - 1];
    }
    const __m256i zero = _mm256_setzero_si256(), half = _mm256_set1_epi32(1 << (down - 1));
    const __m128i sh = _mm_cvtsi32_si128(down);
    size_t i = 0;
    for (;;) {
        if (i + 32 > count) i = count - 32;   // last block overlaps the one before
        __m256i a = zero, b = zero, c = zero, d = zero;
        for (int p = 0; p < pairs; p++) {
            __m256i x = load256(r0[p] + i), y = load256(r1[p] + i);
            __m256i t0 = _mm256_unpacklo_epi8(x, y), t1 = _mm256_unpackhi_epi8(x, y);
            a = _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_unpacklo_epi8(t0, zero), k[p]));
            b = _mm256_add_epi32(b, _mm256_madd_epi16(_mm256_unpackhi_epi8(t0, zero), k[p]));
            c = _mm256_add_epi32(c, _mm256_madd_epi16(_mm256_unpacklo_epi8(t1, zero), k[p]));
            d = _mm256_add_epi32(d, _mm256_madd_epi16(_mm256_unpackhi_epi8(t1, zero), k[p]));
        }
        a = _mm256_sra_epi32(_mm256_add_epi32(a, half), sh);
        b = _mm256_sra_epi32(_mm256_add_epi32(b, half), sh);
        c = _mm256_sra_epi32(_mm256_add_epi32(c, half), sh);
        d = _mm256_sra_epi32(_mm256_add_epi32(d, half), sh);
        __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);   // 0-7 | 16-23, 8-15 | 24-31
        store256(dst + i, _mm256_permute2x128_si256(ab, cd, 0x20));
        store256(dst + i + 16, _mm256_permute2x128_si256(ab, cd, 0x31));
        i += 32;
        if (i >= count) break;
    }
    return count;
}

// Horizontal: outputs j + o (low lane) and j + 4 + o (high lane) in one register, pmaddwd over
// their 8 * chunks taps (weights already paired that way, one load), then the 4x4 transpose-add
// in each lane gives j..j+3 | j+4..j+7.
TARGET size_t fleet_horizontal_i16(const int16_t *src, const int32_t *pos, const int16_t *paired, int chunks,
                                   size_t count, int16_t *dst) {
    const __m256i round = _mm256_set1_epi32(1 << 14);
    size_t j = 0;
    const int16_t *w = paired;
    for (; j + 8 <= count; j += 8) {
        __m256i r[4];
        for (int o = 0; o < 4; o++) {
            const int16_t *s0 = src + pos[j + o], *s1 = src + pos[j + o + 4];
            __m256i acc = _mm256_madd_epi16(load2x128(s1, s0), load256(w));
            w += 16;
            for (int c = 1; c < chunks; c++, w += 16)
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(load2x128(s1 + 8 * c, s0 + 8 * c), load256(w)));
            r[o] = acc;
        }
        __m256i s01 = _mm256_add_epi32(_mm256_unpacklo_epi32(r[0], r[1]), _mm256_unpackhi_epi32(r[0], r[1]));
        __m256i s23 = _mm256_add_epi32(_mm256_unpacklo_epi32(r[2], r[3]), _mm256_unpackhi_epi32(r[2], r[3]));
        __m256i sum = _mm256_add_epi32(_mm256_unpacklo_epi64(s01, s23), _mm256_unpackhi_epi64(s01, s23));
        __m256i v = _mm256_srai_epi32(_mm256_add_epi32(sum, round), 15);
        __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi32(v, v), 0x08);
        _mm_storeu_si128((__m128i *)(dst + j), _mm256_castsi256_si128(p));
    }
    return j;
}

// Even and odd Int16 samples of the 32 at p, each as 16 lanes in the order 0-3, 8-11, 4-7,
// 12-15 (qwords 0, 2, 1, 3), which the caller undoes once at the end.
TARGET static inline void deinterleave16(const int16_t *p, __m256i *even, __m256i *odd) {
    __m256i a = load256(p), b = load256(p + 16);
    *even = _mm256_packs_epi32(_mm256_srai_epi32(_mm256_slli_epi32(a, 16), 16), _mm256_srai_epi32(_mm256_slli_epi32(b, 16), 16));
    *odd = _mm256_packs_epi32(_mm256_srai_epi32(a, 16), _mm256_srai_epi32(b, 16));
}

TARGET size_t fleet_decimate2_q15(int taps, const int16_t *src, size_t readable, const int16_t *q, size_t lo, size_t hi,
                                  int16_t *dst) {
    const __m256i q0 = _mm256_set1_epi16(q[0]), q1 = _mm256_set1_epi16(q[1]);
    const __m256i q2 = _mm256_set1_epi16(q[2]), q3 = _mm256_set1_epi16(q[3]);
    size_t k = lo;
    while (k + 16 <= hi && 2 * k + 34 <= readable) {
        const int16_t *p = src + 2 * k;
        __m256i e0, o0;
        deinterleave16(p, &e0, &o0);
        __m256i s = _mm256_add_epi16(_mm256_mulhi_epi16(e0, q0), _mm256_mulhi_epi16(o0, q1));
        if (taps > 2) {
            __m256i e1, o1;
            deinterleave16(p + 2, &e1, &o1);
            s = _mm256_add_epi16(s, _mm256_mulhi_epi16(e1, q2));
            if (taps > 3) s = _mm256_add_epi16(s, _mm256_mulhi_epi16(o1, q3));
        }
        store256(dst + k, _mm256_permute4x64_epi64(s, 0xD8));
        k += 16;
    }
    return k;
}

// Box: pmaddubsw with ones gives the pair sums of each row (at most 510) as Int16.
TARGET size_t fleet_box2_u8(const uint8_t *a, const uint8_t *b, size_t readable, size_t count, uint8_t *dst) {
    const __m256i ones = _mm256_set1_epi8(1), two = _mm256_set1_epi16(2);
    size_t k = 0;
    while (k + 32 <= count && 2 * k + 64 <= readable) {
        __m256i lo = _mm256_add_epi16(_mm256_maddubs_epi16(load256(a + 2 * k), ones), _mm256_maddubs_epi16(load256(b + 2 * k), ones));
        __m256i hi = _mm256_add_epi16(_mm256_maddubs_epi16(load256(a + 2 * k + 32), ones),
                                      _mm256_maddubs_epi16(load256(b + 2 * k + 32), ones));
        lo = _mm256_srli_epi16(_mm256_add_epi16(lo, two), 2);
        hi = _mm256_srli_epi16(_mm256_add_epi16(hi, two), 2);
        store256(dst + k, _mm256_permute4x64_epi64(_mm256_packus_epi16(lo, hi), 0xD8));
        k += 32;
    }
    return k;
}

TARGET size_t fleet_colour_yuv(size_t count, const int16_t *y, const int16_t *u, const int16_t *v, uint8_t *r, uint8_t *g,
                               uint8_t *b, int16_t cy, int16_t yOffset, int16_t crv, int16_t cgu, int16_t cgv, int16_t cbu) {
    const __m256i kY = _mm256_set1_epi16(cy), kYo = _mm256_set1_epi16(yOffset), kCrv = _mm256_set1_epi16(crv);
    const __m256i kCgu = _mm256_set1_epi16(cgu), kCgv = _mm256_set1_epi16(cgv), kCbu = _mm256_set1_epi16(cbu);
    const __m256i mid = _mm256_set1_epi16(128 * 64), four = _mm256_set1_epi16(4), five = _mm256_set1_epi16(5);
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m256i l = _mm256_mulhi_epi16(_mm256_sub_epi16(load256(y + i), kYo), kY);
        __m256i uu = _mm256_sub_epi16(load256(u + i), mid), vv = _mm256_sub_epi16(load256(v + i), mid);
        __m256i rr = _mm256_add_epi16(_mm256_add_epi16(l, _mm256_mulhi_epi16(vv, kCrv)), five);
        __m256i gg = _mm256_add_epi16(_mm256_sub_epi16(_mm256_sub_epi16(l, _mm256_mulhi_epi16(uu, kCgu)), _mm256_mulhi_epi16(vv, kCgv)), four);
        __m256i bb = _mm256_add_epi16(_mm256_add_epi16(l, _mm256_mulhi_epi16(uu, kCbu)), five);
        // (x >> 3) clamped to 0...255; pack R with G (in-lane: R0-7 G0-7 | R8-15 G8-15) and B with itself.
        __m256i rg = _mm256_permute4x64_epi64(_mm256_packus_epi16(_mm256_srai_epi16(rr, 3), _mm256_srai_epi16(gg, 3)), 0xD8);
        __m256i bs = _mm256_srai_epi16(bb, 3);
        __m256i b2 = _mm256_permute4x64_epi64(_mm256_packus_epi16(bs, bs), 0xD8);
        _mm_storeu_si128((__m128i *)(r + i), _mm256_castsi256_si128(rg));
        _mm_storeu_si128((__m128i *)(g + i), _mm256_extracti128_si256(rg, 1));
        _mm_storeu_si128((__m128i *)(b + i), _mm256_castsi256_si128(b2));
    }
    return i;
}

static const uint8_t interleaveMasks[9][16] __attribute__((aligned(16))) = {
    {0x00, 0x80, 0x80, 0x01, 0x80, 0x80, 0x02, 0x80, 0x80, 0x03, 0x80, 0x80, 0x04, 0x80, 0x80, 0x05},  // out0 from channel 0
    {0x80, 0x00, 0x80, 0x80, 0x01, 0x80, 0x80, 0x02, 0x80, 0x80, 0x03, 0x80, 0x80, 0x04, 0x80, 0x80},  // out0 from channel 1
    {0x80, 0x80, 0x00, 0x80, 0x80, 0x01, 0x80, 0x80, 0x02, 0x80, 0x80, 0x03, 0x80, 0x80, 0x04, 0x80},  // out0 from channel 2
    {0x80, 0x80, 0x06, 0x80, 0x80, 0x07, 0x80, 0x80, 0x08, 0x80, 0x80, 0x09, 0x80, 0x80, 0x0a, 0x80},  // out1 from channel 0
    {0x05, 0x80, 0x80, 0x06, 0x80, 0x80, 0x07, 0x80, 0x80, 0x08, 0x80, 0x80, 0x09, 0x80, 0x80, 0x0a},  // out1 from channel 1
    {0x80, 0x05, 0x80, 0x80, 0x06, 0x80, 0x80, 0x07, 0x80, 0x80, 0x08, 0x80, 0x80, 0x09, 0x80, 0x80},  // out1 from channel 2
    {0x80, 0x0b, 0x80, 0x80, 0x0c, 0x80, 0x80, 0x0d, 0x80, 0x80, 0x0e, 0x80, 0x80, 0x0f, 0x80, 0x80},  // out2 from channel 0
    {0x80, 0x80, 0x0b, 0x80, 0x80, 0x0c, 0x80, 0x80, 0x0d, 0x80, 0x80, 0x0e, 0x80, 0x80, 0x0f, 0x80},  // out2 from channel 1
    {0x0a, 0x80, 0x80, 0x0b, 0x80, 0x80, 0x0c, 0x80, 0x80, 0x0d, 0x80, 0x80, 0x0e, 0x80, 0x80, 0x0f},  // out2 from channel 2
};

// 16 pixels -> 48 bytes with nine pshufb (VEX-encoded, 128-bit) and six ors.
TARGET size_t fleet_interleave3_u8(const uint8_t *c0, const uint8_t *c1, const uint8_t *c2, size_t count, uint8_t *dst) {
    if (count < 16) return 0;
    __m128i m[9];
    for (int t = 0; t < 9; t++) m[t] = _mm_load_si128((const __m128i *)interleaveMasks[t]);
    size_t i = 0;
    for (;;) {
        if (i + 16 > count) i = count - 16;   // last block overlaps the one before
        __m128i x = _mm_loadu_si128((const __m128i *)(c0 + i));
        __m128i y = _mm_loadu_si128((const __m128i *)(c1 + i));
        __m128i z = _mm_loadu_si128((const __m128i *)(c2 + i));
        for (int o = 0; o < 3; o++) {
            __m128i v = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(x, m[3 * o]), _mm_shuffle_epi8(y, m[3 * o + 1])),
                                     _mm_shuffle_epi8(z, m[3 * o + 2]));
            _mm_storeu_si128((__m128i *)(dst + 3 * i + 16 * o), v);
        }
        i += 16;
        if (i >= count) break;
    }
    return count;
}
#else
int fleet_rows_avx2_available(void) { return 0; }
size_t fleet_vertical_u8(const uint8_t *const *rows, const int32_t *weights, int taps, size_t count, int down, int16_t *dst) {
    (void)rows; (void)weights; (void)taps; (void)count; (void)down; (void)dst; return 0;
}
size_t fleet_horizontal_i16(const int16_t *src, const int32_t *pos, const int16_t *weights, int chunks, size_t count, int16_t *dst) {
    (void)src; (void)pos; (void)weights; (void)chunks; (void)count; (void)dst; return 0;
}
size_t fleet_decimate2_q15(int taps, const int16_t *src, size_t readable, const int16_t *q, size_t lo, size_t hi, int16_t *dst) {
    (void)taps; (void)src; (void)readable; (void)q; (void)hi; (void)dst; return lo;
}
size_t fleet_box2_u8(const uint8_t *a, const uint8_t *b, size_t readable, size_t count, uint8_t *dst) {
    (void)a; (void)b; (void)readable; (void)count; (void)dst; return 0;
}
size_t fleet_colour_yuv(size_t count, const int16_t *y, const int16_t *u, const int16_t *v, uint8_t *r, uint8_t *g,
                        uint8_t *b, int16_t cy, int16_t yOffset, int16_t crv, int16_t cgu, int16_t cgv, int16_t cbu) {
    (void)count; (void)y; (void)u; (void)v; (void)r; (void)g; (void)b; (void)cy; (void)yOffset; (void)crv; (void)cgu; (void)cgv; (void)cbu;
    return 0;
}
size_t fleet_interleave3_u8(const uint8_t *c0, const uint8_t *c1, const uint8_t *c2, size_t count, uint8_t *dst) {
    (void)c0; (void)c1; (void)c2; (void)count; (void)dst; return 0;
}
#endif
