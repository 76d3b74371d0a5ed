//go:build e2e

package e2e

import (
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas/castest"
)

// readJSON runs `vault read -format=json` and decodes its data.
func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()

	var out struct {
		Data map[string]any `json:"data"`
	}

	if err := json.Unmarshal([]byte(env.vault.mustVault(t, "read", "-format=json", path)), &out); err != nil {
		t.Fatalf("decode vault read %s: %v", path, err)
	}

	return out.Data
}

// TestConfigVerifyThroughCLI writes the shared key files with verify=true
// against the plain HTTP fake on loopback.
func TestConfigVerifyThroughCLI(t *testing.T) {
	setup(t)

	stdout := env.vault.mustVault(t, "write", "-format=json", "rsa/config/verify-helpdesk",
		"key_file=@"+env.helpDeskPath, "admin_role=help_desk", "verify=true")
	if !strings.Contains(stdout, `"verified": true`) {
		t.Errorf("verified write did not report verified=true:\n%s", stdout)
	}

	env.vault.mustVault(t, "write", "rsa/config/verify-superadmin",
		"key_file=@"+env.superAdminPath, "admin_role=super_admin", "verify=true")

	// A Help Desk key stored as super_admin is caught by the high-risk check.
	result := env.vault.vault("write", "rsa/config/verify-wrong-role", "key_file=@"+env.helpDeskPath, "admin_role=super_admin", "verify=true")
	if result.err == nil {
		t.Fatal("verify accepted a Help Desk key written as super_admin")
	}

	for _, part := range []string{"Code: 400", "missing_permission", "Access is denied", "admin_role=help_desk"} {
		if !strings.Contains(result.stderr, part) {
			t.Errorf("vault write stderr does not contain %q:\n%s", part, result.stderr)
		}
	}

	// A Super Administrator key stored as help_desk reaches the high-risk
	// list, which shows its real role.
	result = env.vault.vault("write", "rsa/config/verify-wrong-role", "key_file=@"+env.superAdminPath, "admin_role=help_desk", "verify=true")
	if result.err == nil {
		t.Fatal("verify accepted a Super Administrator key written as help_desk")
	}

	for _, part := range []string{"Code: 400", "wrong_admin_role", "admin_role=super_admin"} {
		if !strings.Contains(result.stderr, part) {
			t.Errorf("vault write stderr does not contain %q:\n%s", part, result.stderr)
		}
	}

	for _, name := range []string{"verify-helpdesk", "verify-superadmin"} {
		env.vault.mustVault(t, "delete", "rsa/config/"+name)
	}
}

// TestConfigVerifyUnknownKey writes a key file that CAS has never seen.
func TestConfigVerifyUnknownKey(t *testing.T) {
	setup(t)

	stranger, err := castest.NewKeyFile(env.cas.AdminURL(), "E2E Tenant", "key deleted in the console")
	if err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "stranger.key")
	if err := os.WriteFile(path, stranger.JSON, 0o600); err != nil {
		t.Fatal(err)
	}

	result := env.vault.vault("write", "rsa/config/verify-stranger", "key_file=@"+path, "admin_role=help_desk", "verify=true")
	if result.err == nil {
		t.Fatal("verify accepted a key CAS does not know")
	}

	for _, part := range []string{
		"Code: 400",
		`verify failed, so config "verify-stranger" was not written`,
		`HTTP 403 "Invalid Access Id"`,
		"(unknown_access_id)",
		"CAS does not know access ID \"" + stranger.AccessID + "\"",
	} {
		if !strings.Contains(result.stderr, part) {
			t.Errorf("vault write stderr does not contain %q:\n%s", part, result.stderr)
		}
	}

	assertNoKeyMaterial(t, "vault write stderr", result.stderr, stranger.PrivateKey)

	if result := env.vault.vault("read", "rsa/config/verify-stranger"); result.err == nil && strings.TrimSpace(result.stdout) != "" {
		t.Errorf("config stored after a failed check:\n%s", result.stdout)
	}
}

// TestVerifyRoleThroughCLI checks the shared roles with vault read.
func TestVerifyRoleThroughCLI(t *testing.T) {
	setup(t)

	helpDesk := readJSON(t, "rsa/verify/helpdesk")
	if helpDesk["ok"] != true || helpDesk["status"] != float64(200) || helpDesk["admin_role"] != "help_desk" {
		t.Errorf("verify/helpdesk = %v, want ok with status 200", helpDesk)
	}

	if _, ok := helpDesk["high_risk_reachable"]; ok {
		t.Errorf("verify/helpdesk reports high_risk_reachable, which only super_admin roles check: %v", helpDesk)
	}

	superAdmin := readJSON(t, "rsa/verify/superadmin")
	if superAdmin["ok"] != true || superAdmin["high_risk_reachable"] != true || superAdmin["admin_role"] != "super_admin" {
		t.Errorf("verify/superadmin = %v, want ok with high_risk_reachable", superAdmin)
	}

	if _, ok := superAdmin["latency_ms"].(float64); !ok {
		t.Errorf("verify/superadmin latency_ms = %#v, want a number", superAdmin["latency_ms"])
	}

	result := env.vault.vault("read", "rsa/verify/nobody")
	if result.err == nil || !strings.Contains(result.stderr, "Code: 400") || !strings.Contains(result.stderr, `role "nobody" not found`) {
		t.Errorf("verify of an unknown role: err %v, stderr:\n%s", result.err, result.stderr)
	}
}

// TestVerifyOverTLSWithCACertificate runs a fake CAS over HTTPS whose
// certificate only the config's ca_certificate makes trusted.
func TestVerifyOverTLSWithCACertificate(t *testing.T) {
	setup(t)

	fake := castest.NewTLSServer()
	t.Cleanup(fake.Close)

	keyFile, err := castest.NewKeyFile(fake.AdminURL(), "TLS Tenant", "key for the TLS fake")
	if err != nil {
		t.Fatal(err)
	}

	if err := fake.RegisterKey(keyFile.Key(fake.AdminURL(), castest.RoleSuperAdmin)); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	keyPath := filepath.Join(dir, "tls.key")
	caPath := filepath.Join(dir, "ca.pem")

	if err := os.WriteFile(keyPath, keyFile.JSON, 0o600); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(caPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fake.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	// Without the CA the check fails on TLS and names the fix.
	result := env.vault.vault("write", "rsa/config/verify-tls", "key_file=@"+keyPath, "admin_role=super_admin", "verify=true")
	if result.err == nil {
		t.Fatal("verify passed against a certificate no configured CA signed")
	}

	for _, part := range []string{"Code: 400", "(tls)", "set ca_certificate"} {
		if !strings.Contains(result.stderr, part) {
			t.Errorf("vault write stderr does not contain %q:\n%s", part, result.stderr)
		}
	}

	if fake.Counts().Total != 0 {
		t.Errorf("fake CAS saw %d requests over an untrusted connection, want 0", fake.Counts().Total)
	}

	env.vault.mustVault(t, "write", "rsa/config/verify-tls", "key_file=@"+keyPath, "admin_role=super_admin",
		"ca_certificate=@"+caPath, "verify=true")
	env.vault.mustVault(t, "write", "rsa/roles/verify-tls", "config=verify-tls", "admin_role=super_admin")

	config := readJSON(t, "rsa/config/verify-tls")
	if !strings.Contains(config["ca_certificate"].(string), "BEGIN CERTIFICATE") {
		t.Errorf("config read does not return ca_certificate: %v", config)
	}

	check := readJSON(t, "rsa/verify/verify-tls")
	if check["ok"] != true || check["high_risk_reachable"] != true {
		t.Errorf("verify/verify-tls = %v, want ok with high_risk_reachable", check)
	}

	// Two calls for the verified write, two for the role check.
	if got := fake.Counts().Accepted; got != 4 {
		t.Errorf("fake CAS accepted %d requests, want 4", got)
	}

	// Once the key is deleted in the console, the role check reports it
	// without failing the request.
	fake.RemoveKey(keyFile.AccessID)

	check = readJSON(t, "rsa/verify/verify-tls")
	if check["ok"] != false || check["kind"] != "unknown_access_id" || !strings.Contains(check["advice"].(string), "deleted in the RSA console") {
		t.Errorf("verify/verify-tls after the key was deleted = %v, want unknown_access_id with advice", check)
	}

	env.vault.mustVault(t, "delete", "rsa/roles/verify-tls")
	env.vault.mustVault(t, "delete", "rsa/config/verify-tls")
}
