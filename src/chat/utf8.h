#pragma once
// The few UTF-8 facts the chat layer needs: where a streamed piece may be cut without splitting
// a character, and Python's notion of whitespace (the official parser's regex uses \s).
#include <cstddef>
#include <string_view>

namespace dsv32::chat::utf8 {

// Length of the valid UTF-8 sequence starting at s[0]; 0 if s[0] starts no valid sequence.
// Sets `incomplete` when s holds a valid but unfinished prefix of a sequence (s too short).
std::size_t sequence_length(std::string_view s, bool& incomplete);

// Length of s without a trailing unfinished (but so far valid) sequence: the part that can be
// emitted now without cutting a character that the next piece may complete.
std::size_t complete_prefix_length(std::string_view s);

// Bytes of leading whitespace as Python's str.isspace() sees it (what `\s` matches).
std::size_t leading_python_space(std::string_view s);

}  // namespace dsv32::chat::utf8
