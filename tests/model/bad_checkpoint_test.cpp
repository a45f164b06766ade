// Corrupt or inconsistent checkpoints are refused with one message naming the file, the
// tensor or key, and what is wrong; never a crash.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "checkpoint_load_error.h"
#include "model/checkpoint.h"
#include "model/weights.h"
#include "util/error.h"

namespace dsv32 {
namespace {

namespace fs = std::filesystem;
const fs::path kCase = fs::path(DSV32_SHARED_DIR) / "refdata" / "dense-short";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_file(const fs::path& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

class BadCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(DSV32_TEST_TMP) / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy_file(kCase / "config.json", dir_ / "config.json");
    weights_ = read_file(kCase / "model.safetensors");
    std::memcpy(&header_bytes_, weights_.data(), 8);
    header_ = nlohmann::json::parse(weights_.substr(8, header_bytes_));
  }

  // Rewrites the header (keeping the data section) after `edit` changed it.
  void write_with_header(const nlohmann::json& header) {
    std::string text = header.dump();
    text.resize((text.size() + 7) / 8 * 8, ' ');
    const std::uint64_t size = text.size();
    std::string bytes(reinterpret_cast<const char*>(&size), 8);
    write_file(dir_ / "model.safetensors", bytes + text + weights_.substr(8 + header_bytes_));
  }

  void write_config(const nlohmann::json& config) { write_file(dir_ / "config.json", config.dump()); }
  nlohmann::json config() const { return nlohmann::json::parse(read_file(kCase / "config.json")); }

  // Loads the directory as the CLI does and returns the error message.
  std::string load_error() const { return test::checkpoint_load_error(dir_); }

  fs::path dir_;
  std::string weights_;
  std::uint64_t header_bytes_ = 0;
  nlohmann::json header_;
};

TEST_F(BadCheckpointTest, IntactCopyLoads) {
  write_file(dir_ / "model.safetensors", weights_);
  EXPECT_EQ(load_error(), "(loaded without error)");
}

TEST_F(BadCheckpointTest, TruncatedFile) {
  write_file(dir_ / "model.safetensors", weights_.substr(0, weights_.size() / 2));
  const std::string error = load_error();
  EXPECT_NE(error.find("model.safetensors"), std::string::npos) << error;
  EXPECT_NE(error.find("outside the file"), std::string::npos) << error;
  EXPECT_NE(error.find("tensor model."), std::string::npos) << error;
}

TEST_F(BadCheckpointTest, ShorterThanHeaderLength) {
  write_file(dir_ / "model.safetensors", weights_.substr(0, 5));
  EXPECT_NE(load_error().find("truncated: 5 bytes"), std::string::npos) << load_error();
}

TEST_F(BadCheckpointTest, HeaderLengthOutsideFile) {
  std::string bytes = weights_;
  const std::uint64_t huge = weights_.size() + 100;
  std::memcpy(bytes.data(), &huge, 8);
  write_file(dir_ / "model.safetensors", bytes);
  EXPECT_NE(load_error().find("header length"), std::string::npos) << load_error();
}

TEST_F(BadCheckpointTest, MalformedHeaderJson) {
  std::string bytes = weights_;
  bytes[8] = '[';
  bytes[9] = '{';
  write_file(dir_ / "model.safetensors", bytes);
  EXPECT_NE(load_error().find("malformed header JSON"), std::string::npos) << load_error();
}

TEST_F(BadCheckpointTest, OffsetsOutsideFile) {
  header_["model.norm.weight"]["data_offsets"][1] = weights_.size() * 2;
  write_with_header(header_);
  const std::string error = load_error();
  EXPECT_NE(error.find("tensor model.norm.weight: data_offsets"), std::string::npos) << error;
}

TEST_F(BadCheckpointTest, OffsetsDisagreeWithShape) {
  header_["model.norm.weight"]["shape"] = {64};
  write_with_header(header_);
  EXPECT_NE(load_error().find("tensor model.norm.weight: data_offsets hold 256 bytes but shape [64]"), std::string::npos)
      << load_error();
}

TEST_F(BadCheckpointTest, UnknownDtype) {
  header_["model.norm.weight"]["dtype"] = "Q4_K";
  write_with_header(header_);
  EXPECT_NE(load_error().find("tensor model.norm.weight: unknown dtype \"Q4_K\""), std::string::npos) << load_error();
}

TEST_F(BadCheckpointTest, MissingTensor) {
  header_.erase("model.layers.1.self_attn.o_proj.weight");
  write_with_header(header_);
  EXPECT_NE(load_error().find("missing tensor model.layers.1.self_attn.o_proj.weight"), std::string::npos) << load_error();
}

TEST_F(BadCheckpointTest, WrongShape) {
  // Same byte size, transposed shape: only the config check can catch it.
  auto& entry = header_["model.layers.0.self_attn.q_b_proj.weight"];
  const auto shape = entry["shape"];
  entry["shape"] = {shape[1], shape[0]};
  write_with_header(header_);
  const std::string error = load_error();
  EXPECT_NE(error.find("tensor model.layers.0.self_attn.q_b_proj.weight: shape [96, 320]"), std::string::npos) << error;
  EXPECT_NE(error.find("the config needs [320, 96]"), std::string::npos) << error;
}

TEST_F(BadCheckpointTest, WrongShapeOfNorm) {
  header_["model.norm.weight"]["shape"] = {2, 64};
  write_with_header(header_);
  EXPECT_NE(load_error().find("tensor model.norm.weight: shape [2, 64] but the config needs [128]"), std::string::npos)
      << load_error();
}

TEST_F(BadCheckpointTest, ConfigMissingKey) {
  write_file(dir_ / "model.safetensors", weights_);
  auto json = config();
  json.erase("kv_lora_rank");
  write_config(json);
  EXPECT_NE(load_error().find("config.json: missing key \"kv_lora_rank\""), std::string::npos) << load_error();
}

TEST_F(BadCheckpointTest, ConfigWrongType) {
  write_file(dir_ / "model.safetensors", weights_);
  auto json = config();
  json["num_hidden_layers"] = "two";
  write_config(json);
  EXPECT_NE(load_error().find("\"num_hidden_layers\" must be an integer"), std::string::npos) << load_error();
}

TEST_F(BadCheckpointTest, ConfigImpossibleValues) {
  write_file(dir_ / "model.safetensors", weights_);
  const std::vector<std::pair<nlohmann::json, std::string>> cases = {
      {{{"num_attention_heads", 0}}, "\"num_attention_heads\" is 0, must be at least 1"},
      {{{"kv_lora_rank", 100}}, "kv_lora_rank must be a multiple of 128"},
      {{{"n_group", 3}}, "n_routed_experts must be divisible by n_group"},
      {{{"num_experts_per_tok", 9}}, "num_experts_per_tok must be between 1 and n_routed_experts"},
      {{{"rope_theta", -1.0}}, "\"rope_theta\" is -1, must be positive"},
      {{{"model_type", "llama"}}, "model_type \"llama\" is not supported"},
  };
  for (const auto& [patch, expected] : cases) {
    auto json = config();
    json.merge_patch(patch);
    write_config(json);
    EXPECT_NE(load_error().find(expected), std::string::npos) << patch.dump() << " -> " << load_error();
  }
}

TEST_F(BadCheckpointTest, MalformedConfig) {
  write_file(dir_ / "model.safetensors", weights_);
  write_file(dir_ / "config.json", "{\"vocab_size\": 12,");
  EXPECT_NE(load_error().find("config.json: malformed JSON"), std::string::npos) << load_error();
}

TEST_F(BadCheckpointTest, MissingFp8Scales) {
  const fs::path fp8 = fs::path(DSV32_SHARED_DIR) / "refdata" / "fp8";
  fs::copy_file(fp8 / "config.json", dir_ / "config.json", fs::copy_options::overwrite_existing);
  weights_ = read_file(fp8 / "model.safetensors");
  std::memcpy(&header_bytes_, weights_.data(), 8);
  header_ = nlohmann::json::parse(weights_.substr(8, header_bytes_));
  header_.erase("model.layers.0.self_attn.q_a_proj.weight_scale_inv");
  write_with_header(header_);
  EXPECT_NE(load_error().find("q_a_proj.weight is F8_E4M3 but model.layers.0.self_attn.q_a_proj.weight_scale_inv is missing"),
            std::string::npos)
      << load_error();
}

TEST_F(BadCheckpointTest, CliReportsOneLineAndExitsOne) {
  write_file(dir_ / "model.safetensors", weights_.substr(0, weights_.size() - 1000));
  const fs::path err = dir_ / "stderr.txt";
  const std::string command = std::string(DSV32_BINARY) + " logits --model " + dir_.string() + " --ids 1,2,3 --out " +
                              (dir_ / "out.safetensors").string() + " 2> " + err.string();
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const std::string message = read_file(err);
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 1) << message;
  EXPECT_EQ(message.rfind("dsv32: error: ", 0), 0u) << message;
  EXPECT_NE(message.find("model.safetensors: tensor "), std::string::npos) << message;
}

}  // namespace
}  // namespace dsv32
