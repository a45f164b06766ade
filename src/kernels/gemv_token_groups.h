#pragma once
// How the few-token kernels (gemv_bf16_avx512.cpp, gemv_fp16_avx512.cpp) split a call's tokens
// into the groups their register-held accumulators take.
#include <cstddef>
#include <cstdint>

namespace dsv32 {
// File-local in each including file: they are compiled with different -m flags (ODR).
namespace {

// Calls call(group, x, out) for the tokens in as few groups of at most max_group as there can
// be, of sizes as even as possible (7 tokens in groups of at most 6: 4 + 3, not 6 + 1).
template <typename Call>
void by_token_groups(std::size_t tokens, std::size_t max_group, const std::uint16_t* x, std::size_t x_stride, float* out,
                     std::size_t out_stride, Call call) {
  for (std::size_t groups = (tokens + max_group - 1) / max_group; groups > 0; --groups) {
    const std::size_t group = (tokens + groups - 1) / groups;
    call(group, x, out);
    tokens -= group;
    x += group * x_stride;
    out += group * out_stride;
  }
}

}  // namespace
}  // namespace dsv32
