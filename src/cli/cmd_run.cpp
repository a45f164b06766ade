// dsv32 run / dsv32 chat: generate on the terminal through the engine, the model's reasoning
// shown apart (dimmed) from its answer.
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <mutex>

#include <nlohmann/json.hpp>

#include "chat/output_parser.h"
#include "chat/request.h"
#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/compute_options.h"
#include "engine/engine.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace dsv32::cli {
namespace {

struct GenerateOptions {
  std::string model;
  bool thinking = false;
  unsigned threads = 0;
  Precision precision = Precision::BF16;
  std::int64_t kv_tokens = 32768;
  engine::SamplingParams sampling{.temperature = 1.0f, .top_p = 0.95f, .max_tokens = 512};
  std::uint64_t seed = 0;
};

void add_generate_options(CLI::App* cmd, GenerateOptions& o) {
  cmd->add_option("--model", o.model, "model directory (default: the tiny model, made on first use)");
  cmd->add_flag("--thinking", o.thinking, "thinking mode: the model reasons before it answers");
  cmd->add_option("--threads", o.threads, "threads (0: all cores)");
  add_precision_option(cmd, o.precision);
  cmd->add_option("--kv-tokens", o.kv_tokens, "KV cache budget in tokens")->check(CLI::PositiveNumber);
  cmd->add_option("--temperature", o.sampling.temperature, "0: greedy")->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--top-p", o.sampling.top_p)->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--top-k", o.sampling.top_k)->check(CLI::NonNegativeNumber);
  cmd->add_option("--min-p", o.sampling.min_p)->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--seed", o.seed, "random seed (default: a fresh one)");
  cmd->add_option("--max-tokens", o.sampling.max_tokens, "tokens to generate at most")->check(CLI::PositiveNumber);
  cmd->add_option("--presence-penalty", o.sampling.presence_penalty)->check(CLI::Range(-2.0, 2.0));
  cmd->add_option("--frequency-penalty", o.sampling.frequency_penalty)->check(CLI::Range(-2.0, 2.0));
  cmd->add_option("--repetition-penalty", o.sampling.repetition_penalty)->check(CLI::Range(0.01, 10.0));
  cmd->add_option("--stop", o.sampling.stop, "stop string (repeatable)");
}

std::unique_ptr<engine::Engine> open_engine(const GenerateOptions& o) {
  std::filesystem::path dir = o.model;
  if (dir.empty()) {
    ThreadPool pool(o.threads);
    dir = ensure_default_model(pool);
  }
  return std::make_unique<engine::Engine>(engine::EngineOptions{.model_dir = dir, .threads = o.threads, .precision = o.precision,
                                                                .kv_cache_tokens = o.kv_tokens});
}

// Generates one assistant turn for `conversation`, printing it as it streams; returns the
// assistant message (content and reasoning_content) for the history.
nlohmann::ordered_json answer(engine::Engine& eng, const nlohmann::ordered_json& conversation, const GenerateOptions& o) {
  nlohmann::ordered_json request = {{"messages", conversation}, {"chat_template_kwargs", {{"thinking", o.thinking}}}};
  const chat::RenderedChat rendered = chat::render_chat_request(request);
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::string> pieces;
  bool done = false;
  std::string error;
  engine::SamplingParams sampling = o.sampling;
  if (o.seed != 0) sampling.seed = o.seed;
  engine::GenerationRequest generation{.prompt = eng.tokenizer().encode(rendered.prompt), .sampling = sampling};
  generation.on_event = [&](const engine::TokenEvent& event) {
    std::lock_guard lock(mutex);
    pieces.push_back(event.text);
    if (event.finish == engine::FinishReason::Error) error = event.error;
    changed.notify_one();
  };
  generation.on_done = [&](const engine::RequestUsage&) {
    std::lock_guard lock(mutex);
    done = true;
    changed.notify_one();
  };
  const engine::SubmitResult submitted = eng.submit(std::move(generation));
  if (submitted.status != engine::SubmitStatus::Accepted) fail("{}", submitted.message);

  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  chat::OutputParser parser(chat::OutputParserOptions{.thinking = rendered.thinking, .prompt_opened_think = rendered.thinking});
  bool in_reasoning = false;
  auto show = [&](const chat::StreamDelta& delta) {
    if (!delta.reasoning_content.empty()) {
      if (!in_reasoning) std::fputs(tty ? "\033[2m" : "[reasoning]\n", stdout);
      in_reasoning = true;
      std::fputs(delta.reasoning_content.c_str(), stdout);
    }
    if (!delta.content.empty() || !delta.tool_calls.empty()) {
      if (in_reasoning) std::fputs(tty ? "\033[0m\n\n" : "\n[answer]\n", stdout);
      in_reasoning = false;
      std::fputs(delta.content.c_str(), stdout);
      for (const auto& call : delta.tool_calls) std::printf("%s%s", call.name.empty() ? "" : ("\n[tool call " + call.name + "] ").c_str(), call.arguments.c_str());
    }
    std::fflush(stdout);
  };
  for (;;) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return done || !pieces.empty(); });
    while (!pieces.empty()) {
      const std::string piece = std::move(pieces.front());
      pieces.pop_front();
      lock.unlock();
      show(parser.feed(piece));
      lock.lock();
    }
    if (done) break;
  }
  const chat::OutputParser::Final final = parser.finish();
  show(final.delta);
  std::fputs(tty && in_reasoning ? "\033[0m\n" : "\n", stdout);
  if (!error.empty()) fail("generation failed: {}", error);
  nlohmann::ordered_json message = {{"role", "assistant"}, {"content", final.message.content.value_or("")}};
  if (final.message.reasoning_content && !final.message.reasoning_content->empty()) message["reasoning_content"] = *final.message.reasoning_content;
  return message;
}

}  // namespace

void add_run_commands(CLI::App& app) {
  auto run_options = std::make_shared<GenerateOptions>();
  auto prompt = std::make_shared<std::string>();
  auto* run = app.add_subcommand("run", "Answer one prompt, streaming to the terminal");
  add_generate_options(run, *run_options);
  run->add_option("-p,--prompt", *prompt, "the user's message")->required();
  run->callback([run_options, prompt] {
    auto eng = open_engine(*run_options);
    answer(*eng, nlohmann::ordered_json::array({{{"role", "user"}, {"content", *prompt}}}), *run_options);
  });

  auto chat_options = std::make_shared<GenerateOptions>();
  auto* chat = app.add_subcommand("chat", "An interactive multi-turn chat (an empty line or end of input quits)");
  add_generate_options(chat, *chat_options);
  chat->callback([chat_options] {
    auto eng = open_engine(*chat_options);
    nlohmann::ordered_json conversation = nlohmann::ordered_json::array();
    const bool tty = ::isatty(STDIN_FILENO) == 1;
    std::string line;
    for (;;) {
      if (tty) std::fputs("> ", stdout);
      std::fflush(stdout);
      if (!std::getline(std::cin, line) || line.empty()) break;
      conversation.push_back({{"role", "user"}, {"content", line}});
      conversation.push_back(answer(*eng, conversation, *chat_options));
    }
  });
}

}  // namespace dsv32::cli
