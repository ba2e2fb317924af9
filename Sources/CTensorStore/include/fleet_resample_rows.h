// Resize/colour row kernels of FleetKernels' FrameTransformer with AVX2, chosen at run time
// (the package needs no special build flags). Each does exactly the integer arithmetic of the
// transformer's portable Swift loops (its reference, and its fallback together with the SSE2
// rows): exact Int32 sums, `mulhi` = (a * b) >> 16, wrapping Int16 adds, and saturating packs only
// where the values already fit. Each returns how many elements it did (a prefix, or all of them
// in blocks whose last one may overlap the one before: same inputs, same bytes); the caller
// finishes the rest. FrameTransformer calls them only when `fleet_rows_avx2_available()`.
#ifndef FLEET_RESAMPLE_ROWS_H
#define FLEET_RESAMPLE_ROWS_H
#include <stddef.h>
#include <stdint.h>

/// 1 when the CPU and OS support AVX2 (so the functions below may be called).
int fleet_rows_avx2_available(void);

/// Vertical filter of 8-bit rows: dst[i] = (sum over t < taps of weights[t] * rows[t][i] +
/// (1 << (down - 1))) >> down for i < count (weights 0...16384 summing to at most 16384, so
/// each result fits Int16). All of the row (0 when count < 32 or taps > 64); reads rows[t][0..<count].
size_t fleet_vertical_u8(const uint8_t *const *rows, const int32_t *weights, int taps, size_t count, int down,
                         int16_t *dst);

/// Horizontal filter: dst[j] = (1 << 14 + sum over c < 8 * chunks of weights[j * 8 * chunks + c]
/// * src[pos[j] + c]) >> 15 for j < count, 8 outputs at a time (returns the multiple of 8 done).
/// `paired` holds those weights in the order the kernel loads them: for each block of outputs
/// 8b...8b+7, for o in 0..<4, for each chunk c: 8 weights of output 8b+o, then 8 of 8b+o+4.
size_t fleet_horizontal_i16(const int16_t *src, const int32_t *pos, const int16_t *paired, int chunks,
                            size_t count, int16_t *dst);

/// 2:1 decimation with Q15 weights q[0..<4] (unused ones 0): dst[k] = sum over t < taps of
/// mulhi(src[2k + t], q[t]) (wrapping Int16 adds, in tap order) for k from lo, 16 at a time while
/// k + 16 <= hi and 2k + 34 <= readable; returns where it stopped.
size_t fleet_decimate2_q15(int taps, const int16_t *src, size_t readable, const int16_t *q, size_t lo, size_t hi,
                           int16_t *dst);

/// 2x2 box of 8-bit rows a and b: dst[k] = (a[2k] + a[2k+1] + b[2k] + b[2k+1] + 2) >> 2, 32 at a
/// time while k + 32 <= count and 2k + 64 <= readable; returns where it stopped.
size_t fleet_box2_u8(const uint8_t *a, const uint8_t *b, size_t readable, size_t count, uint8_t *dst);

/// YUV (1/64 levels) -> 8-bit R, G, B as FrameTransformer's colour step (coefficients * 8192,
/// `mulhi`, biases 5/4/5, >> 3, clamp), 16 pixels at a time while i + 16 <= count; returns where
/// it stopped.
size_t fleet_colour_yuv(size_t count, const int16_t *y, const int16_t *u, const int16_t *v, uint8_t *r, uint8_t *g,
                        uint8_t *b, int16_t cy, int16_t yOffset, int16_t crv, int16_t cgu, int16_t cgv, int16_t cbu);

/// Interleaves three 8-bit rows into dst[3i + c] for i < count: all of it when count >= 16, else 0.
size_t fleet_interleave3_u8(const uint8_t *c0, const uint8_t *c1, const uint8_t *c2, size_t count, uint8_t *dst);

#endif
