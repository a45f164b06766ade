#pragma once
// DeepSeek's parse_message_from_completion_text (encoding_dsv32.py), ported exactly: it accepts
// only well-formed output and throws dsv32::Error with the official assertion text otherwise
// ("Invalid thinking format", "Parameter format error", ...). The server uses the lenient
// streaming OutputParser instead; this one is the reference it is tested against.
#include <string_view>

#include "chat/message.h"

namespace dsv32::chat {

// `thinking`: the prompt ended with <think>. Tool-call ids are left empty (the official parser
// has none). reasoning_content and content are always set (possibly "").
ParsedMessage parse_completion_strict(std::string_view text, bool thinking);

// The parts of the official regexes, shared with the streaming parser.
namespace dsml {

// `^\s*name="(.*?)">\n$` (DOTALL) on the text between <｜DSML｜invoke and the next marker.
bool match_invoke_header(std::string_view header, std::string& name);

// How a parameter value ends under `(.*?)<$`: "<" or (Python's $ before a final newline) "<\n".
// Returns the length of that ending, 0 if neither.
std::size_t value_terminator_length(std::string_view value);

// `"name": value` of the official decode_dsml_to_arguments: key JSON-quoted, string values
// JSON-quoted, others pasted verbatim.
std::string argument_key_prefix(std::string_view name, bool is_string);

}  // namespace dsml

}  // namespace dsv32::chat
