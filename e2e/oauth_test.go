//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas/castest"
)

// oauthSetupOnce stores the OAuth client from writeOAuthKeyFile and a role
// on it beside the legacy configs and roles, through the vault CLI as
// docs/oauth.md shows.
var oauthSetupOnce = sync.OnceValue(func() error {
	if err := setupOnce(); err != nil {
		return err
	}

	steps := [][]string{
		{
			"write", "rsa/config/oauth-client",
			"issuer_url=" + env.cas.IssuerURL(),
			"client_id=" + env.oauthClient.ClientID,
			"private_key=@" + env.oauthKeyPath,
			"scopes=" + castest.ScopeAuditAdmin + "," + castest.ScopeUserRead,
			"admin_url=" + env.cas.AdminURL(),
		},
		{"write", "rsa/roles/oauth-auditor", "config=oauth-client", "scopes=" + castest.ScopeAuditAdmin},
	}

	for _, args := range steps {
		if result := env.vault.vault(args...); result.err != nil {
			return fmt.Errorf("vault %s: %w\n%s", strings.Join(redactArgs(args), " "), result.err, result.stderr)
		}
	}

	return nil
})

func setupOAuth(t *testing.T) {
	t.Helper()

	if err := oauthSetupOnce(); err != nil {
		t.Fatal(err)
	}
}

func TestOAuthConfigBesideLegacy(t *testing.T) {
	setupOAuth(t)

	list := env.vault.mustVault(t, "list", "-format=json", "rsa/config")

	var names []string
	if err := json.Unmarshal([]byte(list), &names); err != nil {
		t.Fatalf("decode vault list output: %v", err)
	}

	for _, name := range []string{"helpdesk-key", "superadmin-key", "oauth-client"} {
		if !slices.Contains(names, name) {
			t.Errorf("vault list rsa/config = %q, missing %s", names, name)
		}
	}

	kinds := map[string]string{"helpdesk-key": "legacy", "oauth-client": "oauth"}
	for name, kind := range kinds {
		out := readCredsCLI(t, "rsa/config/"+name)
		if out.Data["kind"] != kind {
			t.Errorf("config %s kind = %v, want %s", name, out.Data["kind"], kind)
		}
	}

	out := readCredsCLI(t, "rsa/config/oauth-client")

	want := map[string]any{
		"client_id": env.oauthClient.ClientID,
		"key_id":    env.oauthClient.KeyID,
		"key_type":  "EC",
		"key_curve": "P-256",
		"token_url": env.cas.TokenURL(),
	}

	for field, value := range want {
		if out.Data[field] != value {
			t.Errorf("%s = %v, want %v", field, out.Data[field], value)
		}
	}

	if _, ok := out.Data["private_key"]; ok {
		t.Error("config read returned private_key")
	}

	assertNoJWKSecret(t, "config read", fmt.Sprint(out.Data))
}

func TestOAuthCredsAcceptedByCAS(t *testing.T) {
	setupOAuth(t)

	oauth := readCredsCLI(t, "rsa/creds/oauth-auditor")
	legacy := readCredsCLI(t, "rsa/creds/helpdesk")

	if oauth.Renewable || oauth.LeaseDuration < 3500 || oauth.LeaseDuration > 3600 {
		t.Errorf("lease: renewable %t, duration %d s; want a non-renewable lease of the token's remaining life (about 3600 s)", oauth.Renewable, oauth.LeaseDuration)
	}

	for _, field := range []string{"token", "token_type", "expires_at", "expires_at_unix", "ttl", "scopes", "client_id", "role", "config", "cached"} {
		if _, ok := oauth.Data[field]; !ok {
			t.Errorf("OAuth creds have no %s", field)
		}
	}

	for name, out := range map[string]credsOutput{"oauth": oauth, "legacy": legacy} {
		token, _ := out.Data["token"].(string)
		if status, message := callCAS(t, http.MethodGet, "/v1/adminlog/exportlogs?pageSize=1&pageNumber=0", token, nil); status != http.StatusOK {
			t.Errorf("%s token on exportlogs: status %d (%s), want 200", name, status, message)
		}
	}

	// The role requests only rsa.audit.admin, so the user lookup, which
	// needs rsa.user.read, is refused.
	token, _ := oauth.Data["token"].(string)
	if status, _ := callCAS(t, http.MethodPost, "/v1/users/lookup", token, map[string]string{"email": "nobody@example.com"}); status != http.StatusForbidden {
		t.Errorf("users/lookup with an rsa.audit.admin token: status %d, want 403", status)
	}

	field := env.vault.mustVault(t, "read", "-field=token", "rsa/creds/oauth-auditor")
	if strings.TrimSpace(field) != token {
		t.Error("vault read -field=token returned another token than the cached one")
	}
}

func TestOAuthBurstMakesOneTokenRequest(t *testing.T) {
	setupOAuth(t)

	// A role of its own, so no earlier test has cached its token.
	env.vault.mustVault(t, "write", "rsa/roles/oauth-burst", "config=oauth-client", "scopes="+castest.ScopeAuditAdmin+","+castest.ScopeUserRead)

	before := env.cas.Counts().TokenRequests

	const readers = 64

	var wg sync.WaitGroup

	tokens := make([]string, readers)
	cached := make([]bool, readers)

	for i := range readers {
		wg.Go(func() {
			resp, err := env.vault.api(http.MethodGet, "rsa/creds/oauth-burst", nil)
			if err != nil {
				t.Errorf("reader %d: %v", i, err)

				return
			}

			if resp.status != http.StatusOK {
				t.Errorf("reader %d: status %d: %s", i, resp.status, resp.errorsText())

				return
			}

			tokens[i], _ = resp.data()["token"].(string)
			cached[i], _ = resp.data()["cached"].(bool)
		})
	}

	wg.Wait()

	if got := env.cas.Counts().TokenRequests - before; got != 1 {
		t.Errorf("token requests for %d concurrent readers = %d, want 1", readers, got)
	}

	for i, token := range tokens {
		if token == "" || token != tokens[0] {
			t.Errorf("reader %d got another token than reader 0", i)
		}
	}

	t.Logf("%d of %d readers got the token from the cache, the others joined the one token request", countTrue(cached), readers)
}

func countTrue(values []bool) int {
	n := 0

	for _, value := range values {
		if value {
			n++
		}
	}

	return n
}

func TestOAuthRejectionIsClearError(t *testing.T) {
	setupOAuth(t)

	// A client that CAS does not know: the config is valid, so only the
	// token request can tell.
	env.vault.mustVault(t, "write", "rsa/config/oauth-unknown",
		"issuer_url="+env.cas.IssuerURL(),
		"client_id=00000000-0000-4000-8000-000000000000",
		"private_key=@"+env.oauthKeyPath,
		"scopes="+castest.ScopeAuditAdmin,
	)
	env.vault.mustVault(t, "write", "rsa/roles/oauth-unknown", "config=oauth-unknown", "scopes="+castest.ScopeAuditAdmin)

	resp, err := env.vault.api(http.MethodGet, "rsa/creds/oauth-unknown", nil)
	if err != nil {
		t.Fatal(err)
	}

	if resp.status != http.StatusBadRequest {
		t.Errorf("status = %d, want 400 for a client CAS rejects", resp.status)
	}

	for _, want := range []string{"CAS rejected", "invalid_client", "oauth-unknown"} {
		if !strings.Contains(resp.errorsText(), want) {
			t.Errorf("errors %q do not contain %q", resp.errorsText(), want)
		}
	}

	result := env.vault.vault("read", "rsa/creds/oauth-unknown")
	if result.err == nil || !strings.Contains(result.stderr, "invalid_client") {
		t.Errorf("vault read: error %v, stderr %q; want a failure naming invalid_client", result.err, result.stderr)
	}
}

func TestOAuthMixedFieldsRejected(t *testing.T) {
	setupOAuth(t)

	result := env.vault.vault("write", "rsa/config/mixed", "key_file=@"+env.helpDeskPath, "admin_role=help_desk", "client_id=x")
	if result.err == nil {
		t.Fatal("a write mixing legacy and OAuth fields succeeded")
	}

	for _, want := range []string{"Code: 400", "belong to legacy keys", "client_id to OAuth clients"} {
		if !strings.Contains(result.stderr, want) {
			t.Errorf("stderr %q does not contain %q", result.stderr, want)
		}
	}

	result = env.vault.vault("write", "rsa/roles/oauth-bad", "config=oauth-client", "admin_role=help_desk", "scopes="+castest.ScopeAuditAdmin)
	if result.err == nil || !strings.Contains(result.stderr, "admin_role applies only to roles on legacy configs") {
		t.Errorf("role with admin_role on an OAuth config: error %v, stderr %q", result.err, result.stderr)
	}
}

func TestOAuthVerifyThroughCLI(t *testing.T) {
	setupOAuth(t)

	write := readCredsCLI(t, "rsa/config/oauth-client")
	if write.Data["kind"] != "oauth" {
		t.Fatalf("config kind = %v, want oauth", write.Data["kind"])
	}

	stdout := env.vault.mustVault(t, "write", "-format=json", "rsa/config/oauth-client", "verify=true")

	var written credsOutput
	if err := json.Unmarshal([]byte(stdout), &written); err != nil {
		t.Fatalf("decode vault write output: %v", err)
	}

	if written.Data["verified"] != true {
		t.Errorf("verified = %v, want true", written.Data["verified"])
	}

	check := readCredsCLI(t, "rsa/verify/oauth-auditor")

	want := map[string]any{"ok": true, "admin_api_checked": true, "client_id": env.oauthClient.ClientID, "role": "oauth-auditor"}
	for field, value := range want {
		if check.Data[field] != value {
			t.Errorf("verify %s = %v, want %v", field, check.Data[field], value)
		}
	}

	result := env.vault.vault("write", "rsa/config/oauth-client", "verify=true", "scopes="+castest.ScopeAuditAdmin+","+castest.ScopeUserRead+",rsa.group.read")
	if result.err == nil || !strings.Contains(result.stderr, "invalid_scope") || !strings.Contains(result.stderr, "Code: 400") {
		t.Errorf("verify with an ungranted scope: error %v, stderr %q; want HTTP 400 naming invalid_scope", result.err, result.stderr)
	}
}

// oauthAgentPolicy lets the migration test's agent read creds of its role
// and nothing else.
const oauthAgentPolicy = `path "rsa/creds/oauth-migrate" {
  capabilities = ["read"]
}
`

// oauthAgentTemplate renders the token of rsa/creds/oauth-migrate to a
// file, as an application's agent config would.
const oauthAgentTemplate = `template {
  contents    = "{{ with secret \"rsa/creds/oauth-migrate\" }}{{ .Data.token }}{{ end }}"
  destination = %q
  perms       = "0600"
}
`

// TestAgentFollowsRoleToOAuth runs a real `vault agent` whose template reads
// rsa/creds/oauth-migrate while the role moves from a legacy key to the
// OAuth client. The template never changes: the agent renders a legacy JWT
// first, then, at its next refresh, an OAuth access token, and the fake CAS
// accepts both.
func TestAgentFollowsRoleToOAuth(t *testing.T) {
	setupOAuth(t)

	dir := t.TempDir()

	env.vault.mustVault(t, "write", "rsa/roles/oauth-migrate", "config=helpdesk-key", "admin_role=help_desk", "ttl=15s")

	roleIDPath, secretIDPath := oauthAgentAppRole(t, dir)
	tokenPath := filepath.Join(dir, "cas-token")

	config := fmt.Sprintf(agentAuth, env.vault.addr, roleIDPath, secretIDPath) + "\n" + fmt.Sprintf(oauthAgentTemplate, tokenPath)
	startAgent(t, dir, config)

	read := fileReader(tokenPath, "")

	legacy := waitForToken(t, read, "", 30*time.Second)
	if strings.Count(legacy, ".") != 2 {
		t.Fatalf("first rendered token is not a JWT from the legacy key")
	}

	if status, message := callCAS(t, http.MethodGet, "/v1/adminlog/exportlogs?pageSize=1&pageNumber=0", legacy, nil); status != http.StatusOK {
		t.Fatalf("fake CAS refused the legacy token: status %d (%s)", status, message)
	}

	env.vault.mustVault(t, "write", "rsa/roles/oauth-migrate", "config=oauth-client", "scopes="+castest.ScopeAuditAdmin)

	// The legacy lease is 15 s, so the agent fetches again within about
	// 14 s and renders whatever the role hands out now.
	oauth := waitForToken(t, read, legacy, 30*time.Second)
	if strings.Contains(oauth, ".") {
		t.Errorf("token rendered after the move looks like a JWT, not an OAuth access token")
	}

	if status, message := callCAS(t, http.MethodGet, "/v1/adminlog/exportlogs?pageSize=1&pageNumber=0", oauth, nil); status != http.StatusOK {
		t.Errorf("fake CAS refused the OAuth access token the agent rendered: status %d (%s)", status, message)
	}
}

// oauthAgentAppRole gives an agent an AppRole login whose policy allows
// only rsa/creds/oauth-migrate, and returns the role ID and secret ID files.
// AppRole may already be enabled by another test.
func oauthAgentAppRole(t *testing.T, dir string) (string, string) {
	t.Helper()

	if result := env.vault.vault("auth", "enable", "approle"); result.err != nil && !strings.Contains(result.stderr, "path is already in use") {
		t.Fatalf("vault auth enable approle: %v\n%s", result.err, result.stderr)
	}

	policyPath := filepath.Join(dir, "oauth-migrate.hcl")
	if err := os.WriteFile(policyPath, []byte(oauthAgentPolicy), 0o600); err != nil {
		t.Fatalf("write policy: %v", err)
	}

	env.vault.mustVault(t, "policy", "write", "oauth-migrate", policyPath)
	env.vault.mustVault(t, "write", "auth/approle/role/oauth-migrate", "token_policies=oauth-migrate")

	roleID := strings.TrimSpace(env.vault.mustVault(t, "read", "-field=role_id", "auth/approle/role/oauth-migrate/role-id"))
	secretID := strings.TrimSpace(env.vault.mustVault(t, "write", "-f", "-field=secret_id", "auth/approle/role/oauth-migrate/secret-id"))

	roleIDPath := filepath.Join(dir, "role-id")
	secretIDPath := filepath.Join(dir, "secret-id")

	for path, value := range map[string]string{roleIDPath: roleID, secretIDPath: secretID} {
		if err := os.WriteFile(path, []byte(value), 0o600); err != nil {
			t.Fatalf("write %s: %v", path, err)
		}
	}

	return roleIDPath, secretIDPath
}

// waitForToken polls read until it returns a token other than "" and
// previous, and fails the test after timeout.
func waitForToken(t *testing.T, read func() (string, error), previous string, timeout time.Duration) string {
	t.Helper()

	deadline := time.Now().Add(timeout)

	for time.Now().Before(deadline) {
		token, err := read()
		if err != nil {
			t.Fatal(err)
		}

		if token != "" && token != previous {
			return token
		}

		time.Sleep(100 * time.Millisecond)
	}

	t.Fatalf("no new token rendered within %s", timeout)

	return ""
}

// TestOAuthLogsHaveNoKey checks the audit and server logs, after the tests
// above wrote the client's key several times, for its private parameter,
// and for an access token that a read handed out.
func TestOAuthLogsHaveNoKey(t *testing.T) {
	setupOAuth(t)

	token := strings.TrimSpace(env.vault.mustVault(t, "read", "-field=token", "rsa/creds/oauth-auditor"))

	for _, path := range []string{env.auditPath, env.vault.logPath} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}

		assertNoJWKSecret(t, path, string(data))

		if token == "" || strings.Contains(string(data), token) {
			t.Errorf("%s contains the access token, or the read returned none", path)
		}
	}
}

// assertNoJWKSecret fails the test if text contains the private parameter d
// of the OAuth client's JWK.
func assertNoJWKSecret(t *testing.T, where, text string) {
	t.Helper()

	var params struct {
		D string `json:"d"`
	}

	if err := json.Unmarshal(env.oauthClient.JWK, &params); err != nil || params.D == "" {
		t.Fatalf("read d from the client's JWK: %v", err)
	}

	if strings.Contains(text, params.D) {
		t.Errorf("%s contains the OAuth client's private key", where)
	}
}

// writeOAuthKeyFile makes an OAuth client with an EC key, granted
// rsa.audit.admin and rsa.user.read, registers it with the fake CAS and
// writes its private JWK where the vault CLI can read it.
func writeOAuthKeyFile(workDir string) error {
	var err error

	env.oauthClient, err = castest.NewOAuthKeyFile("EC", "e2e-oauth-client", castest.ScopeAuditAdmin, castest.ScopeUserRead)
	if err != nil {
		return err
	}

	env.oauthKeyPath = filepath.Join(workDir, "oauth-client.jwk")

	if err := os.WriteFile(env.oauthKeyPath, env.oauthClient.JWK, 0o600); err != nil {
		return fmt.Errorf("write OAuth key file: %w", err)
	}

	if err := env.cas.RegisterOAuthClient(env.oauthClient.Client()); err != nil {
		return fmt.Errorf("register OAuth client: %w", err)
	}

	return nil
}
