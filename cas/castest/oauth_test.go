package castest_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hashicorp/go-hclog"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas/castest"
)

const (
	rsaClientID = "0oa-rsa-client"
	ecClientID  = "0oa-ec-client"
)

// fakeClock is a clock that tests move forward while the server runs.
type fakeClock struct {
	nanos atomic.Int64
}

func newFakeClock(start time.Time) *fakeClock {
	c := &fakeClock{}
	c.nanos.Store(start.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time { return time.Unix(0, c.nanos.Load()) }

func (c *fakeClock) Advance(d time.Duration) { c.nanos.Add(int64(d)) }

type oauthTestKeys struct {
	// rsa is granted rsa.audit.admin and rsa.user.read.
	rsa *castest.OAuthKeyFile
	// ec is granted rsa.audit.admin, rsa.user.read and rsa.user.risky.read.
	ec *castest.OAuthKeyFile
	// otherRSA and otherEC are registered nowhere.
	otherRSA *rsa.PrivateKey
	otherEC  *ecdsa.PrivateKey
}

// loadOAuthTestKeys reuses the RSA keys of the legacy tests, because RSA key
// generation is the slowest step.
var loadOAuthTestKeys = sync.OnceValues(func() (oauthTestKeys, error) {
	legacy, err := loadTestKeys()
	if err != nil {
		return oauthTestKeys{}, err
	}
	rsaFile, err := castest.OAuthKeyFileFor(legacy.superAdmin, rsaClientID, castest.ScopeAuditAdmin, castest.ScopeUserRead)
	if err != nil {
		return oauthTestKeys{}, err
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return oauthTestKeys{}, err
	}
	ecFile, err := castest.OAuthKeyFileFor(ecKey, ecClientID,
		castest.ScopeAuditAdmin, castest.ScopeUserRead, castest.ScopeUserRiskyRead)
	if err != nil {
		return oauthTestKeys{}, err
	}
	otherEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return oauthTestKeys{}, err
	}
	return oauthTestKeys{rsa: rsaFile, ec: ecFile, otherRSA: legacy.unregistered, otherEC: otherEC}, nil
})

// oauthFixture is a started fake with the two OAuth clients of
// oauthTestKeys, a legacy Help Desk key and a clock that starts at testNow.
type oauthFixture struct {
	server *castest.Server
	clock  *fakeClock
	keys   oauthTestKeys
	legacy testKeys
}

func newOAuthFixture(t *testing.T, opts ...castest.Option) oauthFixture {
	t.Helper()
	keys, err := loadOAuthTestKeys()
	if err != nil {
		t.Fatalf("generate OAuth keys: %v", err)
	}
	legacy, err := loadTestKeys()
	if err != nil {
		t.Fatalf("generate RSA keys: %v", err)
	}

	clock := newFakeClock(testNow)
	server := castest.NewServer(append([]castest.Option{castest.WithClock(clock.Now)}, opts...)...)
	t.Cleanup(server.Close)

	for _, file := range []*castest.OAuthKeyFile{keys.rsa, keys.ec} {
		if err := server.RegisterOAuthClient(file.Client()); err != nil {
			t.Fatalf("RegisterOAuthClient(%s): %v", file.ClientID, err)
		}
	}
	err = server.RegisterKey(castest.Key{
		AccessID: helpDeskAccessID, PublicKey: &legacy.helpDesk.PublicKey,
		Audience: server.AdminURL(), AdminRole: castest.RoleHelpDesk,
	})
	if err != nil {
		t.Fatalf("RegisterKey: %v", err)
	}
	return oauthFixture{server: server, clock: clock, keys: keys, legacy: legacy}
}

// assertionClaims returns valid claims for file: issued now by the fixture's
// clock, living MaxAssertionLifetime, with a random jti.
func (f oauthFixture) assertionClaims(file *castest.OAuthKeyFile) jwt.MapClaims {
	now := f.clock.Now().Unix()
	return jwt.MapClaims{
		"iss": file.ClientID,
		"sub": file.ClientID,
		"aud": f.server.TokenURL(),
		"iat": now,
		"exp": now + int64(castest.MaxAssertionLifetime/time.Second),
		"jti": rand.Text(),
	}
}

// methodFor returns the signing method that fits file's key.
func methodFor(file *castest.OAuthKeyFile) jwt.SigningMethod {
	if _, ok := file.Signer.(*ecdsa.PrivateKey); ok {
		return jwt.SigningMethodES256
	}
	return jwt.SigningMethodRS256
}

// mintAssertion signs claims for file with its key and kid. changes edit the
// claims and headerChanges the header before signing; a nil value deletes.
func mintAssertion(t *testing.T, file *castest.OAuthKeyFile, claims jwt.MapClaims, changes, headerChanges map[string]any) string {
	t.Helper()
	for name, value := range changes {
		if value == nil {
			delete(claims, name)
			continue
		}
		claims[name] = value
	}
	header := map[string]any{"kid": file.KeyID}
	for name, value := range headerChanges {
		header[name] = value
	}
	return signToken(t, methodFor(file), file.Signer, claims, header)
}

// signRaw signs header and payload JSON exactly as given.
func signRaw(t *testing.T, method jwt.SigningMethod, key any, headerJSON, payloadJSON string) string {
	t.Helper()
	signingInput := base64.RawURLEncoding.EncodeToString([]byte(headerJSON)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(payloadJSON))
	signature, err := method.Sign(signingInput, key)
	if err != nil {
		t.Fatalf("sign raw %s assertion: %v", method.Alg(), err)
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(signature)
}

// tokenForm returns a complete token request form.
func tokenForm(clientID, assertion, scope string) url.Values {
	return url.Values{
		"grant_type":            {castest.GrantTypeClientCredentials},
		"client_assertion_type": {castest.ClientAssertionTypeJWT},
		"client_assertion":      {assertion},
		"client_id":             {clientID},
		"scope":                 {scope},
	}
}

func postToken(t *testing.T, server *castest.Server, form url.Values) result {
	t.Helper()
	return send(t, server, http.MethodPost, castest.TokenPath, "", "application/x-www-form-urlencoded", form.Encode())
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

type oauthErrorResponse struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// decodeStrict decodes a JSON body and fails on unknown fields.
func decodeStrict(t *testing.T, body []byte, into any) {
	t.Helper()
	decoder := json.NewDecoder(bytes.NewReader(body))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(into); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

// getToken requests an access token for file with scope and fails the test
// unless it is issued.
func (f oauthFixture) getToken(t *testing.T, file *castest.OAuthKeyFile, scope string) tokenResponse {
	t.Helper()
	assertion := mintAssertion(t, file, f.assertionClaims(file), nil, nil)
	got := postToken(t, f.server, tokenForm(file.ClientID, assertion, scope))
	if got.status != http.StatusOK {
		t.Fatalf("token request for %s: status %d, body %s", file.ClientID, got.status, got.body)
	}
	var body tokenResponse
	decodeStrict(t, got.body, &body)
	return body
}

// checkSpringError checks CAS's Spring-style error body with status and
// message, sent at now.
func checkSpringError(t *testing.T, got result, now time.Time, status int, path, message string) {
	t.Helper()
	if got.status != status {
		t.Fatalf("status = %d, want %d; body %s", got.status, status, got.body)
	}
	var body forbiddenBody
	decodeStrict(t, got.body, &body)
	if body.Status == nil || *body.Status != status {
		t.Errorf("status field = %v, want %d", deref(body.Status), status)
	}
	if body.Error == nil || *body.Error != http.StatusText(status) {
		t.Errorf("error = %v, want %q", deref(body.Error), http.StatusText(status))
	}
	if body.Message == nil || *body.Message != message {
		t.Errorf("message = %v, want %q", deref(body.Message), message)
	}
	if body.Path == nil || *body.Path != path {
		t.Errorf("path = %v, want %q", deref(body.Path), path)
	}
	if body.Timestamp == nil || *body.Timestamp != now.UnixMilli() {
		t.Errorf("timestamp = %v, want %d", deref(body.Timestamp), now.UnixMilli())
	}
}

// sendWithHeaders is send that also returns the response headers. A POST
// carries a user lookup for an unknown address.
func sendWithHeaders(t *testing.T, server *castest.Server, method, path, authorization string) (result, http.Header) {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{"email":"nobody@example.com"}`)
	}
	request, err := http.NewRequest(method, server.URL+path, body)
	if err != nil {
		t.Fatalf("build request: %v", err)
	}
	if body != nil {
		request.Header.Set("Content-Type", "application/json")
	}
	if authorization != "" {
		request.Header.Set("Authorization", authorization)
	}
	response, err := server.Client().Do(request)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer response.Body.Close()
	var responseBody bytes.Buffer
	if _, err := responseBody.ReadFrom(response.Body); err != nil {
		t.Fatalf("read body: %v", err)
	}
	return result{status: response.StatusCode, contentType: response.Header.Get("Content-Type"), body: responseBody.Bytes()}, response.Header
}

func TestIssuerAndTokenURL(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t)

	if got, want := f.server.IssuerURL(), f.server.URL+"/oauth"; got != want {
		t.Errorf("IssuerURL() = %q, want %q", got, want)
	}
	if got, want := f.server.TokenURL(), f.server.URL+"/oauth/token"; got != want {
		t.Errorf("TokenURL() = %q, want %q", got, want)
	}
	if castest.TokenPath != "/oauth/token" {
		t.Errorf("TokenPath = %q, want /oauth/token", castest.TokenPath)
	}
}

func TestAccessTokenOnAdminAPI(t *testing.T) {
	t.Parallel()

	type call struct {
		method, path string
		wantStatus   int
		// wantScope is the scope a 403 must name.
		wantScope string
	}
	cases := []struct {
		name  string
		file  func(oauthTestKeys) *castest.OAuthKeyFile
		scope string
		calls []call
	}{
		{
			name:  "RSA client with both of its scopes",
			file:  func(k oauthTestKeys) *castest.OAuthKeyFile { return k.rsa },
			scope: castest.ScopeAuditAdmin + " " + castest.ScopeUserRead,
			calls: []call{
				{http.MethodGet, exportLogsPath + "?pageSize=1&pageNumber=0", http.StatusOK, ""},
				// 404 for an unknown user proves the token was accepted.
				{http.MethodPost, lookupPath, http.StatusNotFound, ""},
				{http.MethodGet, highRiskPath, http.StatusForbidden, castest.ScopeUserRiskyRead},
			},
		},
		{
			name:  "token narrower than the client's grants",
			file:  func(k oauthTestKeys) *castest.OAuthKeyFile { return k.rsa },
			scope: castest.ScopeAuditAdmin,
			calls: []call{
				{http.MethodGet, exportLogsPath, http.StatusOK, ""},
				{http.MethodPost, lookupPath, http.StatusForbidden, castest.ScopeUserRead},
			},
		},
		{
			name:  "EC client with the risky user scope",
			file:  func(k oauthTestKeys) *castest.OAuthKeyFile { return k.ec },
			scope: castest.ScopeUserRiskyRead,
			calls: []call{
				{http.MethodGet, highRiskPath, http.StatusOK, ""},
				{http.MethodGet, exportLogsPath, http.StatusForbidden, castest.ScopeAuditAdmin},
			},
		},
		{
			name:  "unknown path and wrong method after the token check",
			file:  func(k oauthTestKeys) *castest.OAuthKeyFile { return k.ec },
			scope: castest.ScopeUserRead,
			calls: []call{
				{http.MethodGet, castest.AdminBasePath + "/v1/nothing", http.StatusNotFound, ""},
				{http.MethodGet, lookupPath, http.StatusMethodNotAllowed, ""},
			},
		},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newOAuthFixture(t)
			file := tc.file(f.keys)
			token := f.getToken(t, file, tc.scope)
			if token.TokenType != "Bearer" {
				t.Errorf("token_type = %q, want Bearer", token.TokenType)
			}
			if token.ExpiresIn != 3600 {
				t.Errorf("expires_in = %d, want 3600", token.ExpiresIn)
			}
			if token.AccessToken == "" {
				t.Error("access_token is empty")
			}

			for _, c := range tc.calls {
				got, header := sendWithHeaders(t, f.server, c.method, c.path, bearer(token.AccessToken))
				if got.status != c.wantStatus {
					t.Fatalf("%s %s: status %d, want %d; body %s", c.method, c.path, got.status, c.wantStatus, got.body)
				}
				record := lastRequest(t, f.server)
				if record.ClientID != file.ClientID {
					t.Errorf("record ClientID = %q, want %q", record.ClientID, file.ClientID)
				}
				if record.AccessID != "" {
					t.Errorf("record AccessID = %q, want none", record.AccessID)
				}
				if c.wantScope == "" {
					continue
				}

				path, _, _ := strings.Cut(c.path, "?")
				checkSpringError(t, got, f.clock.Now(), http.StatusForbidden, path, castest.MessageInsufficientScope+": "+c.wantScope)
				wantHeader := `Bearer error="insufficient_scope", scope="` + c.wantScope + `"`
				if h := header.Get("WWW-Authenticate"); h != wantHeader {
					t.Errorf("WWW-Authenticate = %q, want %q", h, wantHeader)
				}
				if !errors.Is(record.Err, castest.ErrInsufficientScope) {
					t.Errorf("record Err = %v, want ErrInsufficientScope", record.Err)
				}
			}
		})
	}
}

func TestAccessTokenExpiry(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t)

	early := f.getToken(t, f.keys.rsa, castest.ScopeAuditAdmin)
	f.server.SetAccessTokenLifetime(2*time.Minute + 500*time.Millisecond)
	short := f.getToken(t, f.keys.rsa, castest.ScopeAuditAdmin)
	if early.ExpiresIn != 3600 {
		t.Errorf("expires_in before the change = %d, want 3600", early.ExpiresIn)
	}
	if short.ExpiresIn != 120 {
		t.Errorf("expires_in after the change = %d, want 120, rounded down", short.ExpiresIn)
	}

	f.clock.Advance(119 * time.Second)
	if got := send(t, f.server, http.MethodGet, exportLogsPath, bearer(short.AccessToken), "", ""); got.status != http.StatusOK {
		t.Fatalf("1 s before expiry: status %d, want 200; body %s", got.status, got.body)
	}

	f.clock.Advance(time.Second)
	got, header := sendWithHeaders(t, f.server, http.MethodGet, exportLogsPath, bearer(short.AccessToken))
	checkSpringError(t, got, f.clock.Now(), http.StatusUnauthorized, exportLogsPath, castest.MessageAccessTokenExpired)
	if h := header.Get("WWW-Authenticate"); !strings.HasPrefix(h, `Bearer error="invalid_token"`) {
		t.Errorf("WWW-Authenticate = %q, want Bearer error=\"invalid_token\"", h)
	}
	record := lastRequest(t, f.server)
	if !errors.Is(record.Err, castest.ErrAccessTokenExpired) {
		t.Errorf("record Err = %v, want ErrAccessTokenExpired", record.Err)
	}
	if record.ClientID != rsaClientID {
		t.Errorf("record ClientID = %q, want %q", record.ClientID, rsaClientID)
	}

	// The token issued before the change keeps its hour.
	if got := send(t, f.server, http.MethodGet, exportLogsPath, bearer(early.AccessToken), "", ""); got.status != http.StatusOK {
		t.Errorf("earlier token: status %d, want 200; body %s", got.status, got.body)
	}
	f.clock.Advance(time.Hour - 120*time.Second)
	if got := send(t, f.server, http.MethodGet, exportLogsPath, bearer(early.AccessToken), "", ""); got.status != http.StatusUnauthorized {
		t.Errorf("earlier token after an hour: status %d, want 401; body %s", got.status, got.body)
	}

	want := castest.Counts{Total: 6, Accepted: 2, Unauthorized: 2, TokenRequests: 2, TokensIssued: 2}
	if counts := f.server.Counts(); counts != want {
		t.Errorf("Counts() = %+v, want %+v", counts, want)
	}
}

func TestShortTokenLifetimePanics(t *testing.T) {
	t.Parallel()
	server := castest.New()
	defer func() {
		if recover() == nil {
			t.Error("SetAccessTokenLifetime(999ms) did not panic")
		}
	}()
	server.SetAccessTokenLifetime(999 * time.Millisecond)
}

func TestUnknownAccessToken(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t)

	for _, token := range []string{"NOTATOKENTHEFAKEISSUED", rand.Text()} {
		got := send(t, f.server, http.MethodGet, exportLogsPath, bearer(token), "", "")
		checkSpringError(t, got, f.clock.Now(), http.StatusUnauthorized, exportLogsPath, castest.MessageInvalidAccessToken)
		if record := lastRequest(t, f.server); !errors.Is(record.Err, castest.ErrUnknownAccessToken) {
			t.Errorf("record Err = %v, want ErrUnknownAccessToken", record.Err)
		}
	}

	// A token with dots is still a legacy JWT and gets the legacy 403.
	got := send(t, f.server, http.MethodGet, exportLogsPath, bearer("a.b.c"), "", "")
	checkForbidden(t, got, exportLogsPath, castest.MessageFailedToProcess)
}

func TestRemoveOAuthClient(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t)
	token := f.getToken(t, f.keys.rsa, castest.ScopeAuditAdmin)
	other := f.getToken(t, f.keys.ec, castest.ScopeAuditAdmin)

	if !f.server.RemoveOAuthClient(rsaClientID) {
		t.Fatal("RemoveOAuthClient = false for a registered client")
	}
	if f.server.RemoveOAuthClient(rsaClientID) {
		t.Error("RemoveOAuthClient = true for a removed client")
	}

	got := send(t, f.server, http.MethodGet, exportLogsPath, bearer(token.AccessToken), "", "")
	checkSpringError(t, got, f.clock.Now(), http.StatusUnauthorized, exportLogsPath, castest.MessageInvalidAccessToken)
	if got := send(t, f.server, http.MethodGet, exportLogsPath, bearer(other.AccessToken), "", ""); got.status != http.StatusOK {
		t.Errorf("other client's token: status %d, want 200", got.status)
	}

	assertion := mintAssertion(t, f.keys.rsa, f.assertionClaims(f.keys.rsa), nil, nil)
	got = postToken(t, f.server, tokenForm(rsaClientID, assertion, castest.ScopeAuditAdmin))
	if got.status != http.StatusUnauthorized {
		t.Errorf("token request after removal: status %d, want 401", got.status)
	}
	if err := lastRequest(t, f.server).Err; !errors.Is(err, castest.ErrUnknownClient) {
		t.Errorf("token request after removal: Err = %v, want ErrUnknownClient", err)
	}
}

func TestLegacyAndOAuthSideBySide(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t)
	token := f.getToken(t, f.keys.rsa, castest.ScopeAuditAdmin)
	legacy := signRS256(t, f.legacy.helpDesk, jwt.MapClaims{
		"sub": helpDeskAccessID, "aud": f.server.AdminURL(),
		"iat": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix(),
	})

	for _, authorization := range []string{bearer(token.AccessToken), bearer(legacy)} {
		if got := send(t, f.server, http.MethodGet, exportLogsPath, authorization, "", ""); got.status != http.StatusOK {
			t.Errorf("status %d, want 200; body %s", got.status, got.body)
		}
	}
	requests := f.server.Requests()
	if requests[1].ClientID != rsaClientID {
		t.Errorf("OAuth record ClientID = %q, want %q", requests[1].ClientID, rsaClientID)
	}
	if requests[2].AccessID != helpDeskAccessID {
		t.Errorf("legacy record AccessID = %q, want %q", requests[2].AccessID, helpDeskAccessID)
	}
	if requests[2].ClientID != "" {
		t.Errorf("legacy record ClientID = %q, want none", requests[2].ClientID)
	}
	if counts := f.server.Counts(); counts.Accepted != 2 {
		t.Errorf("Counts().Accepted = %d, want 2", counts.Accepted)
	}
}

func TestExpiredTokensDropped(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t)
	f.server.SetAccessTokenLifetime(time.Minute)

	old := f.getToken(t, f.keys.rsa, castest.ScopeAuditAdmin)
	f.getToken(t, f.keys.rsa, castest.ScopeAuditAdmin)
	if held := f.server.HeldAccessTokens(); held != 2 {
		t.Fatalf("HeldAccessTokens() = %d, want 2", held)
	}

	// An expired token is remembered for an hour, so it is still "expired".
	f.clock.Advance(time.Minute + 59*time.Minute)
	f.getToken(t, f.keys.rsa, castest.ScopeAuditAdmin)
	if held := f.server.HeldAccessTokens(); held != 3 {
		t.Fatalf("HeldAccessTokens() = %d an hour after expiry, want 3", held)
	}
	send(t, f.server, http.MethodGet, exportLogsPath, bearer(old.AccessToken), "", "")
	if err := lastRequest(t, f.server).Err; !errors.Is(err, castest.ErrAccessTokenExpired) {
		t.Errorf("Err = %v, want ErrAccessTokenExpired", err)
	}

	f.clock.Advance(2 * time.Minute)
	f.getToken(t, f.keys.rsa, castest.ScopeAuditAdmin)
	if held := f.server.HeldAccessTokens(); held != 2 {
		t.Errorf("HeldAccessTokens() = %d, want 2 once the first two expired over an hour ago", held)
	}
	send(t, f.server, http.MethodGet, exportLogsPath, bearer(old.AccessToken), "", "")
	if err := lastRequest(t, f.server).Err; !errors.Is(err, castest.ErrUnknownAccessToken) {
		t.Errorf("Err = %v, want ErrUnknownAccessToken for a dropped token", err)
	}
}

func TestFailTokenRequests(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t)
	f.server.FailTokenRequests(2, http.StatusTooManyRequests, "7")

	// A GET is no token request, so it neither counts nor uses a failure.
	if got := send(t, f.server, http.MethodGet, castest.TokenPath, "", "", ""); got.status != http.StatusMethodNotAllowed {
		t.Fatalf("GET token endpoint: status %d, want 405", got.status)
	}

	// The failures come before the form is read, so a client may resend the
	// same assertion, as a retrying HTTP client does.
	form := tokenForm(rsaClientID, mintAssertion(t, f.keys.rsa, f.assertionClaims(f.keys.rsa), nil, nil), castest.ScopeAuditAdmin)
	for i := range 2 {
		request, err := http.NewRequest(http.MethodPost, f.server.TokenURL(), strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		request.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		response, err := f.server.Client().Do(request)
		if err != nil {
			t.Fatal(err)
		}
		var body oauthErrorResponse
		err = json.NewDecoder(response.Body).Decode(&body)
		_ = response.Body.Close()
		if err != nil {
			t.Fatalf("decode body: %v", err)
		}
		if response.StatusCode != http.StatusTooManyRequests {
			t.Errorf("attempt %d: status %d, want 429", i, response.StatusCode)
		}
		if got := response.Header.Get("Retry-After"); got != "7" {
			t.Errorf("attempt %d: Retry-After %q, want 7", i, got)
		}
		if body.Error != "temporarily_unavailable" {
			t.Errorf("attempt %d: error %q, want temporarily_unavailable", i, body.Error)
		}
		if err := lastRequest(t, f.server).Err; !errors.Is(err, castest.ErrInjectedFailure) {
			t.Errorf("attempt %d: Err = %v, want ErrInjectedFailure", i, err)
		}
	}

	if got := postToken(t, f.server, form); got.status != http.StatusOK {
		t.Fatalf("third attempt: status %d, want 200; body %s", got.status, got.body)
	}
	want := castest.Counts{Total: 4, TokenRequests: 3, TokensIssued: 1}
	if counts := f.server.Counts(); counts != want {
		t.Errorf("Counts() = %+v, want %+v", counts, want)
	}

	f.server.FailTokenRequests(1, http.StatusInternalServerError, "")
	got, header := sendForm(t, f.server, tokenForm(rsaClientID, "irrelevant", castest.ScopeAuditAdmin))
	var body oauthErrorResponse
	decodeStrict(t, got.body, &body)
	if got.status != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", got.status)
	}
	if body.Error != "server_error" {
		t.Errorf("error = %q, want server_error", body.Error)
	}
	if header.Get("Retry-After") != "" {
		t.Errorf("Retry-After = %q, want none", header.Get("Retry-After"))
	}

	// A later call replaces pending failures, and n = 0 cancels them.
	f.server.FailTokenRequests(5, http.StatusServiceUnavailable, "1")
	f.server.FailTokenRequests(0, 0, "")
	if got := f.getToken(t, f.keys.rsa, castest.ScopeAuditAdmin); got.AccessToken == "" {
		t.Error("no token after the failures were cancelled")
	}
}

// sendForm posts form to the token endpoint and returns the headers too.
func sendForm(t *testing.T, server *castest.Server, form url.Values) (result, http.Header) {
	t.Helper()
	request, err := http.NewRequest(http.MethodPost, server.TokenURL(), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	request.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	response, err := server.Client().Do(request)
	if err != nil {
		t.Fatal(err)
	}
	defer response.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(response.Body); err != nil {
		t.Fatal(err)
	}
	return result{status: response.StatusCode, contentType: response.Header.Get("Content-Type"), body: body.Bytes()}, response.Header
}

func TestFailAdminRequests(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t)
	token := f.getToken(t, f.keys.rsa, castest.ScopeAuditAdmin)
	f.server.FailAdminRequests(2, http.StatusServiceUnavailable, "2")

	// The failure comes before the token check, so even no token gets it.
	for _, authorization := range []string{"", bearer(token.AccessToken)} {
		got, header := sendWithHeaders(t, f.server, http.MethodGet, exportLogsPath, authorization)
		checkErrorBody(t, got, http.StatusServiceUnavailable, "503 SERVICE_UNAVAILABLE")
		if header.Get("Retry-After") != "2" {
			t.Errorf("Retry-After = %q, want 2", header.Get("Retry-After"))
		}
		if err := lastRequest(t, f.server).Err; !errors.Is(err, castest.ErrInjectedFailure) {
			t.Errorf("Err = %v, want ErrInjectedFailure", err)
		}
	}

	// The health check and the token endpoint are not Admin API requests.
	f.server.FailAdminRequests(1, http.StatusTooManyRequests, "")
	if got := send(t, f.server, http.MethodGet, castest.HealthCheckPath, "", "", ""); got.status != http.StatusOK {
		t.Errorf("health check: status %d, want 200", got.status)
	}
	f.getToken(t, f.keys.rsa, castest.ScopeAuditAdmin)
	got, header := sendWithHeaders(t, f.server, http.MethodGet, exportLogsPath, bearer(token.AccessToken))
	checkErrorBody(t, got, http.StatusTooManyRequests, "429 TOO_MANY_REQUESTS")
	if header.Get("Retry-After") != "" {
		t.Errorf("Retry-After = %q, want none", header.Get("Retry-After"))
	}
	if got := send(t, f.server, http.MethodGet, exportLogsPath, bearer(token.AccessToken), "", ""); got.status != http.StatusOK {
		t.Errorf("after the failures: status %d, want 200", got.status)
	}
}

func TestFailSuccessStatusPanics(t *testing.T) {
	t.Parallel()
	server := castest.New()
	for _, fail := range []func(int, int, string){server.FailTokenRequests, server.FailAdminRequests} {
		for _, status := range []int{200, 302, 600} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("status %d did not panic", status)
					}
				}()
				fail(1, status, "")
			}()
		}
	}
}

func TestRegisterOAuthClientValidation(t *testing.T) {
	t.Parallel()
	keys, err := loadOAuthTestKeys()
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	valid := keys.ec.Client()

	cases := []struct {
		name   string
		change func(c *castest.OAuthClient)
		want   string
	}{
		{"empty client ID", func(c *castest.OAuthClient) { c.ClientID = "" }, "ClientID is empty"},
		{"empty key ID", func(c *castest.OAuthClient) { c.KeyID = "" }, "KeyID is empty"},
		{"nil key", func(c *castest.OAuthClient) { c.PublicKey = nil }, "PublicKey is <nil>"},
		{"nil RSA key", func(c *castest.OAuthClient) { c.PublicKey = (*rsa.PublicKey)(nil) }, "nil *rsa.PublicKey"},
		{"1024-bit RSA", func(c *castest.OAuthClient) { c.PublicKey = &small.PublicKey }, "1024-bit"},
		{"P-384", func(c *castest.OAuthClient) { c.PublicKey = &p384.PublicKey }, "not on P-256"},
		{"private key", func(c *castest.OAuthClient) { c.PublicKey = keys.otherEC }, "*ecdsa.PrivateKey"},
		{"no scopes", func(c *castest.OAuthClient) { c.Scopes = nil }, "no scopes"},
		{"invisible character", func(c *castest.OAuthClient) { c.Scopes = []string{"rsa.user.read\ufffc"} }, "<U+FFFC>"},
		{"space in scope", func(c *castest.OAuthClient) { c.Scopes = []string{"rsa.user.read rsa.audit.admin"} }, "a space"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			server := castest.New()
			client := valid
			tc.change(&client)
			err := server.RegisterOAuthClient(client)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("RegisterOAuthClient error = %v, want one containing %q", err, tc.want)
			}
		})
	}

	t.Run("duplicate", func(t *testing.T) {
		t.Parallel()
		server := castest.New()
		if err := server.RegisterOAuthClient(valid); err != nil {
			t.Fatalf("first registration: %v", err)
		}
		if err := server.RegisterOAuthClient(valid); err == nil || !strings.Contains(err.Error(), "already registered") {
			t.Errorf("second registration error = %v, want already registered", err)
		}
	})

	t.Run("scopes copied", func(t *testing.T) {
		t.Parallel()
		f := newOAuthFixture(t)
		client := keys.rsa.Client()
		client.ClientID = "copy-check"
		if err := f.server.RegisterOAuthClient(client); err != nil {
			t.Fatal(err)
		}
		// Changing the caller's slice must not grant a scope.
		client.Scopes[0] = castest.ScopeUserRiskyRead
		file := *keys.rsa
		file.ClientID = "copy-check"
		assertion := mintAssertion(t, &file, f.assertionClaims(&file), nil, nil)
		if got := postToken(t, f.server, tokenForm("copy-check", assertion, castest.ScopeUserRiskyRead)); got.status != http.StatusBadRequest {
			t.Errorf("status %d, want 400 invalid_scope; body %s", got.status, got.body)
		}
	})
}

func TestOAuthConcurrentClients(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t)
	const workers, perWorker = 8, 4

	var wg sync.WaitGroup
	for i := range workers {
		file := f.keys.rsa
		if i%2 == 1 {
			file = f.keys.ec
		}
		wg.Go(func() {
			for range perWorker {
				assertion := mintAssertion(t, file, f.assertionClaims(file), nil, nil)
				got := postToken(t, f.server, tokenForm(file.ClientID, assertion, castest.ScopeAuditAdmin))
				if got.status != http.StatusOK {
					t.Errorf("token: status %d; body %s", got.status, got.body)
					return
				}
				var token tokenResponse
				if err := json.Unmarshal(got.body, &token); err != nil {
					t.Errorf("decode token: %v", err)
					return
				}
				if got := send(t, f.server, http.MethodGet, exportLogsPath, bearer(token.AccessToken), "", ""); got.status != http.StatusOK {
					t.Errorf("exportlogs: status %d", got.status)
				}
			}
		})
	}
	wg.Wait()

	n := workers * perWorker
	want := castest.Counts{Total: 2 * n, Accepted: n, TokenRequests: n, TokensIssued: n}
	if counts := f.server.Counts(); counts != want {
		t.Errorf("Counts() = %+v, want %+v", counts, want)
	}
}

func TestOAuthLogsNoSecrets(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace})
	f := newOAuthFixture(t, castest.WithLogger(logger))

	assertion := mintAssertion(t, f.keys.rsa, f.assertionClaims(f.keys.rsa), nil, nil)
	got := postToken(t, f.server, tokenForm(rsaClientID, assertion, castest.ScopeAuditAdmin))
	var token tokenResponse
	decodeStrict(t, got.body, &token)
	// A replay, a missing scope and an expired token are logged as failures.
	postToken(t, f.server, tokenForm(rsaClientID, assertion, castest.ScopeAuditAdmin))
	send(t, f.server, http.MethodPost, lookupPath, bearer(token.AccessToken), "application/json", `{}`)
	f.clock.Advance(2 * time.Hour)
	send(t, f.server, http.MethodGet, exportLogsPath, bearer(token.AccessToken), "", "")

	text := logs.String()
	signature := assertion[strings.LastIndex(assertion, ".")+1:]
	for name, secret := range map[string]string{"access token": token.AccessToken, "assertion signature": signature} {
		if strings.Contains(text, secret) {
			t.Errorf("logs contain the %s", name)
		}
	}
	for _, want := range []string{"client_id=" + rsaClientID, "already used", "lacks the scope", "access token expired"} {
		if !strings.Contains(text, want) {
			t.Errorf("logs lack %q:\n%s", want, text)
		}
	}
}
