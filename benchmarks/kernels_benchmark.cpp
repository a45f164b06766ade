// Google Benchmark of the hand-written kernels, each SIMD path next to its scalar reference:
//   ./build/benchmarks/dsv32_kernel_bench [--benchmark_filter=REGEX]
// Counters: FLOP/s (2 per multiply-add) or bytes/s of weights streamed. FP8 block scales are
// powers of two, as in the UE8M0 checkpoints.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/attention_bf16.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemv_bf16.h"
#include "kernels/index_scores.h"
#include "kernels/index_scores_int8.h"
#include "kernels/linear.h"
#include "kernels/number_formats.h"
#include "kernels/stream_read.h"
#include "kernels/top_k.h"
#include "kernels/vector_ops.h"
#include "util/aligned_vector.h"

namespace dsv32 {
namespace {

// FP8 codes as a checkpoint's quantisation leaves them: normal values whose block maximum (about
// 4.5 standard deviations over a 128 x 128 block) lands near e4m3's largest, 448, so zeros and
// subnormals are a few in ten thousand (the conversions take another route for those). Past
// 16 MB the first 16 MB repeat (drawing a GB of normals took most of a minute).
std::vector<std::uint8_t> random_codes(std::size_t n, std::uint32_t seed) {
  constexpr std::size_t kDrawn = std::size_t{16} << 20;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 448.0f / 4.5f);
  std::vector<std::uint8_t> codes(n);
  for (std::size_t i = 0; i < std::min(n, kDrawn); ++i) codes[i] = f32_to_e4m3(std::clamp(normal(rng), -448.0f, 448.0f));
  for (std::size_t i = kDrawn; i < n; ++i) codes[i] = codes[i - kDrawn];
  return codes;
}

std::vector<std::uint16_t> random_bf16(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::uint16_t> values(n);
  for (auto& v : values) v = f32_to_bf16(normal(rng));
  return values;
}

// Decode GEMV: four FP8 rows against one activation row, over a 1024 x 4096 matrix.
void decode_e4m3(benchmark::State& state, const VectorOps* ops) {
  constexpr std::size_t kRows = 1024, kCols = 4096;
  const auto codes = random_codes(kRows * kCols, 1);
  const std::vector<float> scales(kCols / 128, 0x1p-7f), x(kCols, 0.5f);
  float out[4];
  for (auto _ : state) {
    for (std::size_t r = 0; r < kRows; r += 4) {
      ops->dot4_e4m3(codes.data() + r * kCols, kCols, scales.data(), x.data(), kCols, out);
      benchmark::DoNotOptimize(out);
    }
  }
  state.counters["weight_bytes/s"] = benchmark::Counter(static_cast<double>(kRows * kCols), benchmark::Counter::kIsIterationInvariantRate);
}

// A decoded token's W_UK absorption, q̃ = W_UKᵀ · q_nope, on one thread: 64 MB of FP8 rows
// of 512 columns (past the caches) through linear_transposed_accumulate, whose one-token path
// dequantises in registers (axpy4_e4m3), against the rows written out as float32 first
// (e4m3_to_f32, then axpy4: the path before, and still the one for several tokens).
void absorb_fp8(benchmark::State& state, bool fused) {
  constexpr std::int64_t kCols = 512, kRows = (64 << 20) / kCols;
  const auto codes = random_codes(static_cast<std::size_t>(kRows * kCols), 5);
  const std::vector<float> scales(static_cast<std::size_t>(kRows / 128 * (kCols / 128)), 0x1p-7f);
  const Weight weight{DType::F8_E4M3, codes.data(), kRows, kCols, 0, scales.data(), kCols / 128, /*codes_nan_free=*/true};
  const std::vector<float> x(kRows, 0.5f);
  std::vector<float> y(kCols), scratch(4 * kCols);
  const VectorOps& ops = best_vector_ops();
  for (auto _ : state) {
    if (fused) {
      linear_transposed_accumulate(ops, scratch.data(), weight, {x.data(), 1, kRows}, {y.data(), 1, kCols});
    } else {
      for (std::int64_t r = 0; r < kRows; r += 4) {
        for (std::int64_t i = 0; i < 4; ++i) weight.row_to_f32(r + i, scratch.data() + i * kCols, ops);
        ops.axpy4(x.data() + r, scratch.data(), kCols, y.data(), kCols);
      }
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["weight_bytes/s"] = benchmark::Counter(static_cast<double>(kRows * kCols), benchmark::Counter::kIsIterationInvariantRate);
}

// The bf16 mode's decode GEMV on coded rows, two rows per call, 4096 x 1024: FP8 (4 MB: L3;
// counted as weight_bytes/s) or I4 (2 MB of codes and 128 KB of scales; counted as weights/s,
// the conversion's cost next to e4m3's).
void decode_codes_bf16(benchmark::State& state, const GemvBf16Kernels* kernels, std::size_t tokens, DType dtype) {
  constexpr std::size_t kRows = 4096, kCols = 1024, kScaleCols = kCols / 128;
  const bool fp8 = dtype == DType::F8_E4M3;
  const std::size_t row_bytes = fp8 ? kCols : kCols / 2;
  const auto codes = random_codes(kRows * row_bytes, 1);
  // FP8: one block row of scales serves every row; I4: a row of scales each.
  const std::vector<float> scales(fp8 ? kScaleCols : kRows * kScaleCols, fp8 ? 0x1p-7f : 0.01f);
  const auto scales_of = [&](std::size_t row) { return scales.data() + (fp8 ? 0 : row * kScaleCols); };
  const auto pack = fp8 ? kernels->pack_e4m3_x : kernels->pack_i4_x;
  const auto row_pair = fp8 ? kernels->e4m3_row_pair : kernels->i4_row_pair;
  const std::vector<float> x(kCols, 0.5f);
  const std::size_t x_stride = gemv_e4m3_x_values(kCols);
  AlignedVector<std::uint16_t> packed(tokens * x_stride);
  for (std::size_t t = 0; t < tokens; ++t) pack(x.data(), kCols, packed.data() + t * x_stride);
  std::vector<float> out(2 * tokens);
  for (auto _ : state) {
    for (std::size_t r = 0; r < kRows; r += 2) {
      row_pair(codes.data() + r * row_bytes, row_bytes, scales_of(r), scales_of(r + 1), packed.data(), x_stride, tokens, kCols, out.data(), 2);
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.counters[fp8 ? "weight_bytes/s" : "weights/s"] =
      benchmark::Counter(static_cast<double>(kRows * kCols), benchmark::Counter::kIsIterationInvariantRate);
}

// The half-precision e4m3 rows (gemv_bf16.h's HalfE4m3Rows) on the same 4096 x 1024 FP8 rows,
// two rows per call, with the NaN check or on rows known free of NaN codes.
void decode_half_e4m3(benchmark::State& state, const HalfE4m3Rows* half, std::size_t tokens, bool codes_nan_free) {
  constexpr std::size_t kRows = 4096, kCols = 1024;
  const auto codes = random_codes(kRows * kCols, 1);
  const std::vector<float> scales(kCols / 128, 0x1p-7f), x(kCols, 0.5f);
  const std::size_t x_stride = half->x_values(kCols);
  AlignedVector<std::uint16_t> packed(tokens * x_stride);
  for (std::size_t t = 0; t < tokens; ++t) half->pack_x(x.data(), kCols, scales.data(), packed.data() + t * x_stride);
  std::vector<float> out(2 * tokens);
  for (auto _ : state) {
    for (std::size_t r = 0; r < kRows; r += 2) {
      half->row_pair(codes.data() + r * kCols, kCols, packed.data(), x_stride, tokens, kCols, codes_nan_free, out.data(), 2);
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.counters["weight_bytes/s"] = benchmark::Counter(static_cast<double>(kRows * kCols), benchmark::Counter::kIsIterationInvariantRate);
}

// The same GEMV on stored bf16 rows (4096 x 1024, 8 MB: L3): no conversion.
void decode_bf16_bf16(benchmark::State& state, const GemvBf16Kernels* kernels, std::size_t tokens) {
  constexpr std::size_t kRows = 4096, kCols = 1024;
  const auto rows = random_bf16(kRows * kCols, 1);
  const auto random_x = random_bf16(tokens * kCols, 2);
  const AlignedVector<std::uint16_t> x(random_x.begin(), random_x.end());
  std::vector<float> out(tokens);
  for (auto _ : state) {
    for (std::size_t r = 0; r < kRows; ++r) {
      kernels->bf16_row(rows.data() + r * kCols, x.data(), kCols, tokens, kCols, out.data(), 1);
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.counters["weight_bytes/s"] = benchmark::Counter(static_cast<double>(kRows * kCols * 2), benchmark::Counter::kIsIterationInvariantRate);
}

// Decode through linear(), two threads, 1 or 16 tokens (a batch of sequences) against 1 GB of
// weights (beyond the caches: the rate at which each format streams from memory; the 128 MB of
// earlier sessions stayed partly in a 300 MB L3) or 1 MB (half in each core's L2: the rate the
// products themselves allow).
void decode_linear(benchmark::State& state, DType dtype, Precision precision, std::int64_t tokens, std::int64_t bytes) {
  constexpr std::int64_t kCols = 1024;
  const std::int64_t rows = bytes / kCols / (dtype == DType::BF16 ? 2 : 1);
  ComputeContext ctx(2);
  ctx.set_precision(precision);
  const auto codes = random_codes(static_cast<std::size_t>(bytes), 8);
  const std::vector<float> scales(static_cast<std::size_t>((rows / 128) * (kCols / 128)), 0x1p-7f);
  const Weight weight{dtype, codes.data(), rows, kCols, 0, dtype == DType::BF16 ? nullptr : scales.data(), kCols / 128, /*codes_nan_free=*/true};
  std::vector<float> x(static_cast<std::size_t>(tokens * kCols), 0.5f), y(static_cast<std::size_t>(tokens * rows));
  for (auto _ : state) {
    linear(ctx, weight, {x.data(), tokens, kCols}, {y.data(), tokens, rows});
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["weight_bytes/s"] = benchmark::Counter(static_cast<double>(bytes), benchmark::Counter::kIsIterationInvariantRate);
}

// A decoded token's bytes read with no products at all, two threads, as the bench preset's FP8
// decode reads them: 8 layers of 467,251,360 / 8 bytes (context 0's bytes_per_token), and at
// 4K the same plus 8 layers of (585,926,688 - 467,251,360) / 8 more (the indexer's query
// projection and the cache), read layer by layer. Their times bound decode at 4K against context
// 0 from above for this machine's memory (caches included), whatever the kernels do.
void stream_token_bytes(benchmark::State& state, bool with_4k_extra) {
  constexpr std::size_t kChunkBytes = 65536;  // what each parallel item reads
  constexpr std::size_t kLayers = 8, kLayerBytes = 467251360 / 8 / kChunkBytes * kChunkBytes,
                        kExtraBytes = (585926688 - 467251360) / 8 / kChunkBytes * kChunkBytes;
  AlignedVector<std::uint64_t> layers(kLayers * kLayerBytes / 8, 1), extra(with_4k_extra ? kLayers * kExtraBytes / 8 : 0, 2);
  ComputeContext ctx(2);
  std::vector<std::uint64_t> sums(64);
  const auto read = [&](const std::uint64_t* words, std::size_t count) {
    ctx.pool().parallel_for(count / 8192, [&](std::size_t begin, std::size_t end, unsigned thread) {
      sums[thread * 8] += stream_read_sum(words + begin * 8192, (end - begin) * 8192);  // as the bench's own probe reads
    });
  };
  for (auto _ : state) {
    for (std::size_t layer = 0; layer < kLayers; ++layer) {
      if (with_4k_extra) read(extra.data() + layer * (kExtraBytes / 8), kExtraBytes / 8);
      read(layers.data() + layer * (kLayerBytes / 8), kLayerBytes / 8);
    }
    benchmark::DoNotOptimize(sums.data());
  }
  const double bytes = static_cast<double>(kLayers * (kLayerBytes + (with_4k_extra ? kExtraBytes : 0)));
  state.counters["bytes/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
}

// MoE decode: 1 GB of 512 x 1024 FP8 experts, 18 at a time per linear_batch (a layer's gate
// and up projections of 9 experts), each with `tokens` activation rows: how small matrices in
// one parallel region stream compared with one large matrix.
void decode_experts(benchmark::State& state, std::int64_t tokens) {
  constexpr std::int64_t kBytes = std::int64_t{1} << 30, kRows = 512, kCols = 1024, kPerBatch = 18;
  constexpr std::int64_t kExperts = kBytes / (kRows * kCols);
  ComputeContext ctx(2);
  ctx.set_precision(Precision::BF16);
  const auto codes = random_codes(static_cast<std::size_t>(kBytes), 9);
  const std::vector<float> scales(static_cast<std::size_t>((kRows / 128) * (kCols / 128)), 0x1p-7f);
  std::vector<float> x(static_cast<std::size_t>(tokens * kCols), 0.5f), y(static_cast<std::size_t>(kPerBatch * tokens * kRows));
  std::vector<LinearJob> jobs(kPerBatch);
  for (auto _ : state) {
    for (std::int64_t e0 = 0; e0 + kPerBatch <= kExperts; e0 += kPerBatch) {
      for (std::int64_t j = 0; j < kPerBatch; ++j) {
        const Weight weight{DType::F8_E4M3, codes.data() + (e0 + j) * kRows * kCols, kRows, kCols, 0, scales.data(), kCols / 128, /*codes_nan_free=*/true};
        jobs[static_cast<std::size_t>(j)] = {weight, {x.data(), tokens, kCols}, {y.data() + j * tokens * kRows, tokens, kRows}};
      }
      linear_batch(ctx, jobs);
    }
    benchmark::DoNotOptimize(y.data());
  }
  const double bytes = static_cast<double>(kExperts / kPerBatch * kPerBatch * kRows * kCols);
  state.counters["weight_bytes/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
}

// Prefill: linear() of a 3072 x 1536 FP8 matrix on 512 tokens, two threads.
// A prefill's product (512 tokens, the bench preset's q_b_proj), or with 64 tokens the size of
// one routed expert's share of a 512-token prefill; `large` picks our tile or oneDNN.
void prefill_linear(benchmark::State& state, Precision precision, LargeProducts large, std::int64_t kRows, std::int64_t kCols,
                    std::int64_t kTokens) {
  ComputeContext ctx(2);
  ctx.set_precision(precision);
  ctx.set_large_products(large);
  const auto codes = random_codes(kRows * kCols, 2);
  const std::vector<float> scales((kRows / 128) * (kCols / 128), 0x1p-7f);
  const Weight weight{DType::F8_E4M3, codes.data(), kRows, kCols, 0, scales.data(), kCols / 128};
  std::vector<float> x(kTokens * kCols, 0.5f), y(kTokens * kRows);
  for (auto _ : state) {
    linear(ctx, weight, {x.data(), kTokens, kCols}, {y.data(), kTokens, kRows});
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * kRows * kCols * kTokens, benchmark::Counter::kIsIterationInvariantRate);
}

// The bf16 tile alone (8 rows x 32 tokens x 1536 columns, in L1/L2).
// (half: the 16-token tile of batched decode, on a block packed 16 wide)
void gemm_tile(benchmark::State& state, const GemmBf16Kernels* kernels, bool half) {
  constexpr std::size_t kPairs = 768;
  const auto w = random_bf16(kGemmTileRows * 2 * kPairs, 3);
  const auto packed = random_bf16((half ? kGemmHalfTokens : kGemmTileTokens) * 2 * kPairs, 4);
  float tile[kGemmTileRows * kGemmTileTokens];
  const GemmTileBf16 fn = half ? kernels->tile_half : kernels->tile;
  for (auto _ : state) {
    fn(w.data(), 2 * kPairs, packed.data(), kPairs, tile, {});
    benchmark::DoNotOptimize(tile);
  }
  const double tokens = half ? kGemmTileTokens / 2 : kGemmTileTokens;
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * kGemmTileRows * tokens * 2 * kPairs, benchmark::Counter::kIsIterationInvariantRate);
}

// The indexer: one query (64 heads x 128) against 4096 cached keys.
void index_scores(benchmark::State& state, IndexScoresFn fn) {
  constexpr std::int64_t kHeads = 64, kDim = 128, kKeys = 4096;
  const auto q = random_codes(kHeads * kDim, 5), keys = random_codes(kKeys * kDim, 6);
  const std::vector<float> weights(kHeads, 0.1f), key_scales(kKeys, 1.0f);
  std::vector<std::uint16_t> packed(index_padded_heads(kHeads) * kDim);
  std::vector<float> padded_weights(index_padded_heads(kHeads)), scores(kKeys);
  pack_index_query(q.data(), weights.data(), kHeads, kDim, packed.data(), padded_weights.data());
  const IndexQuery query{packed.data(), padded_weights.data(), kDim, static_cast<std::size_t>(index_padded_heads(kHeads))};
  for (auto _ : state) {
    fn(query, keys.data(), key_scales.data(), kKeys, scores.data());
    benchmark::DoNotOptimize(scores.data());
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * kHeads * kDim * kKeys, benchmark::Counter::kIsIterationInvariantRate);
}

// The same with int8 products (kernels/index_scores_int8.h).
void index_scores_int8(benchmark::State& state, IndexScoresInt8Fn fn) {
  constexpr std::int64_t kHeads = 64, kDim = 128, kKeys = 4096;
  const auto q = random_codes(kHeads * kDim, 5);
  auto keys = random_codes(kKeys * kDim, 6);
  index_key_codes_to_int8(keys.data(), keys.size());  // as the int8 mode caches them
  const std::vector<float> weights(kHeads, 0.1f), key_scales(kKeys, 1.0f);
  const auto padded = static_cast<std::size_t>(index_padded_heads(kHeads));
  std::vector<std::int8_t> packed(padded * kDim);
  std::vector<std::int32_t> offsets(padded);
  std::vector<float> padded_weights(padded), scores(kKeys);
  pack_index_query_int8(q.data(), weights.data(), kHeads, kDim, packed.data(), offsets.data(), padded_weights.data());
  const IndexQueryInt8 query{packed.data(), offsets.data(), padded_weights.data(), kDim, padded};
  for (auto _ : state) {
    fn(query, reinterpret_cast<const std::int8_t*>(keys.data()), key_scales.data(), kKeys, scores.data(), {});
    benchmark::DoNotOptimize(scores.data());
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * kHeads * kDim * kKeys, benchmark::Counter::kIsIterationInvariantRate);
}

// The indexer's top-2048 of 32768 scores (one layer of a decoded token at 32K context).
void index_top_k(benchmark::State& state, const TopKKernels* kernels) {
  constexpr std::int64_t kKeys = 32768, kTopK = 2048;
  std::mt19937 rng(10);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> scores(kKeys);
  for (float& score : scores) score = normal(rng);
  std::vector<std::int32_t> selection(kTopK), scratch(static_cast<std::size_t>(top_k_scratch_words(kKeys)));
  for (auto _ : state) {
    select_top_k(scores.data(), kKeys, kTopK, selection.data(), scratch.data(), *kernels);
    benchmark::DoNotOptimize(selection.data());
  }
  state.counters["keys/s"] = benchmark::Counter(static_cast<double>(kKeys), benchmark::Counter::kIsIterationInvariantRate);
}

// MLA attention of one decoded token (16 heads, latent 512 + rope 64) over 2048 selected keys.
// reused_block: every block reads the same 32 key rows, as decode's, which converts each
// block's keys into one small buffer (in L1/L2) just before; otherwise 2048 rows (2.6 MB), as a
// prompt's rows read them from its key table.
void attention(benchmark::State& state, AttendBlockBf16 attend, bool reused_block) {
  constexpr std::size_t kHeads = 16, kLatent = 512, kDim = 576, kKeys = 2048, kStride = kDim + 64;
  const auto keys = random_bf16(kKeys * kStride, 7);
  std::vector<float> queries(kHeads * kDim, 0.01f);
  std::vector<std::uint16_t> packed(kHeads * kDim);
  pack_attention_query(queries.data(), kDim, kHeads, 1.0f, kHeads, kDim, packed.data());
  const AttentionBf16Query query{packed.data(), kHeads, kDim, kLatent};
  std::vector<float> max(kHeads), sum(kHeads), acc(kHeads * kLatent), scratch(attention_scratch_floats(kHeads));
  const AttentionBf16State attention_state{max.data(), sum.data(), acc.data(), kLatent};
  const std::vector<std::uint32_t> visible(kHeads, kAttentionBlockKeys);
  for (auto _ : state) {
    reset_attention_state(attention_state, kHeads, kLatent);
    for (std::size_t k0 = 0; k0 < kKeys; k0 += kAttentionBlockKeys) {
      attend(query, keys.data() + (reused_block ? 0 : k0 * kStride), kStride, kAttentionBlockKeys, visible.data(), attention_state, scratch.data());
    }
    benchmark::DoNotOptimize(acc.data());
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * kHeads * kKeys * (kDim + kLatent), benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  for (const VectorOps* ops : available_vector_ops()) {
    benchmark::RegisterBenchmark((std::string("DecodeGemvE4m3/") + ops->name).c_str(), decode_e4m3, ops);
  }
  benchmark::RegisterBenchmark("DecodeGemvE4m3Bf16/scalar/tokens:1", decode_codes_bf16, &scalar_gemv_bf16(), std::size_t{1}, DType::F8_E4M3);
  if (const GemvBf16Kernels* half = avx512fp16_gemv_bf16()) {
    for (const std::size_t tokens : {1, 2, 3, 4, 6, 8}) {
      for (const bool nan_free : {false, true}) {
        benchmark::RegisterBenchmark(("DecodeGemvE4m3Fp16/avx512fp16/tokens:" + std::to_string(tokens) + (nan_free ? "/nan_free" : "/checked")).c_str(),
                                     decode_half_e4m3, half->half_e4m3, tokens, nan_free);
      }
    }
  }
  if (const GemvBf16Kernels* fast = avx512_gemv_bf16()) {
    for (const std::size_t tokens : {1, 2, 3, 4, 5, 6, 8}) {
      benchmark::RegisterBenchmark(("DecodeGemvE4m3Bf16/avx512bf16/tokens:" + std::to_string(tokens)).c_str(), decode_codes_bf16, fast, tokens,
                                   DType::F8_E4M3);
      benchmark::RegisterBenchmark(("DecodeGemvBf16Bf16/avx512bf16/tokens:" + std::to_string(tokens)).c_str(), decode_bf16_bf16, fast, tokens);
      benchmark::RegisterBenchmark(("DecodeGemvI4Bf16/avx512bf16/tokens:" + std::to_string(tokens)).c_str(), decode_codes_bf16, fast, tokens,
                                   DType::I4);
    }
  }
  for (const Precision precision : {Precision::F32, Precision::BF16}) {
    const std::string suffix = precision == Precision::F32 ? "/f32" : "/bf16";
    for (const std::int64_t tokens : {1, 16}) {
      for (const std::int64_t megabytes : {1024, 1}) {
        const std::string name = "DecodeLinear" + std::to_string(megabytes) + "MB/tokens:" + std::to_string(tokens);
        const std::int64_t bytes = megabytes << 20;
        benchmark::RegisterBenchmark((name + "/fp8" + suffix).c_str(), decode_linear, DType::F8_E4M3, precision, tokens, bytes)->UseRealTime();
        benchmark::RegisterBenchmark((name + "/bf16" + suffix).c_str(), decode_linear, DType::BF16, precision, tokens, bytes)->UseRealTime();
      }
    }
  }
  benchmark::RegisterBenchmark("AbsorbFp8_64MB/fused", absorb_fp8, true)->UseRealTime();
  benchmark::RegisterBenchmark("AbsorbFp8_64MB/rows", absorb_fp8, false)->UseRealTime();
  benchmark::RegisterBenchmark("StreamTokenBytes/context0", stream_token_bytes, false)->UseRealTime();
  benchmark::RegisterBenchmark("StreamTokenBytes/context4K", stream_token_bytes, true)->UseRealTime();
  for (const std::int64_t tokens : {1, 2, 4}) {
    benchmark::RegisterBenchmark(("DecodeExperts1024MB/tokens:" + std::to_string(tokens)).c_str(), decode_experts, tokens)->UseRealTime();
  }
  benchmark::RegisterBenchmark("PrefillLinear512/f32", prefill_linear, Precision::F32, LargeProducts::Tile, 3072, 1536, 512)->UseRealTime();
  for (const auto& [name, large] : {std::pair{"tile", LargeProducts::Tile}, std::pair{"onednn", LargeProducts::Onednn}}) {
    benchmark::RegisterBenchmark((std::string("PrefillLinear512/bf16/") + name).c_str(), prefill_linear, Precision::BF16, large, 3072, 1536, 512)
        ->UseRealTime();
    benchmark::RegisterBenchmark((std::string("PrefillExpert64/bf16/") + name).c_str(), prefill_linear, Precision::BF16, large, 512, 1024, 64)
        ->UseRealTime();
  }
  benchmark::RegisterBenchmark("GemmTileBf16/scalar", gemm_tile, &scalar_gemm_bf16(), false);
  if (const GemmBf16Kernels* fast = avx512_gemm_bf16()) {
    benchmark::RegisterBenchmark("GemmTileBf16/avx512bf16", gemm_tile, fast, false);
    benchmark::RegisterBenchmark("GemmTileHalfBf16/avx512bf16", gemm_tile, fast, true);
  }
  if (const GemmBf16Kernels* amx = amx_gemm_bf16()) {
    benchmark::RegisterBenchmark("GemmTileBf16/amx", gemm_tile, amx, false);
    benchmark::RegisterBenchmark("GemmTileHalfBf16/amx", gemm_tile, amx, true);
  }
  benchmark::RegisterBenchmark("IndexScores4096/scalar", index_scores, &index_scores_scalar);
  if (const IndexScoresFn fn = index_scores_avx2()) benchmark::RegisterBenchmark("IndexScores4096/avx2", index_scores, fn);
  if (const IndexScoresFn fn = index_scores_avx512()) benchmark::RegisterBenchmark("IndexScores4096/avx512bf16", index_scores, fn);
  benchmark::RegisterBenchmark("IndexScoresInt8_4096/scalar", index_scores_int8, &index_scores_int8_scalar);
  if (const IndexScoresInt8Fn fn = index_scores_int8_avx512()) benchmark::RegisterBenchmark("IndexScoresInt8_4096/avx512vnni", index_scores_int8, fn);
  if (const IndexScoresInt8Fn fn = index_scores_int8_amx()) benchmark::RegisterBenchmark("IndexScoresInt8_4096/amx", index_scores_int8, fn);
  benchmark::RegisterBenchmark("IndexTopK32768/scalar", index_top_k, &scalar_top_k());
  if (const TopKKernels* fast = avx512_top_k()) benchmark::RegisterBenchmark("IndexTopK32768/avx512", index_top_k, fast);
  for (const bool reused : {false, true}) {
    const std::string name = reused ? "Attention2048/block_reused/" : "Attention2048/";
    benchmark::RegisterBenchmark((name + "scalar").c_str(), attention, &attend_block_bf16_scalar, reused);
    if (const AttendBlockBf16 fn = attend_block_bf16_avx512()) benchmark::RegisterBenchmark((name + "avx512bf16").c_str(), attention, fn, reused);
    if (const AttendBlockBf16 fn = attend_block_bf16_amx()) benchmark::RegisterBenchmark((name + "amx").c_str(), attention, fn, reused);
  }
}

}  // namespace
}  // namespace dsv32

int main(int argc, char** argv) {
  dsv32::register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
