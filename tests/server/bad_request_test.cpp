// The table of bad requests (issue 6): each gets its status and an OpenAI-shaped error object
// over real HTTP, never a 500.
#include <gtest/gtest.h>

#include "test_support.h"

namespace dsv32::server {
namespace {

using test::Json;
using test::ScriptedServer;

struct Case {
  Case(const char* name_, std::string method_, std::string path_, std::string body_, int status_, const char* type_,
       Json code_ = nullptr, const char* key_ = "secret")
      : name(name_), method(std::move(method_)), path(std::move(path_)), body(std::move(body_)), status(status_),
        type(type_), code(std::move(code_)), key(key_) {}
  const char* name;
  std::string method, path, body;
  int status;
  const char* type;
  Json code;        // checked when not null
  const char* key;  // bearer key sent; "" sends none
};

std::string with(const Json& patch) {
  Json body{{"model", "deepseek-ai/deepseek-v3.2"}, {"messages", Json::array({{{"role", "user"}, {"content", "hi"}}})}};
  for (const auto& [key, value] : patch.items()) {
    if (value.is_null()) {
      body.erase(key);
    } else {
      body[key] = value;
    }
  }
  return body.dump();
}

TEST(BadRequests, EachHasItsStatusAndErrorObject) {
  ServerOptions options;
  options.api_keys = {"secret"};
  options.max_body_bytes = 64 * 1024;
  ScriptedOptions scripted;
  scripted.max_context_tokens = 512;
  ScriptedServer server({"ok<｜end▁of▁sentence｜>"}, options, scripted);
  const std::string chat = "/v1/chat/completions";
  const Json bad_args_messages = {
      {{"role", "user"}, {"content", "x"}},
      {{"role", "assistant"},
       {"content", nullptr},
       {"tool_calls", {{{"id", "c"}, {"type", "function"}, {"function", {{"name", "f"}, {"arguments", "[1"}}}}}}},
      {{"role", "tool"}, {"content", "r"}}};
  const std::vector<Case> cases = {
      {"malformed JSON", "POST", chat, "{\"model\": ", 400, "invalid_request_error"},
      {"not an object", "POST", chat, "[1,2,3]", 400, "invalid_request_error"},
      {"empty body", "POST", chat, "", 400, "invalid_request_error"},
      {"wrong type: temperature", "POST", chat, with({{"temperature", "high"}}), 400, "invalid_request_error"},
      {"wrong type: stream", "POST", chat, with({{"stream", 1}}), 400, "invalid_request_error"},
      {"wrong type: messages", "POST", chat, with({{"messages", {{"role", "user"}}}}), 400, "invalid_request_error"},
      {"unknown model", "POST", chat, with({{"model", "gpt-5"}}), 404, "NotFoundError", "model_not_found"},
      {"missing messages", "POST", chat, with({{"messages", nullptr}}), 400, "invalid_request_error"},
      {"empty messages", "POST", chat, with({{"messages", Json::array()}}), 400, "invalid_request_error"},
      {"unknown role", "POST", chat, with({{"messages", {{{"role", "robot"}, {"content", "x"}}}}}), 400,
       "invalid_request_error"},
      {"invalid tool-call arguments", "POST", chat, with({{"messages", bad_args_messages}}), 400,
       "invalid_request_error"},
      {"max_tokens beyond the context", "POST", chat, with({{"max_tokens", 100000}}), 400, "invalid_request_error",
       "context_length_exceeded"},
      {"prompt beyond the context", "POST", chat,
       with({{"messages", {{{"role", "user"}, {"content", std::string(20000, 'z') + " end"}}}}}), 400,
       "invalid_request_error", "context_length_exceeded"},
      {"invalid UTF-8", "POST", chat,
       "{\"model\":\"deepseek-ai/deepseek-v3.2\",\"messages\":[{\"role\":\"user\",\"content\":\"a\xff\xfe\"}]}", 400,
       "invalid_request_error"},
      {"oversized body", "POST", chat, with({{"messages", {{{"role", "user"}, {"content", std::string(70000, 'a')}}}}}),
       413, "invalid_request_error"},
      {"wrong key", "POST", chat, with({}), 401, "authentication_error", "invalid_api_key", "wrong"},
      {"missing key", "POST", chat, with({}), 401, "authentication_error", "invalid_api_key", ""},
      {"missing key on models", "GET", "/v1/models", "", 401, "authentication_error", "invalid_api_key", ""},
      {"unknown route", "GET", "/v1/nothing", "", 404, "NotFoundError"},
      {"wrong method", "GET", chat, "", 405, "invalid_request_error"},
      {"completions: bad prompt", "POST", "/v1/completions", Json{{"prompt", 7}}.dump(), 400,
       "invalid_request_error"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    httplib::Client client("127.0.0.1", server.port());
    httplib::Headers headers;
    if (std::string(c.key).size() > 0) headers.emplace("Authorization", std::string("Bearer ") + c.key);
    const auto res = c.method == "GET" ? client.Get(c.path.c_str(), headers)
                                       : client.Post(c.path.c_str(), headers, c.body, "application/json");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, c.status) << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    const Json body = Json::parse(res->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << res->body;
    ASSERT_TRUE(body.contains("error")) << res->body;
    const Json& error = body["error"];
    EXPECT_TRUE(error["message"].is_string() && !error["message"].get<std::string>().empty());
    EXPECT_EQ(error["type"], c.type);
    EXPECT_TRUE(error.contains("param") && error.contains("code"));
    if (!c.code.is_null()) {
      EXPECT_EQ(error["code"], c.code);
    }
  }
  // Health needs no key even under /v1; the server is still up after all of the above.
  httplib::Client client("127.0.0.1", server.port());
  EXPECT_EQ(client.Get("/v1/health/ready")->status, 200);
  EXPECT_EQ(client.Get("/health")->status, 200);
  EXPECT_EQ(client.Get("/metrics")->status, 200);
}

}  // namespace
}  // namespace dsv32::server
