// Google Benchmark of the engine's sampler on a vocabulary-sized row of logits (DeepSeek-V3.2's
// 129280), as every decoded token of every sequence runs it:
//   ./build/benchmarks/dsv32_sampler_bench
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "engine/sampler.h"

namespace dsv32::engine {
namespace {

constexpr std::int64_t kVocab = 129280;

void sample(benchmark::State& state, SamplingParams params) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> logits(kVocab);
  for (float& logit : logits) logit = normal(rng);
  const std::vector<std::int32_t> prompt = {1, 2, 3};
  params.seed = 7;
  Sampler sampler(params, prompt, kVocab, 0);
  SamplerScratch scratch;
  for (auto _ : state) benchmark::DoNotOptimize(sampler.sample(logits, scratch).token);
  state.counters["tokens/s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  benchmark::RegisterBenchmark("Sample/greedy", sample, SamplingParams{.temperature = 0.0f});
  benchmark::RegisterBenchmark("Sample/temperature", sample, SamplingParams{.temperature = 0.7f});
  benchmark::RegisterBenchmark("Sample/top_p", sample, SamplingParams{.temperature = 0.7f, .top_p = 0.95f});
  benchmark::RegisterBenchmark("Sample/top_k", sample, SamplingParams{.temperature = 0.7f, .top_k = 40});
}

}  // namespace
}  // namespace dsv32::engine

int main(int argc, char** argv) {
  dsv32::engine::register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
