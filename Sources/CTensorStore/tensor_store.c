#include "fleet_tensor_store.h"
#include "fleet_resample_rows.h"
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

int fleet_tensor_store_available(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = (c & bit_FMA) != 0, f16c = (c & bit_F16C) != 0, osxsave = (c & bit_OSXSAVE) != 0;
    int avx = (c & bit_AVX) != 0;
    if (!(fma && f16c && osxsave && avx)) return 0;
    // AVX2, with the OS saving the YMM registers: the row kernels' check (resample_rows.c).
    return fleet_rows_avx2_available();
}

#define TARGET __attribute__((target("avx2,f16c,fma")))

// 8 bytes at p -> 8 floats, times a plus b (one rounding).
TARGET static inline __m256 affine8(const uint8_t *p, __m256 a, __m256 b) {
    __m128i bytes = _mm_loadl_epi64((const __m128i *)p);
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)), a, b);
}

// Runs `body(offset)` over 8-element blocks; a tail shorter than 8 is done by redoing the last
// 8 elements (same values), or through a zero-padded copy when n < 8.
#define BLOCKS(n, src, body)                                                   \
    do {                                                                       \
        size_t i_ = 0;                                                         \
        for (; i_ + 8 <= (n); i_ += 8) { body(src, i_); }                      \
        if (i_ < (n) && (n) >= 8) { body(src, (n) - 8); }                      \
    } while (0)

TARGET static void small_f16(const uint8_t *src, size_t n, __m256 a, __m256 b, void *dst) {
    uint8_t in[8] = {0}; uint16_t out[8];
    memcpy(in, src, n);
    _mm_storeu_si128((__m128i *)out, _mm256_cvtps_ph(affine8(in, a, b), _MM_FROUND_TO_NEAREST_INT));
    memcpy(dst, out, 2 * n);
}

TARGET void fleet_store_affine_f16(const uint8_t *src, size_t n, float af, float bf, void *dst) {
    uint8_t *d = (uint8_t *)dst;
    __m256 a = _mm256_set1_ps(af), b = _mm256_set1_ps(bf);
    if (n < 8) { small_f16(src, n, a, b, dst); return; }
#define F16(s, i) _mm_storeu_si128((__m128i *)(d + 2 * (i)), _mm256_cvtps_ph(affine8((s) + (i), a, b), _MM_FROUND_TO_NEAREST_INT))
    BLOCKS(n, src, F16);
#undef F16
}

// Round-to-nearest-even bfloat16 of 8 finite floats, as 8 x uint16.
TARGET static inline __m128i bf16x8(__m256 v) {
    __m256i bits = _mm256_castps_si256(v);
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(bits, _mm256_set1_epi32(0x7FFF)), lsb), 16);
    __m128i lo = _mm256_castsi256_si128(r), hi = _mm256_extracti128_si256(r, 1);
    return _mm_packus_epi32(lo, hi);
}

TARGET void fleet_store_affine_bf16(const uint8_t *src, size_t n, float af, float bf, void *dst) {
    uint8_t *d = (uint8_t *)dst;
    __m256 a = _mm256_set1_ps(af), b = _mm256_set1_ps(bf);
    if (n < 8) {
        uint8_t in[8] = {0}; uint16_t out[8];
        memcpy(in, src, n);
        _mm_storeu_si128((__m128i *)out, bf16x8(affine8(in, a, b)));
        memcpy(dst, out, 2 * n);
        return;
    }
#define BF16(s, i) _mm_storeu_si128((__m128i *)(d + 2 * (i)), bf16x8(affine8((s) + (i), a, b)))
    BLOCKS(n, src, BF16);
#undef BF16
}

TARGET void fleet_store_affine_f32(const uint8_t *src, size_t n, float af, float bf, void *dst) {
    __m256 a = _mm256_set1_ps(af), b = _mm256_set1_ps(bf);
    float *d = (float *)dst;   // unaligned stores below
    if (n < 8) {
        uint8_t in[8] = {0}; float out[8];
        memcpy(in, src, n);
        _mm256_storeu_ps(out, affine8(in, a, b));
        memcpy(dst, out, 4 * n);
        return;
    }
#define F32(s, i) _mm256_storeu_ps(d + (i), affine8((s) + (i), a, b))
    BLOCKS(n, src, F32);
#undef F32
}
#else
int fleet_tensor_store_available(void) { return 0; }
void fleet_store_affine_f16(const uint8_t *src, size_t n, float a, float b, void *dst) { (void)src; (void)n; (void)a; (void)b; (void)dst; }
void fleet_store_affine_bf16(const uint8_t *src, size_t n, float a, float b, void *dst) { (void)src; (void)n; (void)a; (void)b; (void)dst; }
void fleet_store_affine_f32(const uint8_t *src, size_t n, float a, float b, void *dst) { (void)src; (void)n; (void)a; (void)b; (void)dst; }
#endif
