#pragma once
// One HTTP request's generation: its submissions to the backend, the events that come back on
// the backend's thread (queued here, so the callbacks return at once), and the loop on the HTTP
// worker thread that feeds them to an Assembler and writes the result. A client that goes away
// cancels every submission at once; so does destroying the Generation early.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "engine/sampling_params.h"
#include "server/assembler.h"

namespace dsv32::server {

class Backend;
class ServerMetrics;

struct Submission {
  std::vector<std::int32_t> prompt;
  engine::SamplingParams sampling;
};

class Generation {
 public:
  using Clock = std::chrono::steady_clock;
  Generation(Backend& backend, ServerMetrics& metrics, Clock::time_point arrived);
  ~Generation();
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  // Submits every prompt. A refusal cancels the ones already accepted and throws the ApiError
  // for it: 429 (queue full), 503 (shutting down), 400 (too long, invalid).
  void submit(std::vector<Submission> submissions);

  // Streaming: writes SSE events through `write` (false: the client is gone) up to and
  // including `data: [DONE]`. `alive` is polled while no event comes. Returns false when the
  // client went away (everything is cancelled then).
  bool stream(Assembler& assembler, const std::function<bool(std::string_view)>& write,
              const std::function<bool()>& alive);
  // Non-streaming: waits for the end; false when the client went away.
  bool collect(Assembler& assembler, const std::function<bool()>& alive);

  void cancel();

 private:
  struct Channel;
  bool pump(Assembler& assembler, std::vector<Json>* chunks, const std::function<bool(std::string_view)>* write,
            const std::function<bool()>& alive);

  Backend& backend_;
  ServerMetrics& metrics_;
  Clock::time_point arrived_;
  std::shared_ptr<Channel> channel_;  // shared with the backend's callbacks
  bool first_token_seen_ = false;
};

// "data: <json>\n\n"
std::string sse_event(const Json& json);

}  // namespace dsv32::server
