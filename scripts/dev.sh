#!/usr/bin/env bash
# Starts a Vault dev server with the plugin enabled at rsa/ and a fake CAS,
# writes a Help Desk and a Super Administrator key and an OAuth client,
# creates the helpdesk, superadmin and auditor roles, reads tokens and shows
# the fake CAS accepting them.
# Everything stays running; scripts/dev-stop.sh stops it.
#
# Variables:
#   VERSION      plugin version registered with Vault (default v0.1.0)
#   VAULT_PORT   Vault's loopback port (default 8200)
#   CAS_PORT     the fake CAS's loopback port (default 18443)
#   KEY_FILE     a real .key file to use for the helpdesk config instead of a
#                demo key
#   KEY_ADMIN_ROLE  the admin role of KEY_FILE (default help_desk)
#   VAULT_BIN    an installed vault to use instead of building one
# Run it through `make dev`, which builds the plugin and the fake first.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

version=${VERSION:-v0.1.0}
vault_port=${VAULT_PORT:-8200}
cas_port=${CAS_PORT:-18443}
key_admin_role=${KEY_ADMIN_ROLE:-help_desk}
dev_dir="$root/.dev"
plugin_dir="$root/.bin/plugins"
plugin_bin="$plugin_dir/vault-plugin-secrets-rsa-cas"
fake="$root/.bin/rsa-cas-fake"

step() { printf '\n==> %s\n' "$*"; }

# fail prints a message and, when a log file is named, its last lines, then
# exits. The EXIT trap then stops whatever was started.
fail() {
	printf 'dev: %s\n' "$1" >&2
	if [[ -n "${2:-}" && -f "$2" ]]; then
		printf 'dev: last lines of %s:\n' "$2" >&2
		tail -n 5 "$2" >&2
	fi
	exit 1
}

started=false

stop_on_failure() {
	local status=$?
	if [[ $status -ne 0 && $started == true ]]; then
		echo "dev: make dev failed; stopping the servers it started" >&2
		"$root/scripts/dev-stop.sh" --quiet
	fi
}
trap stop_on_failure EXIT

for file in "$plugin_bin" "$fake"; do
	[[ -x "$file" ]] || fail "$file is missing; run make dev, which builds it"
done

case "$key_admin_role" in
help_desk | super_admin) ;;
*) fail "KEY_ADMIN_ROLE=$key_admin_role is invalid; use help_desk or super_admin" ;;
esac

if [[ -n "${KEY_FILE:-}" && ! -r "$KEY_FILE" ]]; then
	fail "KEY_FILE=$KEY_FILE is not a readable file"
fi

"$root/scripts/dev-stop.sh" --quiet
mkdir -p "$dev_dir"
chmod 700 "$dev_dir"

step "getting Vault"
vault_bin=$("$root/scripts/get-vault.sh")

export VAULT_ADDR="http://127.0.0.1:$vault_port"
export VAULT_TOKEN=root
cas_url="http://127.0.0.1:$cas_port/AdminInterface/restapi"

step "writing demo key files for the fake CAS at $cas_url"
"$fake" keygen -url "$cas_url" -customer "Demo Tenant" -description "demo help desk key" -out "$dev_dir/helpdesk.key"
"$fake" keygen -url "$cas_url" -customer "Demo Tenant" -description "demo super admin key" -out "$dev_dir/superadmin.key"

issuer_url="http://127.0.0.1:$cas_port/oauth"
oauth_scopes=rsa.audit.admin,rsa.user.read

step "writing a demo OAuth client key (EC P-256 JWK) for the fake CAS at $issuer_url"
"$fake" keygen -oauth -type EC -client-id demo-client -scopes "$oauth_scopes" -out "$dev_dir/oauth-client.jwk"

helpdesk_key="$dev_dir/helpdesk.key"
helpdesk_role=help_desk
if [[ -n "${KEY_FILE:-}" ]]; then
	echo "using KEY_FILE=$KEY_FILE ($key_admin_role) for the helpdesk config; the fake CAS accepts its tokens, RSA's cloud is not contacted"
	helpdesk_key=$KEY_FILE
	helpdesk_role=$key_admin_role
fi

step "starting the fake CAS on 127.0.0.1:$cas_port (log: .dev/fake-cas.log)"
started=true
setsid "$fake" serve -listen "127.0.0.1:$cas_port" -key "$helpdesk_key=$helpdesk_role" -key "$dev_dir/superadmin.key=super_admin" \
	-oauth-client "$dev_dir/oauth-client.jwk=demo-client=$oauth_scopes" >"$dev_dir/fake-cas.log" 2>&1 &
echo $! >"$dev_dir/fake-cas.pid"

step "starting Vault in dev mode on $VAULT_ADDR (log: .dev/vault.log)"
printf 'plugin_directory = "%s"\n' "$plugin_dir" >"$dev_dir/vault.hcl"
VAULT_DISABLE_MLOCK=true setsid "$vault_bin" server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$vault_port" \
	-dev-no-store-token -config="$dev_dir/vault.hcl" >"$dev_dir/vault.log" 2>&1 &
echo $! >"$dev_dir/vault.pid"

for _ in $(seq 1 100); do
	if curl -fsS "$VAULT_ADDR/v1/sys/health" >/dev/null 2>&1; then
		break
	fi
	kill -0 "$(cat "$dev_dir/vault.pid")" 2>/dev/null || fail "Vault exited; is port $vault_port or $((vault_port + 1)) in use? Set VAULT_PORT to move it" "$dev_dir/vault.log"
	sleep 0.2
done
curl -fsS "$VAULT_ADDR/v1/sys/health" >/dev/null || fail "Vault did not become ready" "$dev_dir/vault.log"

# On a busy machine the fake can start after Vault, so it gets time too.
for _ in $(seq 1 50); do
	if curl -fsS "http://127.0.0.1:$cas_port/AdminInterface/healthcheck" >/dev/null 2>&1; then
		break
	fi
	kill -0 "$(cat "$dev_dir/fake-cas.pid")" 2>/dev/null || break
	sleep 0.2
done
curl -fsS "http://127.0.0.1:$cas_port/AdminInterface/healthcheck" >/dev/null ||
	fail "the fake CAS is not answering; it rejects key files it cannot parse, and CAS_PORT=$cas_port may be in use" "$dev_dir/fake-cas.log"

sha=$(sha256sum "$plugin_bin" | cut -d' ' -f1)

step "registering the plugin by SHA-256 $sha as version $version"
"$vault_bin" plugin register -sha256="$sha" -command=vault-plugin-secrets-rsa-cas -version="$version" secret rsa-cas

step "enabling it at rsa/"
"$vault_bin" secrets enable -path=rsa -plugin-version="$version" rsa-cas

step "writing the keys and the helpdesk and superadmin roles"
"$vault_bin" write rsa/config/helpdesk-key key_file=@"$helpdesk_key" admin_role="$helpdesk_role"
"$vault_bin" write rsa/config/superadmin-key key_file=@"$dev_dir/superadmin.key" admin_role=super_admin
"$vault_bin" write rsa/roles/helpdesk config=helpdesk-key admin_role="$helpdesk_role" ttl=15m max_ttl=59m
"$vault_bin" write rsa/roles/superadmin config=superadmin-key admin_role=super_admin ttl=5m max_ttl=15m

step "writing the OAuth client and the auditor role, whose tokens carry rsa.audit.admin"
"$vault_bin" write rsa/config/oauth-client issuer_url="$issuer_url" client_id=demo-client \
	private_key=@"$dev_dir/oauth-client.jwk" scopes="$oauth_scopes" admin_url="$cas_url"
"$vault_bin" write rsa/roles/auditor config=oauth-client scopes=rsa.audit.admin

step "vault read rsa/creds/helpdesk"
"$vault_bin" read rsa/creds/helpdesk

step "vault read rsa/creds/auditor (an access token from the fake CAS's OAuth token endpoint)"
"$vault_bin" read rsa/creds/auditor

step "calling the fake CAS with tokens from Vault"
helpdesk_token=$("$vault_bin" read -field=token rsa/creds/helpdesk)
superadmin_token=$("$vault_bin" read -field=token rsa/creds/superadmin)
auditor_token=$("$vault_bin" read -field=token rsa/creds/auditor)

last_status=""

# call_cas sends one Admin API request with a token, prints the outcome and
# leaves the HTTP status in last_status.
call_cas() {
	local label=$1 method=$2 path=$3 token=$4
	last_status=$(curl -sS -o "$dev_dir/last-response.json" -w '%{http_code}' -X "$method" \
		-H "Authorization: Bearer $token" "http://127.0.0.1:$cas_port/AdminInterface/restapi$path")
	printf '%-44s HTTP %s  %s\n' "$label" "$last_status" "$(head -c 160 "$dev_dir/last-response.json")"
}

call_cas "helpdesk token, GET /v1/adminlog/exportlogs" GET "/v1/adminlog/exportlogs?pageSize=1&pageNumber=0" "$helpdesk_token"
[[ "$last_status" == 200 ]] || fail "the fake CAS rejected the helpdesk token" "$dev_dir/fake-cas.log"

call_cas "helpdesk token, GET /v2/users/highrisk" GET /v2/users/highrisk "$helpdesk_token"
if [[ "$helpdesk_role" == help_desk && "$last_status" != 403 ]]; then
	fail "the fake CAS let a Help Desk token list high-risk users" "$dev_dir/fake-cas.log"
fi

call_cas "superadmin token, GET /v2/users/highrisk" GET /v2/users/highrisk "$superadmin_token"
[[ "$last_status" == 200 ]] || fail "the fake CAS rejected the superadmin token" "$dev_dir/fake-cas.log"

call_cas "auditor token, GET /v1/adminlog/exportlogs" GET "/v1/adminlog/exportlogs?pageSize=1&pageNumber=0" "$auditor_token"
[[ "$last_status" == 200 ]] || fail "the fake CAS rejected the OAuth access token" "$dev_dir/fake-cas.log"

cat <<EOT

Vault and the fake CAS are running. In another shell:

  export VAULT_ADDR=$VAULT_ADDR VAULT_TOKEN=root
  $vault_bin read rsa/creds/helpdesk
  $vault_bin read rsa/creds/superadmin ttl=10m
  $vault_bin read rsa/creds/auditor
  curl -H "Authorization: Bearer \$($vault_bin read -field=token rsa/creds/helpdesk)" \\
    "http://127.0.0.1:$cas_port/AdminInterface/restapi/v1/adminlog/exportlogs?pageSize=1&pageNumber=0"

Logs are in .dev/. Stop everything with: make dev-stop
EOT
