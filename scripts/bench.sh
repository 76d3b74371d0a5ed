#!/usr/bin/env bash
# Runs the benchmarks behind docs/benchmarks.md and rewrites it: the Go
# benchmarks of the mint against a bare RSA signature, then the load
# generator, which compares rsa/creds with transit sign on a Vault dev server
# it starts on 127.0.0.1. Run it through `make bench`, which builds the plugin
# first. Scratch files go to .bench/.
#
# Variables:
#   VERSION           plugin version the binary was stamped with (default v0.1.0)
#   VAULT_BIN         an installed vault to use instead of building one
#   BENCH_GO_RUNS     alternating runs of each Go benchmark (default 10)
#   BENCH_GO_TIME     -test.benchtime of each run (default 500ms)
#   BENCH_ARGS        extra flags for rsa-cas-bench, such as "-rounds 2 -round 1s"
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

version=${VERSION:-v0.1.0}
go_runs=${BENCH_GO_RUNS:-10}
go_time=${BENCH_GO_TIME:-500ms}
work=.bench
plugin=.bin/plugins/vault-plugin-secrets-rsa-cas

step() { printf '\n==> %s\n' "$*"; }

[[ -x "$plugin" ]] || {
	echo "bench: $plugin is missing; run make bench, which builds it" >&2
	exit 1
}

rm -rf "$work"
mkdir -p "$work" docs
chmod 700 "$work"

step "getting Vault"
vault_bin=$(scripts/get-vault.sh)
vault_bin=${vault_bin#"$root/"} # keeps the command in the report free of local paths

step "building the benchmark binaries and the load generator into $work/"
go test -c -o "$work/cas.test" ./cas/
go test -c -o "$work/backend.test" ./backend/
go build -o "$work/rsa-cas-bench" ./cmd/rsa-cas-bench

step "Go benchmarks: $go_runs alternating runs of ${go_time} each (output: $work/gobench.txt)"
for run in $(seq 1 "$go_runs"); do
	echo "run $run/$go_runs"
	for spec in cas.test:BenchmarkMint cas.test:BenchmarkRawSign backend.test:BenchmarkCredsIssue; do
		binary=${spec%%:*}
		name=${spec#*:}
		(cd "${binary%.test}" && "$root/$work/$binary" -test.run '^$' -test.bench "^$name\$" \
			-test.benchtime "$go_time" -test.benchmem) | tee -a "$work/gobench.txt" | grep '^Benchmark'
	done
done

step "creds against transit sign on a Vault dev server (log: $work/vault.log)"
# BENCH_ARGS is split into words on purpose, because it contains flags.
# shellcheck disable=SC2086
"$work/rsa-cas-bench" -vault "$vault_bin" -plugin-dir .bin/plugins -plugin-version "$version" -work "$work" \
	-gobench "$work/gobench.txt" -gobench-runs "$go_runs" -gobench-time "$go_time" \
	-out docs/benchmarks.md ${BENCH_ARGS:-}
