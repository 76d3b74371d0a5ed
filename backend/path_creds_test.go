package backend

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// testStartFraction is the sub-second part of testStart, by which a lease is
// shorter than the whole-second token life.
const testStartFraction = 400 * time.Millisecond

// newCredsBackend returns a backend with config "hd" on keyA and a
// help_desk role "reader" that uses it with the given extra role fields.
func newCredsBackend(t *testing.T, setup testSetup, roleFields map[string]any) *testBackend {
	t.Helper()

	tb := newTestBackendWith(t, setup)
	tb.writeKeyConfig(t, "hd", adminRoleHelpDesk, keyA())
	tb.writeRole(t, "reader", "hd", adminRoleHelpDesk, roleFields)

	return tb
}

func TestCredsIssue(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		op   logical.Operation
	}{
		{"read", logical.ReadOperation},
		{"update", logical.UpdateOperation},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newCredsBackend(t, testSetup{}, nil)

			resp := tb.mustRequest(t, tt.op, "creds/reader", nil)
			assertNoKeyMaterial(t, "creds warnings", strings.Join(resp.Warnings, "\n"))

			wantFields := []string{
				"token", "token_type", "expires_at", "expires_at_unix", "ttl", "jti",
				"access_id", "audience", "role", "config", "admin_role",
			}
			for _, field := range wantFields {
				if _, ok := resp.Data[field]; !ok {
					t.Errorf("response has no %s", field)
				}
			}

			if len(resp.Data) != len(wantFields) {
				t.Errorf("response fields = %v, expected exactly %v", mapKeys(resp.Data), wantFields)
			}

			wantExpiry := testStart.Truncate(time.Second).Add(DefaultTTL)
			want := map[string]any{
				"token_type":      "Bearer",
				"expires_at":      wantExpiry.UTC().Format(time.RFC3339),
				"expires_at_unix": wantExpiry.Unix(),
				"ttl":             int64(DefaultTTL / time.Second),
				"access_id":       testAccessID,
				"audience":        testAdminURL,
				"role":            "reader",
				"config":          "hd",
				"admin_role":      adminRoleHelpDesk,
			}

			for field, value := range want {
				if resp.Data[field] != value {
					t.Errorf("%s = %#v, expected %#v", field, resp.Data[field], value)
				}
			}

			expiresAt, err := time.Parse(time.RFC3339, resp.Data["expires_at"].(string))
			if err != nil {
				t.Errorf("expires_at is not RFC 3339: %v", err)
			}

			if expiresAt.Unix() != resp.Data["expires_at_unix"] {
				t.Errorf("expires_at %s and expires_at_unix %v differ", expiresAt, resp.Data["expires_at_unix"])
			}

			jti, _ := resp.Data["jti"].(string)
			if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(jti) {
				t.Errorf("jti = %q, expected 32 lowercase hex digits", jti)
			}

			if len(resp.Warnings) != 0 {
				t.Errorf("warnings = %q, expected none", resp.Warnings)
			}

			if token, _ := resp.Data["token"].(string); token == "" || strings.Contains(tb.logs.String(), token) {
				t.Error("token is empty or appears in the backend log")
			}
		})
	}
}

func TestCredsTokenVerifies(t *testing.T) {
	t.Parallel()

	tb := newCredsBackend(t, testSetup{}, map[string]any{"ttl": "20m"})

	resp := tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)
	jwt := verifyJWT(t, resp.Data["token"].(string), &keyA().private.PublicKey)

	if len(jwt.header) != 2 {
		t.Errorf("header = %v, expected only alg and typ", jwt.header)
	}

	if jwt.header["alg"] != "RS256" {
		t.Errorf("header alg = %v, expected RS256", jwt.header["alg"])
	}

	if jwt.header["typ"] != "JWT" {
		t.Errorf("header typ = %v, expected JWT", jwt.header["typ"])
	}

	if jwt.claims["sub"] != testAccessID {
		t.Errorf("sub = %v, expected %s", jwt.claims["sub"], testAccessID)
	}

	// aud must be the adminRestApiUrl string byte for byte, not an array.
	if jwt.claims["aud"] != testAdminURL {
		t.Errorf("aud = %#v, expected the string %q", jwt.claims["aud"], testAdminURL)
	}

	if jwt.claims["jti"] != resp.Data["jti"] {
		t.Errorf("jti claim = %v, response jti = %v", jwt.claims["jti"], resp.Data["jti"])
	}

	iat := integerClaim(t, jwt.claims, "iat")
	exp := integerClaim(t, jwt.claims, "exp")

	if iat != testStart.Unix() {
		t.Errorf("iat = %d, expected %d", iat, testStart.Unix())
	}

	if exp-iat != resp.Data["ttl"] {
		t.Errorf("exp - iat = %d, response ttl = %v", exp-iat, resp.Data["ttl"])
	}

	if exp-iat != 1200 {
		t.Errorf("exp - iat = %d, expected the role ttl 1200", exp-iat)
	}

	if exp != resp.Data["expires_at_unix"] {
		t.Errorf("exp = %d, expires_at_unix = %v", exp, resp.Data["expires_at_unix"])
	}

	if signedBy(resp.Data["token"].(string), &keyB().private.PublicKey) {
		t.Error("token verifies with an unrelated key")
	}
}

func TestCredsLease(t *testing.T) {
	t.Parallel()

	tb := newCredsBackend(t, testSetup{}, nil)

	resp := tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)

	if resp.Secret == nil {
		t.Fatal("response has no secret, so Vault would not create a lease")
	}

	if resp.Secret.Renewable {
		t.Error("lease is renewable, expected non-renewable")
	}

	expiresAt := time.Unix(resp.Data["expires_at_unix"].(int64), 0)
	if want := expiresAt.Sub(tb.clock.Now()); resp.Secret.TTL != want {
		t.Errorf("lease TTL = %s, expected expires_at minus now = %s", resp.Secret.TTL, want)
	}

	if want := DefaultTTL - testStartFraction; resp.Secret.TTL != want {
		t.Errorf("lease TTL = %s, expected %s", resp.Secret.TTL, want)
	}

	if resp.Secret.MaxTTL != resp.Secret.TTL {
		t.Errorf("lease MaxTTL = %s, expected the TTL %s", resp.Secret.MaxTTL, resp.Secret.TTL)
	}

	if resp.Secret.InternalData["secret_type"] != secretTokenType {
		t.Errorf("secret_type = %v, expected %s", resp.Secret.InternalData["secret_type"], secretTokenType)
	}

	assertNoKeyMaterial(t, "secret internal data", marshalJSON(resp.Secret.InternalData))
}

func TestCredsAudienceByteForByte(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		url  string
	}{
		{"base url", "https://acme.access.securid.com/AdminInterface/restapi"},
		{"trailing slash", "https://acme.access.securid.com/AdminInterface/restapi/"},
		{"v1 suffix", "https://acme.access.securid.com/AdminInterface/restapi/v1"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newTestBackend(t)

			kf := newKeyFile(keyA())
			kf.AdminRestAPIURL = tt.url
			tb.mustWrite(t, "config/hd", map[string]any{"key_file": kf.JSON(), "admin_role": adminRoleHelpDesk})
			tb.writeRole(t, "reader", "hd", adminRoleHelpDesk, nil)

			resp := tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)
			jwt := verifyJWT(t, resp.Data["token"].(string), &keyA().private.PublicKey)

			if jwt.claims["aud"] != tt.url {
				t.Errorf("aud = %#v, expected %q", jwt.claims["aud"], tt.url)
			}

			if resp.Data["audience"] != tt.url {
				t.Errorf("audience = %#v, expected %q", resp.Data["audience"], tt.url)
			}
		})
	}
}

func TestCredsUseRoleConfigKey(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)

	configs := []struct {
		name      string
		adminRole string
		accessID  string
		key       *testKey
	}{
		{"hd", adminRoleHelpDesk, "11111111-1111-4111-8111-111111111111", keyA()},
		{"sa", adminRoleSuperAdmin, "22222222-2222-4222-8222-222222222222", keyB()},
	}

	for _, config := range configs {
		kf := newKeyFile(config.key)
		kf.AccessID = config.accessID
		tb.mustWrite(t, "config/"+config.name, map[string]any{"key_file": kf.JSON(), "admin_role": config.adminRole})
		tb.writeRole(t, "role-"+config.name, config.name, config.adminRole, nil)
	}

	for _, config := range configs {
		resp := tb.mustRequest(t, logical.ReadOperation, "creds/role-"+config.name, nil)
		jwt := verifyJWT(t, resp.Data["token"].(string), &config.key.private.PublicKey)

		if jwt.claims["sub"] != config.accessID {
			t.Errorf("role-%s: sub = %v, expected %s", config.name, jwt.claims["sub"], config.accessID)
		}

		if resp.Data["admin_role"] != config.adminRole {
			t.Errorf("role-%s: admin_role = %v, expected %s", config.name, resp.Data["admin_role"], config.adminRole)
		}
	}
}

func TestCredsUniqueTokenIDs(t *testing.T) {
	t.Parallel()

	tb := newCredsBackend(t, testSetup{}, nil)

	first := tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)
	second := tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)

	if first.Data["jti"] == second.Data["jti"] {
		t.Errorf("two tokens share jti %v", first.Data["jti"])
	}

	if first.Data["token"] == second.Data["token"] {
		t.Error("two reads returned the same token")
	}
}

func TestCredsUnknownRole(t *testing.T) {
	t.Parallel()

	tb := newCredsBackend(t, testSetup{}, nil)

	resp, err := tb.request(t, logical.ReadOperation, "creds/absent", nil)
	message := requireErrorResponse(t, resp, err)

	if !strings.Contains(message, `"absent"`) {
		t.Errorf("message %q does not name the role", message)
	}

	if resp.Secret != nil {
		t.Error("error response carries a secret")
	}
}

func TestCredsMissingConfig(t *testing.T) {
	t.Parallel()

	tb := newCredsBackend(t, testSetup{}, nil)

	// Only storage edited outside the API can leave a role without its
	// config, because deleting a config in use is rejected.
	if err := tb.storage.Delete(t.Context(), "config/hd"); err != nil {
		t.Fatalf("delete config entry: %v", err)
	}

	resp, err := tb.request(t, logical.ReadOperation, "creds/reader", nil)
	message := requireErrorResponse(t, resp, err)

	if !strings.Contains(message, `"hd"`) {
		t.Errorf("message %q does not name the config", message)
	}
}

func TestCredsAdminRoleMismatchInStorage(t *testing.T) {
	t.Parallel()

	tb := newCredsBackend(t, testSetup{}, nil)
	tb.writeRole(t, "admin", "hd", adminRoleHelpDesk, nil)

	// Storage edited outside the API: a super_admin role on a help_desk key.
	entry, err := logical.StorageEntryJSON("roles/admin", &roleEntry{Config: "hd", AdminRole: adminRoleSuperAdmin})
	if err != nil {
		t.Fatalf("encode role: %v", err)
	}

	if err := tb.storage.Put(t.Context(), entry); err != nil {
		t.Fatalf("put role: %v", err)
	}

	resp, err := tb.request(t, logical.ReadOperation, "creds/admin", nil)
	if err == nil {
		// The response would hold a token, so only its shape is printed.
		t.Fatalf("expected an error, got %s", describeResponse(resp))
	}

	if resp != nil && resp.Data["token"] != nil {
		t.Error("a token was issued for a role whose admin_role differs from its config's")
	}
}

func TestCredsTTLPrecedence(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name         string
		mountDefault time.Duration // 0: Vault's default
		mountMax     time.Duration // 0: Vault's default
		roleTTL      string        // "" leaves the field out
		roleMaxTTL   string
		requested    any // nil leaves the field out
		want         time.Duration
		wantWarnings []string // one substring per expected warning
	}{
		{name: "vault defaults no warning", want: DefaultTTL},
		{name: "mount default within limit", mountDefault: 30 * time.Minute, want: 30 * time.Minute},
		{name: "mount default at limit", mountDefault: 59 * time.Minute, want: 59 * time.Minute},
		{name: "mount default above limit", mountDefault: 2 * time.Hour, mountMax: 4 * time.Hour, want: DefaultTTL},
		{name: "role ttl over mount default", mountDefault: 30 * time.Minute, roleTTL: "20m", want: 20 * time.Minute},
		{name: "request over role ttl", roleTTL: "20m", requested: "25m", want: 25 * time.Minute},
		{name: "request over mount default", mountDefault: 30 * time.Minute, requested: "45m", want: 45 * time.Minute},
		{name: "request in seconds", requested: 120, want: 2 * time.Minute},
		{name: "request at minimum", requested: "10s", want: 10 * time.Second},
		{name: "request zero means unset", roleTTL: "20m", requested: 0, want: 20 * time.Minute},
		{name: "request equal to role max", roleMaxTTL: "30m", requested: "30m", want: 30 * time.Minute},
		{
			name: "role max caps request", roleMaxTTL: "30m", requested: "40m",
			want: 30 * time.Minute, wantWarnings: []string{"max_ttl"},
		},
		{
			name: "mount max caps request", mountMax: 35 * time.Minute, requested: "40m",
			want: 35 * time.Minute, wantWarnings: []string{"max lease TTL"},
		},
		{
			name: "cas limit caps request", requested: "2h",
			want: 59 * time.Minute, wantWarnings: []string{"CAS"},
		},
		{
			name: "mount max caps role ttl", mountMax: 30 * time.Minute, roleTTL: "50m",
			want: 30 * time.Minute, wantWarnings: []string{"role ttl"},
		},
		{
			name: "role max caps mount default", mountDefault: 30 * time.Minute, roleMaxTTL: "20m",
			want: 20 * time.Minute, wantWarnings: []string{"mount default"},
		},
		{
			name: "role max and mount max", mountMax: 20 * time.Minute, roleMaxTTL: "30m", requested: "40m",
			want: 20 * time.Minute, wantWarnings: []string{"max_ttl", "max lease TTL"},
		},
		{
			name: "all three caps", mountMax: 50 * time.Minute, roleMaxTTL: "55m", requested: "3h",
			want: 50 * time.Minute, wantWarnings: []string{"max_ttl", "max lease TTL"},
		},
		{name: "mount max caps default silently", mountMax: 10 * time.Minute, want: 10 * time.Minute},
		{name: "role max caps default silently", roleMaxTTL: "10m", want: 10 * time.Minute},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			roleFields := map[string]any{}
			if tt.roleTTL != "" {
				roleFields["ttl"] = tt.roleTTL
			}

			if tt.roleMaxTTL != "" {
				roleFields["max_ttl"] = tt.roleMaxTTL
			}

			tb := newCredsBackend(t, testSetup{defaultLeaseTTL: tt.mountDefault, maxLeaseTTL: tt.mountMax}, roleFields)

			var data map[string]any
			if tt.requested != nil {
				data = map[string]any{"ttl": tt.requested}
			}

			resp := tb.mustRequest(t, logical.ReadOperation, "creds/reader", data)

			if got := resp.Data["ttl"]; got != int64(tt.want/time.Second) {
				t.Errorf("ttl = %v, expected %d", got, int64(tt.want/time.Second))
			}

			jwt := verifyJWT(t, resp.Data["token"].(string), &keyA().private.PublicKey)
			if lifetime := integerClaim(t, jwt.claims, "exp") - integerClaim(t, jwt.claims, "iat"); lifetime != int64(tt.want/time.Second) {
				t.Errorf("exp - iat = %d, expected %d", lifetime, int64(tt.want/time.Second))
			}

			if want := tt.want - testStartFraction; resp.Secret.TTL != want {
				t.Errorf("lease TTL = %s, expected %s", resp.Secret.TTL, want)
			}

			if len(resp.Warnings) != len(tt.wantWarnings) {
				t.Fatalf("warnings = %q, expected %d", resp.Warnings, len(tt.wantWarnings))
			}

			for i, want := range tt.wantWarnings {
				if !strings.Contains(resp.Warnings[i], want) {
					t.Errorf("warning %d = %q, expected it to mention %q", i, resp.Warnings[i], want)
				}
			}
		})
	}
}

func TestCredsRejectsBadTTL(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		requested any
	}{
		{"below minimum", "9s"},
		{"one second", 1},
		{"negative", "-5m"},
		{"not a duration", "soon"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newCredsBackend(t, testSetup{}, nil)

			resp, err := tb.request(t, logical.ReadOperation, "creds/reader", map[string]any{"ttl": tt.requested})
			message := requireErrorResponse(t, resp, err)

			if !regexp.MustCompile(`\bttl\b`).MatchString(message) {
				t.Errorf("message %q does not name ttl", message)
			}

			if resp.Secret != nil {
				t.Error("error response carries a secret")
			}
		})
	}
}

func TestCredsRejectsUnknownField(t *testing.T) {
	t.Parallel()

	tb := newCredsBackend(t, testSetup{}, nil)

	resp, err := tb.request(t, logical.UpdateOperation, "creds/reader", map[string]any{"tll": "30m"})
	message := requireErrorResponse(t, resp, err)

	if !strings.Contains(message, "tll") {
		t.Errorf("message %q does not name the unknown field", message)
	}
}

func TestSecretRevoke(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name          string
		internalData  func(issued map[string]any) map[string]any
		deleteEntries bool
	}{
		{"issued lease", func(issued map[string]any) map[string]any { return issued }, false},
		{"role and config deleted", func(issued map[string]any) map[string]any { return issued }, true},
		{"only secret_type", func(map[string]any) map[string]any {
			return map[string]any{"secret_type": secretTokenType}
		}, false},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newCredsBackend(t, testSetup{}, nil)

			issued := tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)

			if tt.deleteEntries {
				tb.mustRequest(t, logical.DeleteOperation, "roles/reader", nil)
				tb.mustRequest(t, logical.DeleteOperation, "config/hd", nil)
			}

			secret := *issued.Secret
			secret.InternalData = tt.internalData(issued.Secret.InternalData)

			resp, err := tb.HandleRequest(t.Context(), &logical.Request{
				Operation: logical.RevokeOperation,
				Path:      "creds/reader",
				Storage:   tb.storage,
				Secret:    &secret,
			})
			if err != nil {
				t.Fatalf("revoke: unexpected error: %v", err)
			}

			if resp.IsError() {
				t.Errorf("revoke: unexpected error response: %v", resp.Error())
			}
		})
	}
}

func TestSecretRenewUnsupported(t *testing.T) {
	t.Parallel()

	tb := newCredsBackend(t, testSetup{}, nil)

	issued := tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)

	_, err := tb.HandleRequest(t.Context(), &logical.Request{
		Operation: logical.RenewOperation,
		Path:      "creds/reader",
		Storage:   tb.storage,
		Secret:    issued.Secret,
	})
	if !errors.Is(err, logical.ErrUnsupportedOperation) {
		t.Errorf("renew error = %v, expected %v", err, logical.ErrUnsupportedOperation)
	}
}

// Vault lets a mount's lease TTLs be tuned below one second, the shortest
// life a JWT's whole-second exp can express. The engine then cannot mint a
// token, and the error must name the setting to change.
func TestCredsSubSecondMountTTL(t *testing.T) {
	t.Parallel()

	tb := newCredsBackend(t, testSetup{defaultLeaseTTL: 500 * time.Millisecond, maxLeaseTTL: 500 * time.Millisecond}, nil)

	resp, err := tb.request(t, logical.ReadOperation, "creds/reader", nil)
	if err == nil {
		t.Fatalf("creds with a 500ms mount max lease TTL: expected an error, got %s", describeResponse(resp))
	}

	for _, want := range []string{"500ms", "max-lease-ttl"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}
