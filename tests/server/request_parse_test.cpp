// Request mapping and validation: what each body becomes, and the status each bad one gets.
#include <gtest/gtest.h>

#include "server/api_error.h"
#include "server/request_parse.h"

namespace dsv32::server {
namespace {

using Json = nlohmann::ordered_json;

const ModelNames kModels{{"deepseek-ai/deepseek-v3.2", "deepseek-ai/DeepSeek-V3.2"}};

Json chat_body(Json extra = Json::object()) {
  Json body{{"model", "deepseek-ai/deepseek-v3.2"}, {"messages", Json::array({{{"role", "user"}, {"content", "hi"}}})}};
  for (const auto& [key, value] : extra.items()) body[key] = value;
  return body;
}

int status_of(const Json& body) {
  try {
    parse_chat_request(body, kModels);
  } catch (const ApiError& e) {
    return e.status();
  }
  return 200;
}

TEST(RequestParse, DefaultsAndSampling) {
  const ChatJob job = parse_chat_request(
      chat_body({{"temperature", 0.5}, {"top_p", 0.9}, {"top_k", -1}, {"seed", 42}, {"n", 2},
                 {"stop", "END"}, {"max_tokens", 7}, {"stream", true}, {"stream_options", {{"include_usage", true}}}}),
      kModels);
  EXPECT_FLOAT_EQ(job.common.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(job.common.sampling.top_p, 0.9f);
  EXPECT_EQ(job.common.sampling.top_k, 0);
  EXPECT_EQ(job.common.sampling.seed, 42u);
  EXPECT_EQ(job.common.sampling.n, 2);
  EXPECT_EQ(job.common.sampling.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(job.common.sampling.max_tokens, 7);
  EXPECT_TRUE(job.common.stream);
  EXPECT_TRUE(job.common.include_usage);
  EXPECT_FALSE(job.chat.thinking);
  EXPECT_NE(job.chat.prompt.find("<｜User｜>hi<｜Assistant｜></think>"), std::string::npos);

  const ChatJob plain = parse_chat_request(chat_body(), kModels);
  EXPECT_EQ(plain.common.sampling.max_tokens, -1);  // the rest of the context
  EXPECT_EQ(plain.common.sampling.logprobs, -1);
  EXPECT_EQ(plain.common.model, "deepseek-ai/deepseek-v3.2");
}

TEST(RequestParse, MaxCompletionTokensWinsAndIntegralFloatsPass) {
  const ChatJob job = parse_chat_request(chat_body({{"max_tokens", 5}, {"max_completion_tokens", 9.0}}), kModels);
  EXPECT_EQ(job.common.sampling.max_tokens, 9);
}

TEST(RequestParse, ThinkingSpellingsAndExtraBody) {
  EXPECT_TRUE(parse_chat_request(chat_body({{"chat_template_kwargs", {{"thinking", true}}}}), kModels).chat.thinking);
  EXPECT_TRUE(
      parse_chat_request(chat_body({{"chat_template_kwargs", {{"enable_thinking", true}}}}), kModels).chat.thinking);
  // ChatNVIDIA sends extra_body literally; its keys count as top-level ones.
  const Json wrapped = parse_json_body(
      chat_body({{"extra_body", {{"chat_template_kwargs", {{"thinking", true}}}, {"top_k", 5}}}}).dump());
  const ChatJob job = parse_chat_request(wrapped, kModels);
  EXPECT_TRUE(job.chat.thinking);
  EXPECT_EQ(job.common.sampling.top_k, 5);
}

TEST(RequestParse, NullsAndUnknownFieldsAreIgnored) {
  EXPECT_EQ(status_of(chat_body({{"temperature", nullptr}, {"nvext", {{"guided_json", {}}}}, {"guided_choice", {"a"}},
                                 {"user", "u"}, {"store", false}, {"metadata", {{"k", "v"}}}})),
            200);
}

TEST(RequestParse, HfCasingIsAnAlias) {
  EXPECT_EQ(parse_chat_request(chat_body({{"model", "deepseek-ai/DeepSeek-V3.2"}}), kModels).common.model,
            "deepseek-ai/DeepSeek-V3.2");
}

struct BadCase {
  BadCase(const char* name_, const char* extra_, int status_) : name(name_), extra(Json::parse(extra_)), status(status_) {}
  const char* name;
  Json extra;
  int status;
};

TEST(RequestParse, BadFieldsAreRejectedWithTheirStatus) {
  const std::vector<BadCase> cases = {
      {"unknown model", R"({"model": "gpt-4"})", 404},
      {"model not a string", R"({"model": 3})", 400},
      {"temperature string", R"({"temperature": "hot"})", 400},
      {"temperature too high", R"({"temperature": 2.5})", 400},
      {"top_p zero", R"({"top_p": 0})", 400},
      {"n zero", R"({"n": 0})", 400},
      {"n fractional", R"({"n": 1.5})", 400},
      {"max_tokens zero", R"({"max_tokens": 0})", 400},
      {"max_tokens string", R"({"max_tokens": "10"})", 400},
      {"stream not bool", R"({"stream": "yes"})", 400},
      {"stop wrong type", R"({"stop": 5})", 400},
      {"stop array of numbers", R"({"stop": [1, 2]})", 400},
      {"presence penalty range", R"({"presence_penalty": 3})", 400},
      {"top_logprobs without logprobs", R"({"top_logprobs": 3})", 400},
      {"top_logprobs too many", R"({"logprobs": true, "top_logprobs": 21})", 400},
      {"logit_bias bad key", R"({"logit_bias": {"abc": 1}})", 400},
      {"stream_options not object", R"({"stream_options": true})", 400},
      {"messages missing", R"({"messages": null})", 400},
      {"messages empty", R"({"messages": []})", 400},
      {"messages not array", R"({"messages": "hi"})", 400},
      {"unknown role", R"({"messages": [{"role": "wizard", "content": "x"}]})", 400},
      {"null user content", R"({"messages": [{"role": "user", "content": null}]})", 400},
      {"image part", R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}]})", 400},
      {"invalid tool-call arguments",
       R"({"messages": [{"role": "user", "content": "x"},
          {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "f", "arguments": "{not json"}}]},
          {"role": "tool", "tool_call_id": "call_1", "content": "r"}]})",
       400},
  };
  for (const BadCase& c : cases) {
    Json body = chat_body(c.extra);
    if (c.extra.contains("messages") && c.extra["messages"].is_null()) body.erase("messages");
    EXPECT_EQ(status_of(body), c.status) << c.name;
  }
}

TEST(RequestParse, BodyMustBeAJsonObject) {
  for (const char* text : {"", "{", "[1,2]", "\"hi\"", "{\"a\":\"\xff\"}"}) {
    try {
      parse_json_body(text);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status(), 400) << text;
      EXPECT_EQ(e.body()["error"]["type"], "invalid_request_error");
    }
  }
}

TEST(RequestParse, ContextLimit) {
  EXPECT_NO_THROW(check_context(10, 90, 100));
  EXPECT_NO_THROW(check_context(10, -1, 100));
  try {
    check_context(10, 91, 100);
    ADD_FAILURE();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.body()["error"]["code"], "context_length_exceeded");
  }
  EXPECT_THROW(check_context(100, -1, 100), ApiError);
}

TEST(RequestParse, Completions) {
  const CompletionJob job = parse_completion_request(
      {{"model", "deepseek-ai/deepseek-v3.2"}, {"prompt", {"a", "b"}}, {"n", 2}, {"echo", true}, {"logprobs", 2}},
      kModels);
  EXPECT_EQ(job.prompts.size(), 2u);
  EXPECT_EQ(job.common.sampling.max_tokens, 16);  // OpenAI's default here
  EXPECT_EQ(job.common.sampling.logprobs, 2);
  EXPECT_TRUE(job.echo);
  EXPECT_THROW(parse_completion_request({{"prompt", 5}}, kModels), ApiError);
  EXPECT_THROW(parse_completion_request({{"model", "deepseek-ai/deepseek-v3.2"}}, kModels), ApiError);
}

}  // namespace
}  // namespace dsv32::server
