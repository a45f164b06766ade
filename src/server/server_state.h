#pragma once
// What the routes share: the options, the backend (null while the model loads), the metrics,
// and whether the server is draining for shutdown. Owned by Server; no globals.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "server/metrics.h"
#include "server/request_parse.h"

namespace dsv32::server {

class Backend;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;  // 0: any free port (see Server::port())
  std::vector<std::string> api_keys;  // empty: no auth
  ModelNames models{{"deepseek-ai/deepseek-v3.2", "deepseek-ai/DeepSeek-V3.2"}};
  // Each open connection holds one worker while it is served, a stream for its whole life: 64
  // decoding + 16 disconnecting streams + health/metrics need well over 80.
  std::size_t http_threads = 192;
  // Generations at once before 503; the rest of the workers stay free for health and metrics.
  std::int64_t max_generations = 160;
  std::size_t max_body_bytes = 8u << 20;
  int read_timeout_s = 30;  // a client that stalls mid-request is dropped after this
  int write_timeout_s = 30;
  int keep_alive_timeout_s = 5;
  double shutdown_grace_s = 30;  // in-flight generations may run this long after SIGTERM
};

struct ServerState {
  ServerOptions options;
  std::atomic<Backend*> backend{nullptr};
  std::atomic<bool> draining{false};
  ServerMetrics metrics;
  std::int64_t started_unix = 0;
};

}  // namespace dsv32::server
