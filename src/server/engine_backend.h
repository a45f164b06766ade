#pragma once
// The real generator: owns the engine and forwards to it.
#include <memory>

#include "server/backend.h"

namespace dsv32::server {

class EngineBackend final : public Backend {
 public:
  explicit EngineBackend(const engine::EngineOptions& options);
  ~EngineBackend() override;

  engine::SubmitResult submit(engine::GenerationRequest request) override;
  void cancel(std::int64_t request_id) override;
  void shutdown(double grace_s) override;
  engine::EngineMetrics metrics() const override;
  const Tokenizer& tokenizer() const override;
  std::int64_t max_context_tokens() const override;

 private:
  std::unique_ptr<engine::Engine> engine_;
};

}  // namespace dsv32::server
