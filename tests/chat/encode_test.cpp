// The prompt encoder against shared/chatfmt/encode.jsonl and DeepSeek's own fixtures, and the
// request mapping (OpenAI request -> encoder input) that the server uses.
#include <gtest/gtest.h>

#include "chat/encoder.h"
#include "chat/py_json.h"
#include "chat/request.h"
#include "fixtures.h"
#include "util/error.h"

namespace dsv32::chat {
namespace {

using Json = nlohmann::ordered_json;
using testing::load_jsonl;

class EncodeCase : public ::testing::TestWithParam<Json> {};

EncodeOptions options_of(const Json& c) {
  const auto& call = c["encoder_call"];
  EncodeOptions options;
  options.thinking = call["thinking_mode"] == "thinking";
  options.drop_thinking = call["drop_thinking"].get<bool>();
  options.add_default_bos_token = call["add_default_bos_token"].get<bool>();
  return options;
}

bool default_call(const Json& c) {
  const auto options = options_of(c);
  return options.drop_thinking && options.add_default_bos_token && c["encoder_context"].is_null();
}

Json request_of(const Json& c) {
  Json request = {{"model", "deepseek-ai/deepseek-v3.2"}, {"messages", c["messages"]}};
  if (!c["tools"].is_null()) request["tools"] = c["tools"];
  request["chat_template_kwargs"] = {{"thinking", c["thinking"]}};
  return request;
}

TEST_P(EncodeCase, EncoderReproducesOfficialOutput) {
  const Json& c = GetParam();
  if (!c["expected_error"].is_null()) {
    EXPECT_THROW(encode_messages(c["encoder_messages"], options_of(c), c["encoder_context"]), Error)
        << "official: " << c["expected_error"].dump();
    return;
  }
  EXPECT_EQ(encode_messages(c["encoder_messages"], options_of(c), c["encoder_context"]),
            c["expected_prompt"].get<std::string>());
}

TEST_P(EncodeCase, RequestMappingGivesEncoderMessages) {
  const Json& c = GetParam();
  const Json request = request_of(c);
  if (!c["request_valid"].get<bool>()) {
    EXPECT_THROW(render_chat_request(request), Error);
    return;
  }
  const EncoderInput input = map_chat_request(request);
  // Key order inside a message does not affect rendering; compare as unordered JSON.
  EXPECT_EQ(nlohmann::json::parse(input.messages.dump()), nlohmann::json::parse(c["encoder_messages"].dump()));
  EXPECT_EQ(input.thinking, c["thinking"].get<bool>());
}

TEST_P(EncodeCase, RequestRendersExpectedPrompt) {
  const Json& c = GetParam();
  if (!c["request_valid"].get<bool>() || !default_call(c)) GTEST_SKIP() << "not expressible as a request";
  const Json request = request_of(c);
  if (!c["expected_error"].is_null()) {
    EXPECT_THROW(render_chat_request(request), Error);
    return;
  }
  const RenderedChat rendered = render_chat_request(request);
  EXPECT_EQ(rendered.prompt, c["expected_prompt"].get<std::string>());
  EXPECT_EQ(rendered.thinking, c["thinking"].get<bool>());
}

INSTANTIATE_TEST_SUITE_P(ChatFixtures, EncodeCase, ::testing::ValuesIn(load_jsonl("encode.jsonl")), testing::CaseName());

std::string strip_trailing_space(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) text.pop_back();
  return text;
}

EncodeOptions thinking_options() {
  EncodeOptions options;
  options.thinking = true;
  return options;
}

// DeepSeek's test_encoding_dsv32.py: messages[0]["tools"] = tools, thinking mode, .strip().
TEST(ChatOfficialFixtures, TestInput) {
  const Json input = Json::parse(testing::read_file(testing::chatfmt_path("official/test_input.json")));
  Json messages = input["messages"];
  messages[0]["tools"] = input["tools"];
  EXPECT_EQ(encode_messages(messages, thinking_options()),
            strip_trailing_space(testing::read_file(testing::chatfmt_path("official/test_output.golden"))));
}

TEST(ChatOfficialFixtures, SearchWithoutDate) {
  const Json input = Json::parse(testing::read_file(testing::chatfmt_path("official/test_input_search_wo_date.json")));
  EXPECT_EQ(encode_messages(input["messages"], thinking_options()),
            strip_trailing_space(testing::read_file(testing::chatfmt_path("official/test_output_search_wo_date.golden"))));
}

TEST(ChatOfficialFixtures, SearchWithDate) {
  const Json input = Json::parse(testing::read_file(testing::chatfmt_path("official/test_input_search_w_date.json")));
  EXPECT_EQ(encode_messages(input["messages"], thinking_options()),
            strip_trailing_space(testing::read_file(testing::chatfmt_path("official/test_output_search_w_date.golden"))));
}

// The request path renders the official conversation identically when tools come in `tools`.
TEST(ChatOfficialFixtures, TestInputAsRequest) {
  const Json input = Json::parse(testing::read_file(testing::chatfmt_path("official/test_input.json")));
  const Json request = {{"messages", input["messages"]}, {"tools", input["tools"]},
                        {"chat_template_kwargs", {{"thinking", true}}}};
  EXPECT_EQ(render_chat_request(request).prompt,
            strip_trailing_space(testing::read_file(testing::chatfmt_path("official/test_output.golden"))));
}

Json user_request(Json extra = Json::object()) {
  Json request = {{"messages", Json::array({{{"role", "user"}, {"content", "Hi"}}})}};
  for (auto& [key, value] : extra.items()) request[key] = value;
  return request;
}

TEST(ChatRequestMapping, ThinkingSpellings) {
  EXPECT_FALSE(render_chat_request(user_request()).thinking);
  EXPECT_TRUE(render_chat_request(user_request({{"chat_template_kwargs", {{"enable_thinking", true}}}})).thinking);
  EXPECT_TRUE(render_chat_request(user_request({{"extra_body", {{"chat_template_kwargs", {{"thinking", true}}}}}})).thinking);
  EXPECT_FALSE(render_chat_request(user_request({{"chat_template_kwargs", {{"thinking", false}}}})).thinking);
  EXPECT_TRUE(render_chat_request(user_request({{"chat_template_kwargs", {{"thinking", true}}}})).prompt.ends_with("<think>"));
  EXPECT_THROW(render_chat_request(user_request({{"chat_template_kwargs", {{"thinking", "yes"}}}})), Error);
}

TEST(ChatRequestMapping, InvalidRequestsAreRejected) {
  EXPECT_THROW(render_chat_request(Json::array()), Error);
  EXPECT_THROW(render_chat_request(Json{{"messages", Json::array()}}), Error);
  EXPECT_THROW(render_chat_request(Json{{"messages", Json::array({{{"role", "bot"}, {"content", "x"}}})}}), Error);
  EXPECT_THROW(render_chat_request(Json{{"messages", Json::array({{{"role", "user"}, {"content", 3}}})}}), Error);
  const Json image_part = Json::array({{{"type", "image_url"}, {"image_url", {{"url", "x"}}}}});
  EXPECT_THROW(render_chat_request(Json{{"messages", Json::array({{{"role", "user"}, {"content", image_part}}})}}), Error);
  EXPECT_THROW(render_chat_request(user_request({{"tools", Json::array({{{"type", "function"}}})}})), Error);
  EXPECT_THROW(render_chat_request(user_request({{"response_format", {{"type", "xml"}}}})), Error);
  // Thinking mode has no assistant prefill: a trailing assistant turn needs reasoning.
  Json messages = Json::array({{{"role", "user"}, {"content", "Hi"}}, {{"role", "assistant"}, {"content", "Hel"}}});
  EXPECT_THROW(render_chat_request(Json{{"messages", messages}, {"chat_template_kwargs", {{"thinking", true}}}}), Error);
}

TEST(ChatRequestMapping, ReasoningAliasIsAccepted) {
  Json messages = Json::array({{{"role", "user"}, {"content", "Hi"}},
                               {{"role", "assistant"}, {"content", "Hello"}, {"reasoning", "greet"}}});
  const Json request = {{"messages", messages}, {"chat_template_kwargs", {{"thinking", true}}}};
  EXPECT_EQ(render_chat_request(request).prompt,
            "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜><think>greet</think>Hello<｜end▁of▁sentence｜>");
}

TEST(ChatRequestMapping, ToolChoiceNoneLeavesToolsOut) {
  const Json tools = Json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}});
  EXPECT_EQ(render_chat_request(user_request({{"tools", tools}, {"tool_choice", "none"}})).prompt,
            "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜></think>");
  const RenderedChat with_tools = render_chat_request(user_request({{"tools", tools}}));
  EXPECT_TRUE(with_tools.tools_enabled);
  EXPECT_NE(with_tools.prompt.find("{\"name\": \"f\"}\n</functions>"), std::string::npos);
}

TEST(ChatRequestMapping, ResponseFormatGoesOnTheLeadingSystemMessage) {
  const Json format = {{"type", "json_object"}};
  EXPECT_EQ(render_chat_request(user_request({{"response_format", format}})).prompt,
            "<｜begin▁of▁sentence｜>\n\n## Response Format:\n\nYou MUST strictly adhere to the following schema to "
            "reply:\n{\"type\": \"json_object\"}<｜User｜>Hi<｜Assistant｜></think>");
  EXPECT_EQ(render_chat_request(user_request({{"response_format", {{"type", "text"}}}})).prompt,
            "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜></think>");
}

TEST(ChatRequestMapping, ObjectArgumentsOnlyWhenAllowed) {
  const Json call = {{"id", "t"}, {"type", "function"},
                     {"function", {{"name", "get_time"}, {"arguments", {{"timezone", "UTC"}, {"n", 1.5}}}}}};
  Json messages = Json::array({{{"role", "user"}, {"content", "time?"}},
                               {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", Json::array({call})}},
                               {{"role", "tool"}, {"content", "12:00"}}});
  const Json request = {{"messages", messages}};
  EXPECT_THROW(render_chat_request(request), Error);
  RequestOptions lenient;
  lenient.accept_object_arguments = true;
  Json as_string = request;
  as_string["messages"][1]["tool_calls"][0]["function"]["arguments"] = R"({"timezone": "UTC", "n": 1.5})";
  EXPECT_EQ(render_chat_request(request, lenient).prompt, render_chat_request(as_string).prompt);
}

}  // namespace
}  // namespace dsv32::chat
