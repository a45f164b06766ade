#include "engine/stop_matcher.h"

#include <algorithm>

namespace dsv32::engine {

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  std::erase_if(stops_, [](const std::string& stop) { return stop.empty(); });
}

std::string StopMatcher::feed(std::string_view text) {
  if (matched_) return {};
  held_.append(text);
  std::size_t first = std::string::npos;
  for (const auto& stop : stops_) {
    const std::size_t at = held_.find(stop);
    if (at < first) {
      first = at;
      matched_ = stop;
    }
  }
  if (first != std::string::npos) {
    std::string before = held_.substr(0, first);
    held_.clear();
    return before;
  }
  // Keep the longest tail of held_ that is a proper prefix of some stop string.
  std::size_t keep = 0;
  for (const auto& stop : stops_) {
    for (std::size_t length = std::min(stop.size() - 1, held_.size()); length > keep; --length) {
      if (held_.compare(held_.size() - length, length, stop, 0, length) == 0) {
        keep = length;
        break;
      }
    }
  }
  std::string ready = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return ready;
}

std::string StopMatcher::flush() {
  std::string rest;
  rest.swap(held_);
  return matched_ ? std::string{} : rest;
}

}  // namespace dsv32::engine
