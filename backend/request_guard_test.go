package backend

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

// jwkPrivateFirst returns a private JWK whose "d" parameter comes first, as
// a JSON encoder with sorted keys writes an RSA JWK. Split at commas, its
// first piece then contains the private key.
func jwkPrivateFirst(t *testing.T) string {
	t.Helper()

	var params map[string]string
	if err := json.Unmarshal([]byte(privateJWK(ecKeyA().private, testKeyID)), &params); err != nil {
		t.Fatalf("decode JWK: %v", err)
	}

	text := `{"d":"` + params["d"] + `"`
	for _, name := range []string{"kty", "kid", "crv", "x", "y"} {
		text += `,"` + name + `":"` + params[name] + `"`
	}

	return text + "}"
}

func TestMisplacedKeyRejectedUnquoted(t *testing.T) {
	t.Parallel()

	pemKey := keyA().pkcs1PEM
	jwk := jwkPrivateFirst(t)

	tests := []struct {
		name  string
		op    logical.Operation
		path  string
		data  map[string]any
		field string
	}{
		{"jwk as oauth config scopes", logical.UpdateOperation, "config/client", oauthConfigData(testIssuerURL, map[string]any{"scopes": jwk}), "scopes"},
		{"pem as oauth config scopes", logical.UpdateOperation, "config/client", oauthConfigData(testIssuerURL, map[string]any{"scopes": pemKey}), "scopes"},
		{"jwk as legacy description", logical.UpdateOperation, "config/hd", map[string]any{"key_file": newKeyFile(keyA()).JSON(), "admin_role": adminRoleHelpDesk, "description": jwk}, "description"},
		{"jwk as access_id", logical.UpdateOperation, "config/hd", map[string]any{"access_id": jwk, "access_key": pemKey, "admin_rest_api_url": testAdminURL, "admin_role": adminRoleHelpDesk}, "access_id"},
		{"jwk as admin_rest_api_url", logical.UpdateOperation, "config/hd", map[string]any{"access_id": testAccessID, "access_key": pemKey, "admin_rest_api_url": jwk, "admin_role": adminRoleHelpDesk}, "admin_rest_api_url"},
		{"pem as config admin_role", logical.UpdateOperation, "config/hd", map[string]any{"key_file": newKeyFile(keyA()).JSON(), "admin_role": pemKey}, "admin_role"},
		{"jwk as kind", logical.UpdateOperation, "config/hd", map[string]any{"kind": jwk}, "kind"},
		{"pem as role config", logical.UpdateOperation, "roles/r", map[string]any{"config": pemKey, "admin_role": adminRoleHelpDesk}, "config"},
		{"jwk as role scopes", logical.UpdateOperation, "roles/r", map[string]any{"config": "client", "scopes": jwk}, "scopes"},
		{"pem as role ttl", logical.UpdateOperation, "roles/r", map[string]any{"config": "hd", "admin_role": adminRoleHelpDesk, "ttl": pemKey}, "ttl"},
		{"jwk in a scopes list", logical.UpdateOperation, "roles/r", map[string]any{"config": "client", "scopes": []any{"rsa.audit.admin", jwk}}, "scopes"},
		{"pem as creds ttl", logical.ReadOperation, "creds/r", map[string]any{"ttl": pemKey}, "ttl"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newTestBackend(t)

			var (
				resp *logical.Response
				err  error
			)

			if tt.op == logical.UpdateOperation {
				resp, err = tb.write(t, tt.path, tt.data)
			} else {
				resp, err = tb.request(t, tt.op, tt.path, tt.data)
			}

			message := requireErrorResponse(t, resp, err)

			// Failure output must not quote the key either, so a message
			// that does is reported without its text.
			if strings.Contains(message, "BEGIN") || strings.Contains(message, `"d"`) {
				t.Fatalf("message quotes the key (%d bytes)", len(message))
			}

			assertNoKeyMaterial(t, "error message", message)

			if want := tt.field + " contains a private key"; !strings.Contains(message, want) {
				t.Errorf("message %q does not contain %q", message, want)
			}
		})
	}
}

func TestKeyFieldsAcceptKeys(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)

	tb.writeKeyConfig(t, "hd", adminRoleHelpDesk, keyA())
	tb.mustWrite(t, "config/client", oauthConfigData(testIssuerURL, nil))
	tb.mustWrite(t, "config/pem", map[string]any{
		"access_id":          testAccessID,
		"access_key":         keyA().pkcs8PEM,
		"admin_rest_api_url": testAdminURL,
		"admin_role":         adminRoleHelpDesk,
	})
}

func TestLooksLikePrivateKey(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		value any
		want  bool
	}{
		{"scope list", []any{"rsa.audit.admin", "rsa.user.read"}, false},
		{"duration", "15m", false},
		{"number", 900, false},
		{"description with quotes", `the "demo" key`, false},
		{"pem label", "-----BEGIN PRIVATE KEY-----", true},
		{"jwk piece", `{"d":"abc"`, true},
		{"string list with jwk piece", []string{"rsa.audit.admin", `"d": "abc"`}, true},
		{"json object with d", map[string]any{"kty": "EC", "d": "abc"}, true},
		{"nested json object", map[string]any{"keys": []any{map[string]any{"d": "abc"}}}, true},
		{"json object without d", map[string]any{"kty": "EC"}, false},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if got := looksLikePrivateKey(tt.value); got != tt.want {
				t.Errorf("looksLikePrivateKey(%v) = %v, expected %v", tt.value, got, tt.want)
			}
		})
	}
}

func TestBadDurationRejectedWithFix(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		op    logical.Operation
		path  string
		data  map[string]any
		field string
		value string
	}{
		{"role ttl word", logical.UpdateOperation, "roles/r", map[string]any{"config": "hd", "admin_role": adminRoleHelpDesk, "ttl": "fifteen"}, "ttl", "fifteen"},
		{"role max_ttl with space", logical.UpdateOperation, "roles/r", map[string]any{"config": "hd", "admin_role": adminRoleHelpDesk, "max_ttl": "1 hour"}, "max_ttl", "1 hour"},
		{"role min_remaining_ttl", logical.UpdateOperation, "roles/r", map[string]any{"config": "client", "scopes": "rsa.audit.admin", "min_remaining_ttl": "2mins"}, "min_remaining_ttl", "2mins"},
		{"creds ttl on read", logical.ReadOperation, "creds/r", map[string]any{"ttl": "soon"}, "ttl", "soon"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newTestBackend(t)

			var (
				resp *logical.Response
				err  error
			)

			if tt.op == logical.UpdateOperation {
				resp, err = tb.write(t, tt.path, tt.data)
			} else {
				resp, err = tb.request(t, tt.op, tt.path, tt.data)
			}

			message := requireErrorResponse(t, resp, err)

			want := tt.field + ` "` + tt.value + `" is not a duration; use seconds such as 900 or a Go duration such as 15m`
			if !strings.Contains(message, want) {
				t.Errorf("message %q does not contain %q", message, want)
			}
		})
	}
}

// Vault sends a lease's revoke and renew with the data of the response that
// created it, not with caller input. A revoke that failed would leave a
// lease that blocks vault secrets disable, so the guard must not judge that
// data, such as an opaque access token that happens to contain "d".
func TestGuardLeavesLeaseOperationsAlone(t *testing.T) {
	t.Parallel()

	tb := newCredsBackend(t, testSetup{}, nil)
	issued := tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)

	data := make(map[string]any, len(issued.Data))
	for name, value := range issued.Data {
		data[name] = value
	}

	data["token"] = `opaque"d"token`
	data["ttl"] = json.Number("900")

	resp, err := tb.HandleRequest(t.Context(), &logical.Request{
		Operation: logical.RevokeOperation,
		Path:      "creds/reader",
		Storage:   tb.storage,
		Secret:    issued.Secret,
		Data:      data,
	})
	if err != nil {
		t.Fatalf("revoke: unexpected error: %v", err)
	}

	if resp.IsError() {
		t.Errorf("revoke with the lease's data: unexpected error response: %v", resp.Error())
	}
}
