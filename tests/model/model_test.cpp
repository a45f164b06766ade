// Behaviour of the forward pass on the project's own tiny checkpoints: prefill and decode
// agree, batching does not change any sequence's result, loading works the same from shards,
// and a deepseek_v3 config runs dense attention.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>


#include <nlohmann/json.hpp>

#include "kernels/attention_bf16.h"
#include "kernels/gemv_bf16.h"
#include "kernels/linear.h"
#include "model/checkpoint.h"
#include "model/make_model.h"
#include "model/model.h"
#include "model/weights.h"
#include "model/workspace.h"
#include "util/error.h"
#include "util/publish_directory.h"

namespace dsv32 {
namespace {

namespace fs = std::filesystem;

// The key table's rows are kept for the next call while small and freed once past the limit
// (one long prompt must not pin them); the other buffers are left as they are.
TEST(Workspace, KeyRowsPastTheLimitAreFreedSmallerOnesKept) {
  Workspace ws;
  grow(ws.attention_key_rows, 1000);  // 2000 bytes
  grow(ws.hidden, 5000);
  ws.release_key_rows_over(4096);
  EXPECT_GE(ws.attention_key_rows.capacity(), 1000u);
  grow(ws.attention_key_rows, 5000);  // 10000 bytes
  ws.release_key_rows_over(4096);
  EXPECT_EQ(ws.attention_key_rows.capacity(), 0u);
  EXPECT_GE(ws.hidden.capacity(), 5000u);
  grow(ws.attention_key_rows, 300);  // usable again after the release
  EXPECT_EQ(ws.attention_key_rows.size(), 300u);
}

fs::path tiny_model(const std::string& name, bool fp8, std::uint64_t seed, std::size_t shard_bytes = std::size_t{1} << 30) {
  // ctest runs test cases as parallel processes.
  return publish_directory(fs::path(DSV32_TEST_TMP) / name, [&](const fs::path& staging) {
    ThreadPool pool(2);
    make_model(MakeModelOptions{.preset = "tiny", .fp8 = fp8, .seed = seed, .out = staging, .max_shard_bytes = shard_bytes}, pool);
  });
}

std::vector<std::int32_t> token_ids(std::size_t count, std::uint32_t salt) {
  std::vector<std::int32_t> ids(count);
  for (std::size_t i = 0; i < count; ++i) ids[i] = static_cast<std::int32_t>(2 + (i * 7919 + salt * 104729) % 129000);
  return ids;
}

double max_abs_diff(std::span<const float> a, std::span<const float> b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
  return worst;
}

struct Runner {
  ComputeContext ctx;
  Checkpoint checkpoint;
  Model model;
  KvPool pool;

  explicit Runner(const fs::path& dir, unsigned threads = 2, Precision precision = Precision::F32)
      : ctx(threads), checkpoint(dir), model(checkpoint, (ctx.set_precision(precision), ctx)), pool(model.kv_layout(16), 64) {
    model.scan_fp8_codes();
  }

  // Logits of every position: one prefill of the first `prefill` tokens, then one token per step.
  std::vector<float> run(const std::vector<std::int32_t>& ids, std::size_t prefill) {
    SequenceCache cache(pool);
    const SequenceStep first{.tokens = std::span(ids).first(prefill), .cache = &cache, .all_logits = true};
    auto rows = model.forward(std::span(&first, 1));
    std::vector<float> logits(rows.begin(), rows.end());
    for (std::size_t t = prefill; t < ids.size(); ++t) {
      const SequenceStep step{.tokens = std::span(ids).subspan(t, 1), .cache = &cache};
      rows = model.forward(std::span(&step, 1));
      logits.insert(logits.end(), rows.begin(), rows.end());
    }
    return logits;
  }
};

class TinyModelTest : public ::testing::TestWithParam<bool> {};

TEST_P(TinyModelTest, PrefillAndDecodeGiveTheSameLogits) {
  Runner runner(tiny_model(GetParam() ? "tiny-fp8" : "tiny-bf16", GetParam(), 7));
  const auto ids = token_ids(40, 1);  // beyond index_topk (16): the indexer prunes
  const auto full = runner.run(ids, ids.size());
  EXPECT_LT(max_abs_diff(full, runner.run(ids, 5)), 1e-4);
  EXPECT_LT(max_abs_diff(full, runner.run(ids, 1)), 1e-4);
}

TEST_P(TinyModelTest, ChunkedPrefillMatchesOnePrefill) {
  Runner runner(tiny_model(GetParam() ? "tiny-fp8" : "tiny-bf16", GetParam(), 7));
  const auto ids = token_ids(40, 2);
  const auto full = runner.run(ids, ids.size());
  SequenceCache cache(runner.pool);
  std::vector<float> chunked;
  for (std::size_t begin = 0; begin < ids.size(); begin += 15) {
    const SequenceStep step{.tokens = std::span(ids).subspan(begin, std::min<std::size_t>(15, ids.size() - begin)),
                            .cache = &cache, .all_logits = true};
    const auto rows = runner.model.forward(std::span(&step, 1));
    chunked.insert(chunked.end(), rows.begin(), rows.end());
  }
  EXPECT_LT(max_abs_diff(full, chunked), 1e-4);
}

TEST_P(TinyModelTest, BatchedSequencesMatchEachAlone) {
  Runner runner(tiny_model(GetParam() ? "tiny-fp8" : "tiny-bf16", GetParam(), 7));
  const std::vector<std::vector<std::int32_t>> prompts = {token_ids(30, 3), token_ids(7, 4), token_ids(19, 5)};
  const std::int32_t next[3] = {11, 12, 13};
  const auto vocab = static_cast<std::size_t>(runner.model.config().vocab_size);
  // Alone: the prompt's last logits, then those of one decode step with `next`.
  std::vector<std::vector<float>> alone_prefill, alone_decode;
  for (std::size_t s = 0; s < prompts.size(); ++s) {
    auto ids = prompts[s];
    ids.push_back(next[s]);
    const auto logits = runner.run(ids, prompts[s].size());
    alone_prefill.emplace_back(logits.end() - 2 * static_cast<std::ptrdiff_t>(vocab), logits.end() - static_cast<std::ptrdiff_t>(vocab));
    alone_decode.emplace_back(logits.end() - static_cast<std::ptrdiff_t>(vocab), logits.end());
  }
  std::vector<std::unique_ptr<SequenceCache>> caches;
  std::vector<SequenceStep> steps;
  for (const auto& ids : prompts) {
    caches.push_back(std::make_unique<SequenceCache>(runner.pool));
    steps.push_back({.tokens = ids, .cache = caches.back().get()});
  }
  const auto prefilled = runner.model.forward(steps);
  for (std::size_t s = 0; s < prompts.size(); ++s) {
    EXPECT_LT(max_abs_diff(prefilled.subspan(s * vocab, vocab), alone_prefill[s]), 1e-5) << "prefill of sequence " << s;
  }
  for (std::size_t s = 0; s < prompts.size(); ++s) steps[s].tokens = std::span(&next[s], 1);
  const auto decoded = runner.model.forward(steps);
  for (std::size_t s = 0; s < prompts.size(); ++s) {
    EXPECT_LT(max_abs_diff(decoded.subspan(s * vocab, vocab), alone_decode[s]), 1e-5) << "decode of sequence " << s;
  }
}

INSTANTIATE_TEST_SUITE_P(Dtype, TinyModelTest, ::testing::Values(false, true),
                         [](const auto& info) { return std::string(info.param ? "fp8" : "bf16"); });

TEST(MakeModel, SameSeedSameBytesOtherSeedOtherBytes) {
  const auto read = [](const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const auto a = read(tiny_model("tiny-bf16", false, 7) / "model.safetensors");
  const auto b = read(tiny_model("tiny-bf16-again", false, 7) / "model.safetensors");
  const auto c = read(tiny_model("tiny-bf16-seed8", false, 8) / "model.safetensors");
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == c);
  EXPECT_EQ(a.size(), c.size());
}

TEST(MakeModel, FollowsTheRealLayout) {
  const Checkpoint checkpoint(tiny_model("tiny-fp8", true, 7));
  const ModelConfig& c = checkpoint.config();
  EXPECT_EQ(c.vocab_size, 129280);
  EXPECT_TRUE(c.has_indexer && c.yarn && c.weight_format == WeightFormat::Fp8Blocks);
  EXPECT_GT(c.n_group, 1);
  EXPECT_GE(c.first_k_dense_replace, 1);
  EXPECT_EQ(checkpoint.tensor("model.layers.1.mlp.experts.3.down_proj.weight").dtype, DType::F8_E4M3);
  EXPECT_EQ(checkpoint.tensor("model.layers.1.mlp.experts.3.down_proj.weight_scale_inv").dtype, DType::F32);
  EXPECT_EQ(checkpoint.tensor("model.layers.1.self_attn.indexer.weights_proj.weight").dtype, DType::BF16);
  EXPECT_EQ(checkpoint.tensor("lm_head.weight").dtype, DType::BF16);
}

TEST(Checkpoint, ShardedLoadingGivesTheSameLogits) {
  const fs::path sharded = tiny_model("tiny-bf16-sharded", false, 7, 40u << 20);
  ASSERT_TRUE(fs::exists(sharded / "model.safetensors.index.json"));
  ASSERT_FALSE(fs::exists(sharded / "model.safetensors"));
  const auto ids = token_ids(20, 6);
  Runner single(tiny_model("tiny-bf16", false, 7));
  Runner shards(sharded);
  EXPECT_EQ(max_abs_diff(single.run(ids, ids.size()), shards.run(ids, ids.size())), 0.0);
}

TEST(Checkpoint, MtpLayerIsKeptAside) {
  const Checkpoint checkpoint(fs::path(DSV32_SHARED_DIR) / "refdata" / "fp8");
  EXPECT_FALSE(checkpoint.mtp_tensor_names().empty());
  for (const auto& name : checkpoint.mtp_tensor_names()) EXPECT_EQ(name.rfind("model.layers.3.", 0), 0u) << name;
}

// NUMA placement of a checkpoint's pages, on a machine with one node: a topology that names that
// node twice stands for two, so the whole path runs (it cannot show a page on the wrong node:
// util/numa_test.cpp checks the stripes' targets).
TEST(Checkpoint, PrefaultPlacesPagesOverTheNodes) {
  const Checkpoint checkpoint(fs::path(DSV32_SHARED_DIR) / "refdata" / "sparse");
  const int node = NumaTopology::detect().nodes().front().id;
  const NumaTopology twice({NumaNode{node, {0}}, NumaNode{node, {0}}});
  const PagePlacement placement = checkpoint.prefault(false, &twice);
  EXPECT_GT(placement.pages, 0u);
  if (placement.failed == placement.pages) GTEST_SKIP() << "memory-policy system calls are not allowed here";
  EXPECT_EQ(placement.on_node, placement.pages);  // every page was just read in
  const NumaTopology user_policy({NumaNode{node, {0}}, NumaNode{node, {0}}}, true);
  EXPECT_EQ(checkpoint.prefault(false, &user_policy).pages, 0u);  // the user's policy stands
  EXPECT_EQ(checkpoint.prefault(false, nullptr).pages, 0u);       // nothing placed on one node
}

// dense-short never prunes (S < index_topk), so as deepseek_v3 (no indexer) it must give the
// reference's logits too.
// The dense-short case's weights under a deepseek_v3 config (no indexer: every causal key).
fs::path dense_short_as_v3(const std::string& name) {
  const fs::path source = fs::path(DSV32_SHARED_DIR) / "refdata" / "dense-short";
  return publish_directory(fs::path(DSV32_TEST_TMP) / name, [&](const fs::path& staging) {
    fs::create_directories(staging);
    std::ifstream in(source / "config.json");
    auto config = nlohmann::json::parse(in);
    config["model_type"] = "deepseek_v3";
    config.erase("index_n_heads");
    config.erase("index_head_dim");
    config.erase("index_topk");
    std::ofstream(staging / "config.json") << config.dump();
    fs::copy_file(source / "model.safetensors", staging / "model.safetensors");
  });
}

TEST(Checkpoint, DeepseekV3ConfigRunsDenseAttention) {
  const fs::path source = fs::path(DSV32_SHARED_DIR) / "refdata" / "dense-short";
  const fs::path dir = dense_short_as_v3("dense-short-v3");

  std::ifstream expected_json(source / "expected.json");
  const auto ids = nlohmann::json::parse(expected_json)["input_ids"].get<std::vector<std::int32_t>>();
  const SafetensorsFile expected(source / "expected.safetensors");
  const TensorInfo& reference = expected.tensors().at("f32.logits_prefill");
  Runner runner(dir);
  EXPECT_FALSE(runner.model.config().has_indexer);
  const auto logits = runner.run(ids, ids.size());
  EXPECT_LT(max_abs_diff(logits, std::span(reinterpret_cast<const float*>(reference.data), logits.size())), 1e-3);
}

// The bf16 attention splits a long decode's keys across the threads and merges the partial
// softmax states: two threads (two splits of 260+ keys) must give one thread's logits.
TEST(Bf16Attention, DecodeSplitAcrossThreadsMatchesOneThread) {
  if (fast_attend_block_bf16() == nullptr) GTEST_SKIP() << "no AVX512-BF16: the bf16 mode runs the float32 attention";
  const fs::path dir = dense_short_as_v3("dense-short-v3-split");
  std::vector<std::int32_t> ids(300);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int32_t>(2 + (i * 7919) % 500);
  Runner one(dir, 1, Precision::BF16), two(dir, 2, Precision::BF16), exact(dir, 2, Precision::F32);
  const auto single = one.run(ids, 260), split = two.run(ids, 260), reference = exact.run(ids, 260);
  std::printf("bf16 vs f32: one thread %.5f, two threads %.5f; between them %.5f\n", max_abs_diff(single, reference),
              max_abs_diff(split, reference), max_abs_diff(single, split));
  // Each split rounds its softmax weights to bf16 against its own max, so the two runs differ
  // by bf16 rounding, not more: both stay as close to the float32 run. (The later layers round
  // their activations to bf16 too, so a rounding-sized difference in one attention output
  // grows to the size of bf16 rounding itself, not to that of the whole bf16 mode: measured
  // 0.030 against 0.077, a ratio of 0.39; it was 0.25 or less with float32 decode products.)
  EXPECT_LT(max_abs_diff(split, reference), 1.5 * max_abs_diff(single, reference));
  EXPECT_LT(max_abs_diff(single, split), 0.5 * max_abs_diff(single, reference));
}

// The scan of the FP8 codes marks every FP8 matrix of a made checkpoint (whose codes come from
// rounding, never NaN) and leaves a matrix holding a NaN code, and non-FP8 ones, unmarked.
TEST(ModelWeights, MarksFp8MatricesFreeOfNanCodes) {
  const Checkpoint checkpoint(tiny_model("tiny-fp8", true, 7));
  ModelWeights weights = ModelWeights::bind(checkpoint);
  std::vector<std::uint8_t> nan_codes(64 * 64, 0x38);
  nan_codes[64 * 63 + 5] = 0x7F;
  const std::vector<float> scales(1, 1.0f);
  weights.layers[0].attention.o_proj = Weight{DType::F8_E4M3, nan_codes.data(), 64, 64, 0, scales.data(), 1};
  ThreadPool pool(2);
  weights.mark_nan_free_codes(pool);
  const LayerWeights& first = weights.layers[0];
  EXPECT_FALSE(first.attention.o_proj.codes_nan_free);
  std::size_t marked = 0;
  for (const LayerWeights& layer : weights.layers) {
    for (const Weight* w : {&layer.attention.q_a_proj, &layer.attention.q_b_proj, &layer.attention.kv_b_proj, &layer.attention.indexer.wq_b}) {
      EXPECT_EQ(w->dtype, DType::F8_E4M3);
      EXPECT_TRUE(w->codes_nan_free);
      ++marked;
    }
    for (const MlpWeights& expert : layer.moe.experts) {
      EXPECT_TRUE(expert.gate.codes_nan_free && expert.up.codes_nan_free && expert.down.codes_nan_free);
      marked += 3;
    }
  }
  EXPECT_GT(marked, 8u);
}

// The cache's indexer keys are in the format of the precision its layout was made for: a run
// that scores them otherwise (here int8 products over a cache made for float32's FP8 codes)
// stops with an error naming both, instead of misreading them.
TEST(ModelKvLayout, IndexerKeysFollowThePrecision) {
  const Checkpoint checkpoint(tiny_model("tiny-fp8", true, 7));
  ComputeContext ctx(2);
  Model model(checkpoint, ctx);
  EXPECT_FALSE(model.kv_layout(16).index_keys_int8);
  ctx.set_precision(Precision::BF16);
  ctx.set_indexer_products(IndexerProducts::Int8);
  EXPECT_TRUE(model.kv_layout(16).index_keys_int8);
  ctx.set_indexer_products(IndexerProducts::Exact);
  KvPool pool(model.kv_layout(16), 4);  // FP8 codes
  ctx.set_indexer_products(IndexerProducts::Int8);
  SequenceCache cache(pool);
  const auto ids = token_ids(5, 1);
  const SequenceStep step{.tokens = std::span(ids), .cache = &cache};
  try {
    model.forward(std::span(&step, 1));
    ADD_FAILURE() << "a cache of FP8 codes was scored in int8";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("holds its keys as FP8 codes, but this run scores int8 values"), std::string::npos) << e.what();
  }
}

// Model::scan_fp8_codes marks the weights only where the half-precision GEMV runs: the bf16
// mode on a CPU with it; the float32 run never takes it, and its weights stay unmarked.
TEST(ModelWeights, ScanRunsWhereTheHalfPrecisionGemvRuns) {
  const Checkpoint checkpoint(tiny_model("tiny-fp8", true, 7));
  for (const Precision precision : {Precision::F32, Precision::BF16}) {
    ComputeContext ctx(2);
    ctx.set_precision(precision);
    Model model(checkpoint, ctx);
    EXPECT_FALSE(model.weights().layers[0].attention.q_a_proj.codes_nan_free);
    model.scan_fp8_codes();
    const bool half = bf16_products(ctx) && best_gemv_bf16().half_e4m3 != nullptr;
    EXPECT_EQ(model.weights().layers[0].attention.q_a_proj.codes_nan_free, half) << "precision " << static_cast<int>(precision);
    EXPECT_EQ(model.weights().layers.back().moe.experts[0].down.codes_nan_free, half);
  }
}

}  // namespace
}  // namespace dsv32
