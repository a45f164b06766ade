#pragma once
// The OpenAI-compatible HTTP server (API.md): binds, serves on a pool of worker threads, and
// shuts down gracefully (refuse new generations, let in-flight streams end, then stop).
#include <atomic>
#include <memory>

#include "server/server_state.h"

namespace httplib {
class Server;
}

namespace dsv32::server {

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket; throws dsv32::Error when it cannot. Health answers "live" from
  // here on and "ready" once a backend is set.
  void bind();
  int port() const { return port_; }
  // The generator to serve with (it must outlive the server); null: not ready.
  void set_backend(Backend* backend);
  // Serves until stop() or shutdown() ends it.
  void run();
  // Graceful: new generations get 503, running ones finish (the backend cancels them after the
  // grace period), then the listener stops. Safe from any thread; returns when done.
  void shutdown();
  void stop();

  ServerState& state() { return state_; }

 private:
  ServerState state_;
  std::unique_ptr<httplib::Server> http_;
  int port_ = 0;
  int listen_socket_ = -1;  // captured when cpp-httplib creates it, to widen its backlog
  std::atomic<bool> run_called_{false};
};

}  // namespace dsv32::server
