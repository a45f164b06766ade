#pragma once
// The bf16 precision mode's MLA attention core: queries (already absorbed into the latent
// space, rope part appended, softmax scale folded in) scored against bf16 key rows (the FP8
// latent, exact in bf16, then the rope key), an online softmax per head, and the latent values
// accumulated with bf16 weights. One call takes a block of up to 32 keys.
//
// The heads of a call are "virtual": several queries of one sequence can share a call (their
// heads side by side) so that each key block is converted once for all of them; `visible`
// masks, per head, the keys past its query's position.
#include <cstddef>
#include <cstdint>

namespace dsv32 {

constexpr std::size_t kAttentionBlockKeys = 32;
constexpr std::size_t kAttentionHeadLanes = 16;  // virtual heads are padded to a multiple of this

struct AttentionBf16Query {
  const std::uint16_t* packed;  // [dim / 2][heads][2] bf16
  std::size_t heads;            // multiple of kAttentionHeadLanes
  std::size_t dim;              // key width (latent + rope), even
  std::size_t value_dim;        // the latent width: values are the first value_dim of a key, multiple of 16
};

// Online-softmax state of the virtual heads: running max and sum of weights, and the
// weighted (not yet normalised) latent, value_dim floats per head acc_stride apart.
struct AttentionBf16State {
  float* max;
  float* sum;
  float* acc;
  std::size_t acc_stride;
};

// Packs the query rows (row h: dim floats at queries + h * query_stride, h < rows) times scale,
// rounded as round_to_bf16 (GemmBf16Kernels::pack_pairs), into query.packed; rows up to `heads`
// are zeros.
void pack_attention_query(const float* queries, std::size_t query_stride, std::size_t rows, float scale, std::size_t heads,
                          std::size_t dim, std::uint16_t* packed);
// Starts a state: max -inf, sum 0, acc 0.
void reset_attention_state(const AttentionBf16State& state, std::size_t heads, std::size_t value_dim);

// keys: n <= 32 rows of `dim` bf16 values, key_stride apart, each readable for at least
// value_dim + 16 values; head h sees keys j < visible[h]. scratch: attention_scratch_floats().
using AttendBlockBf16 = void (*)(const AttentionBf16Query& query, const std::uint16_t* keys, std::size_t key_stride,
                                 std::size_t n, const std::uint32_t* visible, const AttentionBf16State& state, float* scratch);
std::size_t attention_scratch_floats(std::size_t heads);

void attend_block_bf16_scalar(const AttentionBf16Query& query, const std::uint16_t* keys, std::size_t key_stride, std::size_t n,
                              const std::uint32_t* visible, const AttentionBf16State& state, float* scratch);
AttendBlockBf16 attend_block_bf16_avx512();  // nullptr when the CPU lacks AVX512-BF16
// Full blocks' products on AMX tiles (others through the AVX-512 kernel); nullptr without
// AMX-BF16 (or the kernel's permission).
AttendBlockBf16 attend_block_bf16_amx();
// The fastest of those, or nullptr when both are missing or DSV32_ISA asks for another table
// (the model then keeps its float32 attention; DSV32_ISA=avx512 leaves AMX aside).
AttendBlockBf16 fast_attend_block_bf16();

}  // namespace dsv32
