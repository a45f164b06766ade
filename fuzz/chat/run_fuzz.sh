#!/usr/bin/env bash
# Builds the chat output-parser fuzz target with clang++ (libFuzzer + ASan + UBSan) and runs it
# for a bounded time. Usage: run_fuzz.sh CLANGXX OUT_DIR SECONDS   (ctest: chat_fuzz_output_parser)
set -euo pipefail
clangxx=$1 out=$2 seconds=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out/corpus"
bin="$out/fuzz_output_parser"
sources=("$root"/src/chat/*.cpp "$root/fuzz/chat/fuzz_output_parser.cpp")
rebuild=0
[ -x "$bin" ] || rebuild=1
for f in "${sources[@]}" "$root"/src/chat/*.h; do [ "$f" -nt "$bin" ] && rebuild=1; done
if [ "$rebuild" = 1 ]; then
  "$clangxx" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I "$root/src" "${sources[@]}" -lfmt -o "$bin"
fi
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -dict="$root/fuzz/chat/dsml.dict" -artifact_prefix="$out/" "$out/corpus" "$root/fuzz/chat/seeds"
