#include "chat/dsml_parser.h"

#include "chat/official_parser.h"
#include "chat/py_json.h"
#include "chat/text_scan.h"
#include "chat/tokens.h"
#include "chat/utf8.h"
#include "util/error.h"

namespace dsv32::chat {

namespace {

using tokens::kCallsClose;
using tokens::kEos;
using tokens::kInvokeClose;
using tokens::kInvokeOpen;
using tokens::kParamClose;
using tokens::kParamOpen;

// The official parser demands exactly ">\n" between a marker and the next one.
const std::string kNextInvoke = ">\n" + std::string(kInvokeOpen);
const std::string kBlockEnd = ">\n" + std::string(kCallsClose);
const std::string kNextParam = ">\n" + std::string(kParamOpen);
const std::string kInvokeEnd = ">\n" + std::string(kInvokeClose);
// A value ends with "<" + "/｜DSML｜parameter" (or "<\n" before it, see value_terminator_length).
const std::string kValueEnd = "<" + std::string(kParamClose);
const std::string kValueEndNl = "<\n" + std::string(kParamClose);

constexpr std::string_view kParamNamePrefix = " name=\"";
constexpr std::string_view kStringTrue = "\" string=\"true\">";
constexpr std::string_view kStringFalse = "\" string=\"false\">";

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

std::string make_tool_call_id(std::uint64_t seed, int index) {
  const std::uint64_t a = splitmix64(seed ^ (static_cast<std::uint64_t>(index) * 0xD1B54A32D192ED03ull));
  const std::uint64_t b = splitmix64(a);
  return fmt::format("call_{:016x}{:08x}", a, static_cast<std::uint32_t>(b >> 32));
}

void DsmlParser::open_block() { state_ = State::kBlockOpen; }

DsmlParser::Step DsmlParser::fail_call(std::string problem) {
  if (problem_.empty()) problem_ = std::move(problem);
  current_.reset();  // never report a half-built call as complete
  state_ = State::kSkip;
  return std::nullopt;
}

void DsmlParser::finish_truncated(std::string_view rest) {
  // The official parser accepts a block cut right after a marker between calls; anything else
  // would leave a call half-built.
  const bool clean = rest.empty() && (state_ == State::kBlockOpen || state_ == State::kBetweenInvokes);
  if (!clean && problem_.empty()) problem_ = "output ended inside a tool-call block";
  current_.reset();
}

void DsmlParser::emit_arguments(StreamDelta& out, std::string_view piece) {
  if (piece.empty()) return;
  current_->arguments += piece;
  auto& deltas = out.tool_calls;
  // Keep the header delta's arguments "" (API.md §5), merge later pieces of the same call.
  if (!deltas.empty() && deltas.back().index == current_->index && deltas.back().id.empty()) {
    deltas.back().arguments += piece;
  } else {
    deltas.push_back({current_->index, "", "", std::string(piece)});
  }
}

void DsmlParser::emit_value(StreamDelta& out, std::string_view raw) {
  if (!value_is_string_) return emit_arguments(out, raw);  // string="false": pasted verbatim
  std::string escaped;
  py_json_escape_into(escaped, raw);
  emit_arguments(out, escaped);
}

void DsmlParser::close_call(StreamDelta& out) {
  emit_arguments(out, param_names_.empty() ? "{}" : "}");
  complete_.push_back(std::move(*current_));
  current_.reset();
  state_ = State::kBetweenInvokes;
}

DsmlParser::Step DsmlParser::step_separator(std::string& buf, StreamDelta& out) {
  std::string_view matched;
  const bool after_param = state_ == State::kAfterParam;
  const auto result = after_param ? scan::expect_one_of(buf, {kNextParam, kInvokeEnd}, matched)
                                  : scan::expect_one_of(buf, {kNextInvoke, kBlockEnd}, matched);
  if (result == scan::Expect::kPartial) return Status::kNeedMore;
  if (result == scan::Expect::kMismatch) {
    return fail_call(after_param ? "Parameter format error" : "Tool call format error");
  }
  buf.erase(0, matched.size());
  if (matched == kNextParam) {
    state_ = State::kParamHeader;
  } else if (matched == kInvokeEnd) {
    close_call(out);
  } else if (matched == kNextInvoke) {
    state_ = State::kInvokeHeader;
  } else {
    state_ = State::kBlockOpen;
    return Status::kClosed;
  }
  return std::nullopt;
}

DsmlParser::Step DsmlParser::step_invoke_header(std::string& buf, StreamDelta& out) {
  // The name is only known once the next marker shows where the header ends.
  const auto found = scan::find_first(buf, {kParamOpen, kInvokeClose, kEos});
  if (found.pos == scan::kNone) return Status::kNeedMore;
  if (found.marker == kEos) return fail_call("Tool name format error");
  ToolCall call;
  if (!dsml::match_invoke_header(std::string_view(buf).substr(0, found.pos), call.name)) {
    return fail_call("Tool name format error");
  }
  call.index = next_index_++;
  call.id = make_tool_call_id(id_seed_, call.index);
  out.tool_calls.push_back({call.index, call.id, call.name, ""});
  current_ = std::move(call);
  param_names_.clear();
  buf.erase(0, found.pos + found.marker.size());
  if (found.marker == kParamOpen) {
    state_ = State::kParamHeader;
  } else {
    close_call(out);
  }
  return std::nullopt;
}

DsmlParser::Step DsmlParser::step_param_header(std::string& buf, StreamDelta& out) {
  if (buf.size() < kParamNamePrefix.size()) {
    if (kParamNamePrefix.starts_with(buf)) return Status::kNeedMore;
    return fail_call("Parameter format error");
  }
  if (!buf.starts_with(kParamNamePrefix)) return fail_call("Parameter format error");
  const auto found = scan::find_first(buf, {kStringTrue, kStringFalse, kParamClose, kEos}, kParamNamePrefix.size());
  if (found.pos == scan::kNone) return Status::kNeedMore;
  if (found.marker == kParamClose || found.marker == kEos) return fail_call("Parameter format error");
  std::string name = buf.substr(kParamNamePrefix.size(), found.pos - kParamNamePrefix.size());
  if (!param_names_.insert(name).second) return fail_call("Duplicate parameter name");
  value_is_string_ = found.marker == kStringTrue;
  emit_arguments(out, (param_names_.size() == 1 ? "{" : ", ") + dsml::argument_key_prefix(name, value_is_string_));
  buf.erase(0, found.pos + found.marker.size());
  state_ = State::kParamValue;
  return std::nullopt;
}

DsmlParser::Step DsmlParser::step_param_value(std::string& buf, StreamDelta& out) {
  const auto found = scan::find_first(buf, {kParamClose, kEos});
  if (found.pos == scan::kNone) {
    // Stream the value, holding back what may be its terminator.
    std::size_t n = buf.size() - scan::partial_length(buf, {kValueEnd, kValueEndNl, kParamClose, kEos});
    n = utf8::complete_prefix_length(std::string_view(buf).substr(0, n));
    emit_value(out, std::string_view(buf).substr(0, n));
    buf.erase(0, n);
    return Status::kNeedMore;
  }
  const std::string_view value = std::string_view(buf).substr(0, found.pos);
  const std::size_t terminator = found.marker == kEos ? 0 : dsml::value_terminator_length(value);
  if (terminator == 0) {
    // A streaming run has consumed the value already; skip from the same place.
    buf.erase(0, found.pos);
    return fail_call("Parameter format error");
  }
  emit_value(out, value.substr(0, value.size() - terminator));
  if (value_is_string_) emit_arguments(out, "\"");
  buf.erase(0, found.pos + found.marker.size());
  state_ = State::kAfterParam;
  return std::nullopt;
}

DsmlParser::Step DsmlParser::step_skip(std::string& buf) {
  const auto found = scan::find_first(buf, {kCallsClose, kEos});
  if (found.pos == scan::kNone) {
    buf.erase(0, buf.size() - scan::partial_length(buf, {kCallsClose, kEos}));
    return Status::kNeedMore;
  }
  buf.erase(0, found.pos + found.marker.size());
  state_ = State::kBlockOpen;
  return found.marker == kEos ? Status::kEos : Status::kClosed;
}

DsmlParser::Status DsmlParser::step(std::string& buf, StreamDelta& out) {
  for (;;) {
    Step result;
    switch (state_) {
      case State::kBlockOpen:
      case State::kBetweenInvokes:
      case State::kAfterParam:
        result = step_separator(buf, out);
        break;
      case State::kInvokeHeader:
        result = step_invoke_header(buf, out);
        break;
      case State::kParamHeader:
        result = step_param_header(buf, out);
        break;
      case State::kParamValue:
        result = step_param_value(buf, out);
        break;
      case State::kSkip:
        result = step_skip(buf);
        break;
    }
    if (result) return *result;
  }
}

}  // namespace dsv32::chat
