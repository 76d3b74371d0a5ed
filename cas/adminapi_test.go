package cas_test

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas/castest"
)

func TestAdminEndpoint(t *testing.T) {
	t.Parallel()

	const want = "https://acme.access.securid.com/AdminInterface/restapi/v1/adminlog/exportlogs?pageSize=1&pageNumber=0"

	for _, adminURL := range []string{
		"https://acme.access.securid.com/AdminInterface/restapi",
		"https://acme.access.securid.com/AdminInterface/restapi/",
		"https://acme.access.securid.com/AdminInterface/restapi/v1",
		"https://acme.access.securid.com/AdminInterface/restapi/v1/",
	} {
		got, err := cas.AdminEndpoint(adminURL, cas.CheckPath)
		if err != nil || got != want {
			t.Errorf("AdminEndpoint(%q) = %q, %v; want %q", adminURL, got, err, want)
		}
	}

	others := []struct {
		adminURL, apiPath, want string
	}{
		{"https://acme.access.securid.com/AdminInterface/restapi/v1", "/v2/users/highrisk", "https://acme.access.securid.com/AdminInterface/restapi/v2/users/highrisk"},
		{"http://127.0.0.1:8443/AdminInterface/restapi", "/v1/users/lookup", "http://127.0.0.1:8443/AdminInterface/restapi/v1/users/lookup"},
		{"https://acme.access.securid.com", "/v1/users/lookup", "https://acme.access.securid.com/v1/users/lookup"},
		{"https://acme.access.securid.com/", "/v1/users/lookup", "https://acme.access.securid.com/v1/users/lookup"},
		{"https://[::1]:8443/Admin%20Interface/restapi/", "/v1/x", "https://[::1]:8443/Admin%20Interface/restapi/v1/x"},
	}
	for _, tc := range others {
		got, err := cas.AdminEndpoint(tc.adminURL, tc.apiPath)
		if err != nil || got != tc.want {
			t.Errorf("AdminEndpoint(%q, %q) = %q, %v; want %q", tc.adminURL, tc.apiPath, got, err, tc.want)
		}
	}

	rejected := []struct {
		adminURL, wantErr string
	}{
		{"", "is missing"},
		{"acme.access.securid.com/AdminInterface/restapi", "not an absolute URL"},
		{"http://acme.access.securid.com/AdminInterface/restapi", "uses http"},
		{"https://acme.access.securid.com/AdminInterface/restapi?x=1", "must not have a query"},
		{"https://acme.access.securid.com/AdminInterface//restapi", "empty"},
		{"https://acme.access.securid.com/AdminInterface/restapi/v1/adminlog/exportlogs", `segment "v1"`},
		{"https://acme.access.securid.com/AdminInterface/restapi/v2", `segment "v2"`},
		{"https://acme.access.securid.com/AdminInterface/../restapi", `".."`},
	}
	for _, tc := range rejected {
		_, err := cas.AdminEndpoint(tc.adminURL, cas.CheckPath)

		var fieldErr *cas.FieldError
		if !errors.As(err, &fieldErr) || fieldErr.Field != "adminRestApiUrl" || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("AdminEndpoint(%q) error = %v, want a FieldError for adminRestApiUrl containing %q", tc.adminURL, err, tc.wantErr)
		}
	}

	for _, apiPath := range []string{"v1/adminlog", "https://elsewhere/v1", "//elsewhere/v1"} {
		if got, err := cas.AdminEndpoint("https://acme.access.securid.com/AdminInterface/restapi", apiPath); err == nil {
			t.Errorf("AdminEndpoint with API path %q = %q, want an error", apiPath, got)
		}
	}
}

// RSA key generation is slow, so the check tests share three keys.
var (
	helpDeskKey   = sync.OnceValue(mustRSAKey)
	superAdminKey = sync.OnceValue(mustRSAKey)
	strangerKey   = sync.OnceValue(mustRSAKey)
)

func mustRSAKey() *rsa.PrivateKey {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(fmt.Sprintf("generate RSA key: %v", err))
	}

	return key
}

const (
	helpDeskID   = "11111111-1111-4111-8111-111111111111"
	superAdminID = "22222222-2222-4222-8222-222222222222"
)

// checkFixture is a fake CAS over TLS with one key of each role, and a
// client that trusts it.
type checkFixture struct {
	fake   *castest.Server
	client *http.Client
}

func newCheckFixture(t *testing.T) *checkFixture {
	t.Helper()

	fake := castest.NewTLSServer()
	t.Cleanup(fake.Close)

	for _, k := range []castest.Key{
		{AccessID: helpDeskID, PublicKey: &helpDeskKey().PublicKey, Audience: fake.AdminURL(), AdminRole: castest.RoleHelpDesk},
		{AccessID: superAdminID, PublicKey: &superAdminKey().PublicKey, Audience: fake.AdminURL(), AdminRole: castest.RoleSuperAdmin},
	} {
		if err := fake.RegisterKey(k); err != nil {
			t.Fatalf("RegisterKey: %v", err)
		}
	}

	client, err := cas.NewHTTPClient(cas.HTTPOptions{
		CACertPEM:    certificatePEM(fake.Certificate()),
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}

	return &checkFixture{fake: fake, client: client}
}

func mint(t *testing.T, accessID, audience string, key *rsa.PrivateKey, issuedAt time.Time) string {
	t.Helper()

	token, err := cas.NewSigner(accessID, audience, key).Mint(issuedAt, 5*time.Minute)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}

	return token.Raw
}

func TestCheckTokenAgainstFakeCAS(t *testing.T) {
	t.Parallel()

	f := newCheckFixture(t)
	now := time.Now()

	tests := []struct {
		name        string
		bearer      string
		superAdmin  bool
		wantKind    cas.FailureKind
		wantStatus  int
		wantMessage string
		wantPath    string
		wantHighRsk bool
	}{
		{name: "help desk key", bearer: mint(t, helpDeskID, f.fake.AdminURL(), helpDeskKey(), now), wantStatus: 200, wantPath: "/v1/adminlog/exportlogs"},
		{name: "super admin key", bearer: mint(t, superAdminID, f.fake.AdminURL(), superAdminKey(), now), superAdmin: true, wantStatus: 200, wantPath: "/v1/adminlog/exportlogs", wantHighRsk: true},
		{
			name: "help desk key checked as super admin", bearer: mint(t, helpDeskID, f.fake.AdminURL(), helpDeskKey(), now), superAdmin: true,
			wantKind: cas.KindMissingPermission, wantStatus: 403, wantMessage: castest.MessageAccessDenied, wantPath: "/v2/users/highrisk", wantHighRsk: true,
		},
		{
			name: "wrong audience", bearer: mint(t, helpDeskID, "https://other.access.securid.com/AdminInterface/restapi", helpDeskKey(), now),
			wantKind: cas.KindWrongAudience, wantStatus: 403, wantMessage: castest.MessageInvalidAudience, wantPath: "/v1/adminlog/exportlogs",
		},
		{
			name: "unknown access ID", bearer: mint(t, "33333333-3333-4333-8333-333333333333", f.fake.AdminURL(), helpDeskKey(), now),
			wantKind: cas.KindUnknownAccessID, wantStatus: 403, wantMessage: castest.MessageInvalidAccessID, wantPath: "/v1/adminlog/exportlogs",
		},
		{
			name: "key of another access ID", bearer: mint(t, helpDeskID, f.fake.AdminURL(), strangerKey(), now),
			wantKind: cas.KindBadSignature, wantStatus: 403, wantMessage: castest.MessageFailedToProcess, wantPath: "/v1/adminlog/exportlogs",
		},
		{
			name: "expired", bearer: mint(t, helpDeskID, f.fake.AdminURL(), helpDeskKey(), now.Add(-time.Hour)),
			wantKind: cas.KindExpiredToken, wantStatus: 403, wantMessage: castest.MessageExpired, wantPath: "/v1/adminlog/exportlogs",
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			result, err := cas.CheckToken(t.Context(), f.client, f.fake.AdminURL()+"/v1/", tc.bearer, tc.superAdmin)
			if err != nil {
				t.Fatalf("CheckToken: %v", err)
			}

			if result.OK != (tc.wantKind == cas.KindNone) || result.Kind != tc.wantKind || result.Status != tc.wantStatus || result.Message != tc.wantMessage {
				t.Errorf("result OK=%v kind=%q status=%d message=%q; want kind %q, status %d, message %q",
					result.OK, result.Kind, result.Status, result.Message, tc.wantKind, tc.wantStatus, tc.wantMessage)
			}

			if want := f.fake.AdminURL() + tc.wantPath; result.URL != want {
				t.Errorf("URL = %q, want %q", result.URL, want)
			}

			if (result.HighRisk != nil) != tc.wantHighRsk {
				t.Errorf("HighRisk = %+v, want it set: %v", result.HighRisk, tc.wantHighRsk)
			}

			if result.Latency <= 0 {
				t.Errorf("Latency = %v, want > 0", result.Latency)
			}

			if strings.Contains(fmt.Sprintf("%+v", result), tc.bearer) {
				t.Error("result contains the bearer token")
			}
		})
	}
}

// statusServer responds to every request with status, a Content-Type and body,
// and counts requests.
func statusServer(t *testing.T, status int, contentType, body string) (*httptest.Server, *atomic.Int32) {
	t.Helper()

	var requests atomic.Int32

	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, strings.ReplaceAll(body, "{auth}", r.Header.Get("Authorization")))
	}))
	t.Cleanup(server.Close)

	return server, &requests
}

func TestCheckTokenClassifiesResponses(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantKind    cas.FailureKind
		wantMessage string
		wantCalls   int32
	}{
		{name: "OAuth token unknown", status: 401, contentType: "application/json", body: `{"error":"invalid_token","error_description":"Access token is not valid"}`,
			wantKind: cas.KindRejectedToken, wantMessage: "Access token is not valid", wantCalls: 1},
		{name: "OAuth token expired", status: 401, contentType: "application/json", body: `{"error":"invalid_token","error_description":"The access token expired"}`,
			wantKind: cas.KindExpiredToken, wantMessage: "The access token expired", wantCalls: 1},
		{name: "missing scope", status: 403, contentType: "application/json", body: `{"status":403,"message":"Missing scope rsa.audit.admin"}`,
			wantKind: cas.KindMissingPermission, wantMessage: "Missing scope rsa.audit.admin", wantCalls: 1},
		{name: "unknown 403", status: 403, contentType: "application/json", body: `{"status":403,"message":"Host not allowed"}`,
			wantKind: cas.KindUnexpectedResponse, wantMessage: "Host not allowed", wantCalls: 1},
		{name: "rate limited", status: 429, contentType: "application/json", body: `{"code":"429 TOO_MANY_REQUESTS","description":"Slow down"}`,
			wantKind: cas.KindRateLimited, wantMessage: "Slow down", wantCalls: 3},
		{name: "server error", status: 500, contentType: "application/json", body: `{"code":"500 INTERNAL_SERVER_ERROR","description":"Boom"}`,
			wantKind: cas.KindServerError, wantMessage: "Boom", wantCalls: 3},
		{name: "gateway page", status: 502, contentType: "text/html", body: `<html>bad gateway</html>`,
			wantKind: cas.KindServerError, wantMessage: "HTTP 502 with a 24-byte text/html body", wantCalls: 3},
		{name: "not found", status: 404, contentType: "application/json", body: `{"code":"404 NOT_FOUND","description":"No Admin API at /x"}`,
			wantKind: cas.KindUnexpectedResponse, wantMessage: "No Admin API at /x", wantCalls: 1},
		{name: "login page with 200", status: 200, contentType: "text/html; charset=utf-8", body: `<html>login</html>`,
			wantKind: cas.KindUnexpectedResponse, wantMessage: "answered HTTP 200 with a 18-byte text/html body instead of a JSON object; check that the URL points at the CAS Admin API", wantCalls: 1},
		{name: "redirect", status: 302, contentType: "text/plain", body: ``,
			wantKind: cas.KindUnexpectedResponse, wantMessage: "HTTP 302 with a 0-byte text/plain body", wantCalls: 1},
		{name: "token echoed", status: 403, contentType: "application/json", body: `{"message":"Invalid audience in {auth}"}`,
			wantKind: cas.KindWrongAudience, wantMessage: "Invalid audience in Bearer [token]", wantCalls: 1},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			server, requests := statusServer(t, tc.status, tc.contentType, tc.body)

			client, err := cas.NewHTTPClient(cas.HTTPOptions{RetryMax: 2, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
			if err != nil {
				t.Fatalf("NewHTTPClient: %v", err)
			}

			result, err := cas.CheckToken(t.Context(), client, server.URL+castest.AdminBasePath, "opaque-token", false)
			if err != nil {
				t.Fatalf("CheckToken: %v", err)
			}

			if result.OK || result.Kind != tc.wantKind || result.Status != tc.status || result.Message != tc.wantMessage {
				t.Errorf("result OK=%v kind=%q status=%d message=%q; want kind %q, status %d, message %q",
					result.OK, result.Kind, result.Status, result.Message, tc.wantKind, tc.status, tc.wantMessage)
			}

			if got := requests.Load(); got != tc.wantCalls {
				t.Errorf("server saw %d requests, want %d", got, tc.wantCalls)
			}
		})
	}
}

// failFirst responds to the first n requests with status and Retry-After, then
// passes requests to next.
func failFirst(n int32, status int, retryAfter string, next http.Handler) (http.Handler, *atomic.Int32) {
	var seen atomic.Int32

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= n {
			w.Header().Set("Retry-After", retryAfter)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"code":"busy","description":"try later"}`)

			return
		}

		next.ServeHTTP(w, r)
	}), &seen
}

func TestCheckTokenRetriesThenSucceeds(t *testing.T) {
	t.Parallel()

	for _, status := range []int{http.StatusTooManyRequests, http.StatusInternalServerError} {
		fake := castest.New()
		handler, seen := failFirst(1, status, "1", fake.Handler())

		server := httptest.NewTLSServer(handler)
		t.Cleanup(server.Close)

		adminURL := server.URL + castest.AdminBasePath
		if err := fake.RegisterKey(castest.Key{AccessID: helpDeskID, PublicKey: &helpDeskKey().PublicKey, Audience: adminURL, AdminRole: castest.RoleHelpDesk}); err != nil {
			t.Fatalf("RegisterKey: %v", err)
		}

		logger, logs := newTestLogger()

		client, err := cas.NewHTTPClient(cas.HTTPOptions{
			CACertPEM:    certificatePEM(server.Certificate()),
			RetryWaitMin: time.Millisecond,
			RetryWaitMax: 10 * time.Millisecond,
			Logger:       logger,
		})
		if err != nil {
			t.Fatalf("NewHTTPClient: %v", err)
		}

		result, err := cas.CheckToken(t.Context(), client, adminURL, mint(t, helpDeskID, adminURL, helpDeskKey(), time.Now()), false)
		if err != nil {
			t.Fatalf("CheckToken: %v", err)
		}

		if !result.OK || seen.Load() != 2 || fake.Counts().Accepted != 1 {
			t.Errorf("%d then 200: result %+v after %d requests, %d accepted; want OK after 2 requests, 1 accepted",
				status, result, seen.Load(), fake.Counts().Accepted)
		}

		if !strings.Contains(logs.String(), fmt.Sprintf("status=%d", status)) || !strings.Contains(logs.String(), "retry_after=1") {
			t.Errorf("%d then 200: retry not logged with status and Retry-After:\n%s", status, logs.String())
		}
	}
}

func TestCheckTokenPermanent403NotRetried(t *testing.T) {
	t.Parallel()

	f := newCheckFixture(t)

	result, err := cas.CheckToken(t.Context(), f.client, f.fake.AdminURL(), mint(t, helpDeskID, f.fake.AdminURL(), strangerKey(), time.Now()), false)
	if err != nil {
		t.Fatalf("CheckToken: %v", err)
	}

	if result.Kind != cas.KindBadSignature || f.fake.Counts().Total != 1 {
		t.Errorf("kind %q after %d requests, want %q after 1", result.Kind, f.fake.Counts().Total, cas.KindBadSignature)
	}
}

func TestCheckTokenNetworkFailures(t *testing.T) {
	t.Parallel()

	f := newCheckFixture(t)
	bearer := mint(t, helpDeskID, f.fake.AdminURL(), helpDeskKey(), time.Now())

	// A closed loopback port refuses connections.
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}

	closedURL := "http://" + listener.Addr().String() + castest.AdminBasePath
	_ = listener.Close()

	// A server that never responds.
	release := make(chan struct{})
	stalled := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	t.Cleanup(stalled.Close)
	t.Cleanup(func() { close(release) })

	// The fake over TLS, reached by a client that does not trust its CA.
	untrusting, err := cas.NewHTTPClient(cas.HTTPOptions{RetryWaitMin: time.Millisecond})
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}

	fastTimeout, err := cas.NewHTTPClient(cas.HTTPOptions{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}

	quickRetries, err := cas.NewHTTPClient(cas.HTTPOptions{RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}

	// DNS failures are injected, so no name is ever looked up.
	noSuchHost, err := cas.NewHTTPClientWithTransport(cas.HTTPOptions{}, &failingTransport{
		err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "acme.access.securid.invalid", IsNotFound: true}},
	})
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}

	tests := []struct {
		name        string
		client      *http.Client
		adminURL    string
		wantKind    cas.FailureKind
		wantMessage string
	}{
		{name: "untrusted certificate", client: untrusting, adminURL: f.fake.AdminURL(), wantKind: cas.KindTLS, wantMessage: "certificate signed by unknown authority"},
		{name: "plain HTTP server reached over TLS", client: quickRetries, adminURL: strings.Replace(plainHTTPServer(t), "http://", "https://", 1), wantKind: cas.KindTLS, wantMessage: "server gave HTTP response to HTTPS client"},
		// Go reports an attempt timeout as "Client.Timeout exceeded" or as
		// "context deadline exceeded", depending on where the request was.
		{name: "stalled server", client: fastTimeout, adminURL: stalled.URL + castest.AdminBasePath, wantKind: cas.KindTimeout, wantMessage: "exceeded"},
		{name: "connection refused", client: quickRetries, adminURL: closedURL, wantKind: cas.KindConnection, wantMessage: "connection refused"},
		{name: "unknown host", client: noSuchHost, adminURL: "https://acme.access.securid.invalid/AdminInterface/restapi", wantKind: cas.KindDNS, wantMessage: "lookup acme.access.securid.invalid: no such host"},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			result, err := cas.CheckToken(t.Context(), tc.client, tc.adminURL, bearer, false)
			if err != nil {
				t.Fatalf("CheckToken: %v", err)
			}

			if result.OK || result.Kind != tc.wantKind || result.Status != 0 || !strings.Contains(result.Message, tc.wantMessage) {
				t.Errorf("result OK=%v kind=%q status=%d message=%q; want kind %q, status 0, message containing %q",
					result.OK, result.Kind, result.Status, result.Message, tc.wantKind, tc.wantMessage)
			}

			if strings.Contains(result.Message, "pageSize") {
				t.Errorf("message repeats the URL: %q", result.Message)
			}
		})
	}
}

// plainHTTPServer returns the URL of a plain HTTP server that answers every
// request with 200.
func plainHTTPServer(t *testing.T) string {
	t.Helper()

	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(server.Close)

	return server.URL + castest.AdminBasePath
}

func TestCheckHighRisk(t *testing.T) {
	t.Parallel()

	f := newCheckFixture(t)
	now := time.Now()

	superAdmin, err := cas.CheckHighRisk(t.Context(), f.client, f.fake.AdminURL(), mint(t, superAdminID, f.fake.AdminURL(), superAdminKey(), now))
	if err != nil || !superAdmin.OK || superAdmin.Status != 200 || superAdmin.URL != f.fake.AdminURL()+"/v2/users/highrisk" {
		t.Errorf("super admin key: %+v, %v; want OK with status 200 on the high-risk list", superAdmin, err)
	}

	helpDesk, err := cas.CheckHighRisk(t.Context(), f.client, f.fake.AdminURL(), mint(t, helpDeskID, f.fake.AdminURL(), helpDeskKey(), now))
	if err != nil || helpDesk.OK || helpDesk.Kind != cas.KindMissingPermission || helpDesk.Status != 403 {
		t.Errorf("help desk key: %+v, %v; want missing_permission with status 403", helpDesk, err)
	}

	if _, err := cas.CheckHighRisk(t.Context(), f.client, f.fake.AdminURL(), ""); err == nil {
		t.Error("CheckHighRisk with no token: no error")
	}
}

func TestCheckTokenRejectsBadArguments(t *testing.T) {
	t.Parallel()

	client, err := cas.NewHTTPClient(cas.HTTPOptions{})
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}

	const adminURL = "https://acme.access.securid.invalid/AdminInterface/restapi"

	if _, err := cas.CheckToken(t.Context(), nil, adminURL, "token", false); err == nil {
		t.Error("CheckToken with no client: no error")
	}

	if _, err := cas.CheckToken(t.Context(), client, adminURL, "", false); err == nil {
		t.Error("CheckToken with no token: no error")
	}

	if _, err := cas.CheckToken(t.Context(), client, adminURL+"/v1/adminlog", "token", false); err == nil {
		t.Error("CheckToken with an endpoint URL as adminRestApiUrl: no error")
	}
}

// BenchmarkCheckToken measures one Help Desk check against the fake CAS over
// TLS on loopback, with pooled connections: the engine's overhead plus the
// fake's token verification, not CAS's latency.
func BenchmarkCheckToken(b *testing.B) {
	fake := castest.NewTLSServer()
	b.Cleanup(fake.Close)

	if err := fake.RegisterKey(castest.Key{AccessID: helpDeskID, PublicKey: &helpDeskKey().PublicKey, Audience: fake.AdminURL(), AdminRole: castest.RoleHelpDesk}); err != nil {
		b.Fatalf("RegisterKey: %v", err)
	}

	client, err := cas.NewHTTPClient(cas.HTTPOptions{CACertPEM: certificatePEM(fake.Certificate())})
	if err != nil {
		b.Fatalf("NewHTTPClient: %v", err)
	}

	token, err := cas.NewSigner(helpDeskID, fake.AdminURL(), helpDeskKey()).Mint(time.Now(), 5*time.Minute)
	if err != nil {
		b.Fatalf("Mint: %v", err)
	}

	for b.Loop() {
		result, err := cas.CheckToken(b.Context(), client, fake.AdminURL(), token.Raw, false)
		if err != nil || !result.OK {
			b.Fatalf("CheckToken: %+v, %v", result, err)
		}
	}
}
