#pragma once
// The literal special-token and DSML strings of DeepSeek-V3.2's chat format. They use the
// fullwidth bar U+FF5C and U+2581, exactly as in DeepSeek's encoding_dsv32.py.
#include <string_view>

namespace dsv32::chat::tokens {

inline constexpr std::string_view kBos = "<｜begin▁of▁sentence｜>";
inline constexpr std::string_view kEos = "<｜end▁of▁sentence｜>";
inline constexpr std::string_view kUser = "<｜User｜>";
inline constexpr std::string_view kAssistant = "<｜Assistant｜>";
inline constexpr std::string_view kThinkStart = "<think>";
inline constexpr std::string_view kThinkEnd = "</think>";

// DSML tool-call markup. The official parser searches for these exact fragments; note that
// the parameter terminator is matched without its leading '<' (the value regex eats it).
inline constexpr std::string_view kCallsStart = "\n\n<｜DSML｜function_calls";
inline constexpr std::string_view kCallsOpen = "<｜DSML｜function_calls";
inline constexpr std::string_view kCallsClose = "</｜DSML｜function_calls>";
inline constexpr std::string_view kInvokeOpen = "<｜DSML｜invoke";
inline constexpr std::string_view kInvokeClose = "</｜DSML｜invoke";
inline constexpr std::string_view kParamOpen = "<｜DSML｜parameter";
inline constexpr std::string_view kParamClose = "/｜DSML｜parameter";
inline constexpr std::string_view kDsml = "｜DSML｜";

}  // namespace dsv32::chat::tokens
