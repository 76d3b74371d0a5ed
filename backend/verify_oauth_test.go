package backend

import (
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas/castest"
)

// closedLoopbackAddr returns a loopback address whose listener the test
// opened and closed again, so connections to it are refused.
func closedLoopbackAddr(t *testing.T) string {
	t.Helper()

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}

	addr := listener.Addr().String()

	if err := listener.Close(); err != nil {
		t.Fatalf("close listener: %v", err)
	}

	return addr
}

// verifiedOAuthConfig returns the fields of a verify=true write of the
// fixture's client as config, with extra fields added or replaced.
func (f *oauthFixture) verifiedOAuthConfig(extra map[string]any) map[string]any {
	data := map[string]any{
		"issuer_url":  f.cas.IssuerURL(),
		"client_id":   testFakeClientID,
		"private_key": string(f.keyFile.JWK),
		"scopes":      castest.ScopeAuditAdmin + "," + castest.ScopeUserRead,
		"admin_url":   f.cas.AdminURL(),
		"verify":      true,
	}

	for field, value := range extra {
		data[field] = value
	}

	return data
}

func TestOAuthConfigVerifySucceeds(t *testing.T) {
	t.Parallel()

	f := newOAuthFixture(t, "EC", testSetup{}, nil)
	before := f.cas.Counts()

	resp := f.mustWrite(t, "config/checked", f.verifiedOAuthConfig(nil))

	if resp.Data["verified"] != true {
		t.Errorf("verified = %v, expected true", resp.Data["verified"])
	}

	if _, ok := resp.Data["verify_latency_ms"]; !ok {
		t.Error("response has no verify_latency_ms")
	}

	if len(resp.Warnings) != 0 {
		t.Errorf("warnings = %q, expected none", resp.Warnings)
	}

	after := f.cas.Counts()

	if after.TokenRequests-before.TokenRequests != 1 || after.Accepted-before.Accepted != 1 {
		t.Errorf("token requests +%d, accepted Admin API calls +%d; expected +1 each",
			after.TokenRequests-before.TokenRequests, after.Accepted-before.Accepted)
	}

	if f.tokens.len() != 0 {
		t.Error("the check's access token was cached")
	}
}

func TestOAuthConfigVerifyWithoutAdminURL(t *testing.T) {
	t.Parallel()

	f := newOAuthFixture(t, "RSA", testSetup{}, nil)
	before := f.cas.Counts()

	resp := f.mustWrite(t, "config/checked", f.verifiedOAuthConfig(map[string]any{"admin_url": ""}))

	if resp.Data["verified"] != true {
		t.Errorf("verified = %v, expected true after a successful token request", resp.Data["verified"])
	}

	if len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "no admin_url") {
		t.Errorf("warnings = %q, expected one saying that the Admin API was not called", resp.Warnings)
	}

	if got := f.cas.Counts().Accepted - before.Accepted; got != 0 {
		t.Errorf("Admin API calls = %d, expected none without admin_url", got)
	}
}

func TestOAuthConfigVerifyFailures(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		setup func(*oauthFixture)
		extra map[string]any
		want  []string
	}{
		{"unknown client", nil, map[string]any{"client_id": "00000000-0000-4000-8000-000000000000"},
			[]string{"verify failed", "HTTP 401", "invalid_client", "(token_rejected)", "client ID, the private key"}},
		{"scope not granted", nil, map[string]any{"scopes": castest.ScopeAuditAdmin + ",rsa.group.read"},
			[]string{"verify failed", "invalid_scope", "rsa.group.read", "(token_rejected)"}},
		{"admin_url without a server", nil, map[string]any{"admin_url": "http://" + closedLoopbackAddr(t) + "/AdminInterface/restapi"},
			[]string{"verify failed", "(connection)", "admin_url"}},
		{"token endpoint down", func(f *oauthFixture) { f.cas.FailTokenRequests(10, http.StatusServiceUnavailable, "") }, nil,
			[]string{"verify failed", "HTTP 503", "(server_error)", "try again later"}},
		{"issuer without a server", nil, map[string]any{"issuer_url": "http://" + closedLoopbackAddr(t) + "/oauth"},
			[]string{"verify failed", "(connection)", "issuer_url"}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := newOAuthFixture(t, "EC", testSetup{}, nil)
			if tt.setup != nil {
				tt.setup(f)
			}

			resp, err := f.write(t, "config/checked", f.verifiedOAuthConfig(tt.extra))
			message := requireErrorResponse(t, resp, err)

			for _, want := range tt.want {
				if !strings.Contains(message, want) {
					t.Errorf("message %q does not contain %q", message, want)
				}
			}

			if read, err := f.request(t, logical.ReadOperation, "config/checked", nil); err != nil || read != nil {
				t.Errorf("config was stored after a failed check: %v, %v", read, err)
			}
		})
	}
}

func TestOAuthVerifyRole(t *testing.T) {
	t.Parallel()

	f := newOAuthFixture(t, "RSA", testSetup{}, nil)
	f.mustWrite(t, "roles/lookup", map[string]any{"config": "client", "scopes": castest.ScopeUserRead})

	resp := f.mustRequest(t, logical.ReadOperation, "verify/reader", nil)

	want := map[string]any{
		"ok":                true,
		"kind":              "",
		"status":            http.StatusOK,
		"role":              "reader",
		"config":            "client",
		"client_id":         testFakeClientID,
		"admin_api_checked": true,
	}

	for field, value := range want {
		if resp.Data[field] != value {
			t.Errorf("%s = %#v, expected %#v", field, resp.Data[field], value)
		}
	}

	if url, _ := resp.Data["url"].(string); !strings.HasSuffix(url, "/v1/adminlog/exportlogs") {
		t.Errorf("url = %q, expected the admin log export", url)
	}

	if _, ok := resp.Data["advice"]; ok {
		t.Error("a passed check has advice")
	}

	// rsa.user.read allows none of the cheap Admin API calls.
	lookup := f.mustRequest(t, logical.ReadOperation, "verify/lookup", nil)

	if lookup.Data["ok"] != true || lookup.Data["admin_api_checked"] != false {
		t.Errorf("verify/lookup: ok %v, admin_api_checked %v; expected a passed token request only", lookup.Data["ok"], lookup.Data["admin_api_checked"])
	}

	if len(lookup.Warnings) != 1 || !strings.Contains(lookup.Warnings[0], cas.ScopeAuditAdmin) {
		t.Errorf("verify/lookup warnings = %q, expected one naming the scopes that allow a check", lookup.Warnings)
	}
}

func TestOAuthVerifyRoleHighRisk(t *testing.T) {
	t.Parallel()

	f := newOAuthFixture(t, "EC", testSetup{}, nil)

	keyFile, err := castest.NewOAuthKeyFile("EC", "risky-client", castest.ScopeAuditAdmin, castest.ScopeUserRiskyRead)
	if err != nil {
		t.Fatalf("NewOAuthKeyFile: %v", err)
	}

	registerJWKMaterial(keyFile.JWK)

	if err := f.cas.RegisterOAuthClient(keyFile.Client()); err != nil {
		t.Fatalf("RegisterOAuthClient: %v", err)
	}

	f.mustWrite(t, "config/risky", map[string]any{
		"issuer_url":  f.cas.IssuerURL(),
		"client_id":   "risky-client",
		"private_key": string(keyFile.JWK),
		"scopes":      castest.ScopeAuditAdmin + "," + castest.ScopeUserRiskyRead,
		"admin_url":   f.cas.AdminURL(),
	})

	for role, scopes := range map[string]string{
		"both":      castest.ScopeAuditAdmin + "," + castest.ScopeUserRiskyRead,
		"risk-only": castest.ScopeUserRiskyRead,
	} {
		f.mustWrite(t, "roles/"+role, map[string]any{"config": "risky", "scopes": scopes})

		resp := f.mustRequest(t, logical.ReadOperation, "verify/"+role, nil)

		if resp.Data["ok"] != true || resp.Data["high_risk_reachable"] != true || resp.Data["admin_api_checked"] != true {
			t.Errorf("verify/%s = %v, expected a passed check that reached the high-risk list", role, resp.Data)
		}
	}
}

func TestOAuthVerifyRoleReportsFailure(t *testing.T) {
	t.Parallel()

	f := newOAuthFixture(t, "RSA", testSetup{}, nil)
	f.cas.RemoveOAuthClient(testFakeClientID)

	resp := f.mustRequest(t, logical.ReadOperation, "verify/reader", nil)

	want := map[string]any{"ok": false, "kind": string(cas.KindTokenRejected), "status": http.StatusUnauthorized}
	for field, value := range want {
		if resp.Data[field] != value {
			t.Errorf("%s = %#v, expected %#v", field, resp.Data[field], value)
		}
	}

	if advice, _ := resp.Data["advice"].(string); !strings.Contains(advice, "client ID") {
		t.Errorf("advice = %q, expected it to name the client ID", advice)
	}

	if message, _ := resp.Data["message"].(string); !strings.HasPrefix(message, "invalid_client") {
		t.Errorf("message = %q, expected CAS's error code first", message)
	}
}

func TestOAuthVerifyRoleKeepsCache(t *testing.T) {
	t.Parallel()

	f := newOAuthFixture(t, "EC", testSetup{}, nil)

	first := f.readCreds(t, nil)
	f.mustRequest(t, logical.ReadOperation, "verify/reader", nil)

	again := f.readCreds(t, nil)
	if again.Data["cached"] != true || again.Data["token"] != first.Data["token"] {
		t.Errorf("creds after verify: cached %v; expected the token cached before", again.Data["cached"])
	}

	if got := f.tokenRequests(); got != 2 {
		t.Errorf("token requests = %d, expected 2: one for creds and one for the check", got)
	}
}

// TestOAuthCredsOverTLS checks that token requests trust the config's
// ca_certificate, and only with it.
func TestOAuthCredsOverTLS(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)
	tb.httpOptions = cas.HTTPOptions{RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond}

	fake := castest.NewTLSServer(castest.WithClock(tb.clock.Now))
	t.Cleanup(fake.Close)

	keyFile, err := castest.NewOAuthKeyFile("EC", testFakeClientID, castest.ScopeAuditAdmin)
	if err != nil {
		t.Fatalf("NewOAuthKeyFile: %v", err)
	}

	registerJWKMaterial(keyFile.JWK)

	if err := fake.RegisterOAuthClient(keyFile.Client()); err != nil {
		t.Fatalf("RegisterOAuthClient: %v", err)
	}

	tb.mustWrite(t, "config/client", map[string]any{
		"issuer_url":  fake.IssuerURL(),
		"client_id":   testFakeClientID,
		"private_key": string(keyFile.JWK),
		"scopes":      castest.ScopeAuditAdmin,
	})
	tb.mustWrite(t, "roles/reader", map[string]any{"config": "client", "scopes": castest.ScopeAuditAdmin})

	_, err = tb.request(t, logical.ReadOperation, "creds/reader", nil)

	var coded logical.HTTPCodedError
	if !errors.As(err, &coded) || coded.Code() != http.StatusBadGateway || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("creds without ca_certificate: error %v; expected HTTP 502 naming the certificate", err)
	}

	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fake.Certificate().Raw}))
	tb.mustWrite(t, "config/client", map[string]any{"ca_certificate": caPEM})

	resp := tb.mustRequest(t, logical.ReadOperation, "creds/reader", nil)
	if token, _ := resp.Data["token"].(string); token == "" {
		t.Error("creds with ca_certificate returned no token")
	}
}
