// CRC-32C with the SSE4.2 crc32 instruction when the CPU has it (checked at run time, so the
// package needs no special build flags). Used by FleetShards; the portable table version lives
// in Swift (CRC32C.swift) and is the fallback and the tests' reference.
#ifndef FLEET_CRC32C_H
#define FLEET_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/// 1 when fleet_crc32c_hw can be used on this CPU.
int fleet_crc32c_hw_available(void);

/// Continues a CRC-32C (pre/post inverted, as usual) over `n` bytes. Only call when available.
uint32_t fleet_crc32c_hw(uint32_t crc, const void *data, size_t n);

#endif
