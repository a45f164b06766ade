#pragma once
// Helpers for the server tests: an in-process server over a scripted backend, and SSE parsing.
#include <memory>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "server/scripted_backend.h"
#include "server/server.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_files.h"

namespace dsv32::server::test {

using Json = nlohmann::ordered_json;

inline std::shared_ptr<const Tokenizer> shared_tokenizer() {
  static const auto tokenizer = std::make_shared<const Tokenizer>(find_tokenizer());
  return tokenizer;
}

// The `data:` payloads of an SSE body, in order ("[DONE]" kept as a string).
inline std::vector<std::string> sse_payloads(const std::string& body) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < body.size()) {
    std::size_t end = body.find("\n\n", at);
    if (end == std::string::npos) end = body.size();
    const std::string event = body.substr(at, end - at);
    if (event.rfind("data: ", 0) == 0) out.push_back(event.substr(6));
    at = end + 2;
  }
  return out;
}

// A server on 127.0.0.1:<any port> replaying `completions`.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<std::string> completions, ServerOptions options = {},
                          ScriptedOptions scripted = {}) {
    scripted.completions = std::move(completions);
    backend_ = std::make_unique<ScriptedBackend>(shared_tokenizer(), std::move(scripted));
    options.port = 0;
    server_ = std::make_unique<Server>(std::move(options));
    server_->bind();
    server_->set_backend(backend_.get());
    thread_ = std::thread([this] { server_->run(); });
  }
  ~ScriptedServer() {
    server_->stop();
    thread_.join();
  }
  int port() const { return server_->port(); }
  Server& server() { return *server_; }
  ScriptedBackend& backend() { return *backend_; }
  httplib::Client client() const {
    httplib::Client client("127.0.0.1", port());
    client.set_read_timeout(30, 0);
    return client;
  }

 private:
  std::unique_ptr<ScriptedBackend> backend_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

}  // namespace dsv32::server::test
