// dsv32 serve: the OpenAI-compatible HTTP server over the generation engine (API.md).
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <memory>
#include <thread>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/compute_options.h"
#include "server/engine_backend.h"
#include "server/scripted_backend.h"
#include "server/server.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_files.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace dsv32::cli {
namespace {

struct ServeOptions {
  std::string model;
  std::vector<std::string> served_names{"deepseek-ai/deepseek-v3.2"};
  server::ServerOptions server;
  engine::EngineOptions engine;
  std::string scripted_output;  // test hook: replay this file instead of running the model
  double scripted_interval_ms = 2;
};

std::unique_ptr<server::Backend> make_backend(const ServeOptions& options) {
  if (!options.scripted_output.empty()) {
    std::optional<std::filesystem::path> dir;
    if (!options.model.empty()) dir = options.model;
    auto tokenizer = std::make_shared<const Tokenizer>(find_tokenizer(dir));
    server::ScriptedOptions scripted;
    scripted.completions = server::read_scripted_completions(options.scripted_output);
    scripted.token_interval_ms = options.scripted_interval_ms;
    scripted.max_context_tokens = options.engine.kv_cache_tokens;
    scripted.max_active = options.engine.max_running + options.engine.max_waiting;
    return std::make_unique<server::ScriptedBackend>(std::move(tokenizer), std::move(scripted));
  }
  engine::EngineOptions engine = options.engine;
  if (options.model.empty()) {
    ThreadPool pool(engine.threads);
    engine.model_dir = ensure_default_model(pool);
  } else {
    engine.model_dir = options.model;
  }
  return std::make_unique<server::EngineBackend>(engine);
}

void serve(ServeOptions options) {
  // SIGTERM/SIGINT go to one thread that waits for them (sigtimedwait), never to a handler:
  // block them here, before any other thread exists, so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the server

  options.server.models.names = options.served_names;
  if (options.served_names.front() == "deepseek-ai/deepseek-v3.2") {
    options.server.models.names.push_back("deepseek-ai/DeepSeek-V3.2");  // the HF casing, as an alias
  }
  server::Server server(options.server);
  server.bind();
  spdlog::info("dsv32 serve: listening on http://{}:{}/v1, loading the model", options.server.host, server.port());
  std::thread http([&server] { server.run(); });

  std::atomic<bool> exiting{false};
  std::thread waiter([&] {
    const timespec tick{0, 200'000'000};
    while (!exiting.load()) {
      const int signal = sigtimedwait(&signals, nullptr, &tick);
      if (signal == SIGTERM || signal == SIGINT) {
        spdlog::info("dsv32 serve: signal {}: draining", signal);
        server.shutdown();
        return;
      }
    }
  });
  const auto finish = [&] {
    exiting = true;
    waiter.join();
    http.join();
  };

  std::unique_ptr<server::Backend> backend;
  try {
    backend = make_backend(options);
  } catch (...) {
    server.stop();
    finish();
    throw;
  }
  server.set_backend(backend.get());
  spdlog::info("dsv32 serve: ready on http://{}:{}/v1 (context {} tokens)", options.server.host, server.port(),
               backend->max_context_tokens());
  http.join();
  exiting = true;
  waiter.join();
  server.set_backend(nullptr);
  spdlog::info("dsv32 serve: stopped");
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "Serve the OpenAI-compatible API (chat/completions, completions, models)");
  auto options = std::make_shared<ServeOptions>();
  server::ServerOptions& s = options->server;
  engine::EngineOptions& e = options->engine;
  cmd->add_option("--model", options->model, "model directory (default: the tiny model, made on first use)");
  cmd->add_option("--host", s.host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", s.port, "port (0: any free port)")->capture_default_str();
  cmd->add_option("--api-key", s.api_keys, "require `Authorization: Bearer KEY` on /v1 (repeatable)");
  cmd->add_option("--served-model-name", options->served_names, "model name(s) to answer to; the first is listed")
      ->capture_default_str();
  cmd->add_option("--threads", e.threads, "engine threads (0: all cores)");
  e.precision = Precision::BF16;
  add_precision_option(cmd, e.precision);
  add_indexer_products_option(cmd, e.indexer_products);
  add_numa_option(cmd, e.numa);
  cmd->add_option("--kv-cache-tokens", e.kv_cache_tokens, "KV-cache budget in tokens")->capture_default_str();
  cmd->add_option("--kv-block-tokens", e.kv_block_tokens, "tokens per KV block")->capture_default_str();
  cmd->add_option("--max-batch-tokens", e.max_batch_tokens, "tokens per forward step")->capture_default_str();
  cmd->add_option("--max-running", e.max_running, "sequences decoding together")->capture_default_str();
  cmd->add_option("--max-waiting", e.max_waiting, "queued requests before 429")->capture_default_str();
  cmd->add_option("--http-threads", s.http_threads, "HTTP worker threads (one per open connection)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--max-generations", s.max_generations, "generating requests at once before 503")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--max-body-bytes", s.max_body_bytes, "request body limit (413 above)")->capture_default_str();
  cmd->add_option("--read-timeout", s.read_timeout_s, "seconds a stalled client may hold a worker")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--shutdown-grace", s.shutdown_grace_s, "seconds in-flight requests may run after SIGTERM")
      ->capture_default_str();
  // Test hooks, not for users: replay fixed raw completions instead of running a model.
  cmd->add_option("--debug-scripted-output", options->scripted_output)->group("");
  cmd->add_option("--debug-token-interval-ms", options->scripted_interval_ms)->group("");
  cmd->callback([options] { serve(*options); });
}

}  // namespace dsv32::cli
