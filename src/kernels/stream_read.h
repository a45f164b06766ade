#pragma once
// Reading memory with the decode kernels' software prefetching, for bandwidth probes (dsv32
// bench, the kernel benchmarks): 32-byte loads in four chains, each line requested into L2 4 KB
// ahead (the kernels request theirs 4-8 KB ahead). Without the requests a plain summing loop
// read 14-16 GB/s with 2 threads on a host where this reads 26-33 (an AVX-512 version of it the
// same), the GEMVs alone over 512 MB of rows 20-27 and a context-0 FP8 decode 21-24: a probe
// below what decode itself streams put it at 1.2-1.5 of its "limit".
#include <cstddef>
#include <cstdint>

namespace dsv32 {

// The sum of words[0, count) (wrapping), read once from memory.
std::uint64_t stream_read_sum(const std::uint64_t* words, std::size_t count);

}  // namespace dsv32
