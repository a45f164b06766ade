// Bounded loopback load test against the real `dsv32 serve` and the tiny model: 64 streaming
// clients complete correctly while 16 more hang up mid-stream; the server stays up and its
// memory returns to the baseline. Prints requests/s and client-side TTFT p50/p99 at 1 and 64
// clients.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>

#include "serve_process.h"
#include "test_support.h"

namespace dsv32::server {
namespace {

using test::Json;
using Clock = std::chrono::steady_clock;

struct StreamResult {
  bool ok = false;
  double ttft_s = 0;
};

// One streaming chat request; `hang_up_after` > 0 closes the connection after that many reads.
StreamResult stream_once(int port, int max_tokens, int hang_up_after = 0) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(120, 0);
  const Json body{{"model", "deepseek-ai/deepseek-v3.2"},
                  {"messages", {{{"role", "user"}, {"content", "Tell me a story."}}}},
                  {"max_tokens", max_tokens},
                  {"chat_template_kwargs", {{"thinking", true}}},
                  {"stream", true}};
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  std::string received;
  int reads = 0;
  const auto start = Clock::now();
  StreamResult result;
  req.content_receiver = [&](const char* data, std::size_t size, std::uint64_t, std::uint64_t) {
    received.append(data, size);
    if (result.ttft_s == 0 && received.find("reasoning_content\":\"") != std::string::npos) {
      result.ttft_s = std::chrono::duration<double>(Clock::now() - start).count();
    }
    return hang_up_after == 0 || ++reads < hang_up_after;
  };
  const auto res = client.send(req);
  if (hang_up_after > 0) return result;
  const auto payloads = test::sse_payloads(received);
  if (std::getenv("DSV32_LOAD_DEBUG") || !res || payloads.size() < 3 || payloads.back() != "[DONE]") {
    std::fprintf(stderr, "res=%d (%s) status=%d payloads=%zu back=[%s] received=%zu\n", bool(res), httplib::to_string(res.error()).c_str(), res ? res->status : 0, payloads.size(),
                 payloads.empty() ? "" : payloads.back().c_str(), received.size());
  }
  result.ok = res && res->status == 200 && payloads.size() >= 3 && payloads.back() == "[DONE]" &&
              !Json::parse(payloads[payloads.size() - 2])["choices"][0]["finish_reason"].is_null();
  return result;
}

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<std::size_t>(q * static_cast<double>(values.size())))];
}

void report(const char* label, const std::vector<double>& ttft, int requests, double wall_s) {
  std::printf("[load] %s: %d requests in %.2f s = %.1f req/s, TTFT p50 %.1f ms p99 %.1f ms\n", label, requests, wall_s,
              requests / wall_s, 1e3 * percentile(ttft, 0.5), 1e3 * percentile(ttft, 0.99));
}

TEST(Load, SixtyFourStreamsAndSixteenHangUps) {
  const int max_tokens = 24;
  test::ServeProcess server({"--model", test::tiny_model().string()});
  // Warm up, then take the baseline.
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(stream_once(server.port(), max_tokens).ok);

  std::vector<double> single;
  auto start = Clock::now();
  for (int i = 0; i < 8; ++i) {
    const StreamResult r = stream_once(server.port(), max_tokens);
    ASSERT_TRUE(r.ok);
    single.push_back(r.ttft_s);
  }
  report("1 client", single, 8, std::chrono::duration<double>(Clock::now() - start).count());
  // The baseline is taken after the first loaded round: buffers, thread stacks and allocator
  // arenas reach their steady size there; what matters is that a second round adds nothing.
  std::size_t baseline = 0;

  for (int round = 0; round < 2; ++round) {
    std::vector<StreamResult> results(64);
    std::vector<std::thread> threads;
    start = Clock::now();
    for (int i = 0; i < 64; ++i) threads.emplace_back([&, i] { results[i] = stream_once(server.port(), max_tokens); });
    for (int i = 0; i < 16; ++i) threads.emplace_back([&] { stream_once(server.port(), 4 * max_tokens, 3); });
    for (auto& thread : threads) thread.join();
    const double wall_s = std::chrono::duration<double>(Clock::now() - start).count();
    std::vector<double> ttft;
    for (const StreamResult& r : results) {
      EXPECT_TRUE(r.ok);
      ttft.push_back(r.ttft_s);
    }
    report("64 clients + 16 hang-ups", ttft, 64, wall_s);
    if (round == 0) baseline = server.rss_bytes();
  }

  httplib::Client client("127.0.0.1", server.port());
  ASSERT_EQ(client.Get("/health")->status, 200);
  // Everything cancelled or finished: nothing left running, memory back near the baseline.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  std::string metrics;
  while (Clock::now() < deadline) {
    metrics = client.Get("/metrics")->body;
    // The server lets go of a hung-up stream at once; the engine drops it at its next step.
    if (metrics.find("dsv32_generations_active 0") != std::string::npos &&
        metrics.find("dsv32_engine_requests_running 0") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(metrics.find("dsv32_generations_active 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("dsv32_engine_requests_running 0"), std::string::npos) << metrics;
  const std::size_t after = server.rss_bytes();
  std::printf("[load] RSS baseline %.1f MiB, after %.1f MiB\n", baseline / 1048576.0, after / 1048576.0);
  EXPECT_LT(after, baseline + (32u << 20)) << "memory did not return to the baseline";
  EXPECT_EQ(server.terminate(), 0);
}

}  // namespace
}  // namespace dsv32::server
