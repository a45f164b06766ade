// dsv32 logits: the logits of every input position, for outside comparison with the reference.
#include <cstring>
#include <sstream>

#include "cli/commands.h"
#include "cli/compute_options.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "model/safetensors_writer.h"
#include "util/error.h"

namespace dsv32::cli {
namespace {

std::vector<std::int32_t> parse_ids(const std::string& text) {
  std::vector<std::int32_t> ids;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    std::size_t used = 0;
    long long value = 0;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || item.empty() || value < 0 || value > INT32_MAX) fail("--ids: \"{}\" is not a token id", item);
    ids.push_back(static_cast<std::int32_t>(value));
  }
  if (ids.empty()) fail("--ids: no token ids given");
  return ids;
}

}  // namespace

void add_logits_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("logits", "Write the logits of every input position to a safetensors file");
  struct Options {
    std::string model, ids, out;
    Precision precision = Precision::F32;
    std::int64_t prefill = -1;
    unsigned threads = 0;
  };
  auto options = std::make_shared<Options>();
  cmd->add_option("--model", options->model, "model directory")->required();
  cmd->add_option("--ids", options->ids, "comma-separated token ids")->required();
  cmd->add_option("--prefill", options->prefill, "tokens in the first prefill; later tokens are decoded one by one");
  cmd->add_option("--out", options->out, "output .safetensors file")->required();
  add_precision_option(cmd, options->precision);
  cmd->add_option("--threads", options->threads, "threads (0: all cores)");
  cmd->callback([options] {
    const auto ids = parse_ids(options->ids);
    const auto total = static_cast<std::int64_t>(ids.size());
    const std::int64_t prefill = options->prefill < 0 ? total : options->prefill;
    if (prefill < 1 || prefill > total) fail("--prefill {} must be between 1 and the {} ids given", prefill, total);
    ComputeContext ctx(options->threads);
    ctx.set_precision(options->precision);
    const Checkpoint checkpoint(options->model);
    Model model(checkpoint, ctx);
    model.scan_fp8_codes();
    const KvLayout layout = model.kv_layout();
    KvPool pool(layout, (total + layout.block_tokens - 1) / layout.block_tokens);
    SequenceCache cache(pool);
    const std::int64_t vocab = model.config().vocab_size;
    std::vector<float> logits;
    logits.reserve(static_cast<std::size_t>(total * vocab));
    const SequenceStep first{.tokens = std::span(ids).first(static_cast<std::size_t>(prefill)), .cache = &cache, .all_logits = true};
    auto rows = model.forward(std::span(&first, 1));
    logits.insert(logits.end(), rows.begin(), rows.end());
    for (std::int64_t t = prefill; t < total; ++t) {
      const SequenceStep step{.tokens = std::span(ids).subspan(static_cast<std::size_t>(t), 1), .cache = &cache};
      rows = model.forward(std::span(&step, 1));
      logits.insert(logits.end(), rows.begin(), rows.end());
    }
    write_safetensors(options->out, {TensorToWrite{"logits", DType::F32, {total, vocab}, [&](std::span<std::uint8_t> bytes) {
                                                     std::memcpy(bytes.data(), logits.data(), bytes.size());
                                                   }}});
  });
}

}  // namespace dsv32::cli
