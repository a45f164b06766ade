// `dsv32 quantize` on the refdata checkpoints (FP8 and BF16 sources): the I4 model's logits
// against the reference's float32 run, next to the unquantised checkpoint's (the accuracy the
// issue asks to be measured); the bf16 mode's decode of the I4 model against its own float32
// prefill; and the loader's refusals of broken I4 tensors.
#include <gtest/gtest.h>

#include "refdata_cases.h"
#include "relative_error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "checkpoint_load_error.h"
#include "kernels/linear.h"
#include "kernels/norm.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "model/quantize.h"
#include "model/safetensors.h"
#include "model/safetensors_writer.h"
#include "model/weights.h"
#include "util/error.h"

namespace dsv32 {
namespace {

namespace fs = std::filesystem;
const fs::path kRefdata = fs::path(DSV32_SHARED_DIR) / "refdata";

struct LogitErrors {
  double rms_rel = 0.0, argmax_agree = 0.0;
};

LogitErrors compare(std::span<const float> ours, const float* reference, std::int64_t vocab) {
  std::int64_t agree = 0;
  const auto rows = static_cast<std::int64_t>(ours.size()) / vocab;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* a = ours.data() + r * vocab;
    const float* b = reference + r * vocab;
    agree += std::max_element(a, a + vocab) - a == std::max_element(b, b + vocab) - b;
  }
  return {test::rms_rel(ours.data(), reference, static_cast<std::int64_t>(ours.size())), static_cast<double>(agree) / static_cast<double>(rows)};
}

// All-position logits of a prefill of `ids`, and optionally (decode_from >= 0) the logits of
// positions decode_from.. computed one token at a time after a prefill of the ones before.
std::vector<float> run_logits(const fs::path& dir, const std::vector<std::int32_t>& ids, Precision precision, std::int64_t decode_from = -1) {
  ComputeContext ctx(2);
  ctx.set_precision(precision);
  const Checkpoint checkpoint(dir);
  Model model(checkpoint, ctx);
  const auto S = static_cast<std::int64_t>(ids.size());
  KvPool pool(model.kv_layout(16), (S + 15) / 16);
  SequenceCache cache(pool);
  if (decode_from < 0) {
    const SequenceStep step{.tokens = ids, .cache = &cache, .all_logits = true};
    const std::span<const float> logits = model.forward(std::span(&step, 1), nullptr);
    return {logits.begin(), logits.end()};
  }
  const SequenceStep prefill{.tokens = std::span(ids).first(static_cast<std::size_t>(decode_from)), .cache = &cache, .all_logits = false};
  (void)model.forward(std::span(&prefill, 1), nullptr);
  std::vector<float> logits;
  for (std::int64_t p = decode_from; p < S; ++p) {
    const SequenceStep step{.tokens = std::span(ids).subspan(static_cast<std::size_t>(p), 1), .cache = &cache, .all_logits = true};
    const auto row = model.forward(std::span(&step, 1), nullptr);
    logits.insert(logits.end(), row.begin(), row.end());
  }
  return logits;
}

// The I4 checkpoint's weights written out as float32 (q * scale, exact): a checkpoint that
// must give the I4 model's logits, whatever the quantisation error.
void write_dequantised(const fs::path& quantized, const fs::path& out) {
  const Checkpoint checkpoint(quantized);
  std::vector<TensorToWrite> tensors;
  for (const auto& [name, info] : checkpoint.tensors()) {
    if (name.ends_with("weight_scale")) continue;
    if (info->dtype != DType::U8) {
      tensors.push_back({name, info->dtype, info->shape, [info = info](std::span<std::uint8_t> bytes) { std::copy_n(info->data, info->bytes, bytes.data()); }});
      continue;
    }
    const std::int64_t rows = info->shape[0], cols = 2 * info->shape[1];
    const Weight weight = checkpoint.matrix(name, rows, cols);
    tensors.push_back({name, DType::F32, {rows, cols}, [weight](std::span<std::uint8_t> bytes) {
                         auto* values = reinterpret_cast<float*>(bytes.data());
                         for (std::int64_t r = 0; r < weight.rows; ++r) weight.row_to_f32(r, values + r * weight.cols, scalar_vector_ops());
                       }});
  }
  fs::create_directories(out);
  write_safetensors(out / "model.safetensors", tensors);
  std::ifstream in(quantized / "config.json");
  auto config = nlohmann::json::parse(in);
  config["quantization_config"] = nullptr;
  std::ofstream(out / "config.json") << config.dump(2);
}

struct LayerErrors {
  double attention = 0.0, feed_forward = 0.0;
};

// Worst per-layer relative rms of the bf16 mode (rows one at a time) against float32 (all rows),
// each layer of both fed the float32 run's hidden state.
LayerErrors bf16_layer_errors(const fs::path& dir, const std::vector<std::int32_t>& ids) {
  const Checkpoint checkpoint(dir);
  ComputeContext f32_ctx(2), bf16_ctx(2);
  bf16_ctx.set_precision(Precision::BF16);
  Model f32_model(checkpoint, f32_ctx), bf16_model(checkpoint, bf16_ctx);
  const ModelConfig& c = f32_model.config();
  const std::int64_t D = c.hidden_size, S = static_cast<std::int64_t>(ids.size());
  KvPool f32_pool(f32_model.kv_layout(16), (S + 15) / 16), bf16_pool(bf16_model.kv_layout(16), (S + 15) / 16);
  SequenceCache f32_cache(f32_pool), bf16_cache(bf16_pool);
  f32_cache.reserve(S);
  bf16_cache.reserve(S);
  std::vector<TokenRow> f32_rows, bf16_rows;
  for (std::int64_t p = 0; p < S; ++p) {
    f32_rows.push_back({&f32_cache, p});
    bf16_rows.push_back({&bf16_cache, p});
  }
  const auto n = static_cast<std::size_t>(S * D);
  std::vector<float> h(n), normed(n), attn(n), attn_bf16(n), mid(n), ffn(n), ffn_bf16(n), norm_weights(static_cast<std::size_t>(D));
  for (std::int64_t t = 0; t < S; ++t) f32_model.weights().embed_tokens.row_to_f32(ids[static_cast<std::size_t>(t)], h.data() + t * D, scalar_vector_ops());
  LayerErrors worst;
  for (std::int64_t layer = 0; layer < c.num_hidden_layers; ++layer) {
    const LayerWeights& w = f32_model.weights().layers[static_cast<std::size_t>(layer)];
    w.input_layernorm.row_to_f32(0, norm_weights.data(), scalar_vector_ops());
    for (std::int64_t t = 0; t < S; ++t) rms_norm(h.data() + t * D, norm_weights.data(), D, 1e-6f, normed.data() + t * D);
    f32_model.attention(layer, f32_rows, normed.data(), attn.data(), nullptr);
    for (std::int64_t t = 0; t < S; ++t) {
      bf16_model.attention(layer, std::span(bf16_rows).subspan(static_cast<std::size_t>(t), 1), normed.data() + t * D, attn_bf16.data() + t * D,
                           nullptr);
    }
    for (std::size_t i = 0; i < n; ++i) mid[i] = h[i] + attn[i];
    w.post_attention_layernorm.row_to_f32(0, norm_weights.data(), scalar_vector_ops());
    for (std::int64_t t = 0; t < S; ++t) rms_norm(mid.data() + t * D, norm_weights.data(), D, 1e-6f, normed.data() + t * D);
    f32_model.feed_forward(layer, S, normed.data(), ffn.data(), nullptr);
    for (std::int64_t t = 0; t < S; ++t) bf16_model.feed_forward(layer, 1, normed.data() + t * D, ffn_bf16.data() + t * D, nullptr);
    worst.attention = std::max(worst.attention, test::rms_rel(attn_bf16.data(), attn.data(), S * D));
    worst.feed_forward = std::max(worst.feed_forward, test::rms_rel(ffn_bf16.data(), ffn.data(), S * D));
    for (std::size_t i = 0; i < n; ++i) h[i] = mid[i] + ffn[i];
  }
  return worst;
}

class QuantizeRefdataTest : public ::testing::TestWithParam<std::string> {};

TEST_P(QuantizeRefdataTest, I4ModelRunsItsWeightsAndItsErrorIsMeasured) {
  const fs::path source = kRefdata / GetParam(), out = fs::path(DSV32_TEST_TMP) / ("quantized-" + GetParam());
  const fs::path dequantised = out.string() + "-f32";
  fs::remove_all(out);
  fs::remove_all(dequantised);
  fs::create_directories(out.parent_path());
  ThreadPool pool(2);
  const QuantizeReport report = quantize_checkpoint(source, out, pool);
  EXPECT_GT(report.quantized_tensors, 0u);
  EXPECT_LT(report.bytes_out, report.bytes_in);
  write_dequantised(out, dequantised);

  SafetensorsFile expected(source / "expected.safetensors");
  std::ifstream json_in(source / "expected.json");
  const auto json = nlohmann::json::parse(json_in);
  const auto ids = json["input_ids"].get<std::vector<std::int32_t>>();
  const std::int64_t vocab = Checkpoint(out).config().vocab_size;
  const auto* reference = reinterpret_cast<const float*>(expected.tensors().at("f32.logits_prefill").data);

  // Exactness of the format's path: the I4 model against its weights in float32.
  const auto i4_prefill = run_logits(out, ids, Precision::F32);
  const auto same_weights = compare(i4_prefill, run_logits(dequantised, ids, Precision::F32).data(), vocab);
  EXPECT_LT(same_weights.rms_rel, 1e-5);
  EXPECT_EQ(same_weights.argmax_agree, 1.0);

  // The quantisation's cost, measured (these are random-weight models, whose logits move far
  // more under weight noise than a trained model's: FP8 -> bf16 rounding alone moves them 1-25%).
  const auto i4 = compare(i4_prefill, reference, vocab);
  std::printf("%s (%s source, %.2f -> %.2f MB): I4 logits vs the reference's f32 run: rms_rel %.3f, argmax agreement %.3f\n",
              GetParam().c_str(), Checkpoint(source).config().weight_format == WeightFormat::Fp8Blocks ? "FP8" : "BF16",
              static_cast<double>(report.bytes_in) / 1e6, static_cast<double>(report.bytes_out) / 1e6, i4.rms_rel, i4.argmax_agree);
  ::testing::Test::RecordProperty("i4_rms_rel", std::to_string(i4.rms_rel));
  ::testing::Test::RecordProperty("i4_argmax_agree", std::to_string(i4.argmax_agree));
  EXPECT_LT(i4.rms_rel, 0.8);  // measured 0.24-0.61; unrelated logits give about 1.4

  // The bf16 mode on the I4 weights, layer by layer against float32 on the same inputs, rows fed
  // one at a time as decode does (the I4 GEMV). Whole-model logits of these random models are
  // chaotic under rounding (the same comparison moved between 0.02 and 0.54 when the
  // quantiser's rounding changed), so the check is per layer, as precision_test's.
  if (bf16_products(Precision::BF16)) {
    const LayerErrors errors = bf16_layer_errors(out, ids);
    std::printf("%s: I4 bf16 row by row vs f32, worst layer rms_rel: attention %.4f, feed-forward %.4f\n", GetParam().c_str(),
                errors.attention, errors.feed_forward);
    EXPECT_LT(errors.attention, 0.25);
    EXPECT_LT(errors.feed_forward, 0.05);
  }
  fs::remove_all(out);
  fs::remove_all(dequantised);
}

INSTANTIATE_TEST_SUITE_P(Cases, QuantizeRefdataTest, test::refdata_cases(), test::refdata_case_name);

// The loader names what is wrong with an I4 weight; quantize refuses to overwrite.
class QuantizedCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(DSV32_TEST_TMP) / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_.parent_path());
    ThreadPool pool(2);
    quantize_checkpoint(kRefdata / "dense-short", dir_, pool);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Rewrites the safetensors header with `edit` applied (the data section kept).
  template <typename Edit>
  void edit_header(Edit edit) {
    const fs::path file = dir_ / "model.safetensors";
    std::ifstream in(file, std::ios::binary);
    std::string bytes{std::istreambuf_iterator<char>(in), {}};
    std::uint64_t size = 0;
    std::memcpy(&size, bytes.data(), 8);
    auto header = nlohmann::json::parse(bytes.substr(8, size));
    edit(header);
    std::string text = header.dump();
    text.resize((text.size() + 7) / 8 * 8, ' ');
    const std::uint64_t new_size = text.size();
    std::ofstream(file, std::ios::binary) << std::string(reinterpret_cast<const char*>(&new_size), 8) << text << bytes.substr(8 + size);
  }

  // The tensor's shape [rows, cols] written as [cols, rows].
  void transpose_shape(const std::string& name) {
    edit_header([&](nlohmann::json& header) {
      auto& shape = header[name]["shape"];
      shape = {shape[1].get<std::int64_t>(), shape[0].get<std::int64_t>()};
    });
  }

  std::string load_error() const { return test::checkpoint_load_error(dir_); }

  fs::path dir_;
};

TEST_F(QuantizedCheckpointTest, LoadsWithI4Projections) {
  const Checkpoint checkpoint(dir_);
  const ModelWeights weights = ModelWeights::bind(checkpoint);
  EXPECT_EQ(weights.layers[0].attention.q_b_proj.dtype, DType::I4);
  EXPECT_EQ(weights.layers[0].attention.indexer.weights_proj.dtype, checkpoint.tensor("model.layers.0.self_attn.indexer.weights_proj.weight").dtype);
  EXPECT_EQ(checkpoint.config().weight_format, WeightFormat::Int4Groups);
}

// --lm-head: the head in I4 too, and the model still runs exactly its (dequantised) weights.
TEST_F(QuantizedCheckpointTest, LmHeadOptionQuantisesTheHeadToo) {
  const fs::path with_head = dir_.string() + "-head", dequantised = dir_.string() + "-head-f32";
  fs::remove_all(with_head);
  fs::remove_all(dequantised);
  ThreadPool pool(2);
  quantize_checkpoint(kRefdata / "dense-short", with_head, pool, QuantizeOptions{.lm_head = true});
  EXPECT_EQ(ModelWeights::bind(Checkpoint(with_head)).lm_head.dtype, DType::I4);
  EXPECT_NE(ModelWeights::bind(Checkpoint(dir_)).lm_head.dtype, DType::I4);
  write_dequantised(with_head, dequantised);
  const std::vector<std::int32_t> ids = {5, 17, 42, 7, 99, 3};
  const std::int64_t vocab = Checkpoint(with_head).config().vocab_size;
  const auto same_weights = compare(run_logits(with_head, ids, Precision::F32), run_logits(dequantised, ids, Precision::F32).data(), vocab);
  EXPECT_LT(same_weights.rms_rel, 1e-5);
  fs::remove_all(with_head);
  fs::remove_all(dequantised);
}

// A non-finite weight in a BF16 source: a clear error naming the tensor and row (raised after the
// threads finish, not from inside them), and neither the output nor its staging is left behind.
TEST_F(QuantizedCheckpointTest, NonFiniteWeightIsRefusedByName) {
  const fs::path source = dir_.string() + "-nan", out = dir_.string() + "-nan-out/";  // (a trailing separator, as shells add)
  fs::remove_all(source);
  fs::copy(kRefdata / "dense-short", source);
  fs::permissions(source / "model.safetensors", fs::perms::owner_write, fs::perm_options::add);
  {
    const std::string name = "model.layers.0.mlp.down_proj.weight";
    const SafetensorsFile file(source / "model.safetensors");
    const TensorInfo& info = file.tensors().at(name);
    ASSERT_EQ(info.dtype, DType::BF16);
    const auto offset = static_cast<std::streamoff>(info.data - file.mapped().bytes().data()) + 2 * 3 * info.shape[1] + 2 * 5;  // row 3, column 5
    std::fstream bytes(source / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    bytes.seekp(offset);
    const std::uint16_t nan = 0x7FC0;
    bytes.write(reinterpret_cast<const char*>(&nan), 2);
  }
  ThreadPool pool(2);
  try {
    quantize_checkpoint(source, out, pool);
    ADD_FAILURE() << "quantised a NaN";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.0.mlp.down_proj.weight: row 3 holds a value that is not finite"), std::string::npos)
        << e.what();
  }
  const fs::path target = fs::path(out.string()).parent_path();
  EXPECT_FALSE(fs::exists(target));
  for (const auto& entry : fs::directory_iterator(target.parent_path())) {
    EXPECT_EQ(entry.path().filename().string().find(target.filename().string() + ".partial"), std::string::npos) << entry.path();
  }
  fs::remove_all(source);
}

// "--out dir/" names dir.
TEST_F(QuantizedCheckpointTest, TrailingSeparatorNamesTheDirectory) {
  const fs::path out = dir_.string() + "-slash";
  fs::remove_all(out);
  ThreadPool pool(2);
  quantize_checkpoint(kRefdata / "dense-short", out.string() + "/", pool);
  EXPECT_EQ(test::checkpoint_load_error(out), "(loaded without error)");
  fs::remove_all(out);
}

// quantization_config of the I4 format: wrong types and values are named, never thrown past.
TEST_F(QuantizedCheckpointTest, BadQuantizationConfigIsNamed) {
  const auto config_with = [&](const nlohmann::json& quantization) {
    std::ifstream in(dir_ / "config.json");
    auto config = nlohmann::json::parse(in);
    config["quantization_config"] = quantization;
    std::ofstream(dir_ / "config.json") << config.dump();
    return load_error();
  };
  EXPECT_NE(config_with({{"quant_method", "dsv32_int4"}, {"bits", "4"}, {"group_size", 128}}).find("needs an integer bits"), std::string::npos);
  EXPECT_NE(config_with({{"quant_method", "dsv32_int4"}, {"bits", 4}, {"group_size", 64}}).find("group_size 64 are not supported"), std::string::npos);
  EXPECT_NE(config_with({{"quant_method", 4}}).find("quant_method must be a string"), std::string::npos);
  EXPECT_NE(config_with("int4").find("quantization_config must be an object"), std::string::npos);
}

TEST_F(QuantizedCheckpointTest, MissingScalesAreNamed) {
  edit_header([](nlohmann::json& header) { header.erase("model.layers.0.self_attn.q_b_proj.weight_scale"); });
  EXPECT_NE(load_error().find("model.layers.0.self_attn.q_b_proj.weight_scale is missing"), std::string::npos) << load_error();
}

TEST_F(QuantizedCheckpointTest, WrongScaleShapeIsNamed) {
  transpose_shape("model.layers.0.self_attn.q_b_proj.weight_scale");
  EXPECT_NE(load_error().find("q_b_proj.weight_scale: shape"), std::string::npos) << load_error();
}

TEST_F(QuantizedCheckpointTest, WrongCodesShapeIsNamed) {
  transpose_shape("model.layers.0.self_attn.q_b_proj.weight");
  EXPECT_NE(load_error().find("q_b_proj.weight: U8 (I4, two values a byte) shape"), std::string::npos) << load_error();
}

TEST_F(QuantizedCheckpointTest, RefusesToOverwriteOrRequantise) {
  ThreadPool pool(2);
  EXPECT_THROW(quantize_checkpoint(kRefdata / "dense-short", dir_, pool), Error);
  const fs::path again = dir_.string() + "-again";
  fs::remove_all(again);
  try {
    quantize_checkpoint(dir_, again, pool);
    ADD_FAILURE() << "quantised an I4 checkpoint again";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already quantised"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(again));
}

}  // namespace
}  // namespace dsv32
