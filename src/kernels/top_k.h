#pragma once
// The indexer's top-k: the k best of n scores under a total order (higher score first, then
// lower position), so the chosen set is unique. A radix select on the scores' bits: three
// histogram passes (11, 11 and 10 bits) find the k-th score, then one pass emits the chosen
// positions in ascending order. Linear in n, where nth_element with the two-key comparison cost
// about 1.8 ms per decoded token at 32K keys over 8 layers.
//
// The passes over all n keys (ordered bits, the first digit's candidates, the emission) are
// kernels behind a table: the scalar reference and an AVX-512 version (16 keys per step,
// compressed into place), which give the same positions.
#include <cstdint>

namespace dsv32 {

struct TopKKernels {
  const char* name;
  // keys[i]: scores[i]'s bits as an unsigned number in the scores' order (-0 as +0).
  void (*ordered_keys)(const float* scores, std::int64_t n, std::uint32_t* keys);
  // The positions i < n with (keys[i] & known) == prefix, ascending; returns their count.
  std::int64_t (*matching)(const std::uint32_t* keys, std::int64_t n, std::uint32_t known, std::uint32_t prefix, std::int32_t* positions);
  // The positions i < n (ascending) whose key is above threshold, or equal to it among the
  // first `ties` equal ones; exactly k such positions must exist.
  void (*emit)(const std::uint32_t* keys, std::int64_t n, std::int64_t k, std::uint32_t threshold, std::int64_t ties, std::int32_t* out);
};

const TopKKernels& scalar_top_k();
const TopKKernels* avx512_top_k();  // nullptr without AVX512-F and -VL
const TopKKernels& best_top_k();    // (DSV32_ISA below avx512: the reference)

// Scratch a select_top_k over n scores needs, in positions.
std::int64_t top_k_scratch_words(std::int64_t n);

// Writes the positions of the k best of scores[0, n) to out in ascending order (all n when
// k >= n). Scores must not be NaN; -0 and +0 are equal. scratch: top_k_scratch_words(n) words.
void select_top_k(const float* scores, std::int64_t n, std::int64_t k, std::int32_t* out, std::int32_t* scratch,
                  const TopKKernels& kernels = best_top_k());

}  // namespace dsv32
