#include "fleet_crc32c.h"
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>

int fleet_crc32c_hw_available(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    return (c & bit_SSE4_2) != 0;
}

// Compiled for SSE4.2 in this function only; callers check fleet_crc32c_hw_available first.
__attribute__((target("sse4.2")))
uint32_t fleet_crc32c_hw(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    uint64_t c = ~crc;
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
