// dsv32: the command-line entry point. Every user-caused failure is a dsv32::Error that is
// reported here as one line on stderr with exit code 1.
#include <cstdio>
#include <exception>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"dsv32: DeepSeek-V3.2 inference engine"};
  app.require_subcommand(1);
  dsv32::cli::add_make_model_command(app);
  dsv32::cli::add_quantize_command(app);
  dsv32::cli::add_logits_command(app);
  dsv32::cli::add_bench_command(app);
  dsv32::cli::add_run_commands(app);
  dsv32::cli::add_bench_engine_command(app);
  dsv32::cli::add_chat_format_commands(app);
  dsv32::cli::add_tokenize_commands(app);
  dsv32::cli::add_serve_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const dsv32::Error& e) {
    std::fprintf(stderr, "dsv32: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "dsv32: error: out of memory\n");
    return 1;
  }
  return 0;
}
