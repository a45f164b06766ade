#pragma once
// OpenAI-shaped errors (API.md §7): every failure a client can cause is an ApiError carrying its
// HTTP status, thrown from wherever it is found and turned into one JSON body by the routes.
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace dsv32::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string type, std::optional<std::string> param = std::nullopt,
           nlohmann::json code = nullptr);

  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::optional<std::string>& param() const { return param_; }
  const nlohmann::json& code() const { return code_; }
  int retry_after_s() const { return retry_after_s_; }
  ApiError& with_retry_after(int seconds);

  // {"error":{"message","type","param","code"}}
  nlohmann::ordered_json body() const;
  // The same inside an SSE stream (after the 200 was sent): "object":"error" added, which
  // LangChain needs to recognise it.
  nlohmann::ordered_json stream_body() const;

 private:
  int status_;
  std::string type_;
  std::optional<std::string> param_;
  nlohmann::json code_;
  int retry_after_s_ = 0;  // 0: no Retry-After header
};

// The common cases, named after what went wrong.
ApiError bad_request(const std::string& message, std::optional<std::string> param = std::nullopt);
ApiError context_too_long(const std::string& message);
ApiError unauthorized();
ApiError model_not_found(const std::string& model);
ApiError route_not_found(const std::string& method, const std::string& path);
ApiError method_not_allowed(const std::string& method, const std::string& path);
ApiError payload_too_large(std::size_t limit_bytes);
ApiError rate_limited(const std::string& message, int retry_after_s);
ApiError unavailable(const std::string& message, int retry_after_s);
ApiError internal_error(const std::string& message);

}  // namespace dsv32::server
