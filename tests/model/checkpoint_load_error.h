#pragma once
// Loads a model directory as the CLI does (config, shards, every weight bound) and returns the
// error message, or "(loaded without error)".
#include <filesystem>
#include <string>

#include "model/checkpoint.h"
#include "model/weights.h"
#include "util/error.h"

namespace dsv32::test {

inline std::string checkpoint_load_error(const std::filesystem::path& dir) {
  try {
    const Checkpoint checkpoint(dir);
    (void)ModelWeights::bind(checkpoint);
  } catch (const Error& e) {
    return e.what();
  }
  return "(loaded without error)";
}

}  // namespace dsv32::test
