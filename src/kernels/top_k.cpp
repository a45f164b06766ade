#include "kernels/top_k.h"

#include <array>
#include <bit>

namespace dsv32 {
namespace {

// Unsigned keys in the scores' order: negative floats have every bit flipped, the others only
// the sign bit; -0 is +0 first, so the two zeros tie as they compare.
std::uint32_t ordered_bits(float score) {
  const auto bits = std::bit_cast<std::uint32_t>(score == 0.0f ? 0.0f : score);
  return (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
}

struct Digit {
  int shift, bits;
};
constexpr std::array<Digit, 3> kDigits = {{{21, 11}, {10, 11}, {0, 10}}};
constexpr int kBuckets = 2048;
// Scores of similar size share their top bits, so one histogram would add to a few counters in
// a chain of dependent increments; four, used in turn, break the chain.
constexpr int kHistograms = 4;

}  // namespace

std::int64_t top_k_scratch_words(std::int64_t n) { return 2 * n; }

void select_top_k(const float* scores, std::int64_t n, std::int64_t k, std::int32_t* out, std::int32_t* scratch) {
  if (k >= n) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<std::int32_t>(i);
    return;
  }
  if (k <= 0) return;
  auto* keys = reinterpret_cast<std::uint32_t*>(scratch);  // [n] ordered bits
  std::int32_t* positions = scratch + n;                    // the candidates
  // Narrow down the k-th key digit by digit: `prefix` holds its digits found so far, the
  // candidates share them, and `above` keys beat every candidate.
  std::uint32_t prefix = 0;
  std::int64_t above = 0, candidates = n;
  for (std::size_t d = 0; d < kDigits.size(); ++d) {
    const Digit digit = kDigits[d];
    const std::uint32_t mask = (1u << digit.bits) - 1;
    std::array<std::array<std::uint32_t, kBuckets>, kHistograms> histograms{};
    if (d == 0) {
      for (std::int64_t i = 0; i < n; ++i) {
        keys[i] = ordered_bits(scores[i]);
        ++histograms[static_cast<std::size_t>(i % kHistograms)][keys[i] >> digit.shift & mask];
      }
    } else {
      for (std::int64_t c = 0; c < candidates; ++c) ++histograms[0][keys[positions[c]] >> digit.shift & mask];
    }
    std::uint32_t chosen = mask;  // the highest digit value at which the count from the top reaches k
    const auto count = [&](std::uint32_t value) {
      std::int64_t total = 0;
      for (const auto& histogram : histograms) total += histogram[value];
      return total;
    };
    for (; above + count(chosen) < k; --chosen) above += count(chosen);
    prefix |= chosen << digit.shift;
    const std::uint32_t known = ~0u << digit.shift;
    std::int64_t kept = 0;
    if (d == 0) {
      for (std::int64_t i = 0; i < n; ++i) {
        if ((keys[i] & known) == prefix) positions[kept++] = static_cast<std::int32_t>(i);
      }
    } else {
      for (std::int64_t c = 0; c < candidates; ++c) {
        if ((keys[positions[c]] & known) == prefix) positions[kept++] = positions[c];
      }
    }
    candidates = kept;
  }
  // Every key above the k-th, and the first (k - above) positions that equal it.
  const std::uint32_t threshold = prefix;
  std::int64_t ties = k - above, written = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (keys[i] > threshold || (keys[i] == threshold && ties-- > 0)) out[written++] = static_cast<std::int32_t>(i);
  }
}

}  // namespace dsv32
