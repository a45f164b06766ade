#pragma once
// The bf16 mode's SwiGLU activation, silu(g) · u = g / (1 + e^-g) · u, with e^-g from a
// polynomial instead of std::exp: the same steps in every kernel table (VectorOps::silu_mul_fast),
// so all give the same bits. e^y for y clamped to [-87, 89]: y = n ln2 + r, |r| <= ln2/2,
// a degree-6 polynomial for e^r (within 2 ulp), times 2^n rounded once (past y = 88.72 that
// overflows to infinity, as e^y does, and the result is a zero). The float32 run keeps
// std::exp, as the reference computes it.
#include <cmath>

namespace dsv32 {

struct SiluFastConstants {
  static constexpr float kLowest = -87.0f, kHighest = 89.0f;
  static constexpr float kLog2e = 1.44269504088896341f, kLn2High = 0.693359375f, kLn2Low = -2.12194440e-4f;
  static constexpr float kC6 = 1.0f / 720.0f, kC5 = 1.0f / 120.0f, kC4 = 1.0f / 24.0f, kC3 = 1.0f / 6.0f, kC2 = 0.5f, kC1 = 1.0f,
                         kC0 = 1.0f;
};

// One value; the SIMD tables' tails, and the scalar table. (max/min as x86's maxps/minps: a NaN
// gate takes the bound, and the result is NaN through g itself.)
inline float silu_mul_fast_one(float g, float u) {
  using C = SiluFastConstants;
  float y = -g;
  y = y > C::kLowest ? y : C::kLowest;
  y = y < C::kHighest ? y : C::kHighest;
  const float n = std::nearbyint(y * C::kLog2e);
  float r = std::fma(-n, C::kLn2High, y);
  r = std::fma(-n, C::kLn2Low, r);
  float p = C::kC6;
  p = std::fma(p, r, C::kC5);
  p = std::fma(p, r, C::kC4);
  p = std::fma(p, r, C::kC3);
  p = std::fma(p, r, C::kC2);
  p = std::fma(p, r, C::kC1);
  p = std::fma(p, r, C::kC0);
  const float e = std::ldexp(p, static_cast<int>(n));  // p * 2^n rounded once, as vscalefps, and as p times 2^n's bits
  return g / (1.0f + e) * u;
}

}  // namespace dsv32
