// End to end: the real `dsv32 serve` on 127.0.0.1 with the users' clients from ../shared/clients,
// run unchanged with only the environment set; the tool-call round trip through the npm openai
// SDK; SIGTERM during a stream.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "serve_process.h"
#include "test_support.h"

namespace dsv32::server {
namespace {

using test::Json;
using test::run_command;
using test::ServeProcess;
namespace fs = std::filesystem;

const fs::path kClients = fs::path(DSV32_SHARED_DIR) / "clients";

// node resolves `import 'openai'` from the script's own folder upward (NODE_PATH does not apply
// to ES modules), so the unchanged client is copied next to a link to tests/e2e/node_modules.
fs::path node_client(const std::string& name, const fs::path& from) {
  const fs::path dir = test::test_tmp() / "clients";
  fs::create_directories(dir);
  const fs::path modules = fs::path(DSV32_E2E_DIR) / "node_modules";
  EXPECT_TRUE(fs::exists(modules / "openai")) << "npm openai SDK missing: run scripts/setup.sh";
  if (!fs::exists(dir / "node_modules")) fs::create_directory_symlink(modules, dir / "node_modules");
  fs::copy_file(from / name, dir / name, fs::copy_options::overwrite_existing);
  return dir / name;
}

std::string env(const ServeProcess& server, const std::string& prompt, int max_tokens) {
  return "DSV32_BASE_URL='" + server.base_url() + "' DSV32_API_KEY=test-key PROMPT='" + prompt +
         "' MAX_TOKENS=" + std::to_string(max_tokens) + " ";
}

fs::path write_script(const std::string& name, const Json& completions) {
  const fs::path file = test::test_tmp() / name;
  std::ofstream(file) << completions.dump();
  return file;
}

// The SSE payloads of curl.sh's output (headers, then events, then the status code).
struct CurlStream {
  std::string reasoning, content;
  bool reasoning_before_content = true, done_last = false;
  int chunks = 0;
};
CurlStream read_curl(const std::string& output) {
  CurlStream out;
  std::vector<std::string> payloads;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("data: ", 0) == 0) payloads.push_back(line.substr(6));
  }
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    if (payloads[i] == "[DONE]") {
      out.done_last = i + 1 == payloads.size();
      continue;
    }
    const Json chunk = Json::parse(payloads[i]);
    out.chunks++;
    if (chunk["choices"].empty()) continue;
    const Json& delta = chunk["choices"][0]["delta"];
    if (delta.contains("reasoning_content") && delta["reasoning_content"].is_string()) {
      if (!out.content.empty()) out.reasoning_before_content = false;
      out.reasoning += delta["reasoning_content"].get<std::string>();
    }
    if (delta.contains("content") && delta["content"].is_string()) out.content += delta["content"].get<std::string>();
  }
  return out;
}

constexpr const char* kThinking = "I should greet them.</think>Hello from dsv32!<｜end▁of▁sentence｜>";

TEST(E2e, CurlClientAgainstTheTinyModel) {
  ServeProcess server({"--model", test::tiny_model().string(), "--api-key", "test-key"});
  const auto result = run_command(env(server, "Hello", 24) + "sh '" + (kClients / "curl.sh").string() + "'");
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("HTTP/1.1 200"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("Content-Type: text/event-stream"), std::string::npos);
  const CurlStream stream = read_curl(result.output);
  EXPECT_TRUE(stream.done_last) << result.output;
  // The tiny model's output is random: in thinking mode it starts inside the reasoning.
  EXPECT_FALSE(stream.reasoning.empty()) << result.output;
  EXPECT_TRUE(stream.reasoning_before_content);
}

TEST(E2e, NodeClientAgainstTheTinyModel) {
  ServeProcess server({"--model", test::tiny_model().string(), "--api-key", "test-key"});
  const fs::path client = node_client("node_openai.mjs", kClients);
  const auto result = run_command(env(server, "Hello", 24) + "node '" + client.string() + "'");
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_FALSE(result.output.empty());
}

// Reasoning, then content, then [DONE], in both clients: the scripted hook stands in for a
// model that actually closes its reasoning.
TEST(E2e, ClientsSeeReasoningThenContentThenDone) {
  const fs::path script = write_script("thinking.json", Json::array({kThinking}));
  ServeProcess server({"--model", test::tiny_model().string(), "--api-key", "test-key", "--debug-scripted-output",
                       script.string()});
  const auto curl = run_command(env(server, "Hi", 100) + "sh '" + (kClients / "curl.sh").string() + "'");
  ASSERT_EQ(curl.status, 0) << curl.output;
  const CurlStream stream = read_curl(curl.output);
  EXPECT_EQ(stream.reasoning, "I should greet them.");
  EXPECT_EQ(stream.content, "Hello from dsv32!");
  EXPECT_TRUE(stream.reasoning_before_content);
  EXPECT_TRUE(stream.done_last);

  const auto node = run_command(env(server, "Hi", 100) + "node '" + node_client("node_openai.mjs", kClients).string() + "'");
  ASSERT_EQ(node.status, 0) << node.output;
  EXPECT_EQ(node.output, "I should greet them.Hello from dsv32!");
}

TEST(E2e, ToolCallRoundTripThroughTheNodeSdk) {
  const std::string call =
      "The user wants weather.</think>\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"get_weather\">\n"
      "<｜DSML｜parameter name=\"city\" string=\"true\">Paris</｜DSML｜parameter>\n</｜DSML｜invoke>\n"
      "</｜DSML｜function_calls><｜end▁of▁sentence｜>";
  const std::string answer = "Got 21.</think>It is 21 °C in Paris.<｜end▁of▁sentence｜>";
  const fs::path script = write_script("tools.json", Json::array({call, call, answer}));
  ServeProcess server({"--model", test::tiny_model().string(), "--debug-scripted-output", script.string()});
  const fs::path client = node_client("tool_round_trip.mjs", DSV32_E2E_DIR);
  const auto result = run_command(env(server, "", 0) + "node '" + client.string() + "'");
  ASSERT_EQ(result.status, 0) << result.output << server.log_text();
  const Json out = Json::parse(result.output, nullptr, false);
  ASSERT_TRUE(out.is_object()) << result.output;
  for (const char* which : {"first", "streamed"}) {
    SCOPED_TRACE(which);
    const Json& choice = out[which];
    EXPECT_EQ(choice["finish_reason"], "tool_calls");
    EXPECT_TRUE(choice["message"]["content"].is_null() || choice["message"]["content"] == "");
    const Json& tool_call = choice["message"]["tool_calls"][0];
    EXPECT_EQ(tool_call["type"], "function");
    EXPECT_EQ(tool_call["function"]["name"], "get_weather");
    EXPECT_EQ(Json::parse(tool_call["function"]["arguments"].get<std::string>()), Json({{"city", "Paris"}}));
    const std::string id = tool_call["id"];
    EXPECT_EQ(id.size(), 29u);
    EXPECT_EQ(id.rfind("call_", 0), 0u);
  }
  EXPECT_EQ(out["first"]["message"]["reasoning_content"], "The user wants weather.");
  EXPECT_NE(out["first"]["message"]["tool_calls"][0]["id"], out["streamed"]["message"]["tool_calls"][0]["id"]);
  EXPECT_EQ(out["second"]["finish_reason"], "stop");
  EXPECT_EQ(out["second"]["message"]["content"], "It is 21 °C in Paris.");
}

TEST(E2e, SigtermLetsTheStreamFinish) {
  std::string words;
  for (int i = 0; i < 150; ++i) words += " w" + std::to_string(i);
  const fs::path script = write_script("long.json", Json::array({words + "<｜end▁of▁sentence｜>"}));
  ServeProcess server({"--model", test::tiny_model().string(), "--debug-scripted-output", script.string(),
                       "--debug-token-interval-ms", "10"});
  std::string body;
  std::thread streamer([&] {
    httplib::Client client("127.0.0.1", server.port());
    const Json request{{"model", "deepseek-ai/deepseek-v3.2"},
                       {"messages", {{{"role", "user"}, {"content", "go"}}}},
                       {"stream", true}};
    const auto res = client.Post("/v1/chat/completions", request.dump(), "application/json");
    if (res) body = res->body;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(server.terminate(), 0) << server.log_text();
  streamer.join();
  const auto payloads = test::sse_payloads(body);
  ASSERT_GE(payloads.size(), 2u) << body;
  EXPECT_EQ(payloads.back(), "[DONE]");
  EXPECT_EQ(Json::parse(payloads[payloads.size() - 2])["choices"][0]["finish_reason"], "stop");
}

}  // namespace
}  // namespace dsv32::server
