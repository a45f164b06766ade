#pragma once
// Finds stop strings in streamed text, across token boundaries: text that could still be the
// start of a stop string is held back until it is known not to be one.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dsv32::engine {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  // Returns the text that is safe to emit now. After a match, returns the text before the
  // stop string, and matched() says which one; everything after it is dropped.
  std::string feed(std::string_view text);
  // The held-back text, when the stream ends without a match.
  std::string flush();
  const std::optional<std::string>& matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  std::optional<std::string> matched_;
};

}  // namespace dsv32::engine
