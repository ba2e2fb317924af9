#include "fleet_crc32c.h"
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#include <pthread.h>

int fleet_crc32c_hw_available(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    return (c & bit_SSE4_2) != 0;
}

// Three independent streams hide the crc32 instruction's 3-cycle latency (one chain does
// 8 bytes per 3 cycles). Each 3 x BLOCK chunk is split into streams A, B, C computed side by
// side; then reg(A||B||C) = shift(a, 2 BLOCK) ^ shift(b, BLOCK) ^ c, where shift(x, L) is the
// register after L zero bytes from x: linear in x, so four 256-entry tables per L.
#define FLEET_CRC_BLOCK 4096

static uint32_t shift1[4][256], shift2[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2")))
static uint32_t zeros(uint32_t reg, size_t n) {
    uint64_t c = reg;
    for (size_t i = 0; i < n; i += 8) c = _mm_crc32_u64(c, 0);
    return (uint32_t)c;
}

static void make_shift_tables(void) {
    for (int k = 0; k < 4; k++) {
        for (int v = 0; v < 256; v++) {
            shift1[k][v] = zeros((uint32_t)v << (8 * k), FLEET_CRC_BLOCK);
            shift2[k][v] = zeros((uint32_t)v << (8 * k), 2 * FLEET_CRC_BLOCK);
        }
    }
}

static inline uint32_t shift(uint32_t t[4][256], uint32_t x) {
    return t[0][x & 0xFF] ^ t[1][(x >> 8) & 0xFF] ^ t[2][(x >> 16) & 0xFF] ^ t[3][x >> 24];
}

// Compiled for SSE4.2 in this function only; callers check fleet_crc32c_hw_available first.
__attribute__((target("sse4.2")))
uint32_t fleet_crc32c_hw(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    uint64_t c = ~crc;
    if (n >= 3 * FLEET_CRC_BLOCK) {
        pthread_once(&shift_once, make_shift_tables);
        while (n >= 3 * FLEET_CRC_BLOCK) {
            uint64_t a = c, b = 0, d = 0;
            const unsigned char *pa = p, *pb = p + FLEET_CRC_BLOCK, *pd = p + 2 * FLEET_CRC_BLOCK;
            for (size_t i = 0; i < FLEET_CRC_BLOCK; i += 8) {
                uint64_t va, vb, vd;
                memcpy(&va, pa + i, 8); memcpy(&vb, pb + i, 8); memcpy(&vd, pd + i, 8);
                a = _mm_crc32_u64(a, va);
                b = _mm_crc32_u64(b, vb);
                d = _mm_crc32_u64(d, vd);
            }
            c = shift(shift2, (uint32_t)a) ^ shift(shift1, (uint32_t)b) ^ (uint32_t)d;
            p += 3 * FLEET_CRC_BLOCK; n -= 3 * FLEET_CRC_BLOCK;
        }
    }
    while (n >= 32) {
        uint64_t v[4];
        memcpy(v, p, 32);
        c = _mm_crc32_u64(c, v[0]);
        c = _mm_crc32_u64(c, v[1]);
        c = _mm_crc32_u64(c, v[2]);
        c = _mm_crc32_u64(c, v[3]);
        p += 32; n -= 32;
    }
    while (n >= 8) { uint64_t v; memcpy(&v, p, 8); c = _mm_crc32_u64(c, v); p += 8; n -= 8; }
    while (n > 0) { c = _mm_crc32_u8((uint32_t)c, *p); p++; n--; }
    return ~(uint32_t)c;
}
#else
int fleet_crc32c_hw_available(void) { return 0; }
uint32_t fleet_crc32c_hw(uint32_t crc, const void *data, size_t n) { (void)data; (void)n; return crc; }
#endif
