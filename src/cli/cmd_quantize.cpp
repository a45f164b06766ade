// dsv32 quantize: a checkpoint rewritten with its projections in I4 (model/quantize.h).
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "model/quantize.h"

namespace dsv32::cli {

void add_quantize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("quantize", "Write a copy of a checkpoint with its projections in 4-bit integers (I4)");
  struct Options {
    std::string model;
    std::string out;
    int bits = 4;
    bool lm_head = false;
    unsigned threads = 0;
  };
  auto options = std::make_shared<Options>();
  cmd->add_option("--model", options->model, "source checkpoint directory (FP8 or BF16)")->required();
  cmd->add_option("--out", options->out, "new directory to write")->required();
  cmd->add_option("--bits", options->bits, "bits per weight (4: I4, a float32 scale per row and 128 columns)")->check(CLI::IsMember({4}));
  cmd->add_flag("--lm-head", options->lm_head, "quantise lm_head too (read whole for every token; kept in BF16 by default)");
  cmd->add_option("--threads", options->threads, "threads (0: all cores)");
  cmd->callback([options] {
    ThreadPool pool(options->threads);
    const QuantizeReport report = quantize_checkpoint(options->model, options->out, pool, QuantizeOptions{.lm_head = options->lm_head});
    spdlog::info("wrote {}: {} tensors quantised to I4, {} copied, {} MTP tensors left out (unused); {:.2f} GB -> {:.2f} GB", options->out,
                 report.quantized_tensors, report.copied_tensors, report.dropped_mtp_tensors, static_cast<double>(report.bytes_in) / 1e9,
                 static_cast<double>(report.bytes_out) / 1e9);
  });
}

}  // namespace dsv32::cli
