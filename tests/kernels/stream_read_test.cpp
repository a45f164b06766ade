// The bandwidth probes' read: the wrapping sum of every word, whatever the count (the loop's
// 16-word steps and the tail), wherever the words start.
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/stream_read.h"

namespace dsv32 {
namespace {

TEST(StreamRead, SumsEveryWordWrapping) {
  std::mt19937_64 rng(3);
  std::vector<std::uint64_t> words(5000);
  for (auto& word : words) word = rng();  // large words: the sum wraps
  for (const std::size_t start : {0, 1, 3}) {
    for (const std::size_t count : {0, 1, 15, 16, 17, 31, 32, 33, 1000, 4997}) {
      const std::uint64_t expected = std::accumulate(words.begin() + static_cast<std::ptrdiff_t>(start),
                                                     words.begin() + static_cast<std::ptrdiff_t>(start + count), std::uint64_t{0});
      EXPECT_EQ(stream_read_sum(words.data() + start, count), expected) << "start " << start << " count " << count;
    }
  }
}

}  // namespace
}  // namespace dsv32
