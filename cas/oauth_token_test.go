package cas_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

const testAccessToken = "opaque-access-token-7d1f3c9a2b"

// tokenServer is a test token endpoint that records each request form and
// responds with a canned status, headers and body.
type tokenServer struct {
	*httptest.Server

	mu     sync.Mutex
	forms  []url.Values
	header http.Header
	status int
	body   string

	// echoAssertion makes body a format whose %s receives the request's
	// client assertion, as a server that echoes its input would send.
	echoAssertion bool
}

func newTokenServer(t *testing.T, status int, body string) *tokenServer {
	t.Helper()

	ts := &tokenServer{status: status, body: body, header: http.Header{"Content-Type": {"application/json"}}}

	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)

			return
		}

		ts.mu.Lock()
		ts.forms = append(ts.forms, r.PostForm)
		header, status, body := ts.header, ts.status, ts.body
		if ts.echoAssertion {
			body = fmt.Sprintf(body, r.PostForm.Get("client_assertion"))
		}
		ts.mu.Unlock()

		if r.Method != http.MethodPost || r.URL.Path != "/oauth/token" ||
			r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, fmt.Sprintf("unexpected %s %s %s", r.Method, r.URL.Path, r.Header.Get("Content-Type")), http.StatusTeapot)

			return
		}

		for name, values := range header {
			w.Header()[name] = values
		}

		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(ts.Close)

	return ts
}

func (ts *tokenServer) issuer() string { return ts.URL + "/oauth" }

func (ts *tokenServer) requests() []url.Values {
	ts.mu.Lock()
	defer ts.mu.Unlock()

	return slices.Clone(ts.forms)
}

func requestToken(t *testing.T, ts *tokenServer, key *cas.OAuthKey, scopes ...string) (*cas.AccessToken, error) {
	t.Helper()

	return cas.RequestAccessToken(t.Context(), ts.Client(), cas.TokenRequest{
		IssuerURL: ts.issuer(),
		ClientID:  testClientID,
		Key:       key,
		Scopes:    scopes,
	}, testNow)
}

func TestRequestAccessToken(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		source any
	}{
		{"rsa", testKey()},
		{"ec", ecKey()},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			ts := newTokenServer(t, http.StatusOK, `{"access_token":"`+testAccessToken+`","token_type":"Bearer","expires_in":3600}`)
			key := parseOAuthKey(t, tt.source)

			token, err := requestToken(t, ts, key, "rsa.audit.admin", "rsa.user.read")
			if err != nil {
				t.Fatalf("RequestAccessToken: %v", err)
			}

			if token.Token != testAccessToken || token.TokenType != "Bearer" {
				t.Errorf("token = %q %q, want the response's Bearer token", token.TokenType, token.Token)
			}

			if token.ExpiresIn != time.Hour || !token.ExpiresAt.Equal(testNow.Add(time.Hour)) || !token.RequestedAt.Equal(testNow) {
				t.Errorf("ExpiresIn %s, ExpiresAt %s, RequestedAt %s; want 1h from %s", token.ExpiresIn, token.ExpiresAt, token.RequestedAt, testNow)
			}

			if strings.Join(token.Scopes, " ") != "rsa.audit.admin rsa.user.read" {
				t.Errorf("Scopes = %q, want the requested scopes", token.Scopes)
			}

			forms := ts.requests()
			if len(forms) != 1 {
				t.Fatalf("token requests = %d, want 1", len(forms))
			}

			form := forms[0]
			wantForm := map[string]string{
				"grant_type":            "client_credentials",
				"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
				"client_id":             testClientID,
				"scope":                 "rsa.audit.admin rsa.user.read",
			}

			for name, want := range wantForm {
				if got := form.Get(name); got != want {
					t.Errorf("form %s = %q, want %q", name, got, want)
				}
			}

			if len(form) != 5 {
				t.Errorf("form has %d parameters, want 5", len(form))
			}

			_, claims := verifyJWS(t, form.Get("client_assertion"), key.Signer.Public())

			if aud := stringClaim(t, claims, "aud"); aud != ts.issuer()+"/token" {
				t.Errorf("assertion aud = %q, want the token endpoint %q", aud, ts.issuer()+"/token")
			}

			if jti := stringClaim(t, claims, "jti"); jti != token.AssertionID {
				t.Errorf("assertion jti = %q, AssertionID = %q", jti, token.AssertionID)
			}
		})
	}
}

func TestRequestAccessTokenResponseForms(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		body       string
		wantLife   time.Duration
		wantScopes string
	}{
		{"expires_in as string", `{"access_token":"t1","token_type":"Bearer","expires_in":"900"}`, 15 * time.Minute, "rsa.audit.admin"},
		{"lowercase bearer", `{"access_token":"t1","token_type":"bearer","expires_in":60}`, time.Minute, "rsa.audit.admin"},
		{"no token_type", `{"access_token":"t1","expires_in":60}`, time.Minute, "rsa.audit.admin"},
		{"granted scope given", `{"access_token":"t1","token_type":"Bearer","expires_in":60,"scope":"rsa.audit.admin"}`, time.Minute, "rsa.audit.admin"},
		{"unknown fields", `{"access_token":"t1","token_type":"Bearer","expires_in":60,"refresh_expires_in":0,"not-before-policy":0}`, time.Minute, "rsa.audit.admin"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			ts := newTokenServer(t, http.StatusOK, tt.body)

			token, err := requestToken(t, ts, parseOAuthKey(t, ecKey()), "rsa.audit.admin")
			if err != nil {
				t.Fatalf("RequestAccessToken: %v", err)
			}

			if token.ExpiresIn != tt.wantLife {
				t.Errorf("ExpiresIn = %s, want %s", token.ExpiresIn, tt.wantLife)
			}

			if got := strings.Join(token.Scopes, " "); got != tt.wantScopes {
				t.Errorf("Scopes = %q, want %q", got, tt.wantScopes)
			}

			if token.TokenType != "Bearer" {
				t.Errorf("TokenType = %q, want Bearer", token.TokenType)
			}
		})
	}
}

// TestRequestAccessTokenNarrowerGrant checks that a token with fewer scopes
// than requested is accepted and reports the scopes CAS granted.
func TestRequestAccessTokenNarrowerGrant(t *testing.T) {
	t.Parallel()

	ts := newTokenServer(t, http.StatusOK, `{"access_token":"t1","token_type":"Bearer","expires_in":60,"scope":"rsa.user.read"}`)

	token, err := requestToken(t, ts, parseOAuthKey(t, ecKey()), "rsa.audit.admin", "rsa.user.read")
	if err != nil {
		t.Fatalf("RequestAccessToken: %v", err)
	}

	if got := strings.Join(token.Scopes, " "); got != "rsa.user.read" {
		t.Errorf("Scopes = %q, want the granted rsa.user.read", got)
	}
}

func TestRequestAccessTokenErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name          string
		status        int
		header        http.Header
		body          string
		wantCode      string
		wantRejected  bool
		wantTemporary bool
		wantInMessage []string
	}{
		{
			name: "invalid scope", status: http.StatusBadRequest,
			body:     `{"error":"invalid_scope","error_description":"scope rsa.user.manage is not granted to the client"}`,
			wantCode: "invalid_scope", wantRejected: true,
			wantInMessage: []string{"HTTP 400", "invalid_scope", "rsa.user.manage is not granted", "grant the missing scope"},
		},
		{
			name: "invalid client", status: http.StatusUnauthorized,
			body:     `{"error":"invalid_client","error_description":"unknown kid"}`,
			wantCode: "invalid_client", wantRejected: true,
			wantInMessage: []string{"HTTP 401", "invalid_client", "unknown kid", "client ID, the private key and its key ID"},
		},
		{
			name: "forbidden html from the wrong host", status: http.StatusForbidden,
			header:        http.Header{"Content-Type": {"text/html; charset=utf-8"}},
			body:          "<html><body>Forbidden</body></html>",
			wantRejected:  true,
			wantInMessage: []string{"HTTP 403", "text/html body", "Forbidden", "auth.securid.com"},
		},
		{
			name: "not found", status: http.StatusNotFound, body: "",
			wantRejected:  true,
			wantInMessage: []string{"HTTP 404", "empty body", "plus /token"},
		},
		{
			name: "rate limited", status: http.StatusTooManyRequests,
			header:        http.Header{"Retry-After": {"30"}},
			body:          `{"error":"slow_down"}`,
			wantCode:      "slow_down",
			wantTemporary: true,
			wantInMessage: []string{"failed with HTTP 429", "retry after 30"},
		},
		{
			name: "server error", status: http.StatusServiceUnavailable,
			header:        http.Header{"Content-Type": {"text/plain"}},
			body:          "upstream\x00 down\n\n  for maintenance",
			wantTemporary: true,
			wantInMessage: []string{"HTTP 503", "upstream down for maintenance"},
		},
		{
			name: "redirect", status: http.StatusFound,
			header:        http.Header{"Location": {"https://elsewhere.example/oauth/token"}},
			wantRejected:  false,
			wantInMessage: []string{"HTTP 302", "redirect to https://elsewhere.example/oauth/token", "does not follow redirects"},
		},
		{name: "success without access_token", status: http.StatusOK, body: `{"token_type":"Bearer","expires_in":60}`, wantInMessage: []string{"no access_token"}},
		{name: "success without expires_in", status: http.StatusOK, body: `{"access_token":"t1","token_type":"Bearer"}`, wantInMessage: []string{"no expires_in"}},
		{name: "success with zero expires_in", status: http.StatusOK, body: `{"access_token":"t1","expires_in":0}`, wantInMessage: []string{"below one second"}},
		{name: "success with other token type", status: http.StatusOK, body: `{"access_token":"t1","token_type":"MAC","expires_in":60}`, wantInMessage: []string{`token_type is "MAC"`}},
		{name: "success that is not json", status: http.StatusOK, body: `access_token=` + testAccessToken, wantInMessage: []string{"not a JSON token response"}},
		{name: "success with scopes beyond the request", status: http.StatusOK, body: `{"access_token":"t1","expires_in":60,"scope":"rsa.audit.admin rsa.user.manage"}`, wantInMessage: []string{"granted scopes rsa.user.manage beyond the requested rsa.audit.admin"}},
		{name: "token with a line break", status: http.StatusOK, body: `{"access_token":"t1\nX-Injected: 1","expires_in":60}`, wantInMessage: []string{"cannot be sent"}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			ts := newTokenServer(t, tt.status, tt.body)

			ts.mu.Lock()
			for name, values := range tt.header {
				ts.header[name] = values
			}
			ts.mu.Unlock()

			_, err := requestToken(t, ts, parseOAuthKey(t, testKey()), "rsa.audit.admin")

			var tokenErr *cas.TokenError
			if !errors.As(err, &tokenErr) {
				t.Fatalf("error = %v (%T), want a *cas.TokenError", err, err)
			}

			if tokenErr.StatusCode != tt.status || tokenErr.Code != tt.wantCode {
				t.Errorf("StatusCode %d, Code %q; want %d, %q", tokenErr.StatusCode, tokenErr.Code, tt.status, tt.wantCode)
			}

			if tokenErr.Rejected() != tt.wantRejected || cas.IsTokenRejected(err) != tt.wantRejected {
				t.Errorf("Rejected() = %t, want %t", tokenErr.Rejected(), tt.wantRejected)
			}

			if tokenErr.Temporary() != tt.wantTemporary {
				t.Errorf("Temporary() = %t, want %t", tokenErr.Temporary(), tt.wantTemporary)
			}

			for _, want := range tt.wantInMessage {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q does not contain %q", err.Error(), want)
				}
			}

			if !strings.Contains(err.Error(), ts.issuer()+"/token") {
				t.Errorf("message %q does not name the token endpoint", err.Error())
			}

			if strings.Contains(err.Error(), testAccessToken) || strings.Contains(err.Error(), "t1\n") {
				t.Errorf("message %q contains the access token", err.Error())
			}

			forms := ts.requests()
			if len(forms) != 1 {
				t.Fatalf("token requests = %d, want 1 (redirects are not followed)", len(forms))
			}

			if assertion := forms[0].Get("client_assertion"); strings.Contains(err.Error(), assertion[strings.LastIndex(assertion, ".")+1:]) {
				t.Errorf("message %q contains the client assertion", err.Error())
			}
		})
	}
}

// TestRequestAccessTokenRedactsEchoedAssertion checks that an error body
// which repeats the request does not carry the assertion into the message.
func TestRequestAccessTokenRedactsEchoedAssertion(t *testing.T) {
	t.Parallel()

	ts := newTokenServer(t, http.StatusBadRequest, `{"error":"invalid_grant","error_description":"bad assertion %s"}`)
	ts.mu.Lock()
	ts.echoAssertion = true
	ts.mu.Unlock()

	_, err := requestToken(t, ts, parseOAuthKey(t, ecKey()), "rsa.audit.admin")
	if err == nil {
		t.Fatal("RequestAccessToken succeeded, want an error")
	}

	assertion := ts.requests()[0].Get("client_assertion")
	if strings.Contains(err.Error(), assertion) {
		t.Errorf("message contains the client assertion")
	}

	if !strings.Contains(err.Error(), "bad assertion <client assertion>") {
		t.Errorf("message %q does not show where the assertion was removed", err.Error())
	}
}

func TestRequestAccessTokenNetworkError(t *testing.T) {
	t.Parallel()

	ts := newTokenServer(t, http.StatusOK, "{}")
	ts.Close()

	_, err := requestToken(t, ts, parseOAuthKey(t, ecKey()), "rsa.audit.admin")
	if err == nil {
		t.Fatal("RequestAccessToken succeeded against a closed server")
	}

	var tokenErr *cas.TokenError
	if errors.As(err, &tokenErr) {
		t.Errorf("error is a TokenError (%v); a connection failure has no CAS answer", err)
	}

	if !strings.Contains(err.Error(), testClientID) || !strings.Contains(err.Error(), "/oauth/token") {
		t.Errorf("message %q does not name the client and the token endpoint", err.Error())
	}
}

func TestRequestAccessTokenNeedsClientAndKey(t *testing.T) {
	t.Parallel()

	ts := newTokenServer(t, http.StatusOK, "{}")
	request := cas.TokenRequest{IssuerURL: ts.issuer(), ClientID: testClientID, Key: parseOAuthKey(t, ecKey()), Scopes: []string{"rsa.audit.admin"}}

	if _, err := cas.RequestAccessToken(t.Context(), nil, request, testNow); err == nil {
		t.Error("RequestAccessToken without a client succeeded")
	}

	request.Key = nil
	if _, err := cas.RequestAccessToken(t.Context(), ts.Client(), request, testNow); err == nil {
		t.Error("RequestAccessToken without a key succeeded")
	}

	if got := len(ts.requests()); got != 0 {
		t.Errorf("token requests = %d, want none", got)
	}
}
