// dsv32 bench: prefill and decode speed of one sequence, and peak memory.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "model/checkpoint.h"
#include "cli/default_model.h"
#include "model/model.h"
#include "util/error.h"

namespace dsv32::cli {
namespace {

std::size_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::size_t>(usage.ru_maxrss) * 1024;
}

std::size_t current_rss_bytes() {
  std::FILE* file = std::fopen("/proc/self/statm", "r");
  if (file == nullptr) return 0;
  unsigned long pages = 0, resident = 0;
  const int read = std::fscanf(file, "%lu %lu", &pages, &resident);
  std::fclose(file);
  return read == 2 ? resident * 4096ul : 0;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::int32_t argmax(std::span<const float> row) {
  return static_cast<std::int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Measure prefill and decode speed");
  struct Options {
    std::string model;
    std::int64_t prompt = 512, gen = 128;
    unsigned threads = 0;
    bool json = false;
  };
  auto options = std::make_shared<Options>();
  cmd->add_option("--model", options->model, "model directory (default: the tiny model, made on first use)");
  cmd->add_option("--prompt", options->prompt, "prompt tokens to prefill")->check(CLI::PositiveNumber);
  cmd->add_option("--gen", options->gen, "tokens to decode")->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", options->threads, "threads (0: all cores)");
  cmd->add_flag("--json", options->json, "print one JSON object");
  cmd->callback([options] {
    ComputeContext ctx(options->threads);
    const std::string dir = options->model.empty() ? ensure_default_model(ctx.pool()).string() : options->model;
    const auto load_start = std::chrono::steady_clock::now();
    const Checkpoint checkpoint(dir);
    checkpoint.prefault(true);
    Model model(checkpoint, ctx);
    const double load_s = seconds_since(load_start);
    const std::size_t rss_after_load = current_rss_bytes();

    const ModelConfig& config = model.config();
    const std::int64_t total = options->prompt + options->gen;
    if (total > config.max_position_embeddings) fail("--prompt + --gen exceed the model's {} positions", config.max_position_embeddings);
    const KvLayout layout = model.kv_layout();
    KvPool pool(layout, (total + layout.block_tokens - 1) / layout.block_tokens);
    SequenceCache cache(pool);
    std::vector<std::int32_t> prompt(static_cast<std::size_t>(options->prompt));
    for (std::size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<std::int32_t>(2 + (i * 7919) % static_cast<std::size_t>(config.vocab_size - 2));

    auto start = std::chrono::steady_clock::now();
    const SequenceStep prefill{.tokens = prompt, .cache = &cache};
    std::int32_t next = argmax(model.forward(std::span(&prefill, 1)));
    const double prefill_s = seconds_since(start);

    start = std::chrono::steady_clock::now();
    for (std::int64_t i = 0; i < options->gen; ++i) {
      const SequenceStep step{.tokens = std::span(&next, 1), .cache = &cache};
      next = argmax(model.forward(std::span(&step, 1)));
    }
    const double decode_s = seconds_since(start);

    nlohmann::json result = {
        {"model", dir},
        {"threads", ctx.threads()},
        {"isa", ctx.ops().name},
        {"prompt_tokens", options->prompt},
        {"gen_tokens", options->gen},
        {"load_s", load_s},
        {"prefill_tok_s", static_cast<double>(options->prompt) / prefill_s},
        {"decode_tok_s", options->gen > 0 ? static_cast<double>(options->gen) / decode_s : 0.0},
        {"model_file_bytes", checkpoint.total_bytes()},
        {"rss_after_load_bytes", rss_after_load},
        {"peak_rss_bytes", peak_rss_bytes()},
        {"kv_cache_bytes_per_token", layout.bytes_per_token()},
    };
    if (options->json) {
      std::printf("%s\n", result.dump().c_str());
    } else {
      std::printf("%s\n", result.dump(2).c_str());
    }
  });
}

}  // namespace dsv32::cli
