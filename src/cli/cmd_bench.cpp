// dsv32 bench: prefill speed, decode speed of C concurrent sequences with N tokens already in
// their context, the bytes a decoded token must read, the machine's memory bandwidth (measured
// here, in the same process) and the resulting fraction of the bandwidth limit; peak memory.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/compute_options.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemv_bf16.h"
#include "kernels/index_scores_int8.h"
#include "engine/sampler.h"
#include "kernels/linear.h"
#include "kernels/stream_read.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "util/error.h"

namespace dsv32::cli {
namespace {

using engine::argmax;

std::size_t peak_rss_bytes() {
  if (std::FILE* file = std::fopen("/proc/self/status", "r")) {  // VmHWM: resettable, see below
    char line[256];
    unsigned long kib = 0;
    while (std::fgets(line, sizeof line, file) != nullptr) {
      if (std::sscanf(line, "VmHWM: %lu kB", &kib) == 1) break;
    }
    std::fclose(file);
    if (kib > 0) return static_cast<std::size_t>(kib) * 1024;
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::size_t>(usage.ru_maxrss) * 1024;
}

// Sets the peak RSS back to the current RSS (Linux clear_refs "5"); false where unsupported.
bool reset_peak_rss() {
  std::FILE* file = std::fopen("/proc/self/clear_refs", "w");
  if (file == nullptr) return false;
  const bool written = std::fputs("5", file) >= 0;
  return std::fclose(file) == 0 && written;
}

std::size_t current_rss_bytes() {
  std::FILE* file = std::fopen("/proc/self/statm", "r");
  if (file == nullptr) return 0;
  unsigned long pages = 0, resident = 0;
  const int read = std::fscanf(file, "%lu %lu", &pages, &resident);
  std::fclose(file);
  return read == 2 ? resident * 4096ul : 0;
}

// Milliseconds per step (of `steps`) in each part of the forward pass; the parts of attention
// and of the whole step that no phase names are reported as what is left.
nlohmann::json step_profile(const PhaseProfile& profile, double decode_s, std::int64_t steps) {
  const auto ms = [&](double seconds) { return seconds * 1e3 / static_cast<double>(steps); };
  nlohmann::json out;
  for (std::size_t i = 0; i < kPhaseNames.size(); ++i) out[std::string(kPhaseNames[i])] = ms(profile.seconds[i]);
  out["attention_rest"] = ms(profile[Phase::Attention] - profile[Phase::Indexer] - profile[Phase::AttentionCore]);
  out["forward_rest"] = ms(profile[Phase::Forward] - profile[Phase::Attention] - profile[Phase::FeedForward] - profile[Phase::Head]);
  out["outside_forward"] = ms(decode_s - profile[Phase::Forward]);  // choosing the next tokens
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The next input of sequence s at step i. Random weights send every sequence to the same argmax
// token, and so every sequence to the same experts, which real concurrent requests do not do;
// a per-sequence, per-step offset keeps the batch's tokens (and its routing) apart.
std::int32_t distinct_input(std::int32_t best, std::int64_t s, std::int64_t i, std::int64_t vocab) {
  return static_cast<std::int32_t>((best + 7919 * s + 104729 * i) % vocab);
}

// STREAM-like read bandwidth with the engine's own threads: each sums its part of a buffer far
// larger than the caches (decode only reads weights, so reading is the figure that bounds it),
// reading as the kernels read (kernels/stream_read.h).
double read_bandwidth_gb_s(ThreadPool& pool) {
  constexpr std::size_t kBytes = std::size_t{1} << 29;
  const std::size_t words = kBytes / sizeof(std::uint64_t);
  std::vector<std::uint64_t> buffer(words, 1);
  std::vector<std::uint64_t> sums(pool.size() * 8);
  double best_s = 1e30;
  for (int rep = 0; rep < 4; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    pool.parallel_for(words, [&](std::size_t begin, std::size_t end, unsigned thread) {
      sums[thread * 8] += stream_read_sum(buffer.data() + begin, end - begin);
    }, 4096);
    best_s = std::min(best_s, seconds_since(start));
  }
  std::uint64_t total = 0;
  for (const std::uint64_t s : sums) total += s;
  if (total == 0) std::printf(" ");  // keeps the reads observable
  return static_cast<double>(kBytes) / best_s / 1e9;
}

std::size_t mlp_bytes(const MlpWeights& mlp) { return mlp.gate.stored_bytes() + mlp.up.stored_bytes() + mlp.down.stored_bytes(); }

// Weight bytes one decode step of `sequences` sequences must read: everything but the experts,
// plus the routed experts expected to be active for that many independent tokens. The indexer's
// query and head-weight projections are read only by tokens with more than index_topk keys.
double weight_bytes_per_step(const Model& model, std::int64_t sequences, std::int64_t context) {
  const ModelConfig& c = model.config();
  const ModelWeights& w = model.weights();
  double bytes = static_cast<double>(w.lm_head.stored_bytes());
  for (const LayerWeights& layer : w.layers) {
    const AttentionWeights& a = layer.attention;
    bytes += static_cast<double>(a.q_a_proj.stored_bytes() + a.q_b_proj.stored_bytes() + a.kv_a_proj_with_mqa.stored_bytes() +
                                 a.kv_b_proj.stored_bytes() + a.o_proj.stored_bytes());
    if (c.has_indexer) {
      bytes += static_cast<double>(a.indexer.wk.stored_bytes());
      if (context + 1 > c.index_topk) bytes += static_cast<double>(a.indexer.wq_b.stored_bytes() + a.indexer.weights_proj.stored_bytes());
    }
    if (!layer.is_moe) {
      bytes += static_cast<double>(mlp_bytes(layer.mlp));
      continue;
    }
    const auto experts = static_cast<double>(c.n_routed_experts);
    const double active = experts * (1.0 - std::pow(1.0 - static_cast<double>(c.num_experts_per_tok) / experts, static_cast<double>(sequences)));
    bytes += static_cast<double>(layer.moe.gate.stored_bytes() + mlp_bytes(layer.moe.shared)) + active * static_cast<double>(mlp_bytes(layer.moe.experts[0]));
  }
  return bytes;
}

// Cache bytes one decoded token reads at `context` cached tokens: every indexer key, and the
// latent + rope key of the (at most index_topk) keys attention reads.
double cache_bytes_per_token(const Model& model, std::int64_t context) {
  const ModelConfig& c = model.config();
  const KvLayout layout = model.kv_layout();
  const auto latent = static_cast<double>(layout.latent_dim + layout.latent_dim / 128 * 4 + layout.rope_dim * 4);
  const auto index_key = static_cast<double>(layout.index_dim + (layout.index_dim > 0 ? 4 : 0));
  const std::int64_t attended = c.has_indexer ? std::min(context + 1, c.index_topk) : context + 1;
  return static_cast<double>(c.num_hidden_layers) * (static_cast<double>(attended) * latent + static_cast<double>(context + 1) * index_key);
}

// Bytes one decoded token reads while `sequences` sequences decode `gen` tokens each from
// `context` cached tokens: the step's weights shared by the sequences, plus its own cache reads
// (at the context in the middle of the decoded tokens).
double bytes_per_decoded_token(const Model& model, std::int64_t sequences, std::int64_t context, std::int64_t gen) {
  return weight_bytes_per_step(model, sequences, context + gen / 2) / static_cast<double>(sequences) +
         cache_bytes_per_token(model, context + gen / 2);
}

// Fills positions [from, to) of `cache` with copies of positions [0, from): the entries are real
// model outputs, and a decode step's cost depends on how many there are, not on their values
// (prefilling 32K tokens would take far longer than the measurement).
void repeat_context(const KvLayout& layout, SequenceCache& cache, std::int64_t from, std::int64_t to) {
  cache.reserve(to);
  for (std::int64_t layer = 0; layer < layout.layers; ++layer) {
    for (std::int64_t p = from; p < to; ++p) {
      const KvSlot src = cache.slot(layer, p % from), dst = cache.slot(layer, p);
      std::memcpy(dst.latent_codes, src.latent_codes, static_cast<std::size_t>(layout.latent_dim));
      std::memcpy(dst.latent_scales, src.latent_scales, static_cast<std::size_t>(layout.latent_dim / 128) * sizeof(float));
      std::memcpy(dst.rope_key, src.rope_key, static_cast<std::size_t>(layout.rope_dim) * sizeof(float));
      if (layout.index_dim > 0) {
        std::memcpy(dst.index_codes, src.index_codes, static_cast<std::size_t>(layout.index_dim));
        *dst.index_scale = *src.index_scale;
      }
    }
  }
  cache.set_length(to);
}

struct Options {
  std::string model;
  Precision precision = Precision::BF16;
  IndexerProducts indexer_products = IndexerProducts::Auto;
  LargeProducts large_products = LargeProducts::Auto;
  NumaPlacement numa = NumaPlacement::Auto;
  std::int64_t prompt = 512, gen = 128, context = 0, concurrency = 1;
  std::int64_t rounds = 1;
  // A second decode configuration measured in turn with the first (-1: none).
  std::int64_t baseline_context = -1, baseline_concurrency = -1;
  unsigned threads = 0;
  bool json = false;
  bool profile = false;

  bool has_baseline() const { return baseline_context >= 0 || baseline_concurrency > 0; }
};

// C sequences decoded together, each with N tokens cached when a round starts.
struct DecodeSet {
  std::int64_t concurrency = 0, context = 0;
  std::vector<std::unique_ptr<SequenceCache>> caches;
  std::vector<std::int32_t> first_inputs;  // each sequence's input at a round's first step
};

// The set's caches: a prefill of up to the prompt (distinct per sequence), repeated up to N.
DecodeSet fill_decode_set(Model& model, KvPool& pool, const std::vector<std::int32_t>& prompt, std::int64_t C, std::int64_t N,
                          std::int32_t first_token) {
  DecodeSet set{C, N, {}, std::vector<std::int32_t>(static_cast<std::size_t>(C), first_token)};
  const std::int64_t real = std::min(N, static_cast<std::int64_t>(prompt.size()));
  for (std::int64_t s = 0; s < C; ++s) {
    set.caches.push_back(std::make_unique<SequenceCache>(pool));
    if (N == 0) continue;
    std::vector<std::int32_t> tokens(prompt.begin(), prompt.begin() + real);
    tokens[0] = static_cast<std::int32_t>(2 + s);
    const SequenceStep fill{.tokens = tokens, .cache = set.caches.back().get()};
    set.first_inputs[static_cast<std::size_t>(s)] = argmax(model.forward(std::span(&fill, 1)));
    if (N > real) repeat_context(model.kv_layout(), *set.caches.back(), real, N);
  }
  return set;
}

// One round: gen steps of the set from its N cached tokens (what an earlier round decoded past
// them is written over); returns the seconds they took.
double decode_round(Model& model, ComputeContext& ctx, DecodeSet& set, std::int64_t gen) {
  const std::int64_t C = set.concurrency, vocab = model.config().vocab_size;
  for (const auto& cache : set.caches) cache->set_length(set.context);
  std::vector<std::int32_t> next = set.first_inputs;
  std::vector<SequenceStep> steps(static_cast<std::size_t>(C));
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t i = 0; i < gen; ++i) {
    for (std::int64_t s = 0; s < C; ++s) {
      steps[static_cast<std::size_t>(s)] = SequenceStep{.tokens = std::span(&next[static_cast<std::size_t>(s)], 1), .cache = set.caches[static_cast<std::size_t>(s)].get()};
    }
    const auto logits = model.forward(steps);
    // The sequences' tokens chosen on the model's threads, as the engine's scheduler draws them.
    ctx.pool().parallel_for(static_cast<std::size_t>(C), [&](std::size_t begin, std::size_t end, unsigned) {
      for (auto s = static_cast<std::int64_t>(begin); s < static_cast<std::int64_t>(end); ++s) {
        const std::int32_t best = argmax(logits.subspan(static_cast<std::size_t>(s * vocab), static_cast<std::size_t>(vocab)));
        next[static_cast<std::size_t>(s)] = distinct_input(best, s, i, vocab);
      }
    });
  }
  return seconds_since(start);
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n == 0 ? 0.0 : n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

// What the NUMA placement did (util/numa.h).
std::string numa_report(const ComputeContext& ctx, const PagePlacement& placement) {
  const NumaTopology& topology = ctx.numa_topology();
  if (!topology.multi_node()) return "none (one node)";
  if (!ctx.numa_spread()) return "off";
  if (topology.user_memory_policy()) return "threads spread; weights left to the process's own memory policy";
  return "threads spread, weights in 2 MiB stripes over the nodes (" + std::to_string(placement.on_node) + " of " +
         std::to_string(placement.pages) + " pages on their stripe's node, " + std::to_string(placement.failed) + " not movable)";
}

nlohmann::json run_bench(const Options& options) {
  ComputeContext ctx(options.threads, best_vector_ops(), options.numa);
  ctx.set_precision(options.precision);
  ctx.set_indexer_products(options.indexer_products);
  ctx.set_large_products(options.large_products);
  const std::string dir = options.model.empty() ? ensure_default_model(ctx.pool()).string() : options.model;
  const auto load_start = std::chrono::steady_clock::now();
  const Checkpoint checkpoint(dir);
  const PagePlacement placement = checkpoint.prefault(true, ctx.numa_spread() ? &ctx.numa_topology() : nullptr);
  Model model(checkpoint, ctx);
  model.scan_fp8_codes();
  const double load_s = seconds_since(load_start);
  const std::size_t rss_after_load = current_rss_bytes();

  const ModelConfig& config = model.config();
  const std::int64_t C = options.concurrency, N = options.context;
  const std::int64_t baseline_C = options.baseline_concurrency > 0 ? options.baseline_concurrency : C;
  const std::int64_t baseline_N = options.baseline_context >= 0 ? options.baseline_context : N;
  if (std::max({options.prompt, N, baseline_N}) + options.gen > config.max_position_embeddings) {
    fail("--prompt/--context/--baseline-context + --gen exceed the model's {} positions", config.max_position_embeddings);
  }
  if (options.has_baseline() && options.gen == 0) fail("a baseline is compared by decode speed: --gen must be at least 1");
  const KvLayout layout = model.kv_layout();
  const auto blocks_for = [&](std::int64_t tokens) { return (tokens + layout.block_tokens - 1) / layout.block_tokens; };
  // The prompt's blocks are free again before the decoding sets take theirs; the sets hold
  // just their rounds' positions (a round that did not start over from N would run out).
  const std::int64_t baseline_blocks = options.has_baseline() ? baseline_C * blocks_for(baseline_N + options.gen) : 0;
  KvPool pool(layout, std::max(blocks_for(options.prompt), C * blocks_for(N + options.gen) + baseline_blocks));
  std::vector<std::int32_t> prompt(static_cast<std::size_t>(options.prompt));
  for (std::size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<std::int32_t>(2 + (i * 7919) % static_cast<std::size_t>(config.vocab_size - 2));

  // Prefill of the prompt, twice, each timed: the first call of a shape pays one-time costs
  // (oneDNN's kernels made for it, the workspace's pages touched: 501-540 against 643-703 tok/s
  // at 512 tokens, 3 runs), so the second is what a server's later requests see (prefill_tok_s,
  // and --profile's prefill_ms) and the first is reported apart (prefill_first_tok_s).
  const auto timed_prefill = [&](PhaseProfile* profile, std::int32_t& next_token) {
    SequenceCache cache(pool);
    model.set_profile(profile);
    const auto start = std::chrono::steady_clock::now();
    const SequenceStep prefill{.tokens = prompt, .cache = &cache};
    next_token = argmax(model.forward(std::span(&prefill, 1)));
    const double seconds = seconds_since(start);
    model.set_profile(nullptr);
    return seconds;
  };
  std::int32_t after_prompt = 0;  // the token the prompt's prefill chooses (both give the same)
  const double first_prefill_s = timed_prefill(nullptr, after_prompt);
  PhaseProfile prefill_profile;
  const double prefill_s = timed_prefill(options.profile ? &prefill_profile : nullptr, after_prompt);

  DecodeSet measured = fill_decode_set(model, pool, prompt, C, N, after_prompt);
  DecodeSet baseline = options.has_baseline() ? fill_decode_set(model, pool, prompt, baseline_C, baseline_N, after_prompt) : DecodeSet{};
  const std::int64_t real = std::min(N, options.prompt);

  // The machine's bandwidth drifts over minutes on shared hosts (33-52 GB/s seen on one), so it
  // is probed right before and right after the decode, and the higher figure is the limit. The
  // probe's buffer is left out of the peak RSS (reset after the first probe); where the peak
  // cannot be reset, only the second probe runs.
  std::vector<double> probes;
  std::size_t peak_rss = peak_rss_bytes();  // kept here: the reset below forgets it
  if (reset_peak_rss()) {
    probes.push_back(read_bandwidth_gb_s(ctx.pool()));
    if (!reset_peak_rss()) fail("bench: the peak RSS could be reset once, then not again");
  }

  // Rounds of the measured set (A), each beside a round of the baseline (B) where there is one,
  // in turns A B, B A, ... (an even count of rounds puts each first as often): the speed of a
  // shared host drifts by tens of percent over minutes, and rounds side by side see the same
  // drift, so their ratio holds where single runs do not.
  PhaseProfile profile;
  std::vector<double> measured_tok_s, baseline_tok_s, ratios;
  const auto tok_s = [&](const DecodeSet& set, double seconds) {
    return options.gen > 0 ? static_cast<double>(set.concurrency * options.gen) / seconds : 0.0;
  };
  double decode_s = 0.0;
  for (std::int64_t round = 0; round < options.rounds; ++round) {
    const bool baseline_first = options.has_baseline() && round % 2 == 1;
    if (baseline_first) baseline_tok_s.push_back(tok_s(baseline, decode_round(model, ctx, baseline, options.gen)));
    if (options.profile) model.set_profile(&profile);
    const double seconds = decode_round(model, ctx, measured, options.gen);
    model.set_profile(nullptr);
    decode_s += seconds;
    measured_tok_s.push_back(tok_s(measured, seconds));
    if (options.has_baseline() && !baseline_first) baseline_tok_s.push_back(tok_s(baseline, decode_round(model, ctx, baseline, options.gen)));
    if (options.has_baseline() && baseline_tok_s.back() > 0.0) ratios.push_back(measured_tok_s.back() / baseline_tok_s.back());
  }
  const double decode_tok_s = median(measured_tok_s);

  const double bytes_per_token = bytes_per_decoded_token(model, C, N, options.gen);
  peak_rss = std::max(peak_rss, peak_rss_bytes());  // before the second probe's buffer
  probes.push_back(read_bandwidth_gb_s(ctx.pool()));
  const double bandwidth_gb_s = *std::max_element(probes.begin(), probes.end());
  const double limit_tok_s = bandwidth_gb_s * 1e9 / bytes_per_token;
  nlohmann::json result = {
      {"model", dir},
      {"threads", ctx.threads()},
      {"isa", ctx.ops().name},
      {"precision", bf16_products(ctx) ? "bf16" : "f32"},  // what ran: bf16 needs AVX512-BF16 and -VBMI
      {"bf16_tile", bf16_products(ctx) ? best_gemm_bf16().name : "none"},
      // the few-token product's table (by name; its bf16 and I4 rows may be another table's)
      {"decode_gemv", bf16_products(ctx) && &best_gemv_bf16() != &scalar_gemv_bf16() ? best_gemv_bf16().name : "none"},
      {"indexer_products", !model.config().has_indexer                                                                ? "none"
                           : index_scores_int8_for(ctx.precision(), ctx.indexer_products(), model.config().index_head_dim)
                               ? "int8"
                               : "exact"},
      {"numa_nodes", ctx.numa_topology().nodes().size()},
      {"numa_placement", numa_report(ctx, placement)},
      {"prompt_tokens", options.prompt},
      {"gen_tokens", options.gen},
      {"context_tokens", N},
      {"context_fill", N > real ? "prefill of " + std::to_string(real) + " tokens, repeated" : "prefill"},
      {"concurrency", C},
      {"load_s", load_s},
      {"prefill_tok_s", static_cast<double>(options.prompt) / prefill_s},
      {"prefill_first_tok_s", static_cast<double>(options.prompt) / first_prefill_s},
      {"decode_tok_s", decode_tok_s},
      {"bytes_per_token", bytes_per_token},
      {"bandwidth_gb_s", bandwidth_gb_s},
      {"bandwidth_probes_gb_s", probes},
      {"bandwidth_limit_tok_s", limit_tok_s},
      {"bandwidth_fraction", decode_tok_s / limit_tok_s},
      {"model_file_bytes", checkpoint.total_bytes()},
      {"rss_after_load_bytes", rss_after_load},
      {"peak_rss_bytes", peak_rss},
      {"kv_cache_bytes_per_token", layout.bytes_per_token()},
  };
  if (options.profile) result["prefill_ms"] = step_profile(prefill_profile, prefill_s, 1);
  if (options.profile && options.gen > 0) result["decode_ms_per_step"] = step_profile(profile, decode_s, options.gen * options.rounds);
  result["rounds"] = options.rounds;
  result["decode_rounds_tok_s"] = measured_tok_s;
  if (options.has_baseline()) {
    result["baseline"] = {
        {"context_tokens", baseline_N},
        {"concurrency", baseline_C},
        {"decode_tok_s", median(baseline_tok_s)},
        {"decode_rounds_tok_s", baseline_tok_s},
        {"bytes_per_token", bytes_per_decoded_token(model, baseline_C, baseline_N, options.gen)},
    };
    // Of the measured decode's speed to the baseline's, round by round: the median.
    result["decode_ratio_to_baseline"] = median(ratios);
    result["decode_ratio_rounds"] = ratios;
  }
  return result;
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Measure prefill and decode speed against the machine's memory bandwidth");
  auto options = std::make_shared<Options>();
  cmd->add_option("--model", options->model, "model directory (default: the tiny model, made on first use)");
  cmd->add_option("--prompt", options->prompt, "prompt tokens to prefill (twice: the second is timed as prefill_tok_s)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--gen", options->gen, "tokens to decode (per sequence)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--context", options->context, "tokens already in each sequence's cache when decoding starts")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--concurrency", options->concurrency, "sequences decoded together in one batch")->check(CLI::PositiveNumber);
  cmd->add_option("--rounds", options->rounds,
                  "decode rounds of --gen tokens each, every one from the same --context (decode_tok_s is their median, "
                  "--profile's milliseconds their mean)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--baseline-context", options->baseline_context,
                  "also decode with this many tokens in context, a round beside each measured one, and report the median "
                  "of the rounds' ratios of aggregate decode tok/s (peak RSS then covers both)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--baseline-concurrency", options->baseline_concurrency,
                  "also decode this many sequences together, a round beside each measured one, and report the median of "
                  "the rounds' ratios of aggregate decode tok/s (peak RSS then covers both)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--threads", options->threads, "threads (0: all cores)");
  add_precision_option(cmd, options->precision);
  add_indexer_products_option(cmd, options->indexer_products);
  add_large_products_option(cmd, options->large_products);
  add_numa_option(cmd, options->numa);
  cmd->add_flag("--json", options->json, "print one JSON object");
  cmd->add_flag("--profile", options->profile,
                "also report the milliseconds of the (second, timed) prefill, and per decode step, in each part of the forward pass");
  cmd->callback([options] {
    const nlohmann::json result = run_bench(*options);
    std::printf("%s\n", options->json ? result.dump().c_str() : result.dump(2).c_str());
  });
}

}  // namespace dsv32::cli
