// dsv32 make-model: deterministic random checkpoints in the real HF layout.
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "model/make_model.h"
#include "tokenizer/tokenizer_files.h"

namespace dsv32::cli {

void add_make_model_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("make-model", "Write a random checkpoint of the real model's layout");
  struct Options {
    std::string preset = "tiny";
    std::string dtype = "bf16";
    std::uint64_t seed = 0;
    std::string out;
    unsigned threads = 0;
  };
  auto options = std::make_shared<Options>();
  cmd->add_option("--preset", options->preset, "tiny or bench")->check(CLI::IsMember({"tiny", "bench"}));
  cmd->add_option("--dtype", options->dtype, "bf16 or fp8")->check(CLI::IsMember({"bf16", "fp8"}));
  cmd->add_option("--seed", options->seed, "random seed");
  cmd->add_option("--out", options->out, "output directory")->required();
  cmd->add_option("--threads", options->threads, "threads (0: all cores)");
  cmd->callback([options] {
    ThreadPool pool(options->threads);
    make_model(MakeModelOptions{.preset = options->preset, .fp8 = options->dtype == "fp8", .seed = options->seed, .out = options->out},
               pool);
    install_tokenizer_into(options->out);
    spdlog::info("wrote {} ({}, {}, seed {})", options->out, options->preset, options->dtype, options->seed);
  });
}

}  // namespace dsv32::cli
