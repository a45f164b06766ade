#include "server/server.h"

#include <sys/socket.h>

#include <chrono>
#include <thread>

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "server/backend.h"
#include "server/routes.h"
#include "util/error.h"

namespace dsv32::server {

Server::Server(ServerOptions options) : http_(std::make_unique<httplib::Server>()) {
  state_.options = std::move(options);
  state_.started_unix =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const ServerOptions& o = state_.options;
  if (o.models.names.empty()) fail("the server needs at least one model name");
  const std::size_t threads = o.http_threads;
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_->set_payload_max_length(o.max_body_bytes);
  http_->set_read_timeout(o.read_timeout_s, 0);
  http_->set_write_timeout(o.write_timeout_s, 0);
  http_->set_keep_alive_timeout(o.keep_alive_timeout_s);
  http_->set_keep_alive_max_count(1000);
  http_->set_tcp_nodelay(true);  // one SSE event per write must leave at once
  http_->set_socket_options([this](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_socket_ = static_cast<int>(sock);
  });
  install_routes(*http_, state_);
}

Server::~Server() { stop(); }

void Server::bind() {
  const ServerOptions& o = state_.options;
  if (o.port == 0) {
    port_ = http_->bind_to_any_port(o.host);
    if (port_ < 0) fail("cannot listen on {} (any port)", o.host);
  } else {
    if (!http_->bind_to_port(o.host, o.port)) fail("cannot listen on {}:{} (in use, or not an address here?)", o.host, o.port);
    port_ = o.port;
  }
  // Debian's cpp-httplib listens with a backlog of 5: a burst of clients overflows it, and the
  // kernel then drops or resets connections. Listening again on the bound socket widens it.
  constexpr int kListenBacklog = 1024;
  if (listen_socket_ >= 0 && ::listen(listen_socket_, kListenBacklog) != 0) spdlog::warn("cannot widen the listen backlog");
}

void Server::set_backend(Backend* backend) { state_.backend.store(backend); }

void Server::run() {
  run_called_ = true;
  http_->listen_after_bind();
  run_called_ = false;
}

void Server::shutdown() {
  if (state_.draining.exchange(true)) return;
  spdlog::info("shutting down: finishing {} in-flight generation(s), grace {} s",
               state_.metrics.active_generations().load(), state_.options.shutdown_grace_s);
  if (Backend* backend = state_.backend.load()) backend->shutdown(state_.options.shutdown_grace_s);
  // The backend ends or cancels every generation; wait for their streams to be written out.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration<double>(state_.options.shutdown_grace_s + 5.0);
  while (state_.metrics.active_generations().load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop();
}

void Server::stop() {
  // httplib ignores stop() before its loop runs: give a just-started run() a moment to get there.
  for (int i = 0; run_called_ && !http_->is_running() && i < 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (http_->is_running()) http_->stop();
}

}  // namespace dsv32::server
