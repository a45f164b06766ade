#pragma once
// The streaming parser of DeepSeek-V3.2's raw output: feed it the generated text piece by piece
// (any split: inside a special token, inside a UTF-8 character) and it returns the reasoning,
// content and tool-call deltas that are certain so far; finish() flushes the rest and returns the
// final message.
//
// For well-formed output the final message equals what DeepSeek's official parser returns
// (official_parser.h). Malformed output never fails; it is read as API.md §5.1 and the fixtures'
// server_guidance say:
//   - no </think> in thinking mode: everything is reasoning, content stays nullopt;
//   - no end-of-sentence token: what was produced is kept;
//   - a <function_calls> block before </think>: reasoning text, no call;
//   - broken or unterminated DSML: the unfinished call is dropped (only calls closed by
//     </｜DSML｜invoke> count), the rest of that block is skipped;
//   - text after a tool-call block: appended to content; text after the EOS: dropped;
//   - <think>, </think> or BOS where they do not belong: dropped, never shown in content;
//   - <｜DSML｜function_calls without the two newlines before it still opens a block.
// Invariant: for every split of the text the final message is the same, and the concatenated
// deltas equal it (for tool calls: the calls in the final message).
//
// Tool-call ids are make_tool_call_id(id_seed, index): reproducible per seed; give each request
// its own seed (e.g. random) so that ids are unique across requests.
#include <cstdint>
#include <string>
#include <string_view>

#include "chat/dsml_parser.h"
#include "chat/message.h"

namespace dsv32::chat {

struct OutputParserOptions {
  bool thinking = false;             // thinking mode
  bool prompt_opened_think = true;   // the prompt ends with <think> (DeepSeek's encoder always does
                                     // in thinking mode); if not, a leading <think> opens reasoning
  std::uint64_t id_seed = 0;
};

class OutputParser {
 public:
  explicit OutputParser(const OutputParserOptions& options);

  StreamDelta feed(std::string_view piece);

  struct Final {
    StreamDelta delta;      // the held-back text, flushed
    ParsedMessage message;  // the whole message
  };
  Final finish();

 private:
  enum class State { kMaybeThink, kReasoning, kContent, kToolCalls, kDone };

  void process(StreamDelta& out, bool final);
  bool step_reasoning(StreamDelta& out, bool final);
  bool step_content(StreamDelta& out, bool final);
  void emit_text(StreamDelta& out, bool reasoning, std::string_view text);
  void flush_held(StreamDelta& out, bool reasoning, std::size_t held, bool final);
  void note(const char* problem);

  State state_;
  std::string buf_;  // received but not yet consumed
  ParsedMessage message_;
  DsmlParser dsml_;
  bool after_block_ = false;  // a tool-call block has been closed
  bool finished_ = false;
};

// Parses a whole completion at once (what the non-streaming path and `dsv32 parse-output` use).
ParsedMessage parse_completion(std::string_view text, const OutputParserOptions& options);

}  // namespace dsv32::chat
