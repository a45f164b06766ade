#include "kernels/vector_ops.h"

#include <cstdlib>
#include <string_view>

namespace dsv32 {

std::vector<const VectorOps*> available_vector_ops() {
  std::vector<const VectorOps*> all{&scalar_vector_ops()};
  if (const VectorOps* ops = avx2_vector_ops()) all.push_back(ops);
  if (const VectorOps* ops = avx512_vector_ops()) all.push_back(ops);
  return all;
}

const VectorOps& best_vector_ops() {
  static const VectorOps& chosen = [] () -> const VectorOps& {
    const auto all = available_vector_ops();
    if (const char* wanted = std::getenv("DSV32_ISA")) {
      for (const VectorOps* ops : all) {
        if (std::string_view(ops->name) == wanted) return *ops;
      }
    }
    return *all.back();
  }();
  return chosen;
}

bool avx512_kernels_allowed() {
  const char* wanted = std::getenv("DSV32_ISA");
  return wanted == nullptr || std::string_view(wanted) == "avx512" || std::string_view(wanted) == "amx";
}

bool amx_kernels_allowed() {
  const char* wanted = std::getenv("DSV32_ISA");
  return wanted == nullptr || std::string_view(wanted) == "amx";
}

}  // namespace dsv32
