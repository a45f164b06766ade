#pragma once
// --precision for the commands that run the model: f32 (the reference's float32 run, default)
// or bf16 (batched products, attention and the W_UK absorption in bf16: faster, checked layer
// by layer against the reference's own bf16 error).
#include <CLI/CLI.hpp>

#include <string>

#include "kernels/compute_context.h"

namespace dsv32::cli {

inline CLI::Option* add_precision_option(CLI::App* cmd, Precision& precision) {
  return cmd
      ->add_option_function<std::string>(
          "--precision", [&precision](const std::string& name) { precision = name == "bf16" ? Precision::BF16 : Precision::F32; },
          "activation precision: f32 (the reference's float32 run, default) or bf16 (faster)")
      ->check(CLI::IsMember({"f32", "bf16"}));
}

}  // namespace dsv32::cli
