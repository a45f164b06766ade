#pragma once
// Incremental parser of one or more DSML <function_calls> blocks in the model's output. It
// follows the official grammar (the same fragments, regexes and separators as
// parse_tool_calls) but streams: a call's id and name go out once its invoke header is
// complete, argument JSON as each parameter value arrives. On malformed markup it drops the
// unfinished call and skips to the end of the block; only calls closed by </｜DSML｜invoke>
// count as complete.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "chat/message.h"

namespace dsv32::chat {

class DsmlParser {
 public:
  explicit DsmlParser(std::uint64_t id_seed) : id_seed_(id_seed) {}

  enum class Status {
    kNeedMore,  // consumed what it could; call again with more text
    kClosed,    // </｜DSML｜function_calls> consumed: back to content
    kEos,       // <｜end▁of▁sentence｜> consumed: the text is over
  };

  // Called right after the caller consumed "<｜DSML｜function_calls".
  void open_block();
  // Consumes from the front of `buf`, appending deltas to `out`.
  Status step(std::string& buf, StreamDelta& out);
  // The text ended inside a block (`rest` is what step() left unconsumed): an unfinished call
  // is dropped.
  void finish_truncated(std::string_view rest);

  const std::vector<ToolCall>& complete_calls() const { return complete_; }
  bool malformed() const { return !problem_.empty(); }
  const std::string& problem() const { return problem_; }

 private:
  enum class State { kBlockOpen, kBetweenInvokes, kInvokeHeader, kParamHeader, kParamValue, kAfterParam, kSkip };

  using Step = std::optional<Status>;  // nullopt: progress made, keep going

  Step fail_call(std::string problem);
  Step step_separator(std::string& buf, StreamDelta& out);
  Step step_invoke_header(std::string& buf, StreamDelta& out);
  Step step_param_header(std::string& buf, StreamDelta& out);
  Step step_param_value(std::string& buf, StreamDelta& out);
  Step step_skip(std::string& buf);
  void emit_arguments(StreamDelta& out, std::string_view piece);
  void emit_value(StreamDelta& out, std::string_view raw);
  void close_call(StreamDelta& out);

  std::uint64_t id_seed_;
  State state_ = State::kBlockOpen;
  int next_index_ = 0;
  std::optional<ToolCall> current_;  // the call being streamed
  std::set<std::string> param_names_;
  bool value_is_string_ = false;
  std::vector<ToolCall> complete_;
  std::string problem_;
};

// "call_" + 24 hex digits, a pure function of (seed, index): ids are reproducible for a given
// seed, and unique across requests when the server seeds each parser differently.
std::string make_tool_call_id(std::uint64_t seed, int index);

}  // namespace dsv32::chat
