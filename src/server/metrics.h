#pragma once
// The server's Prometheus metrics (GET /metrics, text format 0.0.4): requests by endpoint and
// status, tokens in and out, time to first token, inter-token latency, and the engine's queue
// and KV-cache gauges read at scrape time.
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/engine.h"

namespace dsv32::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds_s);
  void observe(double value_s);
  void render(std::string& out, const std::string& name, const std::string& help) const;
  // The q-quantile estimated from the buckets (upper bound of the bucket it falls in).
  double quantile(double q) const;

 private:
  mutable std::mutex mutex_;
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bucket, plus one for +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

class ServerMetrics {
 public:
  ServerMetrics();

  void count_request(const std::string& endpoint, int status);
  void add_tokens(std::int64_t prompt, std::int64_t cached, std::int64_t completion);
  Histogram& time_to_first_token() { return ttft_; }
  Histogram& inter_token_latency() { return itl_; }
  Histogram& request_duration() { return duration_; }
  std::atomic<std::int64_t>& active_generations() { return active_; }
  std::atomic<std::int64_t>& client_disconnects() { return disconnects_; }

  std::string render(const engine::EngineMetrics& engine) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  std::int64_t prompt_tokens_ = 0, cached_tokens_ = 0, completion_tokens_ = 0;
  Histogram ttft_, itl_, duration_;
  std::atomic<std::int64_t> active_{0}, disconnects_{0};
};

}  // namespace dsv32::server
