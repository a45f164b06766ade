#include "kernels/top_k.h"

#include <array>
#include <bit>

#include "kernels/vector_ops.h"

namespace dsv32 {
namespace {

struct Digit {
  int shift, bits;
};
constexpr std::array<Digit, 3> kDigits = {{{21, 11}, {10, 11}, {0, 10}}};
constexpr int kBuckets = 2048;
// Scores of similar size share their top bits, so one histogram would add to a few counters in
// a chain of dependent increments; four, used in turn, break the chain.
constexpr int kHistograms = 4;

// Negative floats have every bit flipped, the others only the sign bit; -0 is +0 first, so the
// two zeros tie as they compare. (In integer steps, as the AVX-512 pass: a float comparison
// would read subnormals as zeros under DAZ.)
void ordered_keys_scalar(const float* scores, std::int64_t n, std::uint32_t* keys) {
  for (std::int64_t i = 0; i < n; ++i) {
    auto bits = std::bit_cast<std::uint32_t>(scores[i]);
    if ((bits & 0x7FFFFFFFu) == 0) bits = 0;
    keys[i] = (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
  }
}

std::int64_t matching_scalar(const std::uint32_t* keys, std::int64_t n, std::uint32_t known, std::uint32_t prefix, std::int32_t* positions) {
  std::int64_t kept = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if ((keys[i] & known) == prefix) positions[kept++] = static_cast<std::int32_t>(i);
  }
  return kept;
}

void emit_scalar(const std::uint32_t* keys, std::int64_t n, std::int64_t k, std::uint32_t threshold, std::int64_t ties, std::int32_t* out) {
  for (std::int64_t i = 0, written = 0; i < n && written < k; ++i) {
    if (keys[i] > threshold || (keys[i] == threshold && ties-- > 0)) out[written++] = static_cast<std::int32_t>(i);
  }
}

}  // namespace

const TopKKernels& scalar_top_k() {
  static const TopKKernels kernels{"scalar", ordered_keys_scalar, matching_scalar, emit_scalar};
  return kernels;
}

const TopKKernels& best_top_k() {
  static const TopKKernels& best = []() -> const TopKKernels& {
    const TopKKernels* fast = avx512_kernels_allowed() ? avx512_top_k() : nullptr;
    return fast != nullptr ? *fast : scalar_top_k();
  }();
  return best;
}

std::int64_t top_k_scratch_words(std::int64_t n) { return 2 * n; }

void select_top_k(const float* scores, std::int64_t n, std::int64_t k, std::int32_t* out, std::int32_t* scratch,
                  const TopKKernels& kernels) {
  if (k >= n) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<std::int32_t>(i);
    return;
  }
  if (k <= 0) return;
  auto* keys = reinterpret_cast<std::uint32_t*>(scratch);  // [n] ordered bits
  std::int32_t* positions = scratch + n;                    // the candidates
  kernels.ordered_keys(scores, n, keys);
  // Narrow down the k-th key digit by digit: `prefix` holds its digits found so far, the
  // candidates share them, and `above` keys beat every candidate. Each later digit counts only
  // the first's candidates, so one histogram serves it.
  std::uint32_t prefix = 0;
  std::int64_t above = 0, candidates = n;
  std::array<std::array<std::uint32_t, kBuckets>, kHistograms> histograms;
  for (std::size_t d = 0; d < kDigits.size(); ++d) {
    const Digit digit = kDigits[d];
    const std::uint32_t mask = (1u << digit.bits) - 1;
    const std::size_t used = d == 0 ? kHistograms : 1;
    for (std::size_t h = 0; h < used; ++h) histograms[h].fill(0);
    if (d == 0) {
      for (std::int64_t i = 0; i < n; ++i) ++histograms[static_cast<std::size_t>(i % kHistograms)][keys[i] >> digit.shift & mask];
      for (std::size_t h = 1; h < kHistograms; ++h) {
        for (std::size_t b = 0; b < kBuckets; ++b) histograms[0][b] += histograms[h][b];
      }
    } else {
      for (std::int64_t c = 0; c < candidates; ++c) ++histograms[0][keys[positions[c]] >> digit.shift & mask];
    }
    std::uint32_t chosen = mask;  // the highest digit value at which the count from the top reaches k
    for (; above + histograms[0][chosen] < k; --chosen) above += histograms[0][chosen];
    prefix |= chosen << digit.shift;
    const std::uint32_t known = ~0u << digit.shift;
    if (d == 0) {
      candidates = kernels.matching(keys, n, known, prefix, positions);
    } else {
      std::int64_t kept = 0;
      for (std::int64_t c = 0; c < candidates; ++c) {
        if ((keys[positions[c]] & known) == prefix) positions[kept++] = positions[c];
      }
      candidates = kept;
    }
  }
  // Every key above the k-th, and the first (k - above) positions that equal it.
  kernels.emit(keys, n, k, prefix, k - above, out);
}

}  // namespace dsv32
