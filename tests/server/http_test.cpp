// The HTTP surface over a scripted backend (no model): routes, health, auth, the streaming
// sequence on the wire, disconnect → cancel, admission control, graceful shutdown.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "test_support.h"

namespace dsv32::server {
namespace {

using test::Json;
using test::ScriptedServer;
using test::sse_payloads;

const char* kThinkingText = "I should greet.</think>Hello there!<｜end▁of▁sentence｜>";

std::string chat_body(bool stream, Json extra = Json::object()) {
  Json body{{"model", "deepseek-ai/deepseek-v3.2"},
            {"messages", Json::array({{{"role", "user"}, {"content", "hi"}}})},
            {"chat_template_kwargs", {{"thinking", true}}},
            {"stream", stream}};
  for (const auto& [key, value] : extra.items()) body[key] = value;
  return body.dump();
}

TEST(Http, StreamingSequenceOnTheWire) {
  ScriptedServer server({kThinkingText});
  auto client = server.client();
  const auto res = client.Post("/v1/chat/completions", chat_body(true, {{"stream_options", {{"include_usage", true}}}}),
                               "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_EQ(res->get_header_value("Cache-Control"), "no-cache");
  const auto payloads = sse_payloads(res->body);
  ASSERT_GE(payloads.size(), 5u);
  EXPECT_EQ(payloads.back(), "[DONE]");
  std::string reasoning, content;
  int phase = 0;  // 0 role, 1 reasoning, 2 content, 3 finish, 4 usage
  for (std::size_t i = 0; i + 1 < payloads.size(); ++i) {
    const Json chunk = Json::parse(payloads[i]);
    if (chunk["choices"].empty()) {
      EXPECT_EQ(chunk["usage"]["completion_tokens"].get<int>() > 0, true);
      phase = 4;
      continue;
    }
    const Json& delta = chunk["choices"][0]["delta"];
    if (delta.contains("role")) {
      EXPECT_EQ(phase, 0);
    } else if (!chunk["choices"][0]["finish_reason"].is_null()) {
      phase = 3;
      EXPECT_EQ(chunk["choices"][0]["finish_reason"], "stop");
    } else if (delta["reasoning_content"].is_string()) {
      EXPECT_LE(phase, 1);
      phase = 1;
      reasoning += delta["reasoning_content"].get<std::string>();
    } else if (delta["content"].is_string()) {
      EXPECT_GE(phase, 1);
      phase = 2;
      content += delta["content"].get<std::string>();
    }
  }
  EXPECT_EQ(phase, 4);
  EXPECT_EQ(reasoning, "I should greet.");
  EXPECT_EQ(content, "Hello there!");
}

TEST(Http, NonStreamingResponse) {
  ScriptedServer server({kThinkingText});
  auto client = server.client();
  const auto res = client.Post("/v1/chat/completions", chat_body(false, {{"n", 2}}), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const Json body = Json::parse(res->body);
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  ASSERT_EQ(body["choices"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(body["choices"][i]["index"], i);
    EXPECT_EQ(body["choices"][i]["message"]["content"], "Hello there!");
    EXPECT_EQ(body["choices"][i]["message"]["reasoning_content"], "I should greet.");
    EXPECT_EQ(body["choices"][i]["finish_reason"], "stop");
  }
  EXPECT_GT(body["usage"]["prompt_tokens"].get<int>(), 0);
  EXPECT_EQ(body["usage"]["total_tokens"].get<int>(),
            body["usage"]["prompt_tokens"].get<int>() + body["usage"]["completion_tokens"].get<int>());
}

TEST(Http, CompletionsEndpoint) {
  ScriptedServer server({"abc<｜end▁of▁sentence｜>"});
  auto client = server.client();
  const auto res = client.Post(
      "/v1/completions", Json{{"model", "deepseek-ai/deepseek-v3.2"}, {"prompt", "x"}, {"max_tokens", 2}}.dump(),
      "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const Json body = Json::parse(res->body);
  EXPECT_EQ(body["object"], "text_completion");
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["completion_tokens"], 2);
}

TEST(Http, ModelsHealthMetricsVersion) {
  ScriptedServer server({"x"});
  auto client = server.client();
  const auto models = client.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 200);
  const Json list = Json::parse(models->body);
  EXPECT_EQ(list["object"], "list");
  EXPECT_EQ(list["data"][0]["id"], "deepseek-ai/deepseek-v3.2");
  EXPECT_EQ(list["data"][0]["root"], "deepseek-ai/deepseek-v3.2");
  EXPECT_EQ(list["data"][0]["max_model_len"], 8192);
  EXPECT_EQ(client.Get("/v1/models/deepseek-ai/deepseek-v3.2")->status, 200);
  EXPECT_EQ(client.Get("/v1/models/nope")->status, 404);
  const auto health = client.Get("/health");
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "");
  EXPECT_EQ(client.Get("/v1/health/live")->status, 200);
  EXPECT_EQ(client.Get("/v1/health/ready")->status, 200);
  EXPECT_EQ(client.Get("/version")->status, 200);
  client.Post("/v1/chat/completions", chat_body(false), "application/json");
  const auto metrics = client.Get("/metrics");
  ASSERT_EQ(metrics->status, 200);
  for (const char* name : {"dsv32_http_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} 1",
                           "dsv32_time_to_first_token_seconds_count 1", "dsv32_inter_token_latency_seconds_bucket",
                           "dsv32_engine_requests_waiting", "dsv32_kv_blocks_used", "dsv32_generation_tokens_total"}) {
    EXPECT_NE(metrics->body.find(name), std::string::npos) << name << "\n" << metrics->body;
  }
}

TEST(Http, NotReadyUntilABackendIsSet) {
  ServerOptions options;
  options.port = 0;
  Server server(options);
  server.bind();
  std::thread run([&] { server.run(); });
  httplib::Client client("127.0.0.1", server.port());
  EXPECT_EQ(client.Get("/v1/health/live")->status, 200);
  const auto ready = client.Get("/v1/health/ready");
  EXPECT_EQ(ready->status, 503);
  EXPECT_TRUE(ready->has_header("Retry-After"));
  EXPECT_EQ(client.Post("/v1/chat/completions", chat_body(false), "application/json")->status, 503);
  server.stop();
  run.join();
}

TEST(Http, ClientDisconnectCancelsAtOnce) {
  ScriptedOptions slow;
  slow.token_interval_ms = 20;
  std::string long_text(4000, 'a');
  ScriptedServer server({long_text}, {}, slow);
  {
    auto client = server.client();
    int received = 0;
    // The receiver returns false after a few events: the client closes the connection.
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.body = chat_body(true);
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char*, std::size_t, std::uint64_t, std::uint64_t) { return ++received < 3; };
    client.send(req);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server.backend().metrics().requests_running > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server.backend().metrics().requests_running, 0);
  EXPECT_LT(server.backend().metrics().generation_tokens_total, 100);  // far from the 4000 scripted
  EXPECT_EQ(server.server().state().metrics.active_generations().load(), 0);
}

TEST(Http, QueueFullIs429WithRetryAfter) {
  ScriptedOptions tight;
  tight.max_active = 1;
  tight.token_interval_ms = 20;
  ScriptedServer server({std::string(200, 'a')}, {}, tight);
  std::thread first([&] { server.client().Post("/v1/chat/completions", chat_body(false), "application/json"); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server.backend().metrics().requests_running == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto res = server.client().Post("/v1/chat/completions", chat_body(false), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 429);
  EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  EXPECT_EQ(Json::parse(res->body)["error"]["type"], "rate_limit_error");
  first.join();
}

TEST(Http, GracefulShutdownFinishesInFlightStreams) {
  ScriptedOptions slow;
  slow.token_interval_ms = 10;
  ServerOptions options;
  options.shutdown_grace_s = 10;
  std::string words;
  for (int i = 0; i < 100; ++i) words += " w" + std::to_string(i);
  ScriptedServer server({words + "<｜end▁of▁sentence｜>"}, options, slow);
  std::string body;
  std::thread streamer([&] {
    const auto res = server.client().Post("/v1/chat/completions", chat_body(true), "application/json");
    if (res) body = res->body;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::thread stopper([&] { server.server().shutdown(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // Draining: new work is refused with 503, health says not ready.
  const auto refused = server.client().Post("/v1/chat/completions", chat_body(false), "application/json");
  if (refused) {
    EXPECT_EQ(refused->status, 503);
  }
  streamer.join();
  stopper.join();
  const auto payloads = sse_payloads(body);
  ASSERT_FALSE(payloads.empty());
  EXPECT_EQ(payloads.back(), "[DONE]");
  EXPECT_EQ(Json::parse(payloads[payloads.size() - 2])["choices"][0]["finish_reason"], "stop");
}

}  // namespace
}  // namespace dsv32::server
