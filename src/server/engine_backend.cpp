#include "server/engine_backend.h"

namespace dsv32::server {

EngineBackend::EngineBackend(const engine::EngineOptions& options)
    : engine_(std::make_unique<engine::Engine>(options)) {}

EngineBackend::~EngineBackend() = default;

engine::SubmitResult EngineBackend::submit(engine::GenerationRequest request) {
  return engine_->submit(std::move(request));
}

void EngineBackend::cancel(std::int64_t request_id) { engine_->cancel(request_id); }

void EngineBackend::shutdown(double grace_s) { engine_->shutdown(grace_s); }

engine::EngineMetrics EngineBackend::metrics() const { return engine_->metrics(); }

const Tokenizer& EngineBackend::tokenizer() const { return engine_->tokenizer(); }

std::int64_t EngineBackend::max_context_tokens() const { return engine_->max_context_tokens(); }

}  // namespace dsv32::server
