#pragma once
// Comparing a parsed message with a fixture's expected message, and the lenient readings this
// project chose for the malformed fixture cases (their server_guidance, API.md §5.1).
#include <gtest/gtest.h>

#include "chat/message.h"
#include "chat/tokens.h"

namespace dsv32::chat::testing {

inline void expect_message(const ParsedMessage& got, const nlohmann::ordered_json& expected) {
  EXPECT_EQ(got.reasoning_content.value_or(""), expected["reasoning_content"].get<std::string>());
  if (expected["content"].is_null()) {
    EXPECT_FALSE(got.content.has_value()) << *got.content;
  } else {
    ASSERT_TRUE(got.content.has_value());
    EXPECT_EQ(*got.content, expected["content"].get<std::string>());
  }
  const auto& calls = expected["tool_calls"];
  ASSERT_EQ(got.tool_calls.size(), calls.size());
  for (std::size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(got.tool_calls[i].name, calls[i]["function"]["name"].get<std::string>());
    // The exact text the official parser builds (separators, escaping), valid JSON or not.
    EXPECT_EQ(got.tool_calls[i].arguments, calls[i]["function"]["arguments"].get<std::string>());
    if (calls[i].value("arguments_valid_json", false)) {
      EXPECT_EQ(nlohmann::json::parse(got.tool_calls[i].arguments), nlohmann::json::parse(calls[i]["arguments_json"].dump()));
    }
  }
}

// Expected lenient results for the cases the official parser rejects. "$TEXT_WITHOUT_EOS" stands
// for the completion text minus its final end-of-sentence token.
inline nlohmann::ordered_json lenient_expectations() {
  return nlohmann::ordered_json::parse(R"JSON({
  "p_thinking_missing_end_think": {"reasoning_content": "I keep thinking and never close the block.", "content": null, "tool_calls": []},
  "p_thinking_truncated_mid_reasoning": {"reasoning_content": "Let me count: 1, 2, 3, 4", "content": null, "tool_calls": []},
  "p_chat_truncated_no_eos": {"reasoning_content": "", "content": "The answer is forty", "tool_calls": []},
  "p_thinking_end_think_then_truncated": {"reasoning_content": "Plan.", "content": "Partial ans", "tool_calls": []},
  "p_empty_completion_chat": {"reasoning_content": "", "content": "", "tool_calls": []},
  "p_unterminated_tool_call": {"reasoning_content": "", "content": "", "tool_calls": []},
  "p_unterminated_function_calls_block": {"reasoning_content": "", "content": "", "tool_calls": [
      {"function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
  "p_tool_call_inside_thinking": {"reasoning_content": "$TEXT_WITHOUT_EOS", "content": null, "tool_calls": []},
  "p_text_after_tool_calls": {"reasoning_content": "", "content": "\nDone.", "tool_calls": [
      {"function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
  "p_single_newline_before_function_calls": {"reasoning_content": "", "content": "Checking.\n", "tool_calls": [
      {"function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
  "p_end_think_in_chat_mode": {"reasoning_content": "", "content": "some reasoningThe answer.", "tool_calls": []},
  "p_missing_string_attribute": {"reasoning_content": "", "content": "", "tool_calls": []},
  "p_duplicate_parameter": {"reasoning_content": "", "content": "", "tool_calls": []},
  "p_content_after_eos": {"reasoning_content": "", "content": "Hi", "tool_calls": []},
  "p_think_tag_inside_reasoning": {"reasoning_content": "nested", "content": "Answer", "tool_calls": []}
})JSON");
}

// What the lenient parser must return for a fixture case: the official result when there is one.
inline nlohmann::ordered_json lenient_expected(const nlohmann::ordered_json& c) {
  if (!c["expected"].is_null()) return c["expected"];
  const auto table = lenient_expectations();
  const std::string name = c["name"].get<std::string>();
  if (!table.contains(name)) {
    ADD_FAILURE() << "no lenient expectation for " << name;
    return nlohmann::ordered_json();
  }
  auto expected = table[name];
  if (expected["reasoning_content"] == "$TEXT_WITHOUT_EOS") {
    std::string text = c["completion_text"].get<std::string>();
    text.resize(text.size() - tokens::kEos.size());
    expected["reasoning_content"] = text;
  }
  return expected;
}

}  // namespace dsv32::chat::testing
