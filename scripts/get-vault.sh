#!/usr/bin/env bash
# Prints the path of the vault binary the tests and `make dev` use.
#
# VAULT_BIN, when set, names an installed vault to use instead. Otherwise
# Vault is built from the Go module proxy at the version pinned in
# tools/vault/go.mod into .bin/vault (about 9 minutes on an empty module and
# build cache on a 2-core machine) and reused afterwards. Progress goes to
# stderr, so the path on stdout can be captured.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

if [[ -n "${VAULT_BIN:-}" ]]; then
	if [[ ! -x "$VAULT_BIN" ]]; then
		echo "get-vault: VAULT_BIN=$VAULT_BIN is not an executable file; unset it to build the pinned Vault" >&2
		exit 1
	fi

	echo "get-vault: using VAULT_BIN=$VAULT_BIN ($("$VAULT_BIN" version))" >&2
	echo "$VAULT_BIN"
	exit 0
fi

"$root/scripts/build-tool.sh" vault github.com/hashicorp/vault -ldflags "-s -w" >&2

echo "get-vault: $("$root/.bin/vault" version)" >&2
echo "$root/.bin/vault"
