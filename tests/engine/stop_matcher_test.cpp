#include <gtest/gtest.h>

#include "engine/stop_matcher.h"

namespace dsv32::engine {
namespace {

// Feeds pieces and returns everything emitted (feeds and the final flush).
std::string run(StopMatcher& matcher, const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& piece : pieces) out += matcher.feed(piece);
  return out + matcher.flush();
}

TEST(StopMatcher, FindsAStopSplitAcrossPieces) {
  StopMatcher matcher({"END"});
  EXPECT_EQ(run(matcher, {"abc E", "N", "D and more", " text"}), "abc ");
  ASSERT_TRUE(matcher.matched());
  EXPECT_EQ(*matcher.matched(), "END");
}

TEST(StopMatcher, HoldsBackOnlyWhatMayStartAStop) {
  StopMatcher matcher({"</s>"});
  EXPECT_EQ(matcher.feed("hello <"), "hello ");
  EXPECT_EQ(matcher.feed("/"), "");
  EXPECT_EQ(matcher.feed("x>"), "</x>");
  EXPECT_EQ(matcher.flush(), "");
  EXPECT_FALSE(matcher.matched());
}

TEST(StopMatcher, ReleasesHeldTextAtTheEnd) {
  StopMatcher matcher({"stop here"});
  EXPECT_EQ(run(matcher, {"we st", "op"}), "we stop");
  EXPECT_FALSE(matcher.matched());
}

TEST(StopMatcher, EarliestOfSeveralStopsWins) {
  StopMatcher matcher({"world", "lo w"});
  EXPECT_EQ(run(matcher, {"hel", "lo world"}), "hel");
  EXPECT_EQ(*matcher.matched(), "lo w");
}

TEST(StopMatcher, MultibyteStopSplitInsideACharacter) {
  StopMatcher matcher({"ÿ停"});
  const std::string text = "前ÿ停后";
  std::vector<std::string> bytes;
  for (const char ch : text) bytes.emplace_back(1, ch);
  EXPECT_EQ(run(matcher, bytes), "前");
  EXPECT_TRUE(matcher.matched());
}

TEST(StopMatcher, NoStopsPassesEverything) {
  StopMatcher matcher({});
  EXPECT_EQ(run(matcher, {"a", "b"}), "ab");
}

}  // namespace
}  // namespace dsv32::engine
