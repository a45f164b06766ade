#include "server/generation.h"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>

#include <spdlog/spdlog.h>

#include "server/api_error.h"
#include "server/backend.h"
#include "server/metrics.h"

namespace dsv32::server {

namespace {
constexpr auto kPollInterval = std::chrono::milliseconds(50);  // how fast a silent disconnect is seen
constexpr auto kKeepAliveInterval = std::chrono::seconds(15);  // SSE comment while nothing comes
}  // namespace

struct Generation::Channel {
  struct Item {
    int submission = 0;
    std::optional<engine::TokenEvent> event;
    std::optional<engine::RequestUsage> usage;
    Clock::time_point at;
  };
  std::mutex mutex;
  std::condition_variable ready;
  std::deque<Item> items;
  std::vector<std::int64_t> request_ids;  // accepted submissions
  std::vector<bool> done;                 // per accepted submission

  void push(Item item) {
    {
      std::lock_guard lock(mutex);
      if (item.usage) done[static_cast<std::size_t>(item.submission)] = true;
      items.push_back(std::move(item));
    }
    ready.notify_one();
  }
  bool all_done_locked() const {
    for (const bool d : done) {
      if (!d) return false;
    }
    return true;
  }
};

std::string sse_event(const Json& json) { return "data: " + dump_json(json) + "\n\n"; }

Generation::Generation(Backend& backend, ServerMetrics& metrics, Clock::time_point arrived)
    : backend_(backend), metrics_(metrics), arrived_(arrived), channel_(std::make_shared<Channel>()) {
  metrics_.active_generations()++;
}

Generation::~Generation() {
  cancel();
  metrics_.active_generations()--;
}

void Generation::cancel() {
  std::vector<std::int64_t> open;
  {
    std::lock_guard lock(channel_->mutex);
    for (std::size_t i = 0; i < channel_->request_ids.size(); ++i) {
      if (!channel_->done[i]) open.push_back(channel_->request_ids[i]);
    }
  }
  for (const std::int64_t id : open) backend_.cancel(id);
}

void Generation::submit(std::vector<Submission> submissions) {
  for (std::size_t i = 0; i < submissions.size(); ++i) {
    const int index = static_cast<int>(i);
    {
      std::lock_guard lock(channel_->mutex);
      channel_->done.push_back(false);
      channel_->request_ids.push_back(0);
    }
    engine::GenerationRequest request;
    request.prompt = std::move(submissions[i].prompt);
    request.sampling = std::move(submissions[i].sampling);
    // The callbacks hold the channel, not the Generation: events after a disconnect land in a
    // queue nobody reads, and the channel dies with the last of them.
    request.on_event = [channel = channel_, index](const engine::TokenEvent& event) {
      channel->push({index, event, std::nullopt, Clock::now()});
    };
    request.on_done = [channel = channel_, index](const engine::RequestUsage& usage) {
      channel->push({index, std::nullopt, usage, Clock::now()});
    };
    const engine::SubmitResult result = backend_.submit(std::move(request));
    if (result.status == engine::SubmitStatus::Accepted) {
      std::lock_guard lock(channel_->mutex);
      channel_->request_ids[i] = result.request_id;
      continue;
    }
    {
      std::lock_guard lock(channel_->mutex);  // never accepted: nothing to cancel
      channel_->done[i] = true;
    }
    cancel();
    switch (result.status) {
      case engine::SubmitStatus::QueueFull:
        throw rate_limited("The server is at capacity (" + result.message + "); retry shortly.", 1);
      case engine::SubmitStatus::ShuttingDown:
        throw unavailable("The server is shutting down.", 5);
      case engine::SubmitStatus::PromptTooLong:
        throw context_too_long(result.message.empty() ? "The prompt is longer than the context." : result.message);
      default:
        throw bad_request(result.message.empty() ? "The request was refused by the engine." : result.message);
    }
  }
}

// Moves queued events into the assembler until every submission is done. Returns false when
// the client went away.
bool Generation::pump(Assembler& assembler, std::vector<Json>* chunks,
                      const std::function<bool(std::string_view)>* write, const std::function<bool()>& alive) {
  std::map<std::pair<int, int>, Clock::time_point> last_token_at;  // per (submission, choice)
  auto last_write = Clock::now();
  std::deque<Channel::Item> batch;
  while (true) {
    bool finished = false;
    {
      std::unique_lock lock(channel_->mutex);
      channel_->ready.wait_for(lock, kPollInterval, [&] { return !channel_->items.empty(); });
      batch.swap(channel_->items);
      finished = channel_->all_done_locked();
    }
    if (batch.empty() && !finished) {
      if (!alive()) {
        spdlog::debug("generation: the client went away while waiting");
        break;
      }
      if (write != nullptr && Clock::now() - last_write > kKeepAliveInterval) {
        if (!(*write)(": keep-alive\n\n")) break;
        last_write = Clock::now();
      }
      continue;
    }
    for (Channel::Item& item : batch) {
      if (item.usage) {
        assembler.on_done(*item.usage);
        metrics_.add_tokens(item.usage->prompt_tokens, item.usage->cached_prompt_tokens,
                            item.usage->completion_tokens);
        continue;
      }
      const engine::TokenEvent& event = *item.event;
      if (event.token) {
        if (!first_token_seen_) {
          first_token_seen_ = true;
          metrics_.time_to_first_token().observe(std::chrono::duration<double>(item.at - arrived_).count());
        }
        auto [it, first] = last_token_at.try_emplace({item.submission, event.choice}, item.at);
        if (!first) {
          metrics_.inter_token_latency().observe(std::chrono::duration<double>(item.at - it->second).count());
          it->second = item.at;
        }
      }
      std::vector<Json> scratch;
      assembler.on_event(item.submission, event, chunks != nullptr ? *chunks : scratch);
    }
    batch.clear();
    if (write != nullptr && !chunks->empty()) {
      std::string text;
      for (const Json& chunk : *chunks) text += sse_event(chunk);
      chunks->clear();
      if (!(*write)(text)) break;
      last_write = Clock::now();
    }
    if (assembler.error()) {
      cancel();  // the other choices cannot be delivered in a well-formed stream either
      return true;
    }
    if (finished) {
      metrics_.request_duration().observe(std::chrono::duration<double>(Clock::now() - arrived_).count());
      return true;
    }
  }
  cancel();
  metrics_.client_disconnects()++;
  return false;
}

bool Generation::stream(Assembler& assembler, const std::function<bool(std::string_view)>& write,
                        const std::function<bool()>& alive) {
  std::vector<Json> chunks;
  assembler.start(chunks);
  std::string head;
  for (const Json& chunk : chunks) head += sse_event(chunk);
  chunks.clear();
  if (!head.empty() && !write(head)) {
    cancel();
    metrics_.client_disconnects()++;
    return false;
  }
  if (!pump(assembler, &chunks, &write, alive)) return false;
  std::string tail;
  if (assembler.error()) {
    tail += sse_event(internal_error(*assembler.error()).stream_body());
  } else if (const auto usage = assembler.usage_chunk()) {
    tail += sse_event(*usage);
  }
  tail += "data: [DONE]\n\n";
  return write(tail);
}

bool Generation::collect(Assembler& assembler, const std::function<bool()>& alive) {
  return pump(assembler, nullptr, nullptr, alive);
}

}  // namespace dsv32::server
