#pragma once
// Each dsv32 subcommand lives in its own cmd_*.cpp and registers itself on the app here.
#include <CLI/CLI.hpp>

namespace dsv32::cli {

void add_make_model_command(CLI::App& app);
void add_logits_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_run_commands(CLI::App& app);
void add_bench_engine_command(CLI::App& app);
void add_chat_format_commands(CLI::App& app);
void add_tokenize_commands(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_quantize_command(CLI::App& app);

}  // namespace dsv32::cli
