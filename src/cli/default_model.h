#pragma once
// The project's own tiny model (with the real tokenizer), made on first use, for commands run
// without --model.
#include <filesystem>

#include "util/thread_pool.h"

namespace dsv32 {

// $DSV32_HOME/models/tiny (DSV32_HOME defaults to $XDG_CACHE_HOME/dsv32, then ~/.cache/dsv32).
std::filesystem::path default_model_dir();
// Returns default_model_dir(), writing the tiny BF16 model there first if it is not there yet.
std::filesystem::path ensure_default_model(ThreadPool& pool);

}  // namespace dsv32
