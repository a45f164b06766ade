#pragma once
// The cases of ../shared/refdata, for parameterised tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace dsv32::test {

inline auto refdata_cases() { return ::testing::Values("dense-short", "sparse", "fp8", "yarn", "moe-groups"); }

// gtest names may not contain '-'.
inline std::string refdata_case_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

}  // namespace dsv32::test
