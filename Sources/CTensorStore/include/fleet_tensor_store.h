// Normalize-and-store of 8-bit channel rows into float16 / bfloat16 / float32 tensors with
// AVX2 + F16C + FMA, chosen at run time (the package needs no special build flags). Used by
// FleetKernels' FrameTransformer for CHW rows; its portable Swift lookup tables are the
// fallback and the reference: FrameTransformer only uses these functions for a channel after
// checking, at init, that they reproduce its table for all 256 inputs bit for bit.
#ifndef FLEET_TENSOR_STORE_H
#define FLEET_TENSOR_STORE_H
#include <stddef.h>
#include <stdint.h>

/// 1 when the CPU and OS support AVX2, F16C and FMA (so the functions below may be called).
int fleet_tensor_store_available(void);

/// dst[i] = binary16 bits of fmaf(src[i], a, b), round to nearest even, for i < n.
void fleet_store_affine_f16(const uint8_t *src, size_t n, float a, float b, void *dst);

/// dst[i] = bfloat16 bits of fmaf(src[i], a, b), round to nearest even (finite results), for i < n.
void fleet_store_affine_bf16(const uint8_t *src, size_t n, float a, float b, void *dst);

/// dst[i] = fmaf(src[i], a, b) for i < n (dst need not be aligned).
void fleet_store_affine_f32(const uint8_t *src, size_t n, float a, float b, void *dst);

#endif
