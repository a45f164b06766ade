#include "server/api_error.h"

#include <fmt/format.h>

namespace dsv32::server {

ApiError::ApiError(int status, std::string message, std::string type, std::optional<std::string> param,
                   nlohmann::json code)
    : std::runtime_error(std::move(message)),
      status_(status),
      type_(std::move(type)),
      param_(std::move(param)),
      code_(std::move(code)) {}

ApiError& ApiError::with_retry_after(int seconds) {
  retry_after_s_ = seconds;
  return *this;
}

nlohmann::ordered_json ApiError::body() const {
  nlohmann::ordered_json error;
  error["message"] = what();
  error["type"] = type_;
  error["param"] = param_ ? nlohmann::ordered_json(*param_) : nlohmann::ordered_json(nullptr);
  error["code"] = code_;
  return {{"error", error}};
}

nlohmann::ordered_json ApiError::stream_body() const {
  nlohmann::ordered_json error;
  error["object"] = "error";
  error["message"] = what();
  error["type"] = type_;
  error["param"] = param_ ? nlohmann::ordered_json(*param_) : nlohmann::ordered_json(nullptr);
  error["code"] = code_;
  return {{"error", error}};
}

ApiError bad_request(const std::string& message, std::optional<std::string> param) {
  return ApiError(400, message, "invalid_request_error", std::move(param), 400);
}

ApiError context_too_long(const std::string& message) {
  return ApiError(400, message, "invalid_request_error", "messages", "context_length_exceeded");
}

ApiError unauthorized() {
  return ApiError(401, "Incorrect or missing API key: send `Authorization: Bearer <key>`.",
                  "authentication_error", std::nullopt, "invalid_api_key");
}

ApiError model_not_found(const std::string& model) {
  return ApiError(404, fmt::format("The model `{}` does not exist.", model), "NotFoundError", "model",
                  "model_not_found");
}

ApiError route_not_found(const std::string& method, const std::string& path) {
  return ApiError(404, fmt::format("No route for {} {}.", method, path), "NotFoundError", std::nullopt, 404);
}

ApiError method_not_allowed(const std::string& method, const std::string& path) {
  return ApiError(405, fmt::format("Method {} is not allowed on {}.", method, path), "invalid_request_error",
                  std::nullopt, 405);
}

ApiError payload_too_large(std::size_t limit_bytes) {
  return ApiError(413, fmt::format("The request body is larger than the server's limit of {} bytes.", limit_bytes),
                  "invalid_request_error", std::nullopt, 413);
}

ApiError rate_limited(const std::string& message, int retry_after_s) {
  return ApiError(429, message, "rate_limit_error", std::nullopt, 429).with_retry_after(retry_after_s);
}

ApiError unavailable(const std::string& message, int retry_after_s) {
  return ApiError(503, message, "service_unavailable", std::nullopt, 503).with_retry_after(retry_after_s);
}

ApiError internal_error(const std::string& message) {
  return ApiError(500, message, "internal_error", std::nullopt, 500);
}

}  // namespace dsv32::server
