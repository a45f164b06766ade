#pragma once
// The compute options of the commands that run the model. --precision: bf16 (batched products, attention and the
// W_UK absorption in bf16: faster, checked layer by layer against the reference's own bf16
// error) or f32 (the reference's float32 run).
#include <CLI/CLI.hpp>

#include <string>

#include "kernels/compute_context.h"

namespace dsv32::cli {

// The option keeps `precision`'s current value as its default: bf16 for the serving commands
// (serve, run, chat, bench, bench-engine: what users run), f32 for logits (reference checks).
inline CLI::Option* add_precision_option(CLI::App* cmd, Precision& precision) {
  const std::string current = precision == Precision::BF16 ? "bf16" : "f32";
  return cmd
      ->add_option_function<std::string>(
          "--precision", [&precision](const std::string& name) { precision = name == "bf16" ? Precision::BF16 : Precision::F32; },
          "activation precision: bf16 (fast; float32 products on CPUs without AVX512-BF16 and AVX512-VBMI) or f32 (the reference's "
          "float32 run); default " + current)
      ->check(CLI::IsMember({"f32", "bf16"}));
}

// --indexer-products: how the bf16 mode scores the indexer's keys (compute_context.h).
inline CLI::Option* add_indexer_products_option(CLI::App* cmd, IndexerProducts& products) {
  return cmd
      ->add_option_function<std::string>(
          "--indexer-products",
          [&products](const std::string& name) {
            products = name == "int8" ? IndexerProducts::Int8 : name == "exact" ? IndexerProducts::Exact : IndexerProducts::Auto;
          },
          "how the bf16 mode scores the indexer's keys: int8 products (1.2 % rms from exact, twice the speed with "
          "AVX512-VNNI, on AMX tiles where the CPU has them), exact FP8 products, or auto (int8 where the bf16 products "
          "run and the CPU has VNNI); default auto")
      ->check(CLI::IsMember({"auto", "exact", "int8"}));
}

// --large-products: who runs the bf16 mode's products of 32 tokens and more (compute_context.h).
inline CLI::Option* add_large_products_option(CLI::App* cmd, LargeProducts& large) {
  return cmd
      ->add_option_function<std::string>(
          "--large-products",
          [&large](const std::string& name) {
            large = name == "tile" ? LargeProducts::Tile : name == "onednn" ? LargeProducts::Onednn : LargeProducts::Auto;
          },
          "who runs the bf16 mode's products of 32 tokens and more (prefill): our tile (AMX where the CPU has it), oneDNN, or "
          "auto (oneDNN where the CPU has AMX, the tile elsewhere); default auto")
      ->check(CLI::IsMember({"auto", "tile", "onednn"}));
}

// --numa: placement over NUMA nodes (compute_context.h); only a machine with several acts on it.
inline CLI::Option* add_numa_option(CLI::App* cmd, NumaPlacement& numa) {
  return cmd
      ->add_option_function<std::string>(
          "--numa", [&numa](const std::string& name) { numa = name == "off" ? NumaPlacement::Off : NumaPlacement::Auto; },
          "with several NUMA nodes: auto spreads the threads over them and interleaves the weights' pages; off leaves both to the "
          "OS (or numactl); default auto")
      ->check(CLI::IsMember({"auto", "off"}));
}

}  // namespace dsv32::cli
