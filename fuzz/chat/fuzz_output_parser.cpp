// libFuzzer target for the chat output parsers. Input: byte 0 = mode flags, byte 1 = seed of the
// random cuts, the rest = model output, in which bytes 0xF5..0xFF (never valid UTF-8) expand to
// DSML and special-token fragments so that the fuzzer reaches deep parser states quickly.
//
// Checked on every input: no crash or hang; the final message is the same for one piece, random
// pieces and single bytes; the deltas concatenate to the final message; and the lenient parser
// agrees with the official port whenever neither calls the text malformed.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "chat/official_parser.h"
#include "chat/output_parser.h"
#include "util/error.h"

namespace {

using dsv32::chat::OutputParser;
using dsv32::chat::OutputParserOptions;
using dsv32::chat::ParsedMessage;
using dsv32::chat::StreamDelta;
using dsv32::chat::ToolCall;

constexpr const char* kFragments[] = {
    "<｜DSML｜function_calls>\n",  // 0xF5
    "\n\n<｜DSML｜function_calls>\n",
    "<｜DSML｜invoke name=\"",
    "\">\n",
    "</｜DSML｜invoke>\n",
    "<｜DSML｜parameter name=\"",  // 0xFA
    "\" string=\"true\">",
    "\" string=\"false\">",
    "</｜DSML｜parameter>\n",
    "</think>",
    "<｜end▁of▁sentence｜>",
    "</｜DSML｜function_calls>",  // 0xFF
};

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

struct Run {
  std::string reasoning, content;
  std::map<int, ToolCall> calls;
  ParsedMessage message;
};

void collect(Run& run, const StreamDelta& delta) {
  run.reasoning += delta.reasoning_content;
  run.content += delta.content;
  for (const auto& piece : delta.tool_calls) {
    auto [it, inserted] = run.calls.try_emplace(piece.index);
    if (inserted) it->second = {piece.index, piece.id, piece.name, ""};
    it->second.arguments += piece.arguments;
  }
}

Run run_pieces(const OutputParserOptions& options, const std::string& text, const std::vector<std::size_t>& cuts) {
  OutputParser parser(options);
  Run run;
  std::size_t start = 0;
  for (std::size_t cut : cuts) {
    collect(run, parser.feed(std::string_view(text).substr(start, cut - start)));
    start = cut;
  }
  collect(run, parser.feed(std::string_view(text).substr(start)));
  auto final = parser.finish();
  collect(run, final.delta);
  run.message = std::move(final.message);
  return run;
}

bool same_calls(const std::vector<ToolCall>& a, const std::vector<ToolCall>& b, bool compare_ids) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].arguments != b[i].arguments) return false;
    if (compare_ids && (a[i].id != b[i].id || a[i].index != b[i].index)) return false;
  }
  return true;
}

void check_run(const Run& run, const Run& whole) {
  const ParsedMessage& m = run.message;
  check(m.reasoning_content == whole.message.reasoning_content, "reasoning differs between splits");
  check(m.content == whole.message.content, "content differs between splits");
  check(same_calls(m.tool_calls, whole.message.tool_calls, true), "tool calls differ between splits");
  check(m.malformed == whole.message.malformed && m.saw_eos == whole.message.saw_eos, "flags differ between splits");
  check(run.reasoning == m.reasoning_content.value_or(""), "reasoning deltas != final reasoning");
  check(run.content == m.content.value_or(""), "content deltas != final content");
  for (const auto& call : m.tool_calls) {
    const auto it = run.calls.find(call.index);
    check(it != run.calls.end(), "final call never streamed");
    check(it->second.id == call.id && it->second.name == call.name && it->second.arguments == call.arguments,
          "tool call deltas != final call");
  }
  if (!m.malformed) check(run.calls.size() == m.tool_calls.size(), "incomplete call in well-formed output");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  OutputParserOptions options;
  options.thinking = (data[0] & 1) != 0;
  options.prompt_opened_think = (data[0] & 2) == 0;
  options.id_seed = data[0] >> 2;
  std::string text;
  for (std::size_t i = 2; i < size; ++i) {
    if (data[i] >= 0xF5) {
      text += kFragments[data[i] - 0xF5];
    } else {
      text += static_cast<char>(data[i]);
    }
  }

  const Run whole = run_pieces(options, text, {});
  check_run(whole, whole);

  std::uint64_t state = data[1] * 0x9E3779B97F4A7C15ull + size;
  std::vector<std::size_t> cuts;
  for (std::size_t pos = 0;;) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    pos += (state >> 33) % 17;
    if (pos >= text.size()) break;
    cuts.push_back(pos);
  }
  check_run(run_pieces(options, text, cuts), whole);
  if (text.size() <= 2048) {
    std::vector<std::size_t> every_byte;
    for (std::size_t pos = 1; pos < text.size(); ++pos) every_byte.push_back(pos);
    check_run(run_pieces(options, text, every_byte), whole);
  }

  if (options.thinking && !options.prompt_opened_think) return 0;  // no official counterpart
  try {
    const ParsedMessage strict = dsv32::chat::parse_completion_strict(text, options.thinking);
    if (!whole.message.malformed) {
      check(strict.reasoning_content.value_or("") == whole.message.reasoning_content.value_or(""),
            "reasoning differs from the official parser");
      check(strict.content == whole.message.content, "content differs from the official parser");
      check(same_calls(strict.tool_calls, whole.message.tool_calls, false), "calls differ from the official parser");
    }
  } catch (const dsv32::Error&) {
    check(whole.message.malformed, "official parser rejects what the lenient one calls well-formed");
  }
  return 0;
}
