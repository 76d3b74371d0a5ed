#!/usr/bin/env bash
# Stops the Vault dev server and the fake CAS that scripts/dev.sh started.
# --quiet prints nothing when nothing is running.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
quiet=false
[[ "${1:-}" == "--quiet" ]] && quiet=true

stopped=0

for name in vault fake-cas; do
	pid_file="$root/.dev/$name.pid"
	[[ -f "$pid_file" ]] || continue

	pid=$(cat "$pid_file")
	if kill -0 "$pid" 2>/dev/null; then
		echo "dev-stop: stopping $name (pid $pid)"
		kill "$pid"
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "dev-stop: $name did not stop in 5s; killing it"
			kill -9 "$pid"
		fi
		stopped=$((stopped + 1))
	fi
	rm -f "$pid_file"
done

if [[ $stopped -eq 0 && $quiet == false ]]; then
	echo "dev-stop: nothing was running"
fi
