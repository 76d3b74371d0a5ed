//go:build e2e

package e2e

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
)

// setupOnce writes the configs and roles that most tests share, through the
// vault CLI exactly as the README shows.
var setupOnce = sync.OnceValue(func() error {
	steps := [][]string{
		{"write", "rsa/config/helpdesk-key", "key_file=@" + env.helpDeskPath, "admin_role=help_desk"},
		{"write", "rsa/config/superadmin-key", "key_file=@" + env.superAdminPath, "admin_role=super_admin"},
		{"write", "rsa/roles/helpdesk", "config=helpdesk-key", "admin_role=help_desk", "ttl=10m", "max_ttl=30m"},
		{"write", "rsa/roles/superadmin", "config=superadmin-key", "admin_role=super_admin", "ttl=5m"},
	}

	for _, args := range steps {
		if result := env.vault.vault(args...); result.err != nil {
			return fmt.Errorf("vault %s: %w\n%s", strings.Join(redactArgs(args), " "), result.err, result.stderr)
		}
	}

	return nil
})

func setup(t *testing.T) {
	t.Helper()

	if err := setupOnce(); err != nil {
		t.Fatal(err)
	}
}

// credsOutput is the JSON the vault CLI prints for `vault read -format=json`.
type credsOutput struct {
	LeaseID       string         `json:"lease_id"`
	LeaseDuration int            `json:"lease_duration"`
	Renewable     bool           `json:"renewable"`
	Data          map[string]any `json:"data"`
	Warnings      []string       `json:"warnings"`
}

func readCredsCLI(t *testing.T, args ...string) credsOutput {
	t.Helper()

	stdout := env.vault.mustVault(t, append([]string{"read", "-format=json"}, args...)...)

	var out credsOutput
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("decode vault read output: %v", err)
	}

	return out
}

// callCAS sends one Admin API request to the fake CAS with token and
// returns the status and the body's message.
func callCAS(t *testing.T, method, path, token string, body any) (int, string) {
	t.Helper()

	var reader io.Reader

	if body != nil {
		encoded, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("encode body: %v", err)
		}

		reader = bytes.NewReader(encoded)
	}

	req, err := http.NewRequest(method, env.cas.AdminURL()+path, reader)
	if err != nil {
		t.Fatalf("build request: %v", err)
	}

	req.Header.Set("Authorization", "Bearer "+token)

	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := env.cas.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()

	var decoded struct {
		Message     string `json:"message"`
		Description string `json:"description"`
	}

	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}

	_ = json.Unmarshal(raw, &decoded)

	return resp.StatusCode, decoded.Message + decoded.Description
}

func TestPluginRegisteredWithVersion(t *testing.T) {
	info := env.vault.mustAPI(t, http.MethodGet, "sys/plugins/catalog/secret/"+pluginName+"?version="+pluginVersion, nil, http.StatusOK)

	if got := info.data()["sha256"]; got != env.pluginSHA {
		t.Errorf("registered sha256 = %v, want %s", got, env.pluginSHA)
	}

	if got := info.data()["version"]; got != pluginVersion {
		t.Errorf("registered version = %v, want %s", got, pluginVersion)
	}

	mounts := env.vault.mustAPI(t, http.MethodGet, "sys/mounts/rsa", nil, http.StatusOK)

	if got := mounts.data()["running_plugin_version"]; got != pluginVersion {
		t.Errorf("running_plugin_version = %v, want %s", got, pluginVersion)
	}

	if got := mounts.data()["running_sha256"]; got != env.pluginSHA {
		t.Errorf("running_sha256 = %v, want %s", got, env.pluginSHA)
	}
}

func TestConfigReadHidesKey(t *testing.T) {
	setup(t)

	stdout := env.vault.mustVault(t, "read", "-format=json", "rsa/config/helpdesk-key")

	var out struct {
		Data map[string]any `json:"data"`
	}

	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("decode config: %v", err)
	}

	want := map[string]any{
		"access_id":          env.helpDesk.AccessID,
		"admin_rest_api_url": env.cas.AdminURL(),
		"admin_role":         "help_desk",
		"customer_name":      "E2E Tenant",
		"key_bits":           float64(2048),
	}

	for field, value := range want {
		if out.Data[field] != value {
			t.Errorf("%s = %v, want %v", field, out.Data[field], value)
		}
	}

	if fingerprint, _ := out.Data["public_key_sha256"].(string); len(fingerprint) != 95 {
		t.Errorf("public_key_sha256 = %q, want 32 colon-separated hex pairs", fingerprint)
	}

	for _, field := range []string{"access_key", "private_key", "key_file"} {
		if _, ok := out.Data[field]; ok {
			t.Errorf("config read returned field %s", field)
		}
	}

	assertNoKeyMaterial(t, "config read output", stdout, env.helpDesk.PrivateKey)
}

func TestCredsAcceptedByCAS(t *testing.T) {
	setup(t)

	tests := []struct {
		role         string
		accessID     string
		adminRole    string
		ttl          int
		highRiskWant int
	}{
		{"helpdesk", env.helpDesk.AccessID, "help_desk", 600, http.StatusForbidden},
		{"superadmin", env.superAdmin.AccessID, "super_admin", 300, http.StatusOK},
	}

	for _, tc := range tests {
		t.Run(tc.role, func(t *testing.T) {
			out := readCredsCLI(t, "rsa/creds/"+tc.role)

			token, _ := out.Data["token"].(string)
			if token == "" {
				t.Fatal("creds output has no token")
			}

			if out.Renewable {
				t.Error("lease is renewable, want non-renewable")
			}

			if out.LeaseDuration < tc.ttl-2 || out.LeaseDuration > tc.ttl {
				t.Errorf("lease_duration = %d, want %d (less at most 2s)", out.LeaseDuration, tc.ttl)
			}

			if got := out.Data["ttl"]; got != float64(tc.ttl) {
				t.Errorf("ttl = %v, want %d", got, tc.ttl)
			}

			checks := map[string]any{
				"token_type": "Bearer",
				"access_id":  tc.accessID,
				"audience":   env.cas.AdminURL(),
				"role":       tc.role,
				"admin_role": tc.adminRole,
			}

			for field, value := range checks {
				if out.Data[field] != value {
					t.Errorf("%s = %v, want %v", field, out.Data[field], value)
				}
			}

			if len(out.Warnings) != 0 {
				t.Errorf("warnings = %v, want none", out.Warnings)
			}

			if status, message := callCAS(t, http.MethodGet, "/v1/adminlog/exportlogs?pageSize=1&pageNumber=0", token, nil); status != http.StatusOK {
				t.Errorf("exportlogs: status %d (%s), want 200", status, message)
			}

			if status, message := callCAS(t, http.MethodPost, "/v1/users/lookup", token, map[string]string{"email": "nobody@example.com"}); status != http.StatusNotFound {
				t.Errorf("users/lookup: status %d (%s), want 404 for an unknown user", status, message)
			}

			if status, message := callCAS(t, http.MethodGet, "/v2/users/highrisk", token, nil); status != tc.highRiskWant {
				t.Errorf("users/highrisk: status %d (%s), want %d", status, message, tc.highRiskWant)
			}
		})
	}
}

func TestCredsThroughHTTPAPI(t *testing.T) {
	setup(t)

	tests := []struct {
		name        string
		method      string
		payload     any
		path        string
		wantTTL     float64
		wantWarning string
	}{
		{"get uses role ttl", http.MethodGet, nil, "rsa/creds/helpdesk", 600, ""},
		{"get with query ttl", http.MethodGet, nil, "rsa/creds/helpdesk?ttl=120", 120, ""},
		{"post with ttl", http.MethodPost, map[string]any{"ttl": "3m"}, "rsa/creds/helpdesk", 180, ""},
		{"post capped by role max_ttl", http.MethodPost, map[string]any{"ttl": "45m"}, "rsa/creds/helpdesk", 1800, "max_ttl"},
		{"post capped by CAS limit", http.MethodPost, map[string]any{"ttl": "2h"}, "rsa/creds/superadmin", 3540, "CAS"},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := env.vault.mustAPI(t, tc.method, tc.path, tc.payload, http.StatusOK)

			if got := resp.data()["ttl"]; got != tc.wantTTL {
				t.Errorf("ttl = %v, want %v", got, tc.wantTTL)
			}

			leaseDuration, _ := resp.body["lease_duration"].(float64)
			if leaseDuration > tc.wantTTL || leaseDuration < tc.wantTTL-2 {
				t.Errorf("lease_duration = %v, want %v (less at most 2s)", leaseDuration, tc.wantTTL)
			}

			warnings, _ := resp.body["warnings"].([]any)

			switch {
			case tc.wantWarning == "" && len(warnings) != 0:
				t.Errorf("warnings = %v, want none", warnings)
			case tc.wantWarning != "" && (len(warnings) != 1 || !strings.Contains(fmt.Sprint(warnings[0]), tc.wantWarning)):
				t.Errorf("warnings = %v, want one mentioning %q", warnings, tc.wantWarning)
			}

			token, _ := resp.data()["token"].(string)
			if status, message := callCAS(t, http.MethodGet, "/v1/adminlog/exportlogs", token, nil); status != http.StatusOK {
				t.Errorf("exportlogs: status %d (%s), want 200", status, message)
			}
		})
	}
}

func TestLeaseNotRenewableRevocable(t *testing.T) {
	setup(t)

	out := readCredsCLI(t, "rsa/creds/helpdesk")

	if result := env.vault.vault("lease", "renew", out.LeaseID); result.err == nil {
		t.Errorf("vault lease renew succeeded, want a refusal for a non-renewable lease")
	}

	env.vault.mustVault(t, "lease", "revoke", out.LeaseID)

	// Revoking cannot stop a JWT at CAS, so the token still works until it
	// expires.
	token, _ := out.Data["token"].(string)
	if status, message := callCAS(t, http.MethodGet, "/v1/adminlog/exportlogs", token, nil); status != http.StatusOK {
		t.Errorf("exportlogs after revoke: status %d (%s), want 200", status, message)
	}
}

func TestBadInputRejectedWith400(t *testing.T) {
	setup(t)

	helpDeskFile, err := os.ReadFile(env.helpDeskPath)
	if err != nil {
		t.Fatalf("read key file: %v", err)
	}

	superAdminFile, err := os.ReadFile(env.superAdminPath)
	if err != nil {
		t.Fatalf("read key file: %v", err)
	}

	tests := []struct {
		name      string
		method    string
		path      string
		payload   map[string]any
		wantField string
	}{
		{"config malformed json", http.MethodPost, "rsa/config/bad", map[string]any{"key_file": string(helpDeskFile[:len(helpDeskFile)-1]), "admin_role": "help_desk"}, "key_file"},
		{"config missing admin_role", http.MethodPost, "rsa/config/bad", map[string]any{"key_file": string(helpDeskFile)}, "admin_role"},
		{"config bad admin_role", http.MethodPost, "rsa/config/bad", map[string]any{"key_file": string(helpDeskFile), "admin_role": "root"}, "admin_role"},
		{"config http url", http.MethodPost, "rsa/config/bad", map[string]any{"access_id": "id", "access_key": "x", "admin_rest_api_url": "http://cas.example.com/AdminInterface/restapi", "admin_role": "help_desk"}, "admin_rest_api_url"},
		{"config key not pem", http.MethodPost, "rsa/config/bad", map[string]any{"access_id": "id", "access_key": "not a key", "admin_rest_api_url": env.cas.AdminURL(), "admin_role": "help_desk"}, "access_key"},
		{"config unknown field", http.MethodPost, "rsa/config/helpdesk-key", map[string]any{"admin-role": "help_desk"}, "admin-role"},
		{"config file and fields", http.MethodPost, "rsa/config/bad", map[string]any{"key_file": string(helpDeskFile), "access_id": "x", "admin_role": "help_desk"}, "key_file"},
		{"role mismatched admin_role", http.MethodPost, "rsa/roles/bad", map[string]any{"config": "superadmin-key", "admin_role": "help_desk"}, "admin_role"},
		{"role missing config", http.MethodPost, "rsa/roles/bad", map[string]any{"admin_role": "help_desk"}, "config"},
		{"role ttl too long", http.MethodPost, "rsa/roles/bad", map[string]any{"config": "helpdesk-key", "admin_role": "help_desk", "ttl": "2h"}, "ttl"},
		{"role bad duration", http.MethodPost, "rsa/roles/bad", map[string]any{"config": "helpdesk-key", "admin_role": "help_desk", "max_ttl": "soon"}, "max_ttl"},
		{"creds ttl too short", http.MethodPost, "rsa/creds/helpdesk", map[string]any{"ttl": "1s"}, "ttl"},
		{"creds unknown role", http.MethodGet, "rsa/creds/nobody", nil, "vault list rsa/roles"},
		{"config name with dot dot", http.MethodPost, "rsa/config/a..b", map[string]any{"key_file": string(helpDeskFile), "admin_role": "help_desk"}, "a..b"},
		{"creds name with dot dot", http.MethodGet, "rsa/creds/a..b", nil, "a..b"},
		{"config key replaced without admin_role", http.MethodPost, "rsa/config/helpdesk-key", map[string]any{"key_file": string(superAdminFile)}, "admin_role"},
		{"config delete in use", http.MethodDelete, "rsa/config/helpdesk-key", nil, "helpdesk"},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var payload any
			if tc.payload != nil {
				payload = tc.payload
			}

			resp, err := env.vault.api(tc.method, tc.path, payload)
			if err != nil {
				t.Fatal(err)
			}

			if resp.status != http.StatusBadRequest {
				t.Errorf("status = %d, want 400", resp.status)
			}

			message := resp.errorsText()
			if !strings.Contains(message, tc.wantField) {
				t.Errorf("error %q does not name %q", message, tc.wantField)
			}

			assertNoKeyMaterial(t, "error response", string(resp.raw), env.helpDesk.PrivateKey, env.superAdmin.PrivateKey)
		})
	}

	// Nothing that was rejected may have changed what is stored.
	stdout := env.vault.mustVault(t, "list", "-format=json", "rsa/config")
	if strings.Contains(stdout, `"bad"`) {
		t.Errorf("rejected config was stored: %s", stdout)
	}

	if result := env.vault.vault("read", "rsa/roles/bad"); result.err == nil {
		t.Error("rejected role was stored")
	}
}

func TestCLIConfigByFields(t *testing.T) {
	setup(t)

	// access_key=@file reads the PEM from a file, as an operator who
	// unpacked the key file would pass it.
	pemPath := env.workDir + "/superadmin.pem"
	if err := os.WriteFile(pemPath, []byte(env.superAdmin.PEM()), 0o600); err != nil {
		t.Fatalf("write pem: %v", err)
	}

	env.vault.mustVault(t, "write", "rsa/config/by-fields",
		"access_id="+env.superAdmin.AccessID,
		"access_key=@"+pemPath,
		"admin_rest_api_url="+env.cas.AdminURL(),
		"customer_name=E2E Tenant",
		"admin_role=super_admin")
	env.vault.mustVault(t, "write", "rsa/roles/by-fields", "config=by-fields", "admin_role=super_admin")

	out := readCredsCLI(t, "rsa/creds/by-fields")

	token, _ := out.Data["token"].(string)
	if status, message := callCAS(t, http.MethodGet, "/v2/users/highrisk", token, nil); status != http.StatusOK {
		t.Errorf("highrisk with super admin token: status %d (%s), want 200", status, message)
	}

	// With nothing set on the role or the mount, the default applies
	// without warnings.
	if got := out.Data["ttl"]; got != float64(15*60) {
		t.Errorf("default ttl = %v, want 900", got)
	}

	if len(out.Warnings) != 0 {
		t.Errorf("warnings = %v, want none for the default", out.Warnings)
	}
}

func TestPathHelp(t *testing.T) {
	for _, path := range []string{"rsa/config/x", "rsa/roles/x", "rsa/creds/x"} {
		stdout := env.vault.mustVault(t, "path-help", path)

		if !strings.Contains(stdout, "## PARAMETERS") || !strings.Contains(stdout, "## DESCRIPTION") {
			t.Errorf("path-help %s lacks parameters or description:\n%s", path, stdout)
		}
	}
}

func TestSecretsDisableWithLeases(t *testing.T) {
	env.vault.mustVault(t, "secrets", "enable", "-path=rsa-disable", "-plugin-version="+pluginVersion, pluginName)
	env.vault.mustVault(t, "write", "rsa-disable/config/k", "key_file=@"+env.helpDeskPath, "admin_role=help_desk")
	env.vault.mustVault(t, "write", "rsa-disable/roles/r", "config=k", "admin_role=help_desk")

	for range 3 {
		readCredsCLI(t, "rsa-disable/creds/r")
	}

	// Disabling revokes every lease first; a revoke that failed would block
	// it.
	env.vault.mustVault(t, "secrets", "disable", "rsa-disable")
}

// TestKeyFileFormsThroughCLI writes the Help Desk key in the mangled forms
// that key files reach users in, each through `vault write key_file=@file`,
// and checks that every stored key mints tokens the fake CAS accepts.
func TestKeyFileFormsThroughCLI(t *testing.T) {
	setup(t)

	original, err := os.ReadFile(env.helpDeskPath)
	if err != nil {
		t.Fatalf("read key file: %v", err)
	}

	pkcs8, err := x509.MarshalPKCS8PrivateKey(env.helpDesk.PrivateKey)
	if err != nil {
		t.Fatalf("marshal PKCS#8: %v", err)
	}

	pkcs8PEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	pkcs1PEM := env.helpDesk.PEM()

	withKey := func(accessKey string) []byte {
		var fields map[string]any
		if err := json.Unmarshal(original, &fields); err != nil {
			t.Fatalf("decode key file: %v", err)
		}

		fields["accessKey"] = accessKey

		encoded, err := json.Marshal(fields)
		if err != nil {
			t.Fatalf("encode key file: %v", err)
		}

		return encoded
	}

	forms := []struct {
		name string
		data []byte
	}{
		{"byte order mark", append([]byte("\xef\xbb\xbf"), original...)},
		{"pkcs8", withKey(pkcs8PEM)},
		{"literal backslash n", withKey(strings.ReplaceAll(pkcs1PEM, "\n", `\n`))},
		{"crlf", withKey(strings.ReplaceAll(pkcs1PEM, "\n", "\r\n"))},
		{"one line", withKey(strings.Join(strings.Fields(pkcs1PEM), " "))},
		{"extra fields", bytes.Replace(original, []byte("{"), []byte(`{"keyType":"RSA","createdBy":"admin",`), 1)},
	}

	for i, form := range forms {
		t.Run(form.name, func(t *testing.T) {
			path := fmt.Sprintf("%s/form-%d.key", env.workDir, i)
			if err := os.WriteFile(path, form.data, 0o600); err != nil {
				t.Fatalf("write key file: %v", err)
			}

			config := fmt.Sprintf("form-%d", i)
			env.vault.mustVault(t, "write", "rsa/config/"+config, "key_file=@"+path, "admin_role=help_desk")
			env.vault.mustVault(t, "write", "rsa/roles/"+config, "config="+config, "admin_role=help_desk")

			out := readCredsCLI(t, "rsa/creds/"+config)

			token, _ := out.Data["token"].(string)
			if status, message := callCAS(t, http.MethodGet, "/v1/adminlog/exportlogs", token, nil); status != http.StatusOK {
				t.Errorf("exportlogs: status %d (%s), want 200", status, message)
			}
		})
	}
}

// TestOpenAPIDescribesEveryField reads the OpenAPI document Vault generates
// for the mount and checks that every path and every field has a
// description, so `vault path-help` and generated clients are complete.
func TestOpenAPIDescribesEveryField(t *testing.T) {
	resp := env.vault.mustAPI(t, http.MethodGet, "sys/internal/specs/openapi", nil, http.StatusOK)

	paths, _ := resp.body["paths"].(map[string]any)

	for _, path := range []string{"/rsa/config/", "/rsa/config/{name}", "/rsa/roles/", "/rsa/roles/{name}", "/rsa/creds/{name}"} {
		item, ok := paths[path].(map[string]any)
		if !ok {
			t.Errorf("OpenAPI document has no path %s", path)

			continue
		}

		if description, _ := item["description"].(string); description == "" {
			t.Errorf("path %s has no description", path)
		}

		parameters, _ := item["parameters"].([]any)
		for _, parameter := range parameters {
			fields, _ := parameter.(map[string]any)
			if description, _ := fields["description"].(string); description == "" {
				t.Errorf("path %s parameter %v has no description", path, fields["name"])
			}
		}
	}

	components, _ := resp.body["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	checked := 0

	for name, schema := range schemas {
		if !strings.HasPrefix(name, "RsaCas") {
			continue
		}

		properties, _ := schema.(map[string]any)["properties"].(map[string]any)
		for field, property := range properties {
			checked++

			if description, _ := property.(map[string]any)["description"].(string); description == "" {
				t.Errorf("schema %s field %s has no description", name, field)
			}
		}
	}

	// config has 7 body fields, roles 4 and creds 1.
	if checked < 12 {
		t.Errorf("checked %d request fields in RsaCas schemas, want at least 12", checked)
	}
}
