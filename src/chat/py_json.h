#pragma once
// JSON text exactly as Python's json.dumps(value, ensure_ascii=False) writes it: ", " and ": "
// separators, keys in insertion order, non-ASCII left raw, floats as Python's repr. DeepSeek's
// encoder renders tool schemas and tool-call arguments this way, so the prompt depends on it.
//
// Values must come from nlohmann::ordered_json so that object keys keep the order the client sent.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace dsv32::chat {

std::string py_json_dumps(const nlohmann::ordered_json& value);

// Appends the body of a JSON string literal (no surrounding quotes). Invalid UTF-8 bytes become
// U+FFFD so the output is always valid JSON; Python never sees such bytes, so no case differs.
void py_json_escape_into(std::string& out, std::string_view text);

// Python's repr() of a float, e.g. 30.5, 1.0, 1e-05, 1e+16.
std::string py_float_repr(double value);

}  // namespace dsv32::chat
