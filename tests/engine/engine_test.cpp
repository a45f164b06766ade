// The engine on the project's tiny model: batching never changes a sequence's tokens, seeded
// sampling is reproducible, the prefix cache reuses work without changing results, stop
// strings, cancellation, preemption, and memory that returns to where it started.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <future>
#include <mutex>

#include "engine/engine.h"
#include "model/make_model.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_files.h"
#include "util/publish_directory.h"

namespace dsv32::engine {
namespace {

namespace fs = std::filesystem;

fs::path tiny_model() {
  // ctest runs test cases as parallel processes.
  return publish_directory(fs::path(DSV32_TEST_TMP) / "engine-tiny", [](const fs::path& staging) {
    ThreadPool pool(2);
    make_model(MakeModelOptions{.preset = "tiny", .fp8 = true, .seed = 11, .out = staging}, pool);
    install_tokenizer_into(staging);
  });
}

struct Result {
  std::vector<std::vector<std::int32_t>> tokens;
  std::vector<std::string> text;
  std::vector<std::vector<float>> logprobs;
  std::vector<FinishReason> finish;
  std::vector<std::string> matched_stop;
  RequestUsage usage;
};

// Submits and returns a future of the whole result.
std::future<Result> start(Engine& engine, std::vector<std::int32_t> prompt, SamplingParams params) {
  auto result = std::make_shared<Result>();
  auto promise = std::make_shared<std::promise<Result>>();
  const auto n = static_cast<std::size_t>(params.n);
  result->tokens.resize(n);
  result->text.resize(n);
  result->logprobs.resize(n);
  result->finish.resize(n);
  result->matched_stop.resize(n);
  GenerationRequest request{.prompt = std::move(prompt), .sampling = params};
  request.on_event = [result](const TokenEvent& event) {
    const auto c = static_cast<std::size_t>(event.choice);
    if (event.token) result->tokens[c].push_back(*event.token);
    if (event.logprob) result->logprobs[c].push_back(*event.logprob);
    result->text[c] += event.text;
    if (event.finish) {
      result->finish[c] = *event.finish;
      result->matched_stop[c] = event.matched_stop;
    }
  };
  request.on_done = [result, promise](const RequestUsage& usage) {
    result->usage = usage;
    promise->set_value(*result);
  };
  const SubmitResult submitted = engine.submit(std::move(request));
  EXPECT_EQ(submitted.status, SubmitStatus::Accepted) << submitted.message;
  return promise->get_future();
}

std::vector<std::int32_t> prompt_of(std::size_t length, std::uint32_t salt) {
  std::vector<std::int32_t> ids(length);
  for (std::size_t i = 0; i < length; ++i) ids[i] = static_cast<std::int32_t>(100 + (i * 7919 + salt * 104729) % 120000);
  return ids;
}

EngineOptions options(std::int64_t kv_tokens = 16384) {
  return EngineOptions{.model_dir = tiny_model(), .threads = 2, .kv_cache_tokens = kv_tokens, .kv_block_tokens = 16,
                       .max_batch_tokens = 256, .max_running = 64};
}

const SamplingParams kGreedy{.temperature = 0.0f, .max_tokens = 12, .ignore_eos = true, .logprobs = 0};

TEST(Engine, BatchedGreedyEqualsEachAlone) {
  Engine engine(options());
  std::vector<std::vector<std::int32_t>> prompts;
  for (std::uint32_t i = 0; i < 6; ++i) prompts.push_back(prompt_of(5 + 17 * i, i));  // 5..90 tokens: chunked prefills too
  std::vector<Result> alone;
  for (const auto& prompt : prompts) alone.push_back(start(engine, prompt, kGreedy).get());
  std::vector<std::future<Result>> together;
  for (const auto& prompt : prompts) together.push_back(start(engine, prompt, kGreedy));
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    const Result batched = together[i].get();
    EXPECT_EQ(batched.tokens, alone[i].tokens) << "prompt " << i;
    EXPECT_EQ(batched.logprobs, alone[i].logprobs) << "prompt " << i;
    EXPECT_EQ(batched.finish[0], FinishReason::Length);
    EXPECT_EQ(batched.tokens[0].size(), 12u);
  }
}

TEST(Engine, SeededSamplingIsReproducibleAcrossRunsAndBatches) {
  const SamplingParams sampled{.temperature = 0.9f, .top_p = 0.95f, .seed = 1234, .max_tokens = 10, .ignore_eos = true, .n = 2};
  const auto prompt = prompt_of(20, 9);
  std::vector<std::vector<std::int32_t>> first_run;
  {
    Engine engine(options());
    first_run = start(engine, prompt, sampled).get().tokens;
  }
  Engine engine(options());
  std::vector<std::future<Result>> noise;
  for (std::uint32_t i = 0; i < 4; ++i) noise.push_back(start(engine, prompt_of(30, 50 + i), SamplingParams{.max_tokens = 8, .ignore_eos = true}));
  const Result busy = start(engine, prompt, sampled).get();
  EXPECT_EQ(busy.tokens, first_run);
  EXPECT_NE(busy.tokens[0], busy.tokens[1]) << "the two choices should differ";
  for (auto& f : noise) f.get();
}

TEST(Engine, PrefixCacheHitGivesTheColdResultAndSkipsThePrefill) {
  const auto shared = prompt_of(50, 21);
  auto follow_up = shared;
  for (const auto token : prompt_of(9, 22)) follow_up.push_back(token);
  Result cold;
  {
    Engine engine(options());
    cold = start(engine, follow_up, kGreedy).get();
    EXPECT_EQ(cold.usage.cached_prompt_tokens, 0);
  }
  Engine engine(options());
  const Result first = start(engine, shared, kGreedy).get();
  EXPECT_EQ(first.usage.cached_prompt_tokens, 0);
  const Result warm = start(engine, follow_up, kGreedy).get();
  EXPECT_EQ(warm.usage.cached_prompt_tokens, 48);  // three full blocks of 16 of the shared 50
  EXPECT_EQ(warm.tokens, cold.tokens);
  EXPECT_EQ(warm.logprobs, cold.logprobs);
  EXPECT_EQ(engine.metrics().cached_prompt_tokens_total, 48);
}

TEST(Engine, StopStringSplitAcrossTokensEndsTheAnswer) {
  Engine engine(options());
  const auto prompt = prompt_of(12, 31);
  const Result free_run = start(engine, prompt, kGreedy).get();
  // A stop string made of the end of token 3's text and the start of token 4's.
  const Tokenizer& tokenizer = engine.tokenizer();
  std::string before;
  for (std::size_t i = 0; i < 3; ++i) before += tokenizer.decode(std::span(&free_run.tokens[0][i], 1));
  const std::string third = tokenizer.decode(std::span(&free_run.tokens[0][2], 1));
  const std::string fourth = tokenizer.decode(std::span(&free_run.tokens[0][3], 1));
  ASSERT_FALSE(third.empty());
  ASSERT_FALSE(fourth.empty());
  const std::string stop = third.substr(third.size() - 1) + fourth.substr(0, 1);
  SamplingParams params = kGreedy;
  params.stop = {stop};
  const Result stopped = start(engine, prompt, params).get();
  EXPECT_EQ(stopped.finish[0], FinishReason::Stop);
  EXPECT_EQ(stopped.matched_stop[0], stop);
  const std::size_t at = free_run.text[0].find(stop);
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(stopped.text[0], free_run.text[0].substr(0, at));
  EXPECT_EQ(before.substr(0, at), stopped.text[0].substr(0, std::min(at, before.size())));
}

TEST(Engine, CancelFreesEverythingAtOnce) {
  Engine engine(options());
  auto future = start(engine, prompt_of(40, 41), SamplingParams{.max_tokens = -1, .ignore_eos = true});
  while (engine.metrics().generation_tokens_total < 3) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  engine.cancel(1);
  const Result result = future.get();
  EXPECT_EQ(result.finish[0], FinishReason::Cancelled);
  const EngineMetrics metrics = engine.metrics();
  EXPECT_EQ(metrics.requests_running, 0);
  // Only the prefix cache may still hold the prompt's full blocks.
  EXPECT_LE(metrics.kv_blocks_used, (40 + static_cast<std::int64_t>(result.tokens[0].size())) / 16);
}

TEST(Engine, PreemptionUnderATightBudgetKeepsResultsExact) {
  std::vector<std::vector<std::int32_t>> prompts;
  for (std::uint32_t i = 0; i < 5; ++i) prompts.push_back(prompt_of(40, 60 + i));
  const SamplingParams long_greedy{.temperature = 0.0f, .max_tokens = 40, .ignore_eos = true};
  std::vector<Result> alone;
  {
    Engine engine(options());
    for (const auto& prompt : prompts) alone.push_back(start(engine, prompt, long_greedy).get());
  }
  Engine tight(options(256));  // 16 blocks: five sequences of 80 tokens cannot all fit
  std::vector<std::future<Result>> together;
  for (const auto& prompt : prompts) together.push_back(start(tight, prompt, long_greedy));
  for (std::size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(together[i].get().tokens, alone[i].tokens) << "prompt " << i;
}

TEST(Engine, RefusesWhatCanNeverFit) {
  Engine engine(options(256));
  const auto too_long = start(engine, prompt_of(10, 1), kGreedy);  // fine
  too_long.wait();
  GenerationRequest request{.prompt = prompt_of(300, 2), .sampling = kGreedy};
  EXPECT_EQ(engine.submit(request).status, SubmitStatus::PromptTooLong);
  request.prompt = prompt_of(100, 3);
  request.sampling.max_tokens = 200;
  EXPECT_EQ(engine.submit(request).status, SubmitStatus::PromptTooLong);
  request.sampling.max_tokens = 5;
  request.prompt.push_back(999999);
  EXPECT_EQ(engine.submit(request).status, SubmitStatus::Invalid);
  request.prompt.pop_back();
  request.sampling.top_p = 0.0f;
  EXPECT_EQ(engine.submit(request).status, SubmitStatus::Invalid);
}

// Resident memory that is not file-backed: the mapped weights' pages come in as new token ids
// are read and are the page cache's, not a leak.
std::size_t anonymous_resident_bytes() {
  std::FILE* file = std::fopen("/proc/self/statm", "r");
  unsigned long pages = 0, resident = 0, shared = 0;
  EXPECT_EQ(std::fscanf(file, "%lu %lu %lu", &pages, &resident, &shared), 3);
  std::fclose(file);
  return (resident - shared) * 4096ul;
}

TEST(Engine, AThousandShortRequestsLeaveCacheAndMemoryWhereTheyStarted) {
  Engine engine(options());
  const SamplingParams short_answer{.temperature = 0.7f, .max_tokens = 2, .ignore_eos = true};
  auto run_batch = [&](std::uint32_t first, std::uint32_t count) {
    std::vector<std::future<Result>> futures;
    for (std::uint32_t i = first; i < first + count; ++i) futures.push_back(start(engine, prompt_of(6 + i % 7, i), short_answer));
    for (auto& f : futures) f.get();
  };
  run_batch(0, 50);  // warm-up: buffers reach their steady size
  const std::size_t rss_before = anonymous_resident_bytes();
  for (std::uint32_t round = 0; round < 20; ++round) run_batch(1000 + round * 50, 50);
  const EngineMetrics metrics = engine.metrics();
  EXPECT_EQ(metrics.requests_total, 1050);
  EXPECT_EQ(metrics.requests_running + metrics.requests_waiting, 0);
  EXPECT_EQ(metrics.kv_blocks_used, 0);  // prompts under one block: nothing left in any cache
  EXPECT_LT(anonymous_resident_bytes(), rss_before + (8u << 20));
}

}  // namespace
}  // namespace dsv32::engine
