#pragma once
// What the server needs from a generator: the engine's submit/cancel/metrics surface. The real
// one is EngineBackend; ScriptedBackend replays fixed completions for tests (tool-call round
// trips with a model whose output is random, HTTP load without model cost).
#include <cstdint>

#include "engine/engine.h"

namespace dsv32 {
class Tokenizer;
}

namespace dsv32::server {

class Backend {
 public:
  virtual ~Backend() = default;
  // Events arrive on a backend thread through request.on_event/on_done (keep them quick).
  virtual engine::SubmitResult submit(engine::GenerationRequest request) = 0;
  virtual void cancel(std::int64_t request_id) = 0;
  // Refuse new requests; let running ones finish, or cancel them after grace_s.
  virtual void shutdown(double grace_s) = 0;
  virtual engine::EngineMetrics metrics() const = 0;
  virtual const Tokenizer& tokenizer() const = 0;
  virtual std::int64_t max_context_tokens() const = 0;
};

}  // namespace dsv32::server
