// dsv32 render-chat / parse-output: the chat format on the command line. Outside checks drive
// these, so their formats stay fixed:
//   render-chat   reads one OpenAI chat request (JSON) on stdin and prints exactly the prompt
//                 string; an invalid request prints the error on stderr and exits 2.
//   parse-output  reads raw completion text on stdin (every byte counts) and prints the parsed
//                 message as one JSON line: role, content, reasoning_content, tool_calls
//                 [{id, type, function:{name, arguments}}]. Malformed output is read leniently
//                 (as the server does) unless --strict asks for the official parser, which
//                 exits 2 with its error instead.
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/official_parser.h"
#include "chat/output_parser.h"
#include "chat/request.h"
#include "cli/commands.h"
#include "cli/read_stdin.h"
#include "util/error.h"

namespace dsv32::cli {
namespace {

// Invalid input is the user's request, not a tool failure: exit 2 (main.cpp's CLI handler
// turns CLI::RuntimeError into its exit code without printing anything more).
[[noreturn]] void reject(const std::string& message) {
  std::fprintf(stderr, "dsv32: invalid input: %s\n", message.c_str());
  throw CLI::RuntimeError(2);
}

void render_chat() {
  const std::string body = read_all_stdin();
  nlohmann::ordered_json request;
  try {
    request = nlohmann::ordered_json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    reject(std::string("stdin is not valid JSON: ") + e.what());
  }
  std::string prompt;
  try {
    prompt = chat::render_chat_request(request).prompt;
  } catch (const Error& e) {
    reject(e.what());
  }
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
}

struct ParseOutputOptions {
  bool thinking = false;
  bool no_think_open = false;
  bool strict = false;
};

void parse_output(const ParseOutputOptions& options) {
  const std::string text = read_all_stdin();
  chat::ParsedMessage message;
  if (options.strict) {
    try {
      message = chat::parse_completion_strict(text, options.thinking);
      for (auto& call : message.tool_calls) call.id = chat::make_tool_call_id(0, call.index);
    } catch (const Error& e) {
      reject(e.what());
    }
  } else {
    chat::OutputParserOptions parser;
    parser.thinking = options.thinking;
    parser.prompt_opened_think = !options.no_think_open;
    message = chat::parse_completion(text, parser);
  }
  const std::string json =
      chat::message_to_json(message).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fwrite(json.data(), 1, json.size(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace

void add_chat_format_commands(CLI::App& app) {
  auto* render = app.add_subcommand("render-chat", "Print the DeepSeek-V3.2 prompt for an OpenAI chat request read on stdin");
  render->callback([] { render_chat(); });

  auto options = std::make_shared<ParseOutputOptions>();
  auto* parse = app.add_subcommand("parse-output", "Parse raw model output read on stdin into an assistant message (JSON)");
  parse->add_flag("--thinking", options->thinking, "the prompt ended with <think> (thinking mode)");
  parse->add_flag("--no-think-open", options->no_think_open,
                  "with --thinking: the prompt did not open <think>; a leading <think> in the output does");
  parse->add_flag("--strict", options->strict, "use DeepSeek's official parser: malformed output exits 2");
  parse->callback([options] { parse_output(*options); });
}

}  // namespace dsv32::cli
