// The model subcommands as users and outside checks run them: make-model, logits, bench.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "model/safetensors.h"

namespace dsv32 {
namespace {

namespace fs = std::filesystem;

int run(const std::string& arguments, const fs::path& stdout_file) {
  const std::string command = std::string(DSV32_BINARY) + " " + arguments + " > " + stdout_file.string() + " 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::path(DSV32_TEST_TMP) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(CliModel, LogitsOfTheSparseCaseMatchTheReference) {
  const fs::path dir = temp_dir("cli-logits");
  const fs::path source = fs::path(DSV32_SHARED_DIR) / "refdata" / "sparse";
  std::ifstream json_in(source / "expected.json");
  const auto expected_json = nlohmann::json::parse(json_in);
  std::string ids;
  for (const auto& id : expected_json["input_ids"]) ids += (ids.empty() ? "" : ",") + std::to_string(id.get<int>());
  const auto prefill = expected_json["prefill_len"].get<std::int64_t>();
  ASSERT_EQ(run("logits --model " + source.string() + " --ids " + ids + " --prefill " + std::to_string(prefill) + " --out " +
                    (dir / "logits.safetensors").string(),
                dir / "out.txt"),
            0)
      << read_file(dir / "out.txt");
  const SafetensorsFile ours(dir / "logits.safetensors");
  const SafetensorsFile expected(source / "expected.safetensors");
  const TensorInfo& logits = ours.tensors().at("logits");
  const auto S = static_cast<std::int64_t>(expected_json["input_ids"].size());
  ASSERT_EQ(logits.dtype, DType::F32);
  ASSERT_EQ(logits.shape.size(), 2u);
  ASSERT_EQ(logits.shape[0], S);
  const std::int64_t vocab = logits.shape[1];
  // Rows before the prefill's end against the full prefill; later rows against the decode run.
  const auto* got = reinterpret_cast<const float*>(logits.data);
  const auto* full = reinterpret_cast<const float*>(expected.tensors().at("f32.logits_prefill").data);
  const auto* incremental = reinterpret_cast<const float*>(expected.tensors().at("f32.logits_incremental").data);
  double worst = 0.0;
  for (std::int64_t t = 0; t < S; ++t) {
    const float* reference = t < prefill - 1 ? full + t * vocab : incremental + (t - prefill + 1) * vocab;
    for (std::int64_t v = 0; v < vocab; ++v) worst = std::max(worst, std::fabs(static_cast<double>(got[t * vocab + v]) - reference[v]));
  }
  EXPECT_LT(worst, 1e-3);
}

TEST(CliModel, LogitsRejectsBadArguments) {
  const fs::path dir = temp_dir("cli-logits-bad");
  const std::string model = (fs::path(DSV32_SHARED_DIR) / "refdata" / "dense-short").string();
  const std::string out = " --out " + (dir / "x.safetensors").string();
  EXPECT_EQ(run("logits --model " + model + " --ids 1,x,3" + out, dir / "a.txt"), 1);
  EXPECT_NE(read_file(dir / "a.txt").find("\"x\" is not a token id"), std::string::npos) << read_file(dir / "a.txt");
  EXPECT_EQ(run("logits --model " + model + " --ids 1,99999" + out, dir / "b.txt"), 1);
  EXPECT_NE(read_file(dir / "b.txt").find("token id 99999 is outside the vocabulary"), std::string::npos) << read_file(dir / "b.txt");
  EXPECT_EQ(run("logits --model " + model + " --ids 1,2 --prefill 3" + out, dir / "c.txt"), 1);
  EXPECT_NE(read_file(dir / "c.txt").find("--prefill 3"), std::string::npos) << read_file(dir / "c.txt");
  EXPECT_EQ(run("logits --model " + (dir / "nowhere").string() + " --ids 1" + out, dir / "d.txt"), 1);
  EXPECT_NE(read_file(dir / "d.txt").find("config.json: cannot open"), std::string::npos) << read_file(dir / "d.txt");
}

TEST(CliModel, MakeModelWritesTheRealLayoutWithTokenizer) {
  const fs::path dir = temp_dir("cli-make-model");
  ASSERT_EQ(run("make-model --preset tiny --dtype fp8 --seed 3 --out " + (dir / "m").string(), dir / "out.txt"), 0)
      << read_file(dir / "out.txt");
  for (const char* file : {"config.json", "model.safetensors", "tokenizer.json"}) EXPECT_TRUE(fs::exists(dir / "m" / file)) << file;
  const auto config = nlohmann::json::parse(read_file(dir / "m" / "config.json"));
  EXPECT_EQ(config["model_type"], "deepseek_v32");
  EXPECT_EQ(config["quantization_config"]["fmt"], "e4m3");
  EXPECT_EQ(config["vocab_size"], 129280);
  // bench on it: one JSON object with the keys outside checks read.
  ASSERT_EQ(run("bench --model " + (dir / "m").string() + " --prompt 24 --gen 4 --json", dir / "bench.txt"), 0)
      << read_file(dir / "bench.txt");
  const auto bench = nlohmann::json::parse(read_file(dir / "bench.txt"));
  for (const char* key : {"prefill_tok_s", "prefill_first_tok_s", "decode_tok_s", "bytes_per_token", "bandwidth_gb_s", "peak_rss_bytes"}) {
    ASSERT_TRUE(bench.contains(key)) << key;
    EXPECT_GT(bench[key].get<double>(), 0.0) << key;
  }
  // Which kernels ran: names of their tables, or "none" where the bf16 products do not run.
  for (const char* key : {"isa", "bf16_tile", "decode_gemv"}) {
    ASSERT_TRUE(bench.contains(key) && bench[key].is_string()) << key;
    EXPECT_FALSE(bench[key].get<std::string>().empty()) << key;
  }
  // The bandwidth is the higher of the probes around the decode (one where the peak RSS cannot
  // be reset around the first).
  const auto probes = bench["bandwidth_probes_gb_s"].get<std::vector<double>>();
  ASSERT_FALSE(probes.empty());
  EXPECT_LE(probes.size(), 2u);
  EXPECT_EQ(*std::max_element(probes.begin(), probes.end()), bench["bandwidth_gb_s"].get<double>());
  EXPECT_FALSE(bench.contains("decode_ms_per_step") || bench.contains("prefill_ms")) << "profiled without --profile";
  // --profile: milliseconds per step in each part; the parts fit inside the whole forward pass.
  ASSERT_EQ(run("bench --model " + (dir / "m").string() + " --prompt 24 --gen 4 --profile --json", dir / "profile.txt"), 0)
      << read_file(dir / "profile.txt");
  const auto profiled = nlohmann::json::parse(read_file(dir / "profile.txt"));
  ASSERT_TRUE(profiled.contains("prefill_ms"));
  EXPECT_GT(profiled["prefill_ms"]["forward"].get<double>(), 0.0);
  const auto step = profiled["decode_ms_per_step"];
  for (const char* key : {"forward", "attention", "indexer", "indexer_query", "indexer_top_k", "attention_core", "feed_forward", "head",
                          "attention_rest", "forward_rest", "outside_forward"}) {
    ASSERT_TRUE(step.contains(key)) << key;
    EXPECT_GE(step[key].get<double>(), 0.0) << key;
  }
  EXPECT_GT(step["attention"].get<double>(), 0.0);
  EXPECT_GT(step["feed_forward"].get<double>(), 0.0);
  EXPECT_GT(step["head"].get<double>(), 0.0);
  EXPECT_LE(step["indexer_query"].get<double>() + step["indexer_top_k"].get<double>(), step["indexer"].get<double>());
  EXPECT_LE(step["attention"].get<double>() + step["feed_forward"].get<double>() + step["head"].get<double>(),
            step["forward"].get<double>());

  // --rounds beside a baseline: each round's speeds, their ratio round by round, the medians.
  // Every round starts over from the 60 cached tokens: the cache holds a single block of 64
  // positions for them (60 + 3 decoded), which a second round going on from 63 would overflow.
  ASSERT_EQ(run("bench --model " + (dir / "m").string() +
                    " --prompt 24 --gen 3 --context 60 --rounds 4 --baseline-context 0 --baseline-concurrency 2 --json",
                dir / "rounds.txt"),
            0)
      << read_file(dir / "rounds.txt");
  const auto rounds = nlohmann::json::parse(read_file(dir / "rounds.txt"));
  EXPECT_EQ(rounds["rounds"], 4);
  const auto measured = rounds["decode_rounds_tok_s"].get<std::vector<double>>();
  const auto baseline = rounds["baseline"]["decode_rounds_tok_s"].get<std::vector<double>>();
  const auto ratios = rounds["decode_ratio_rounds"].get<std::vector<double>>();
  ASSERT_EQ(measured.size(), 4u);
  ASSERT_EQ(baseline.size(), 4u);
  ASSERT_EQ(ratios.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_GT(measured[i], 0.0);
    EXPECT_GT(baseline[i], 0.0);
    EXPECT_DOUBLE_EQ(ratios[i], measured[i] / baseline[i]) << i;
  }
  const auto middle = [](std::vector<double> values) {  // of an even count: the mean of the middle two
    std::sort(values.begin(), values.end());
    return (values[1] + values[2]) / 2.0;
  };
  EXPECT_DOUBLE_EQ(rounds["decode_tok_s"].get<double>(), middle(measured));
  EXPECT_DOUBLE_EQ(rounds["baseline"]["decode_tok_s"].get<double>(), middle(baseline));
  EXPECT_DOUBLE_EQ(rounds["decode_ratio_to_baseline"].get<double>(), middle(ratios));
  EXPECT_EQ(rounds["context_tokens"], 60);
  EXPECT_EQ(rounds["baseline"]["context_tokens"], 0);
  EXPECT_EQ(rounds["baseline"]["concurrency"], 2);
  EXPECT_GT(rounds["baseline"]["bytes_per_token"].get<double>(), 0.0);
  // Without a baseline: no ratio; a round count below 1 is refused.
  EXPECT_FALSE(bench.contains("baseline") || bench.contains("decode_ratio_to_baseline"));
  EXPECT_EQ(bench["decode_rounds_tok_s"].size(), 1u);
  EXPECT_NE(run("bench --model " + (dir / "m").string() + " --rounds 0 --json", dir / "zero.txt"), 0);
  EXPECT_NE(read_file(dir / "zero.txt").find("--rounds"), std::string::npos) << read_file(dir / "zero.txt");
  // A baseline is compared by decode speed, so it needs decoded tokens.
  EXPECT_NE(run("bench --model " + (dir / "m").string() + " --prompt 8 --gen 0 --baseline-context 0 --json", dir / "nogen.txt"), 0);
  EXPECT_NE(read_file(dir / "nogen.txt").find("--gen must be at least 1"), std::string::npos) << read_file(dir / "nogen.txt");
}

}  // namespace
}  // namespace dsv32

namespace dsv32 {
namespace {

// quantize: an FP8 checkpoint (with its tokenizer) to I4, which then runs (run and bench);
// bad arguments are refused with a message.
TEST(CliModel, QuantizeWritesAnI4CheckpointThatRuns) {
  const fs::path dir = temp_dir("cli-quantize");
  ASSERT_EQ(run("make-model --preset tiny --dtype fp8 --seed 4 --out " + (dir / "fp8").string(), dir / "make.txt"), 0) << read_file(dir / "make.txt");
  ASSERT_EQ(run("quantize --model " + (dir / "fp8").string() + " --out " + (dir / "i4").string(), dir / "quantize.txt"), 0)
      << read_file(dir / "quantize.txt");
  EXPECT_NE(read_file(dir / "quantize.txt").find("quantised to I4"), std::string::npos) << read_file(dir / "quantize.txt");
  for (const char* file : {"config.json", "model.safetensors", "tokenizer.json"}) EXPECT_TRUE(fs::exists(dir / "i4" / file)) << file;
  EXPECT_LT(fs::file_size(dir / "i4" / "model.safetensors"), fs::file_size(dir / "fp8" / "model.safetensors"));
  const auto config = nlohmann::json::parse(read_file(dir / "i4" / "config.json"));
  EXPECT_EQ(config["quantization_config"]["quant_method"], "dsv32_int4");
  ASSERT_EQ(run("run --model " + (dir / "i4").string() + " -p hello --max-tokens 4", dir / "run.txt"), 0) << read_file(dir / "run.txt");
  ASSERT_EQ(run("bench --model " + (dir / "i4").string() + " --prompt 24 --gen 4 --json", dir / "bench.txt"), 0) << read_file(dir / "bench.txt");
  EXPECT_GT(nlohmann::json::parse(read_file(dir / "bench.txt"))["decode_tok_s"].get<double>(), 0.0);

  EXPECT_NE(run("quantize --model " + (dir / "fp8").string() + " --out " + (dir / "i4").string(), dir / "again.txt"), 0);
  EXPECT_NE(read_file(dir / "again.txt").find("exists already"), std::string::npos) << read_file(dir / "again.txt");
  EXPECT_NE(run("quantize --model " + (dir / "fp8").string() + " --out " + (dir / "i8").string() + " --bits 8", dir / "bits.txt"), 0);
  EXPECT_NE(read_file(dir / "bits.txt").find("--bits"), std::string::npos) << read_file(dir / "bits.txt");
  EXPECT_FALSE(fs::exists(dir / "i8"));
}

// --precision reaches the engine: both modes answer a prompt on a fresh tiny model, an unknown
// mode is refused by name.
TEST(CliModel, RunAnswersInBothPrecisions) {
  const fs::path dir = temp_dir("cli-run-precision");
  ASSERT_EQ(run("make-model --preset tiny --dtype fp8 --seed 4 --out " + (dir / "m").string(), dir / "make.txt"), 0)
      << read_file(dir / "make.txt");
  for (const std::string precision : {"f32", "bf16"}) {
    const fs::path out = dir / (precision + ".txt");
    ASSERT_EQ(run("run --model " + (dir / "m").string() + " --precision " + precision + " --temperature 0 --max-tokens 6 --threads 2 -p hello",
                  out),
              0)
        << read_file(out);
    EXPECT_FALSE(read_file(out).empty()) << precision;
  }
  EXPECT_NE(run("run --model " + (dir / "m").string() + " --precision f16 -p hello", dir / "bad.txt"), 0);
  EXPECT_NE(read_file(dir / "bad.txt").find("--precision"), std::string::npos) << read_file(dir / "bad.txt");
}

}  // namespace
}  // namespace dsv32
