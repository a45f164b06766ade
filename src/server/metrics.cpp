#include "server/metrics.h"

#include <algorithm>

#include <fmt/format.h>

namespace dsv32::server {

Histogram::Histogram(std::vector<double> bounds_s) : bounds_(std::move(bounds_s)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value_s) {
  const std::size_t bucket =
      static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value_s) - bounds_.begin());
  std::lock_guard lock(mutex_);
  counts_[bucket]++;
  sum_ += value_s;
  count_++;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  std::lock_guard lock(mutex_);
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cumulative);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, count_, name, sum_, name, count_);
}

double Histogram::quantile(double q) const {
  std::lock_guard lock(mutex_);
  if (count_ == 0) return 0;
  const double target = q * static_cast<double>(count_);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    if (static_cast<double>(cumulative) >= target) return bounds_[i];
  }
  return bounds_.empty() ? 0 : bounds_.back();
}

namespace {
std::vector<double> latency_buckets_s() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60};
}
}  // namespace

ServerMetrics::ServerMetrics()
    : ttft_(latency_buckets_s()),
      itl_(latency_buckets_s()),
      duration_({0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}) {}

void ServerMetrics::count_request(const std::string& endpoint, int status) {
  std::lock_guard lock(mutex_);
  requests_[{endpoint, status}]++;
}

void ServerMetrics::add_tokens(std::int64_t prompt, std::int64_t cached, std::int64_t completion) {
  std::lock_guard lock(mutex_);
  prompt_tokens_ += prompt;
  cached_tokens_ += cached;
  completion_tokens_ += completion;
}

std::string ServerMetrics::render(const engine::EngineMetrics& engine) const {
  std::string out;
  const auto counter = [&](const char* name, const char* help, std::int64_t value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, value);
  };
  const auto gauge = [&](const char* name, const char* help, std::int64_t value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, value);
  };
  {
    std::lock_guard lock(mutex_);
    out += "# HELP dsv32_http_requests_total HTTP requests by endpoint and status.\n";
    out += "# TYPE dsv32_http_requests_total counter\n";
    for (const auto& [key, count] : requests_) {
      out += fmt::format("dsv32_http_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", key.first, key.second,
                         count);
    }
    counter("dsv32_prompt_tokens_total", "Prompt tokens of finished requests.", prompt_tokens_);
    counter("dsv32_cached_prompt_tokens_total", "Prompt tokens reused from the prefix cache.", cached_tokens_);
    counter("dsv32_generation_tokens_total", "Generated tokens of finished requests.", completion_tokens_);
  }
  counter("dsv32_client_disconnects_total", "Generations cancelled because the client went away.", disconnects_.load());
  gauge("dsv32_generations_active", "HTTP requests generating now.", active_.load());
  gauge("dsv32_engine_requests_running", "Sequences the engine is decoding.", engine.requests_running);
  gauge("dsv32_engine_requests_waiting", "Requests queued in the engine.", engine.requests_waiting);
  counter("dsv32_engine_requests_total", "Requests the engine accepted.", engine.requests_total);
  counter("dsv32_engine_forward_steps_total", "Forward steps the engine ran.", engine.forward_steps_total);
  gauge("dsv32_kv_blocks_used", "KV-cache blocks in use.", engine.kv_blocks_used);
  gauge("dsv32_kv_blocks_total", "KV-cache blocks in all.", engine.kv_blocks_total);
  ttft_.render(out, "dsv32_time_to_first_token_seconds", "From request arrival to the first generated token.");
  itl_.render(out, "dsv32_inter_token_latency_seconds", "Between consecutive tokens of one choice.");
  duration_.render(out, "dsv32_request_duration_seconds", "From request arrival to its last event.");
  return out;
}

}  // namespace dsv32::server
