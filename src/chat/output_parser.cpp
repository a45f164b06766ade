#include "chat/output_parser.h"

#include "chat/text_scan.h"
#include "chat/tokens.h"
#include "chat/utf8.h"
#include "util/error.h"

namespace dsv32::chat {

namespace {

using tokens::kBos;
using tokens::kCallsOpen;
using tokens::kCallsStart;
using tokens::kEos;
using tokens::kThinkEnd;
using tokens::kThinkStart;

constexpr const char* kStrayToken = "Unexpected special token in content";

}  // namespace

OutputParser::OutputParser(const OutputParserOptions& options)
    : state_(!options.thinking ? State::kContent
             : options.prompt_opened_think ? State::kReasoning
                                           : State::kMaybeThink),
      dsml_(options.id_seed) {
  if (options.thinking) message_.reasoning_content = "";
  if (!options.thinking) message_.content = "";
}

void OutputParser::note(const char* problem) {
  if (!message_.malformed) message_.problem = problem;
  message_.malformed = true;
}

void OutputParser::emit_text(StreamDelta& out, bool reasoning, std::string_view text) {
  if (text.empty()) return;
  if (reasoning) {
    out.reasoning_content += text;
    *message_.reasoning_content += text;
  } else {
    if (after_block_) note("Unexpected content after tool calls");
    out.content += text;
    *message_.content += text;
  }
}

// Emits what is certain of the buffer, keeping its last `held` bytes (a possible marker start).
// At the end, a held partial special token ("<｜...") is dropped rather than shown.
void OutputParser::flush_held(StreamDelta& out, bool reasoning, std::size_t held, bool final) {
  std::size_t n = buf_.size() - held;
  if (!final) n = utf8::complete_prefix_length(std::string_view(buf_).substr(0, n));
  emit_text(out, reasoning, std::string_view(buf_).substr(0, n));
  buf_.erase(0, n);
  if (final) {
    if (buf_.find("<｜") == std::string::npos) {
      emit_text(out, reasoning, buf_);
    } else {
      note("output ended inside a special token");
    }
    buf_.clear();
  }
}

bool OutputParser::step_reasoning(StreamDelta& out, bool final) {
  const auto found = scan::find_first(buf_, {kThinkEnd, kEos, kThinkStart, kBos});
  if (found.pos == scan::kNone) {
    flush_held(out, true, scan::partial_length(buf_, {kThinkEnd, kEos, kThinkStart, kBos}), final);
    return false;
  }
  emit_text(out, true, std::string_view(buf_).substr(0, found.pos));
  buf_.erase(0, found.pos + found.marker.size());
  if (found.marker == kThinkEnd) {
    state_ = State::kContent;
    message_.content = "";
  } else if (found.marker == kEos) {
    state_ = State::kDone;
    message_.saw_eos = true;
  } else {
    note(kStrayToken);  // a repeated <think> (the prompt already opened one) or a BOS
  }
  return true;
}

bool OutputParser::step_content(StreamDelta& out, bool final) {
  const auto found = scan::find_first(buf_, {kEos, kCallsOpen, kThinkEnd, kThinkStart, kBos});
  if (found.pos == scan::kNone) {
    // "\n\n" may be the start of the tool-call marker: those newlines are not content.
    const std::size_t held = scan::partial_length(buf_, {kEos, kCallsStart, kCallsOpen, kThinkEnd, kThinkStart, kBos});
    flush_held(out, false, held, final);
    return false;
  }
  std::string_view text = std::string_view(buf_).substr(0, found.pos);
  if (found.marker == kCallsOpen) {
    if (text.ends_with("\n\n")) {
      text.remove_suffix(2);
    } else {
      note(kStrayToken);
    }
    if (after_block_) note("Unexpected content after tool calls");
  }
  emit_text(out, false, text);
  buf_.erase(0, found.pos + found.marker.size());
  if (found.marker == kCallsOpen) {
    state_ = State::kToolCalls;
    dsml_.open_block();
  } else if (found.marker == kEos) {
    state_ = State::kDone;
    message_.saw_eos = true;
  } else {
    note(kStrayToken);
  }
  return true;
}

void OutputParser::process(StreamDelta& out, bool final) {
  for (;;) {
    switch (state_) {
      case State::kMaybeThink:
        if (buf_.starts_with(kThinkStart)) {
          buf_.erase(0, kThinkStart.size());
          state_ = State::kReasoning;
        } else if (!final && kThinkStart.starts_with(buf_)) {
          return;
        } else {
          state_ = State::kContent;
          message_.content = "";
        }
        break;
      case State::kReasoning:
        if (!step_reasoning(out, final)) return;
        break;
      case State::kContent:
        if (!step_content(out, final)) return;
        break;
      case State::kToolCalls: {
        const auto status = dsml_.step(buf_, out);
        if (status == DsmlParser::Status::kNeedMore) {
          if (final) {
            dsml_.finish_truncated(buf_);
            buf_.clear();
          }
          return;
        }
        if (status == DsmlParser::Status::kEos) {
          state_ = State::kDone;
          message_.saw_eos = true;
        } else {
          state_ = State::kContent;
          after_block_ = true;
        }
        break;
      }
      case State::kDone:
        if (!buf_.empty()) note("Unexpected content at end");
        buf_.clear();
        return;
    }
  }
}

StreamDelta OutputParser::feed(std::string_view piece) {
  if (finished_) fail("OutputParser::feed called after finish()");
  StreamDelta out;
  buf_ += piece;
  process(out, false);
  return out;
}

OutputParser::Final OutputParser::finish() {
  if (finished_) fail("OutputParser::finish called twice");
  finished_ = true;
  Final result;
  process(result.delta, true);
  ParsedMessage& m = message_;
  m.tool_calls = dsml_.complete_calls();
  if (dsml_.malformed()) note(dsml_.problem().c_str());
  if (m.reasoning_content && !m.content) note("Invalid thinking format");
  if (!m.saw_eos && state_ == State::kContent && !after_block_) note("Invalid summary format");
  // The official parser rejects DSML text anywhere in content or reasoning.
  for (const auto* text : {&m.reasoning_content, &m.content}) {
    if (*text && (*text)->find(tokens::kDsml) != std::string::npos) note(kStrayToken);
  }
  result.message = std::move(m);
  return result;
}

ParsedMessage parse_completion(std::string_view text, const OutputParserOptions& options) {
  OutputParser parser(options);
  parser.feed(text);
  return parser.finish().message;
}

}  // namespace dsv32::chat
