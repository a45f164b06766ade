#pragma once
// Reads all of standard input as bytes (the text subcommands take their input there).
#include <cstdio>
#include <string>

#include "util/error.h"

namespace dsv32::cli {

inline std::string read_all_stdin() {
  std::string data;
  char buffer[1 << 16];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, stdin)) > 0) data.append(buffer, n);
  if (std::ferror(stdin)) fail("cannot read stdin");
  return data;
}

}  // namespace dsv32::cli
