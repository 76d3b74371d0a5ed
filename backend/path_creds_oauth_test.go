package backend

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas/castest"
)

const testFakeClientID = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"

// oauthFixture is a backend and a fake CAS that share one clock, with an
// OAuth client registered at the fake and stored as config "client".
type oauthFixture struct {
	*testBackend

	cas     *castest.Server
	keyFile *castest.OAuthKeyFile
}

// newOAuthFixture registers a client of keyType ("RSA" or "EC") granted
// rsa.audit.admin and rsa.user.read at a new fake CAS, stores it as config
// "client", and creates role "reader" with roleFields (scopes defaults to
// both grants).
func newOAuthFixture(t *testing.T, keyType string, setup testSetup, roleFields map[string]any) *oauthFixture {
	t.Helper()

	tb := newTestBackendWith(t, setup)

	// Retries wait milliseconds instead of seconds.
	tb.httpOptions = cas.HTTPOptions{RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond}

	fake := castest.NewServer(castest.WithClock(tb.clock.Now))
	t.Cleanup(fake.Close)

	keyFile, err := castest.NewOAuthKeyFile(keyType, testFakeClientID, castest.ScopeAuditAdmin, castest.ScopeUserRead)
	if err != nil {
		t.Fatalf("NewOAuthKeyFile: %v", err)
	}

	registerJWKMaterial(keyFile.JWK)
	registerKeyMaterial(string(keyFile.PEM))

	if err := fake.RegisterOAuthClient(keyFile.Client()); err != nil {
		t.Fatalf("RegisterOAuthClient: %v", err)
	}

	tb.mustWrite(t, "config/client", map[string]any{
		"issuer_url":  fake.IssuerURL(),
		"client_id":   testFakeClientID,
		"private_key": string(keyFile.JWK),
		"scopes":      castest.ScopeAuditAdmin + "," + castest.ScopeUserRead,
		"admin_url":   fake.AdminURL(),
	})

	data := map[string]any{"config": "client", "scopes": castest.ScopeAuditAdmin + "," + castest.ScopeUserRead}
	for field, value := range roleFields {
		data[field] = value
	}

	tb.mustWrite(t, "roles/reader", data)

	return &oauthFixture{testBackend: tb, cas: fake, keyFile: keyFile}
}

// registerJWKMaterial records the private parameters of a JWK for leak
// checks.
func registerJWKMaterial(jwk []byte) {
	var params map[string]any
	if err := json.Unmarshal(jwk, &params); err != nil {
		panic("decode JWK: " + err.Error())
	}

	for _, name := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		if value, ok := params[name].(string); ok {
			registerKeyMaterial(value)
		}
	}
}

// readCreds reads creds/reader and fails the test unless it succeeded.
func (f *oauthFixture) readCreds(t *testing.T, data map[string]any) *logical.Response {
	t.Helper()

	var op logical.Operation = logical.ReadOperation
	if data != nil {
		op = logical.UpdateOperation
	}

	resp := f.mustRequest(t, op, "creds/reader", data)
	assertResponseHasNoKeyMaterial(t, resp)

	return resp
}

func (f *oauthFixture) tokenRequests() int {
	return f.cas.Counts().TokenRequests
}

// callAdminAPI sends the token to the fake's admin log export, the cheap
// call that needs rsa.audit.admin, and returns the status.
func (f *oauthFixture) callAdminAPI(t *testing.T, token string) int {
	t.Helper()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.cas.AdminURL()+"/v1/adminlog/exportlogs?pageSize=1&pageNumber=0", nil)
	if err != nil {
		t.Fatalf("build request: %v", err)
	}

	req.Header.Set("Authorization", "Bearer "+token)

	resp, err := f.cas.Client().Do(req)
	if err != nil {
		t.Fatalf("call the fake's Admin API: %v", err)
	}

	_ = resp.Body.Close()

	return resp.StatusCode
}

func TestOAuthCredsIssue(t *testing.T) {
	t.Parallel()

	for _, keyType := range []string{"RSA", "EC"} {
		t.Run(keyType, func(t *testing.T) {
			t.Parallel()

			f := newOAuthFixture(t, keyType, testSetup{}, nil)

			resp := f.readCreds(t, nil)

			wantFields := []string{"token", "token_type", "expires_at", "expires_at_unix", "ttl", "scopes", "client_id", "role", "config", "cached"}
			for _, field := range wantFields {
				if _, ok := resp.Data[field]; !ok {
					t.Errorf("response has no %s", field)
				}
			}

			if len(resp.Data) != len(wantFields) {
				t.Errorf("response fields = %v, expected exactly %v", mapKeys(resp.Data), wantFields)
			}

			expiresAt := testStart.Add(castest.DefaultAccessTokenLifetime)
			want := map[string]any{
				"token_type":      "Bearer",
				"expires_at":      expiresAt.UTC().Format(time.RFC3339),
				"expires_at_unix": expiresAt.Unix(),
				"ttl":             int64(castest.DefaultAccessTokenLifetime / time.Second),
				"client_id":       testFakeClientID,
				"role":            "reader",
				"config":          "client",
				"cached":          false,
			}

			for field, value := range want {
				if resp.Data[field] != value {
					t.Errorf("%s = %#v, expected %#v", field, resp.Data[field], value)
				}
			}

			if scopes, _ := resp.Data["scopes"].([]string); strings.Join(scopes, " ") != "rsa.audit.admin rsa.user.read" {
				t.Errorf("scopes = %#v, expected the role's scopes", resp.Data["scopes"])
			}

			if resp.Secret == nil || resp.Secret.TTL != castest.DefaultAccessTokenLifetime || resp.Secret.Renewable {
				t.Fatalf("secret = %#v, expected a non-renewable lease of %s", resp.Secret, castest.DefaultAccessTokenLifetime)
			}

			if len(resp.Warnings) != 0 {
				t.Errorf("warnings = %q, expected none", resp.Warnings)
			}

			token, _ := resp.Data["token"].(string)
			if status := f.callAdminAPI(t, token); status != http.StatusOK {
				t.Errorf("the fake's Admin API answered %d to the access token, expected 200", status)
			}

			if strings.Contains(f.logs.String(), token) {
				t.Error("the access token appears in the backend log")
			}

			if got := f.tokenRequests(); got != 1 {
				t.Errorf("token requests = %d, expected 1", got)
			}
		})
	}
}

func TestOAuthCredsCached(t *testing.T) {
	t.Parallel()

	f := newOAuthFixture(t, "EC", testSetup{}, nil)

	first := f.readCreds(t, nil)

	f.clock.Advance(20 * time.Minute)

	second := f.readCreds(t, nil)

	if second.Data["token"] != first.Data["token"] || second.Data["cached"] != true {
		t.Errorf("second read: cached %v, same token %t; expected the cached token", second.Data["cached"], second.Data["token"] == first.Data["token"])
	}

	if second.Data["ttl"] != int64(40*60) || second.Secret.TTL != 40*time.Minute {
		t.Errorf("second read: ttl %v, lease %s; expected the 40m the token has left", second.Data["ttl"], second.Secret.TTL)
	}

	if second.Data["expires_at"] != first.Data["expires_at"] {
		t.Errorf("expires_at changed from %v to %v", first.Data["expires_at"], second.Data["expires_at"])
	}

	if got := f.tokenRequests(); got != 1 {
		t.Errorf("token requests = %d, expected 1", got)
	}
}

func TestOAuthCredsMinRemainingTTL(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		roleFields map[string]any
		minimum    time.Duration
	}{
		{"default", nil, DefaultMinRemainingTTL},
		{"role setting", map[string]any{"min_remaining_ttl": "5m"}, 5 * time.Minute},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := newOAuthFixture(t, "RSA", testSetup{}, tt.roleFields)
			f.cas.SetAccessTokenLifetime(10 * time.Minute)

			first := f.readCreds(t, nil)

			// One second before the limit the cached token is still
			// handed out, at the limit a new one is requested.
			f.clock.Advance(10*time.Minute - tt.minimum - time.Second)

			if resp := f.readCreds(t, nil); resp.Data["token"] != first.Data["token"] {
				t.Errorf("with %s left: a new token, expected the cached one", tt.minimum+time.Second)
			}

			f.clock.Advance(time.Second)

			resp := f.readCreds(t, nil)
			if resp.Data["token"] == first.Data["token"] || resp.Data["cached"] != false {
				t.Errorf("with %s left: cached %v; expected a new token", tt.minimum, resp.Data["cached"])
			}

			if got := f.tokenRequests(); got != 2 {
				t.Errorf("token requests = %d, expected 2", got)
			}
		})
	}
}

func TestOAuthCredsConcurrentReaders(t *testing.T) {
	t.Parallel()

	f := newOAuthFixture(t, "EC", testSetup{}, nil)

	const readers = 64

	burst := func(window int) {
		var wg sync.WaitGroup

		tokens := make([]string, readers)

		for i := range readers {
			wg.Go(func() {
				resp, err := f.request(t, logical.ReadOperation, "creds/reader", nil)
				if err != nil || resp.IsError() {
					t.Errorf("window %d reader %d: %v %v", window, i, err, resp.Error())

					return
				}

				tokens[i], _ = resp.Data["token"].(string)
			})
		}

		wg.Wait()

		for i, token := range tokens {
			if token == "" || token != tokens[0] {
				t.Errorf("window %d: reader %d got another token than reader 0", window, i)
			}
		}

		if got := f.tokenRequests(); got != window {
			t.Errorf("token requests after %d bursts of %d readers = %d, expected %d", window, readers, got, window)
		}
	}

	burst(1)

	// The next expiry window begins when the token has
	// DefaultMinRemainingTTL left.
	f.clock.Advance(castest.DefaultAccessTokenLifetime - DefaultMinRemainingTTL)

	burst(2)

	if issued := f.cas.Counts().TokensIssued; issued != 2 {
		t.Errorf("tokens issued = %d, expected 2", issued)
	}
}

func TestOAuthCredsRoleScopes(t *testing.T) {
	t.Parallel()

	f := newOAuthFixture(t, "RSA", testSetup{}, map[string]any{"scopes": castest.ScopeUserRead})

	resp := f.readCreds(t, nil)

	if scopes, _ := resp.Data["scopes"].([]string); !slices.Equal(scopes, []string{castest.ScopeUserRead}) {
		t.Errorf("scopes = %#v, expected only %s", resp.Data["scopes"], castest.ScopeUserRead)
	}

	// The admin log export needs rsa.audit.admin, which this role's token
	// must not carry.
	if status := f.callAdminAPI(t, resp.Data["token"].(string)); status != http.StatusForbidden {
		t.Errorf("the fake's Admin API answered %d to a token without rsa.audit.admin, expected 403", status)
	}
}

func TestOAuthCredsLease(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name         string
		setup        testSetup
		roleFields   map[string]any
		request      map[string]any
		wantLease    time.Duration
		wantWarnings []string
	}{
		{"request shortens", testSetup{}, nil, map[string]any{"ttl": "10m"}, 10 * time.Minute, []string{"lease shortened to 10m by the requested ttl"}},
		{"request longer than the token", testSetup{}, nil, map[string]any{"ttl": "2h"}, time.Hour, []string{"requested ttl 2h is longer than the 1h this access token has left"}},
		{"role max_ttl", testSetup{}, map[string]any{"max_ttl": "15m"}, nil, 15 * time.Minute, []string{"by the role's max_ttl"}},
		{"mount max lease TTL", testSetup{maxLeaseTTL: 30 * time.Minute}, nil, nil, 30 * time.Minute, []string{"by the mount's max lease TTL"}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := newOAuthFixture(t, "EC", tt.setup, tt.roleFields)

			resp := f.readCreds(t, tt.request)

			if resp.Secret.TTL != tt.wantLease || resp.Secret.MaxTTL != tt.wantLease {
				t.Errorf("lease = %s (max %s), expected %s", resp.Secret.TTL, resp.Secret.MaxTTL, tt.wantLease)
			}

			// The token keeps its full life whatever the lease.
			if resp.Data["ttl"] != int64(3600) {
				t.Errorf("ttl = %v, expected the token's 3600 s", resp.Data["ttl"])
			}

			if len(resp.Warnings) != len(tt.wantWarnings) {
				t.Fatalf("warnings = %q, expected %d", resp.Warnings, len(tt.wantWarnings))
			}

			for i, want := range tt.wantWarnings {
				if !strings.Contains(resp.Warnings[i], want) {
					t.Errorf("warning %q does not contain %q", resp.Warnings[i], want)
				}
			}
		})
	}
}

func TestOAuthCredsShortTokenLifeWarns(t *testing.T) {
	t.Parallel()

	f := newOAuthFixture(t, "EC", testSetup{}, nil)
	f.cas.SetAccessTokenLifetime(time.Minute)

	resp := f.readCreds(t, nil)

	if len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "every read requests a new token") {
		t.Errorf("warnings = %q, expected one about min_remaining_ttl", resp.Warnings)
	}

	f.readCreds(t, nil)

	if got := f.tokenRequests(); got != 2 {
		t.Errorf("token requests = %d, expected 2 (a 1m token cannot be reused with 2m min_remaining_ttl)", got)
	}
}

func TestOAuthCredsRejectedByCAS(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		breakClient func(*oauthFixture)
		want        []string
	}{
		{"client removed", func(f *oauthFixture) { f.cas.RemoveOAuthClient(testFakeClientID) }, []string{"CAS rejected", "HTTP 401", "invalid_client", `role "reader"`, `config "client"`}},
		{"scope no longer granted", func(f *oauthFixture) {
			f.cas.RemoveOAuthClient(testFakeClientID)

			client := f.keyFile.Client()
			client.Scopes = []string{castest.ScopeAuditAdmin}

			if err := f.cas.RegisterOAuthClient(client); err != nil {
				panic(err)
			}
		}, []string{"CAS rejected", "invalid_scope", castest.ScopeUserRead}},
		{"key replaced in the console", func(f *oauthFixture) {
			other, err := castest.NewOAuthKeyFile("EC", testFakeClientID, castest.ScopeAuditAdmin, castest.ScopeUserRead)
			if err != nil {
				panic(err)
			}

			f.cas.RemoveOAuthClient(testFakeClientID)

			client := other.Client()
			client.KeyID = f.keyFile.KeyID

			if err := f.cas.RegisterOAuthClient(client); err != nil {
				panic(err)
			}
		}, []string{"CAS rejected", "invalid_client"}},
		{"forbidden", func(f *oauthFixture) { f.cas.FailTokenRequests(1, http.StatusForbidden, "") }, []string{"CAS rejected", "HTTP 403"}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := newOAuthFixture(t, "RSA", testSetup{}, nil)
			tt.breakClient(f)

			resp, err := f.request(t, logical.ReadOperation, "creds/reader", nil)
			message := requireErrorResponse(t, resp, err)

			for _, want := range tt.want {
				if !strings.Contains(message, want) {
					t.Errorf("message %q does not contain %q", message, want)
				}
			}

			if !strings.Contains(f.logs.String(), "access token request failed") {
				t.Error("the failure was not logged")
			}

			if f.tokens.len() != 0 {
				t.Error("a failed request left a cache entry")
			}
		})
	}
}

func TestOAuthCredsCASUnavailable(t *testing.T) {
	t.Parallel()

	f := newOAuthFixture(t, "EC", testSetup{}, nil)
	f.cas.FailTokenRequests(10, http.StatusServiceUnavailable, "")

	_, err := f.request(t, logical.ReadOperation, "creds/reader", nil)

	var coded logical.HTTPCodedError
	if !errors.As(err, &coded) || coded.Code() != http.StatusBadGateway {
		t.Fatalf("error = %v, expected an HTTP 502 coded error", err)
	}

	for _, want := range []string{"could not get an access token", "HTTP 503", f.cas.TokenURL()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not contain %q", err.Error(), want)
		}
	}

	// The first attempt and cas.DefaultRetryMax retries.
	if got := f.tokenRequests(); got != 1+cas.DefaultRetryMax {
		t.Errorf("token requests = %d, expected %d", got, 1+cas.DefaultRetryMax)
	}
}

func TestOAuthCredsRetryAfterRateLimit(t *testing.T) {
	t.Parallel()

	f := newOAuthFixture(t, "RSA", testSetup{}, nil)
	f.cas.FailTokenRequests(1, http.StatusTooManyRequests, "0")

	resp := f.readCreds(t, nil)

	if got := f.tokenRequests(); got != 2 {
		t.Errorf("token requests = %d, expected 2: one rate limited, one retried", got)
	}

	if status := f.callAdminAPI(t, resp.Data["token"].(string)); status != http.StatusOK {
		t.Errorf("the fake's Admin API answered %d to the token issued on the retry, expected 200", status)
	}

	if !strings.Contains(f.logs.String(), "retrying") && !strings.Contains(f.logs.String(), "retry") {
		t.Errorf("the retry was not logged:\n%s", f.logs.String())
	}
}

func TestOAuthCredsCacheDropped(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		change func(t *testing.T, f *oauthFixture)
	}{
		{"role write", func(t *testing.T, f *oauthFixture) {
			f.mustWrite(t, "roles/reader", map[string]any{"min_remaining_ttl": "3m"})
		}},
		{"role delete and create", func(t *testing.T, f *oauthFixture) {
			f.mustRequest(t, logical.DeleteOperation, "roles/reader", nil)
			f.mustWrite(t, "roles/reader", map[string]any{"config": "client", "scopes": castest.ScopeAuditAdmin})
		}},
		{"config write", func(t *testing.T, f *oauthFixture) {
			f.mustWrite(t, "config/client", map[string]any{"admin_url": ""})
		}},
		{"config invalidation", func(t *testing.T, f *oauthFixture) {
			f.Invalidate(t.Context(), "config/client")
		}},
		{"role invalidation", func(t *testing.T, f *oauthFixture) {
			f.Invalidate(t.Context(), "roles/reader")
		}},
		{"clean", func(t *testing.T, f *oauthFixture) {
			f.Cleanup(t.Context())
		}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := newOAuthFixture(t, "EC", testSetup{}, nil)

			first := f.readCreds(t, nil)

			if resp := f.readCreds(t, nil); resp.Data["cached"] != true {
				t.Fatalf("second read cached = %v, expected true", resp.Data["cached"])
			}

			tt.change(t, f)

			resp := f.readCreds(t, nil)
			if resp.Data["cached"] != false || resp.Data["token"] == first.Data["token"] {
				t.Errorf("read after %s: cached %v; expected a new token", tt.name, resp.Data["cached"])
			}

			if got := f.tokenRequests(); got != 2 {
				t.Errorf("token requests = %d, expected 2", got)
			}
		})
	}
}

func TestOAuthCredsUnrelatedWriteKeepsCache(t *testing.T) {
	t.Parallel()

	f := newOAuthFixture(t, "EC", testSetup{}, nil)
	f.writeKeyConfig(t, "hd", adminRoleHelpDesk, keyA())

	f.readCreds(t, nil)

	f.writeRole(t, "legacy", "hd", adminRoleHelpDesk, nil)
	f.Invalidate(t.Context(), "config/hd")

	if resp := f.readCreds(t, nil); resp.Data["cached"] != true {
		t.Errorf("cached = %v after writes to another role and config, expected true", resp.Data["cached"])
	}
}

func TestOAuthTokenNotStored(t *testing.T) {
	t.Parallel()

	f := newOAuthFixture(t, "RSA", testSetup{}, nil)

	token, _ := f.readCreds(t, nil).Data["token"].(string)

	keys, err := logical.CollectKeys(t.Context(), f.storage)
	if err != nil {
		t.Fatalf("list storage: %v", err)
	}

	for _, key := range keys {
		entry, err := f.storage.Get(t.Context(), key)
		if err != nil || entry == nil {
			t.Fatalf("read %s: %v", key, err)
		}

		if strings.Contains(string(entry.Value), token) {
			t.Errorf("storage entry %s contains the access token", key)
		}
	}
}

func TestOAuthCredsRevokeKeepsCache(t *testing.T) {
	t.Parallel()

	f := newOAuthFixture(t, "EC", testSetup{}, nil)

	issued := f.readCreds(t, nil)

	resp, err := f.HandleRequest(t.Context(), &logical.Request{
		Operation: logical.RevokeOperation,
		Path:      "creds/reader",
		Storage:   f.storage,
		Secret:    issued.Secret,
	})
	if err != nil || resp.IsError() {
		t.Fatalf("revoke: %v %v", err, resp.Error())
	}

	if again := f.readCreds(t, nil); again.Data["cached"] != true {
		t.Errorf("cached after revoke = %v; other leases share the token, so it stays cached", again.Data["cached"])
	}
}

func TestCredsBothKindsSideBySide(t *testing.T) {
	t.Parallel()

	f := newOAuthFixture(t, "RSA", testSetup{}, nil)
	f.writeKeyConfig(t, "hd", adminRoleHelpDesk, keyA())
	f.writeRole(t, "helpdesk", "hd", adminRoleHelpDesk, nil)

	legacy := f.mustRequest(t, logical.ReadOperation, "creds/helpdesk", nil)
	verifyJWT(t, legacy.Data["token"].(string), &keyA().private.PublicKey)

	for _, field := range []string{"jti", "access_id", "audience", "admin_role"} {
		if _, ok := legacy.Data[field]; !ok {
			t.Errorf("legacy response has no %s", field)
		}
	}

	oauth := f.readCreds(t, nil)

	for _, field := range []string{"jti", "access_id", "audience", "admin_role"} {
		if _, ok := oauth.Data[field]; ok {
			t.Errorf("OAuth response has legacy field %s", field)
		}
	}

	if legacy.Secret.InternalData["secret_type"] != oauth.Secret.InternalData["secret_type"] {
		t.Errorf("secret types differ: %v and %v", legacy.Secret.InternalData["secret_type"], oauth.Secret.InternalData["secret_type"])
	}
}
