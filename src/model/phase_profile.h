#pragma once
// Wall time spent in the parts of the forward pass, summed over calls: where a decoded token's
// time goes (`dsv32 bench --profile`). A model without a profile times nothing.
#include <array>
#include <chrono>
#include <cstddef>
#include <string_view>

namespace dsv32 {

enum class Phase : std::size_t {
  Forward,         // the whole call
  Attention,       // MLA: projections, rope, cache writes, indexer, core, output projection
  Indexer,         // within Attention: the lightning indexer and its top-k
  IndexerQuery,    // within Indexer: the query and head-weight projections
  IndexerTopK,     // within Indexer: the top-k selection from the scores
  AttentionCore,   // within Attention: W_UK absorption and attention over the selected keys
  FeedForward,     // dense MLP or MoE (routing, experts, shared expert)
  Head,            // final norm and the vocabulary projection
  Count,
};
inline constexpr std::array<std::string_view, static_cast<std::size_t>(Phase::Count)> kPhaseNames = {
    "forward", "attention", "indexer", "indexer_query", "indexer_top_k", "attention_core", "feed_forward", "head"};

struct PhaseProfile {
  std::array<double, static_cast<std::size_t>(Phase::Count)> seconds{};
  double& operator[](Phase phase) { return seconds[static_cast<std::size_t>(phase)]; }
  double operator[](Phase phase) const { return seconds[static_cast<std::size_t>(phase)]; }
};

// Adds the time from construction to destruction to one phase (nothing when profile is null).
class PhaseTimer {
 public:
  PhaseTimer(PhaseProfile* profile, Phase phase) : profile_(profile), phase_(phase) {
    if (profile_ != nullptr) start_ = std::chrono::steady_clock::now();
  }
  ~PhaseTimer() {
    if (profile_ != nullptr) (*profile_)[phase_] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;

 private:
  PhaseProfile* profile_;
  Phase phase_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace dsv32
