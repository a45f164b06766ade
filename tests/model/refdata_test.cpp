// Golden tests against ../shared/refdata: logits of DeepSeek's official reference (f32 run)
// for a full prefill and for prefill + token-by-token decode, with the indexer's and the
// router's selections compared as sets (README §3).
#include <gtest/gtest.h>

#include "refdata_cases.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "model/checkpoint.h"
#include "model/model.h"
#include "model/safetensors.h"

namespace dsv32 {
namespace {

const std::filesystem::path kRefdata = std::filesystem::path(DSV32_SHARED_DIR) / "refdata";

struct Expected {
  SafetensorsFile file;
  nlohmann::json json;

  explicit Expected(const std::filesystem::path& dir) : file(dir / "expected.safetensors") {
    std::ifstream in(dir / "expected.json");
    json = nlohmann::json::parse(in);
  }
  const TensorInfo& tensor(const std::string& name) const { return file.tensors().at(name); }
  const float* f32(const std::string& name) const { return reinterpret_cast<const float*>(tensor(name).data); }
  const std::int32_t* i32(const std::string& name) const { return reinterpret_cast<const std::int32_t*>(tensor(name).data); }
};

std::set<std::int32_t> as_set(const std::int32_t* first, std::int64_t count) {
  std::set<std::int32_t> values;
  for (std::int64_t i = 0; i < count; ++i) {
    if (first[i] >= 0) values.insert(first[i]);
  }
  return values;
}

// Reference top-k rows may also name masked future keys while fewer causal keys exist.
std::set<std::int32_t> causal_set(const std::int32_t* first, std::int64_t count, std::int64_t position) {
  std::set<std::int32_t> values = as_set(first, count);
  for (auto it = values.begin(); it != values.end();) it = *it > position ? values.erase(it) : std::next(it);
  return values;
}

double max_abs_diff(std::span<const float> ours, const float* reference) {
  double worst = 0.0;
  for (std::size_t i = 0; i < ours.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(ours[i]) - reference[i]));
  return worst;
}

class RefdataTest : public ::testing::TestWithParam<std::string> {};

// A case's checkpoint and golden data, with a model and a cache for all its tokens.
struct LoadedCase {
  Expected expected;
  ComputeContext ctx;
  Checkpoint checkpoint;
  Model model;
  std::vector<std::int32_t> ids;
  KvPool pool;

  explicit LoadedCase(const std::filesystem::path& dir, const VectorOps& ops = best_vector_ops())
      : expected(dir),
        ctx(2, ops),
        checkpoint(dir),
        model(checkpoint, ctx),
        ids(expected.json["input_ids"].get<std::vector<std::int32_t>>()),
        pool(model.kv_layout(16), (static_cast<std::int64_t>(ids.size()) + 15) / 16) {}
};

TEST_P(RefdataTest, FullPrefillMatchesReference) {
  LoadedCase run(kRefdata / GetParam());
  const Expected& expected = run.expected;
  Model& model = run.model;
  const ModelConfig& c = model.config();
  const auto& ids = run.ids;
  const auto S = static_cast<std::int64_t>(ids.size());
  SequenceCache cache(run.pool);
  ForwardTrace trace;
  const SequenceStep step{.tokens = ids, .cache = &cache, .all_logits = true};
  const auto logits = model.forward(std::span(&step, 1), &trace);

  ASSERT_EQ(static_cast<std::int64_t>(logits.size()), S * c.vocab_size);
  EXPECT_LT(max_abs_diff(logits, expected.f32("f32.logits_prefill")), 1e-3);

  const std::int64_t K = std::min(c.index_topk, S);
  const std::int32_t* prefill_topk = expected.i32("f32.indexer.prefill_topk");
  for (std::int64_t layer = 0; layer < c.num_hidden_layers; ++layer) {
    for (std::int64_t t = 0; t < S; ++t) {
      const auto& ours = trace.indexer_selection[static_cast<std::size_t>(layer)][static_cast<std::size_t>(t)];
      EXPECT_EQ(std::set<std::int32_t>(ours.begin(), ours.end()), causal_set(prefill_topk + (layer * S + t) * K, K, t))
          << "indexer layer " << layer << " query " << t;
    }
  }
  const std::int64_t k = c.num_experts_per_tok;
  const std::int32_t* experts = expected.i32("f32.moe.prefill_experts");
  const float* weights = expected.f32("f32.moe.prefill_weights");
  for (std::int64_t layer = c.first_k_dense_replace, moe = 0; layer < c.num_hidden_layers; ++layer, ++moe) {
    for (std::int64_t t = 0; t < S; ++t) {
      const auto& ours = trace.moe_experts[static_cast<std::size_t>(layer)][static_cast<std::size_t>(t)];
      const std::int32_t* reference = experts + (moe * S + t) * k;
      ASSERT_EQ(std::set<std::int32_t>(ours.begin(), ours.end()), as_set(reference, k)) << "moe layer " << layer << " token " << t;
      const auto& our_weights = trace.moe_weights[static_cast<std::size_t>(layer)][static_cast<std::size_t>(t)];
      for (std::int64_t j = 0; j < k; ++j) {
        const auto at = std::find(ours.begin(), ours.end(), reference[j]) - ours.begin();
        EXPECT_NEAR(our_weights[static_cast<std::size_t>(at)], weights[(moe * S + t) * k + j], 1e-5);
      }
    }
  }
  // Residual stream after every layer, against the reference's hidden states.
  const float* hidden = expected.f32("f32.hidden_states");
  for (std::int64_t layer = 0; layer <= c.num_hidden_layers; ++layer) {
    const float* reference = hidden + layer * S * c.hidden_size;
    double ref_max = 0.0;
    for (std::int64_t i = 0; i < S * c.hidden_size; ++i) ref_max = std::max(ref_max, std::fabs(static_cast<double>(reference[i])));
    EXPECT_LT(max_abs_diff(trace.hidden_states[static_cast<std::size_t>(layer)], reference), 1e-3 * ref_max) << "hidden state " << layer;
  }
}

TEST_P(RefdataTest, PrefillThenDecodeMatchesReference) {
  LoadedCase run(kRefdata / GetParam());
  const Expected& expected = run.expected;
  Model& model = run.model;
  const ModelConfig& c = model.config();
  const auto& ids = run.ids;
  const auto S = static_cast<std::int64_t>(ids.size());
  const std::int64_t P = expected.json["prefill_len"].get<std::int64_t>();
  SequenceCache cache(run.pool);
  const float* reference = expected.f32("f32.logits_incremental");
  const std::int32_t* decode_topk = expected.i32("f32.indexer.decode_topk");
  const std::int64_t K = std::min(c.index_topk, S);

  const SequenceStep prefill{.tokens = std::span(ids).first(static_cast<std::size_t>(P)), .cache = &cache};
  EXPECT_LT(max_abs_diff(model.forward(std::span(&prefill, 1)), reference), 1e-3) << "prefill row";
  for (std::int64_t pos = P; pos < S; ++pos) {
    ForwardTrace trace;
    const SequenceStep step{.tokens = std::span(ids).subspan(static_cast<std::size_t>(pos), 1), .cache = &cache};
    const auto logits = model.forward(std::span(&step, 1), &trace);
    EXPECT_LT(max_abs_diff(logits, reference + (pos - P + 1) * c.vocab_size), 1e-3) << "decode position " << pos;
    for (std::int64_t layer = 0; layer < c.num_hidden_layers; ++layer) {
      const auto& ours = trace.indexer_selection[static_cast<std::size_t>(layer)][0];
      EXPECT_EQ(std::set<std::int32_t>(ours.begin(), ours.end()),
                causal_set(decode_topk + (layer * (S - P) + (pos - P)) * K, K, pos))
          << "indexer layer " << layer << " decode position " << pos;
    }
  }
}

TEST_P(RefdataTest, RopeTablesMatchReference) {
  const auto dir = kRefdata / GetParam();
  const Expected expected(dir);
  const ModelConfig config = ModelConfig::load(dir);
  const Rope rope(config);
  const auto S = expected.json["seq_len"].get<std::int64_t>();
  const std::int64_t pairs = config.qk_rope_head_dim / 2;
  std::vector<float> cos(static_cast<std::size_t>(pairs)), sin(static_cast<std::size_t>(pairs));
  for (std::int64_t pos = 0; pos < S; ++pos) {
    rope.angles(pos, cos.data(), sin.data());
    for (std::int64_t i = 0; i < pairs; ++i) {
      EXPECT_NEAR(cos[static_cast<std::size_t>(i)], expected.f32("rope.cos")[pos * pairs + i], 2e-6) << pos << "," << i;
      EXPECT_NEAR(sin[static_cast<std::size_t>(i)], expected.f32("rope.sin")[pos * pairs + i], 2e-6) << pos << "," << i;
    }
  }
}

// The float32 forward pass sums in one order on every vector table (kernels/vector_ops.h), so
// a prefill and the decoded tokens after it give the scalar table's bits on all of them: a
// rounding near a tie (the fp8 case's latent holds one within a few ulps) goes the same way on
// every CPU.
TEST_P(RefdataTest, FloatLogitsAreTheSameBitsOnEveryVectorTable) {
  const auto run_all = [&](const VectorOps& ops) {
    LoadedCase run(kRefdata / GetParam(), ops);
    const auto S = static_cast<std::int64_t>(run.ids.size());
    const std::int64_t P = run.expected.json["prefill_len"].get<std::int64_t>();
    SequenceCache cache(run.pool);
    const SequenceStep prefill{.tokens = std::span(run.ids).first(static_cast<std::size_t>(P)), .cache = &cache, .all_logits = true};
    const auto prefilled = run.model.forward(std::span(&prefill, 1));
    std::vector<float> logits(prefilled.begin(), prefilled.end());
    for (std::int64_t pos = P; pos < S; ++pos) {
      const SequenceStep step{.tokens = std::span(run.ids).subspan(static_cast<std::size_t>(pos), 1), .cache = &cache};
      const auto decoded = run.model.forward(std::span(&step, 1));
      logits.insert(logits.end(), decoded.begin(), decoded.end());
    }
    return logits;
  };
  const std::vector<float> reference = run_all(scalar_vector_ops());
  for (const VectorOps* ops : available_vector_ops()) {
    if (ops == &scalar_vector_ops()) continue;
    const std::vector<float> ours = run_all(*ops);
    ASSERT_EQ(ours.size(), reference.size());
    std::size_t differing = 0;
    for (std::size_t i = 0; i < ours.size(); ++i) differing += std::bit_cast<std::uint32_t>(ours[i]) != std::bit_cast<std::uint32_t>(reference[i]);
    EXPECT_EQ(differing, 0u) << ops->name << ": logits that differ from the scalar table's, of " << ours.size();
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, RefdataTest, test::refdata_cases(), test::refdata_case_name);

}  // namespace
}  // namespace dsv32
