#!/usr/bin/env bash
# Builds a pinned Go tool from its module under tools/<name> into .bin/<name>,
# and reuses the binary while tools/<name>/go.mod and go.sum are unchanged.
#
# Usage: scripts/build-tool.sh NAME PACKAGE [extra go build flags...]
set -euo pipefail

if [[ $# -lt 2 ]]; then
	echo "usage: $0 NAME PACKAGE [go build flags...]" >&2
	exit 2
fi

name=$1
package=$2
shift 2

root=$(cd "$(dirname "$0")/.." && pwd)
module_dir="$root/tools/$name"
out="$root/.bin/$name"
stamp="$out.stamp"

if [[ ! -f "$module_dir/go.mod" ]]; then
	echo "build-tool: $module_dir/go.mod not found; each tool is pinned by a module under tools/" >&2
	exit 1
fi

want=$(cat "$module_dir/go.mod" "$module_dir/go.sum" | sha256sum | cut -d' ' -f1)

if [[ -x "$out" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
	echo "build-tool: reusing $out (pin unchanged)"
	exit 0
fi

mkdir -p "$root/.bin"
echo "build-tool: building $package from tools/$name into .bin/$name"
started=$(date +%s)

(cd "$module_dir" && CGO_ENABLED=0 go build -mod=readonly -trimpath "$@" -o "$out.tmp" "$package")
mv "$out.tmp" "$out"
echo "$want" >"$stamp"

echo "build-tool: built .bin/$name in $(($(date +%s) - started))s"
