package backend

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas/castest"
)

const superAdminAccessID = "7d9e4a61-5b2c-4f0e-8c3a-2e6b9f1d4c87"

// verifyFixture is a backend and a fake CAS over TLS with keyA registered as
// a Help Desk key (testAccessID) and keyB as a Super Administrator key.
type verifyFixture struct {
	tb       *testBackend
	fake     *castest.Server
	casClock *testClock
	caPEM    string
}

func newVerifyFixture(t *testing.T) *verifyFixture {
	t.Helper()

	tb := newTestBackend(t)
	tb.httpOptions = cas.HTTPOptions{RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond}

	// CAS's clock starts equal to the backend's, so minted tokens are
	// current for it.
	casClock := &testClock{now: testStart}
	fake := castest.NewTLSServer(castest.WithClock(casClock.Now))
	t.Cleanup(fake.Close)

	for _, k := range []castest.Key{
		{AccessID: testAccessID, PublicKey: &keyA().private.PublicKey, Audience: fake.AdminURL(), AdminRole: castest.RoleHelpDesk},
		{AccessID: superAdminAccessID, PublicKey: &keyB().private.PublicKey, Audience: fake.AdminURL(), AdminRole: castest.RoleSuperAdmin},
	} {
		if err := fake.RegisterKey(k); err != nil {
			t.Fatalf("RegisterKey: %v", err)
		}
	}

	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fake.Certificate().Raw}))

	return &verifyFixture{tb: tb, fake: fake, casClock: casClock, caPEM: caPEM}
}

// keyFileJSON returns a key file for the fake with the given access ID and
// key.
func (f *verifyFixture) keyFileJSON(accessID string, key *testKey) string {
	kf := newKeyFile(key)
	kf.AccessID = accessID
	kf.AdminRestAPIURL = f.fake.AdminURL()

	return kf.JSON()
}

// helpDeskConfig is a verified write of keyA for the fake.
func (f *verifyFixture) helpDeskConfig() map[string]any {
	return map[string]any{
		"key_file":       f.keyFileJSON(testAccessID, keyA()),
		"admin_role":     adminRoleHelpDesk,
		"ca_certificate": f.caPEM,
		"verify":         true,
	}
}

func (f *verifyFixture) superAdminConfig() map[string]any {
	return map[string]any{
		"key_file":       f.keyFileJSON(superAdminAccessID, keyB()),
		"admin_role":     adminRoleSuperAdmin,
		"ca_certificate": f.caPEM,
		"verify":         true,
	}
}

func TestConfigVerifySucceeds(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name         string
		data         func(*verifyFixture) map[string]any
		wantAccepted int
		wantRejected int
	}{
		// The Help Desk key is also sent to the high-risk list, where CAS
		// must reject it.
		{name: "help desk", data: (*verifyFixture).helpDeskConfig, wantAccepted: 1, wantRejected: 1},
		{name: "super admin checks the high-risk list too", data: (*verifyFixture).superAdminConfig, wantAccepted: 2, wantRejected: 0},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			f := newVerifyFixture(t)

			resp := f.tb.mustWrite(t, "config/x", tc.data(f))

			if resp.Data["verified"] != true {
				t.Errorf("verified = %v, want true", resp.Data["verified"])
			}

			if _, ok := resp.Data["verify_latency_ms"].(int64); !ok {
				t.Errorf("verify_latency_ms = %#v, want an int64", resp.Data["verify_latency_ms"])
			}

			if got := f.fake.Counts().Accepted; got != tc.wantAccepted {
				t.Errorf("CAS accepted %d requests, want %d", got, tc.wantAccepted)
			}

			if got := f.fake.Counts().Rejected; got != tc.wantRejected {
				t.Errorf("CAS rejected %d requests, want %d", got, tc.wantRejected)
			}

			read := f.tb.mustRequest(t, logical.ReadOperation, "config/x", nil)
			if read.Data["ca_certificate"] != strings.TrimSpace(f.caPEM) {
				t.Errorf("ca_certificate read back as %q, want the bundle written", read.Data["ca_certificate"])
			}

			if _, ok := read.Data["verified"]; ok {
				t.Error("a read reports verified, which only describes the write")
			}
		})
	}
}

func TestConfigWithoutVerifyMakesNoRequest(t *testing.T) {
	t.Parallel()

	f := newVerifyFixture(t)

	data := f.helpDeskConfig()
	delete(data, "verify")
	// A key CAS does not know: only a check would notice.
	data["key_file"] = f.keyFileJSON("00000000-0000-4000-8000-000000000000", keyA())

	resp := f.tb.mustWrite(t, "config/x", data)

	if _, ok := resp.Data["verified"]; ok || f.fake.Counts().Total != 0 {
		t.Errorf("write without verify: verified=%v, CAS saw %d requests; want no check", resp.Data["verified"], f.fake.Counts().Total)
	}
}

// listenerClosed returns an adminRestApiUrl on a loopback port that refuses
// connections.
func listenerClosed(t *testing.T) string {
	t.Helper()

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}

	adminURL := "http://" + listener.Addr().String() + castest.AdminBasePath
	_ = listener.Close()

	return adminURL
}

func TestConfigVerifyFailures(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		// change alters the fixture and the write of a help desk key.
		change    func(t *testing.T, f *verifyFixture, data map[string]any)
		wantParts []string
	}{
		{
			name: "wrong audience",
			change: func(_ *testing.T, f *verifyFixture, data map[string]any) {
				// CAS compares aud byte for byte, so a trailing slash is
				// another audience, while the request still reaches the API.
				kf := newKeyFile(keyA())
				kf.AdminRestAPIURL = f.fake.AdminURL() + "/"
				data["key_file"] = kf.JSON()
			},
			wantParts: []string{"(wrong_audience)", `HTTP 403 "Invalid audience"`, "does not match the tenant"},
		},
		{
			name: "unknown access ID",
			change: func(_ *testing.T, f *verifyFixture, data map[string]any) {
				data["key_file"] = f.keyFileJSON("00000000-0000-4000-8000-000000000000", keyA())
			},
			wantParts: []string{"(unknown_access_id)", `HTTP 403 "Invalid Access Id"`, "deleted in the RSA console or belongs to another tenant"},
		},
		{
			name: "private key of another access ID",
			change: func(_ *testing.T, f *verifyFixture, data map[string]any) {
				data["key_file"] = f.keyFileJSON(testAccessID, keyB())
			},
			wantParts: []string{"(bad_signature)", `"Server failed to process provided access token"`, "does not belong to access ID"},
		},
		{
			name: "Vault clock behind CAS",
			change: func(_ *testing.T, f *verifyFixture, _ map[string]any) {
				f.casClock.Advance(time.Hour)
			},
			wantParts: []string{"(expired_token)", `"Expired Access Token is not allowed"`, "clock"},
		},
		{
			name: "help desk key stored as super admin",
			change: func(_ *testing.T, _ *verifyFixture, data map[string]any) {
				data["admin_role"] = adminRoleSuperAdmin
			},
			wantParts: []string{"(missing_permission)", `"Access is denied"`, "/v2/users/highrisk", "admin_role=help_desk"},
		},
		{
			name: "super admin key stored as help desk",
			change: func(_ *testing.T, f *verifyFixture, data map[string]any) {
				data["key_file"] = f.keyFileJSON(superAdminAccessID, keyB())
			},
			wantParts: []string{"(wrong_admin_role)", "CAS answered HTTP 200 to GET", "/v2/users/highrisk", "admin_role=super_admin"},
		},
		{
			name: "CA not configured",
			change: func(_ *testing.T, _ *verifyFixture, data map[string]any) {
				delete(data, "ca_certificate")
			},
			wantParts: []string{"(tls)", "certificate signed by unknown authority", "set ca_certificate"},
		},
		{
			name: "connection refused",
			change: func(t *testing.T, _ *verifyFixture, data map[string]any) {
				kf := newKeyFile(keyA())
				kf.AdminRestAPIURL = listenerClosed(t)
				data["key_file"] = kf.JSON()
			},
			wantParts: []string{"(connection)", "connection refused", "No connection to 127.0.0.1:"},
		},
		{
			name: "CAS stalls",
			change: func(t *testing.T, f *verifyFixture, data map[string]any) {
				release := make(chan struct{})
				stalled := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
				t.Cleanup(stalled.Close)
				t.Cleanup(func() { close(release) })

				f.tb.httpOptions.Timeout = 100 * time.Millisecond
				kf := newKeyFile(keyA())
				kf.AdminRestAPIURL = stalled.URL + castest.AdminBasePath
				data["key_file"] = kf.JSON()
			},
			wantParts: []string{"(timeout)", "Client.Timeout exceeded", "did not answer in time"},
		},
		{
			name: "CAS unavailable",
			change: func(t *testing.T, f *verifyFixture, data map[string]any) {
				unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusServiceUnavailable)
					_, _ = io.WriteString(w, `{"code":"503 SERVICE_UNAVAILABLE","description":"Maintenance"}`)
				}))
				t.Cleanup(unavailable.Close)

				f.tb.httpOptions.RetryMax = -1
				kf := newKeyFile(keyA())
				kf.AdminRestAPIURL = unavailable.URL + castest.AdminBasePath
				data["key_file"] = kf.JSON()
			},
			wantParts: []string{"(server_error)", `HTTP 503 "Maintenance"`, "try again later"},
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			f := newVerifyFixture(t)
			data := f.helpDeskConfig()
			tc.change(t, f, data)

			resp, err := f.tb.write(t, "config/x", data)
			message := requireErrorResponse(t, resp, err)

			for _, part := range append([]string{`verify failed, so config "x" was not written`}, tc.wantParts...) {
				if !strings.Contains(message, part) {
					t.Errorf("message does not contain %q:\n%s", part, message)
				}
			}

			stored, err := f.tb.storage.Get(t.Context(), "config/x")
			if err != nil || stored != nil {
				t.Errorf("config stored after a failed check: %v, %v", stored, err)
			}
		})
	}
}

// A Help Desk key passes when the high-risk list fails for another reason
// than a 403, because only a 200 there proves the role wrong.
func TestConfigVerifyHighRiskInconclusive(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)
	tb.httpOptions = cas.HTTPOptions{RetryMax: -1}

	fake := castest.New(castest.WithClock(tb.clock.Now))
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/v2/users/highrisk") {
			w.WriteHeader(http.StatusInternalServerError)

			return
		}

		fake.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(server.Close)

	adminURL := server.URL + castest.AdminBasePath
	if err := fake.RegisterKey(castest.Key{AccessID: testAccessID, PublicKey: &keyA().private.PublicKey, Audience: adminURL, AdminRole: castest.RoleHelpDesk}); err != nil {
		t.Fatalf("RegisterKey: %v", err)
	}

	kf := newKeyFile(keyA())
	kf.AdminRestAPIURL = adminURL

	resp := tb.mustWrite(t, "config/x", map[string]any{"key_file": kf.JSON(), "admin_role": adminRoleHelpDesk, "verify": true})
	if resp.Data["verified"] != true {
		t.Errorf("verified = %v, want true", resp.Data["verified"])
	}

	if !strings.Contains(tb.logs.String(), "inconclusive") {
		t.Errorf("inconclusive high-risk check not logged:\n%s", tb.logs.String())
	}
}

// A failed check on an update leaves the stored config as it was.
func TestConfigVerifyFailureKeepsExisting(t *testing.T) {
	t.Parallel()

	f := newVerifyFixture(t)
	f.tb.mustWrite(t, "config/x", f.helpDeskConfig())

	before, err := f.tb.storage.Get(t.Context(), "config/x")
	if err != nil {
		t.Fatalf("read storage: %v", err)
	}

	resp, err := f.tb.write(t, "config/x", map[string]any{
		"key_file":   f.keyFileJSON("00000000-0000-4000-8000-000000000000", keyA()),
		"admin_role": adminRoleHelpDesk,
		"verify":     true,
	})
	requireErrorResponse(t, resp, err)

	after, err := f.tb.storage.Get(t.Context(), "config/x")
	if err != nil || string(after.Value) != string(before.Value) {
		t.Errorf("stored config changed after a failed check (error %v)", err)
	}

	// verify alone checks the stored config again.
	resp = f.tb.mustWrite(t, "config/x", map[string]any{"verify": true})
	if resp.Data["verified"] != true {
		t.Errorf("verify of the stored config: verified = %v, want true", resp.Data["verified"])
	}
}

func TestConfigCACertificate(t *testing.T) {
	t.Parallel()

	f := newVerifyFixture(t)
	data := f.helpDeskConfig()
	delete(data, "verify")
	f.tb.mustWrite(t, "config/x", data)

	bad := []struct {
		value, wantErr string
	}{
		{"not a certificate", "ca_certificate: contains no PEM certificate"},
		{keyA().pkcs8PEM, `ca_certificate: PEM block 1 is of type "PRIVATE KEY"`},
		{f.caPEM + "trailing", "ca_certificate: has text after the last PEM certificate"},
	}
	for _, tc := range bad {
		resp, err := f.tb.write(t, "config/x", map[string]any{"ca_certificate": tc.value})
		if message := requireErrorResponse(t, resp, err); !strings.Contains(message, tc.wantErr) {
			t.Errorf("ca_certificate %.20q: message %q, want it to contain %q", tc.value, message, tc.wantErr)
		}
	}

	read := f.tb.mustRequest(t, logical.ReadOperation, "config/x", nil)
	if read.Data["ca_certificate"] != strings.TrimSpace(f.caPEM) {
		t.Errorf("rejected writes changed ca_certificate to %q", read.Data["ca_certificate"])
	}

	// An empty value removes the bundle.
	f.tb.mustWrite(t, "config/x", map[string]any{"ca_certificate": ""})

	read = f.tb.mustRequest(t, logical.ReadOperation, "config/x", nil)
	if read.Data["ca_certificate"] != "" {
		t.Errorf("ca_certificate = %q after writing \"\", want it removed", read.Data["ca_certificate"])
	}
}

func TestDescribeFailureForEveryKind(t *testing.T) {
	t.Parallel()

	cfg := &keyConfig{AccessID: testAccessID, AdminRestAPIURL: testAdminURL, AdminRole: adminRoleHelpDesk}
	endpoint := testAdminURL + "/v1/adminlog/exportlogs"

	tests := []struct {
		result    cas.CheckResult
		wantParts []string
	}{
		{cas.CheckResult{Kind: cas.KindWrongAudience, Status: 403, Message: "Invalid audience", URL: endpoint}, []string{`HTTP 403 "Invalid audience" to GET ` + endpoint, testAdminURL}},
		{cas.CheckResult{Kind: cas.KindUnknownAccessID, Status: 403, Message: "Invalid Access Id", URL: endpoint}, []string{testAccessID, "deleted"}},
		{cas.CheckResult{Kind: cas.KindBadSignature, Status: 403, Message: "Server failed", URL: endpoint}, []string{"private key does not belong"}},
		{cas.CheckResult{Kind: cas.KindExpiredToken, Status: 403, Message: "Expired", URL: endpoint}, []string{"clock", "5m"}},
		{cas.CheckResult{Kind: cas.KindMissingPermission, Status: 403, Message: "Access is denied", URL: endpoint}, []string{"administrator role"}},
		{cas.CheckResult{Kind: cas.KindWrongAdminRole, Status: 200, URL: testAdminURL + "/v2/users/highrisk"}, []string{"HTTP 200 to GET", "admin_role=super_admin"}},
		{cas.CheckResult{Kind: cas.KindRejectedToken, Status: 401, URL: endpoint}, []string{"HTTP 401 to GET", "credentials"}},
		{cas.CheckResult{Kind: cas.KindRateLimited, Status: 429, Message: "Too many", URL: endpoint}, []string{"rate limiting"}},
		{cas.CheckResult{Kind: cas.KindServerError, Status: 500, URL: endpoint}, []string{"server error"}},
		{cas.CheckResult{Kind: cas.KindDNS, Message: "lookup acme.access.securid.com: no such host", URL: endpoint}, []string{"failed: lookup", "acme.access.securid.com cannot be resolved", "DNS"}},
		{cas.CheckResult{Kind: cas.KindTLS, Message: "x509: certificate signed by unknown authority", URL: endpoint}, []string{"ca_certificate", "acme.access.securid.com"}},
		{cas.CheckResult{Kind: cas.KindTimeout, Message: "Client.Timeout exceeded", URL: endpoint}, []string{"did not answer in time"}},
		{cas.CheckResult{Kind: cas.KindConnection, Message: "connection refused", URL: endpoint}, []string{"No connection to acme.access.securid.com"}},
		{cas.CheckResult{Kind: cas.KindUnexpectedResponse, Status: 404, Message: "No resource", URL: endpoint}, []string{"points at the CAS Admin API"}},
	}

	for _, tc := range tests {
		message := describeFailure(tc.result, cfg)

		for _, part := range append([]string{fmt.Sprintf("(%s)", tc.result.Kind)}, tc.wantParts...) {
			if !strings.Contains(message, part) {
				t.Errorf("%s: message does not contain %q:\n%s", tc.result.Kind, part, message)
			}
		}
	}
}

// The test's CA certificate must parse, or every TLS case above would pass
// for the wrong reason.
func TestVerifyFixtureCertificate(t *testing.T) {
	t.Parallel()

	f := newVerifyFixture(t)

	block, _ := pem.Decode([]byte(f.caPEM))
	if block == nil {
		t.Fatal("fixture CA is not PEM")
	}

	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		t.Fatalf("fixture CA does not parse: %v", err)
	}
}
