#include "server/routes.h"

#include <chrono>
#include <random>

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include "server/api_error.h"
#include "server/backend.h"
#include "server/chat_assembler.h"
#include "server/completion_assembler.h"
#include "server/generation.h"
#include "server/server_state.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace dsv32::server {
namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t random_u64() {
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

std::string random_id(const char* prefix) { return fmt::format("{}{:016x}{:016x}", prefix, random_u64(), random_u64()); }

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void send_json(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(dump_json(body), "application/json");
}

void send_error(httplib::Response& res, const ApiError& error) {
  send_json(res, error.status(), error.body());
  if (error.retry_after_s() > 0) res.set_header("Retry-After", std::to_string(error.retry_after_s()));
}

// Every handler runs inside this: what a client caused becomes its 4xx body, never a 500.
template <typename Fn>
httplib::Server::Handler guarded(Fn fn) {
  return [fn](const httplib::Request& req, httplib::Response& res) {
    try {
      fn(req, res);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const Error& e) {
      send_error(res, bad_request(e.what()));
    } catch (const nlohmann::json::exception& e) {
      send_error(res, bad_request(fmt::format("invalid request: {}", e.what())));
    }
  };
}

bool has_valid_key(const httplib::Request& req, const std::vector<std::string>& keys) {
  const std::string header = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.compare(0, kBearer.size(), kBearer) != 0) return false;
  const std::string token = header.substr(kBearer.size());
  for (const std::string& key : keys) {
    if (token == key) return true;
  }
  return false;
}

// The backend, or 503 while the model loads or the server drains.
Backend& require_backend(ServerState& state) {
  if (state.draining.load()) throw unavailable("The server is shutting down.", 5);
  Backend* backend = state.backend.load();
  if (backend == nullptr) throw unavailable("The model is still loading.", 5);
  if (state.metrics.active_generations().load() >= state.options.max_generations) {
    throw unavailable("The server is overloaded; retry shortly.", 1);
  }
  return *backend;
}

Json model_card(const ServerState& state, const std::string& id) {
  const Backend* backend = state.backend.load();
  Json card;
  card["id"] = id;
  card["object"] = "model";
  card["created"] = state.started_unix;
  card["owned_by"] = "deepseek-ai";
  card["root"] = id;
  card["parent"] = nullptr;
  card["max_model_len"] = backend != nullptr ? Json(backend->max_context_tokens()) : Json(nullptr);
  return card;
}

// Sends the generation: SSE chunks while streaming, else one JSON body when it is complete.
// Both go through a content provider so that the worker sees a client that hangs up and
// cancels at once, instead of generating for nobody.
void respond(httplib::Response& res, std::shared_ptr<Generation> generation, std::shared_ptr<Assembler> assembler,
             bool stream) {
  res.status = 200;
  const auto release = [generation](bool) { generation->cancel(); };
  if (stream) {
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [generation, assembler](std::size_t, httplib::DataSink& sink) {
          // Outside the handler's guard: a failure here must end this stream, not the process.
          try {
            const bool ok = generation->stream(
                *assembler, [&sink](std::string_view text) { return sink.write(text.data(), text.size()); },
                [&sink] { return sink.is_writable(); });
            if (ok) sink.done();
            return ok;
          } catch (const std::exception& e) {
            spdlog::error("stream failed: {}", e.what());
            const std::string tail = sse_event(internal_error(e.what()).stream_body()) + "data: [DONE]\n\n";
            if (sink.write(tail.data(), tail.size())) sink.done();
            return false;
          }
        },
        release);
    return;
  }
  res.set_chunked_content_provider(
      "application/json",
      [generation, assembler](std::size_t, httplib::DataSink& sink) {
        bool collected = false;
        try {
          collected = generation->collect(*assembler, [&sink] { return sink.is_writable(); });
        } catch (const std::exception& e) {
          spdlog::error("generation failed: {}", e.what());
          const std::string body = dump_json(internal_error(e.what()).body());
          if (sink.write(body.data(), body.size())) sink.done();
          return false;
        }
        if (!collected) return false;
        // The 200 is already on the wire; an engine failure can only be told in the body.
        const std::string body = assembler->error() ? dump_json(internal_error(*assembler->error()).body())
                                                    : dump_json(assembler->response());
        const bool ok = sink.write(body.data(), body.size());
        if (ok) sink.done();
        return ok;
      },
      release);
}

void handle_chat(ServerState& state, const httplib::Request& req, httplib::Response& res) {
  const auto arrived = Clock::now();
  Backend& backend = require_backend(state);
  const Json body = parse_json_body(req.body);
  ChatJob job = parse_chat_request(body, state.options.models);
  Submission submission{backend.tokenizer().encode(job.chat.prompt), job.common.sampling};
  check_context(static_cast<std::int64_t>(submission.prompt.size()), submission.sampling.max_tokens,
                backend.max_context_tokens());

  ChatAssemblerOptions options;
  options.meta = {random_id("chatcmpl-"), unix_now(), job.common.model, job.common.stream && job.common.include_usage};
  options.choices = job.common.sampling.n;
  options.thinking = job.chat.thinking;
  options.tools_enabled = job.chat.tools_enabled;
  options.logprobs = job.logprobs;
  options.id_seed = random_u64();
  auto assembler = std::make_shared<ChatAssembler>(std::move(options), backend.tokenizer());
  auto generation = std::make_shared<Generation>(backend, state.metrics, arrived);
  std::vector<Submission> submissions;
  submissions.push_back(std::move(submission));
  generation->submit(std::move(submissions));
  respond(res, std::move(generation), std::move(assembler), job.common.stream);
}

void handle_completion(ServerState& state, const httplib::Request& req, httplib::Response& res) {
  const auto arrived = Clock::now();
  Backend& backend = require_backend(state);
  const Json body = parse_json_body(req.body);
  CompletionJob job = parse_completion_request(body, state.options.models);
  const Tokenizer& tokenizer = backend.tokenizer();
  const auto bos = tokenizer.token_id("<｜begin▁of▁sentence｜>");
  std::vector<Submission> submissions;
  for (const std::string& prompt : job.prompts) {
    Submission submission{{}, job.common.sampling};
    // No template here, but the model expects BOS first: add it unless the prompt has it.
    const std::vector<std::int32_t> ids = tokenizer.encode(prompt);
    if (bos && (ids.empty() || ids.front() != *bos)) submission.prompt.push_back(*bos);
    submission.prompt.insert(submission.prompt.end(), ids.begin(), ids.end());
    check_context(static_cast<std::int64_t>(submission.prompt.size()), submission.sampling.max_tokens,
                  backend.max_context_tokens());
    submissions.push_back(std::move(submission));
  }

  CompletionAssemblerOptions options;
  options.meta = {random_id("cmpl-"), unix_now(), job.common.model, job.common.stream && job.common.include_usage};
  options.choices_per_prompt = job.common.sampling.n;
  options.prompts = job.prompts;
  options.echo = job.echo;
  options.logprobs = job.common.sampling.logprobs >= 0;
  auto assembler = std::make_shared<CompletionAssembler>(std::move(options), tokenizer);
  auto generation = std::make_shared<Generation>(backend, state.metrics, arrived);
  generation->submit(std::move(submissions));
  respond(res, std::move(generation), std::move(assembler), job.common.stream);
}

void handle_models(ServerState& state, httplib::Response& res) {
  Json data = Json::array();
  for (const std::string& name : state.options.models.names) data.push_back(model_card(state, name));
  send_json(res, 200, {{"object", "list"}, {"data", std::move(data)}});
}

void handle_health(ServerState& state, const httplib::Request& req, httplib::Response& res) {
  const bool ready = state.backend.load() != nullptr && !state.draining.load();
  if (req.path == "/v1/health/live") {
    send_json(res, 200, {{"object", "health.response"}, {"message", "Service is live."}});
  } else if (!ready) {
    send_error(res, unavailable(state.draining.load() ? "The server is shutting down." : "The model is still loading.", 5));
  } else if (req.path == "/health") {
    res.status = 200;  // vLLM/SGLang: empty body
  } else {
    send_json(res, 200, {{"object", "health.response"}, {"message", "Service is ready."}});
  }
}

// A bounded label set for the request counter.
std::string endpoint_label(const std::string& path) {
  static constexpr const char* kKnown[] = {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health",
                                           "/v1/health/live", "/v1/health/ready", "/metrics", "/version"};
  for (const char* known : kKnown) {
    if (path == known) return known;
  }
  if (path.rfind("/v1/models/", 0) == 0) return "/v1/models/{id}";
  return "other";
}

}  // namespace

void install_routes(httplib::Server& http, ServerState& state) {
  ServerState* s = &state;
  // Auth: everything under /v1 except the NIM health paths, when keys are configured.
  http.set_pre_routing_handler([s](const httplib::Request& req, httplib::Response& res) {
    const bool needs_key = !s->options.api_keys.empty() && req.path.rfind("/v1/", 0) == 0 &&
                           req.path.rfind("/v1/health/", 0) != 0;
    if (needs_key && !has_valid_key(req, s->options.api_keys)) {
      send_error(res, unauthorized());
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  http.Post("/v1/chat/completions", guarded([s](const auto& req, auto& res) { handle_chat(*s, req, res); }));
  http.Post("/v1/completions", guarded([s](const auto& req, auto& res) { handle_completion(*s, req, res); }));
  http.Get("/v1/models", guarded([s](const auto&, auto& res) { handle_models(*s, res); }));
  http.Get(R"(/v1/models/(.+))", guarded([s](const auto& req, auto& res) {
             const std::string id = req.matches[1];
             if (!s->options.models.accepts(id)) throw model_not_found(id);
             send_json(res, 200, model_card(*s, id));
           }));
  for (const char* path : {"/health", "/v1/health/live", "/v1/health/ready"}) {
    http.Get(path, guarded([s](const auto& req, auto& res) { handle_health(*s, req, res); }));
  }
  http.Get("/version", guarded([](const auto&, auto& res) { send_json(res, 200, {{"version", "dsv32 0.1.0"}}); }));
  http.Get("/metrics", guarded([s](const auto&, auto& res) {
             const Backend* backend = s->backend.load();
             res.set_content(s->metrics.render(backend != nullptr ? backend->metrics() : engine::EngineMetrics{}),
                             "text/plain; version=0.0.4");
           }));

  // A known path with the wrong method is 405, not 404.
  const auto not_allowed = guarded([](const auto& req, auto&) { throw method_not_allowed(req.method, req.path); });
  for (const char* path : {"/v1/chat/completions", "/v1/completions"}) {
    http.Get(path, not_allowed).Put(path, not_allowed).Delete(path, not_allowed).Patch(path, not_allowed);
  }
  for (const char* path : {"/v1/models", "/health", "/v1/health/live", "/v1/health/ready", "/metrics", "/version"}) {
    http.Post(path, not_allowed).Put(path, not_allowed).Delete(path, not_allowed).Patch(path, not_allowed);
  }

  // Failures httplib decides itself (no route, body over the limit, unparsable request) get
  // the same error body as ours; responses that already have a body keep it.
  http.set_error_handler(httplib::Server::HandlerWithResponse([s](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty() || res.is_chunked_content_provider_) return httplib::Server::HandlerResponse::Unhandled;
    switch (res.status) {
      case 404: send_error(res, route_not_found(req.method, req.path)); break;
      case 413: send_error(res, payload_too_large(s->options.max_body_bytes)); break;
      case 503: send_error(res, unavailable("Service unavailable.", 5)); break;
      default:
        if (res.status >= 500) {
          send_error(res, internal_error("Internal server error."));
        } else {
          const int status = res.status;
          send_error(res, bad_request(fmt::format("Bad request (HTTP {}).", status)));
          res.status = status;
        }
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr error) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("{} {}: internal error: {}", req.method, req.path, what);
    send_error(res, internal_error("Internal server error: " + what));
  });
  // Counted before the response is written (the logger runs after it, so a client could read
  // /metrics before its own request was counted).
  http.set_post_routing_handler([s](const httplib::Request& req, httplib::Response& res) {
    s->metrics.count_request(endpoint_label(req.path), res.status);
  });
}

}  // namespace dsv32::server
