package cas_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

// fastRetries keeps retry tests quick; the waits still go through the
// client's backoff.
func fastRetries(logger hclog.Logger) cas.HTTPOptions {
	return cas.HTTPOptions{
		RetryMax:     3,
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 20 * time.Millisecond,
		Logger:       logger,
	}
}

// logBuffer collects hclog output from concurrent requests.
type logBuffer struct {
	mu   sync.Mutex
	text strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.text.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.text.String()
}

func newTestLogger() (hclog.Logger, *logBuffer) {
	buf := &logBuffer{}

	return hclog.New(&hclog.LoggerOptions{Output: buf, Level: hclog.Trace}), buf
}

// scripted responds to each request with the next status of a script, then
// with 200 and a JSON object. It records every request's body.
type scripted struct {
	mu         sync.Mutex
	statuses   []int
	retryAfter string
	requests   int
	bodies     []string
	userAgents []string
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)

	s.mu.Lock()
	s.bodies = append(s.bodies, string(body))
	s.userAgents = append(s.userAgents, r.UserAgent())
	status := http.StatusOK
	if s.requests < len(s.statuses) {
		status = s.statuses[s.requests]
	}
	s.requests++
	s.mu.Unlock()

	if status != http.StatusOK && s.retryAfter != "" {
		w.Header().Set("Retry-After", s.retryAfter)
	}

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"status":%d,"message":"scripted %d"}`, status, status)
}

func (s *scripted) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.requests
}

func TestHTTPClientRetries(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		statuses   []int
		retryAfter string
		wantStatus int
		wantCalls  int
	}{
		{name: "429 then 200", statuses: []int{429}, retryAfter: "0", wantStatus: 200, wantCalls: 2},
		{name: "500 then 200 with Retry-After", statuses: []int{500}, retryAfter: "1", wantStatus: 200, wantCalls: 2},
		{name: "503 twice then 200", statuses: []int{503, 503}, wantStatus: 200, wantCalls: 3},
		{name: "502 until retries run out", statuses: []int{502, 502, 502, 502, 502}, wantStatus: 502, wantCalls: 4},
		{name: "429 with an HTTP date", statuses: []int{429}, retryAfter: time.Now().Add(-time.Minute).UTC().Format(http.TimeFormat), wantStatus: 200, wantCalls: 2},
		{name: "400 not retried", statuses: []int{400}, wantStatus: 400, wantCalls: 1},
		{name: "401 not retried", statuses: []int{401}, wantStatus: 401, wantCalls: 1},
		{name: "403 not retried", statuses: []int{403}, wantStatus: 403, wantCalls: 1},
		{name: "404 not retried", statuses: []int{404}, wantStatus: 404, wantCalls: 1},
		{name: "501 not retried", statuses: []int{501}, wantStatus: 501, wantCalls: 1},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			handler := &scripted{statuses: tc.statuses, retryAfter: tc.retryAfter}
			server := httptest.NewServer(handler)
			t.Cleanup(server.Close)

			logger, logs := newTestLogger()

			client, err := cas.NewHTTPClient(fastRetries(logger))
			if err != nil {
				t.Fatalf("NewHTTPClient: %v", err)
			}

			resp, err := client.Get(server.URL + "/AdminInterface/restapi/v1/adminlog/exportlogs?pageSize=1")
			if err != nil {
				t.Fatalf("GET: %v", err)
			}

			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()

			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
			}

			// The final response reaches the caller with its body, so CAS's
			// message can be read even after retries ran out.
			if want := fmt.Sprintf("scripted %d", tc.wantStatus); tc.wantStatus != 200 && !strings.Contains(string(body), want) {
				t.Errorf("body = %q, want it to contain %q", body, want)
			}

			if got := handler.count(); got != tc.wantCalls {
				t.Errorf("server saw %d requests, want %d", got, tc.wantCalls)
			}

			retries := strings.Count(logs.String(), "retrying")
			if retries != tc.wantCalls-1 {
				t.Errorf("logged %d retries, want %d; log:\n%s", retries, tc.wantCalls-1, logs.String())
			}

			if tc.wantCalls > 1 && !strings.Contains(logs.String(), fmt.Sprintf("status=%d", tc.statuses[0])) {
				t.Errorf("retry log does not name status %d:\n%s", tc.statuses[0], logs.String())
			}

			if strings.Contains(logs.String(), "pageSize") {
				t.Errorf("log contains the query string:\n%s", logs.String())
			}
		})
	}
}

// A Retry-After far beyond RetryWaitMax is cut to it; otherwise a hostile or
// broken server could hold a Vault request for an hour.
func TestHTTPClientCapsRetryAfter(t *testing.T) {
	t.Parallel()

	for _, retryAfter := range []string{"3600", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)} {
		handler := &scripted{statuses: []int{429}, retryAfter: retryAfter}
		server := httptest.NewServer(handler)
		t.Cleanup(server.Close)

		logger, logs := newTestLogger()

		client, err := cas.NewHTTPClient(fastRetries(logger))
		if err != nil {
			t.Fatalf("NewHTTPClient: %v", err)
		}

		resp, err := client.Get(server.URL)
		if err != nil {
			t.Fatalf("Retry-After %q: GET: %v", retryAfter, err)
		}

		_ = resp.Body.Close()

		if resp.StatusCode != http.StatusOK || handler.count() != 2 {
			t.Errorf("Retry-After %q: status %d after %d requests, want 200 after 2", retryAfter, resp.StatusCode, handler.count())
		}

		if !strings.Contains(logs.String(), "wait=20ms") {
			t.Errorf("Retry-After %q: wait not capped at RetryWaitMax 20ms; log:\n%s", retryAfter, logs.String())
		}
	}
}

func TestHTTPClientReplaysPostBody(t *testing.T) {
	t.Parallel()

	handler := &scripted{statuses: []int{500, 429}}
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)

	client, err := cas.NewHTTPClient(fastRetries(nil))
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}

	const form = "grant_type=client_credentials&client_id=abc"

	resp, err := client.Post(server.URL, "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}

	_ = resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}

	handler.mu.Lock()
	defer handler.mu.Unlock()

	if len(handler.bodies) != 3 {
		t.Fatalf("server saw %d requests, want 3", len(handler.bodies))
	}

	for i, body := range handler.bodies {
		if body != form {
			t.Errorf("attempt %d sent body %q, want %q", i+1, body, form)
		}
	}
}

func TestHTTPClientUserAgent(t *testing.T) {
	t.Parallel()

	handler := &scripted{}
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)

	client, err := cas.NewHTTPClient(cas.HTTPOptions{UserAgent: "vault-plugin-secrets-rsa-cas/v1.2.3"})
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}

	defaultClient, err := cas.NewHTTPClient(cas.HTTPOptions{})
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}

	for _, c := range []*http.Client{client, defaultClient} {
		resp, err := c.Get(server.URL)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}

		_ = resp.Body.Close()
	}

	handler.mu.Lock()
	defer handler.mu.Unlock()

	want := []string{"vault-plugin-secrets-rsa-cas/v1.2.3", cas.DefaultUserAgent}
	if fmt.Sprint(handler.userAgents) != fmt.Sprint(want) {
		t.Errorf("User-Agent headers = %q, want %q", handler.userAgents, want)
	}
}

func TestHTTPClientDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()

	var followed atomic.Bool

	mux := http.NewServeMux()
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(http.ResponseWriter, *http.Request) { followed.Store(true) })

	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)

	client, err := cas.NewHTTPClient(cas.HTTPOptions{})
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, server.URL+"/start", nil)
	req.Header.Set("Authorization", "Bearer not-for-elsewhere")

	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}

	_ = resp.Body.Close()

	if resp.StatusCode != http.StatusFound || followed.Load() {
		t.Errorf("status %d, redirect followed %v; want 302 handed back and not followed", resp.StatusCode, followed.Load())
	}
}

// countingTLSServer starts an HTTPS server on loopback that counts the
// connections clients open, so a test can count handshakes that never become
// requests.
func countingTLSServer(t *testing.T, configure func(*tls.Config)) (*httptest.Server, *atomic.Int32) {
	t.Helper()

	var connections atomic.Int32

	server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	}))
	server.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			connections.Add(1)
		}
	}
	// The server's own TLS failures would otherwise print to stderr.
	server.Config.ErrorLog = log.New(io.Discard, "", 0)
	server.StartTLS()

	if configure != nil {
		configure(server.TLS)
	}

	t.Cleanup(server.Close)

	return server, &connections
}

// getError sends a GET that the test expects to fail and returns its error.
func getError(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err == nil {
		_ = resp.Body.Close()
	}

	return err
}

func certificatePEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

func TestHTTPClientTLS(t *testing.T) {
	t.Parallel()

	server, connections := countingTLSServer(t, nil)
	caPEM := certificatePEM(server.Certificate())

	trusting, err := cas.NewHTTPClient(cas.HTTPOptions{CACertPEM: caPEM, RetryWaitMin: time.Millisecond})
	if err != nil {
		t.Fatalf("NewHTTPClient with CA: %v", err)
	}

	resp, err := trusting.Get(server.URL)
	if err != nil {
		t.Fatalf("GET with the server's CA configured: %v", err)
	}

	_ = resp.Body.Close()

	// Without the CA the handshake fails, and it is not retried: another
	// attempt would meet the same certificate.
	systemOnly, err := cas.NewHTTPClient(cas.HTTPOptions{RetryWaitMin: time.Millisecond})
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}

	before := connections.Load()

	err = getError(systemOnly, server.URL)

	var unknownAuthority x509.UnknownAuthorityError
	if !errors.As(err, &unknownAuthority) {
		t.Errorf("GET without the CA: error %v, want x509.UnknownAuthorityError", err)
	}

	if got := connections.Load() - before; got != 1 {
		t.Errorf("GET without the CA opened %d connections, want 1 (no retry)", got)
	}
}

func TestHTTPClientRequiresTLS12(t *testing.T) {
	t.Parallel()

	server, _ := countingTLSServer(t, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS11 })

	client, err := cas.NewHTTPClient(cas.HTTPOptions{CACertPEM: certificatePEM(server.Certificate()), RetryMax: -1})
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}

	if resp, err := client.Get(server.URL); err == nil {
		_ = resp.Body.Close()
		t.Fatal("GET from a TLS 1.1 server succeeded, want a handshake failure")
	}
}

func TestHTTPClientTimeoutNotRetried(t *testing.T) {
	t.Parallel()

	transport := &stallingTransport{}

	client, err := cas.NewHTTPClientWithTransport(cas.HTTPOptions{Timeout: 50 * time.Millisecond, RetryWaitMin: time.Millisecond}, transport)
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}

	err = getError(client, "https://tenant.invalid/AdminInterface/restapi")

	var netErr net.Error
	if !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Errorf("GET through a stalled transport: error %v, want a timeout", err)
	}

	if got := transport.attempts.Load(); got != 1 {
		t.Errorf("%d attempts, want 1", got)
	}
}

// stallingTransport blocks every request until the client gives up on it,
// like a server that never responds, and counts the attempts.
type stallingTransport struct {
	attempts atomic.Int32
}

func (s *stallingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s.attempts.Add(1)
	<-req.Context().Done()

	return nil, req.Context().Err()
}

// failingTransport fails every request with err and counts the attempts.
type failingTransport struct {
	err      error
	attempts atomic.Int32
}

func (f *failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	f.attempts.Add(1)

	return nil, f.err
}

func TestHTTPClientNetworkErrorRetries(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name         string
		err          error
		wantAttempts int32
	}{
		{name: "unknown DNS name", err: &net.DNSError{Err: "no such host", Name: "tenant.invalid", IsNotFound: true}, wantAttempts: 1},
		{name: "DNS server failure", err: &net.DNSError{Err: "server misbehaving", Name: "tenant.invalid", IsTemporary: true}, wantAttempts: 4},
		{name: "connection refused", err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, wantAttempts: 4},
		{name: "connection reset", err: &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, wantAttempts: 4},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			transport := &failingTransport{err: tc.err}
			logger, logs := newTestLogger()

			client, err := cas.NewHTTPClientWithTransport(fastRetries(logger), transport)
			if err != nil {
				t.Fatalf("NewHTTPClient: %v", err)
			}

			err = getError(client, "https://tenant.invalid/AdminInterface/restapi?assertion=abc")
			if !errors.Is(err, tc.err) {
				t.Errorf("error %v, want it to wrap %v", err, tc.err)
			}

			if got := transport.attempts.Load(); got != tc.wantAttempts {
				t.Errorf("%d attempts, want %d", got, tc.wantAttempts)
			}

			if !strings.Contains(logs.String(), "CAS request failed") || strings.Contains(logs.String(), "assertion=abc") {
				t.Errorf("failure not logged, or logged with the query:\n%s", logs.String())
			}
		})
	}
}

func TestHTTPClientLogsNoCredentials(t *testing.T) {
	t.Parallel()

	handler := &scripted{statuses: []int{503, 503, 503, 503}}
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)

	logger, logs := newTestLogger()

	client, err := cas.NewHTTPClient(fastRetries(logger))
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}

	const secret = "eyJzZWNyZXQiOiJ0b2tlbiJ9"

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, server.URL+"/path?client_assertion="+secret, nil)
	req.Header.Set("Authorization", "Bearer "+secret)

	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}

	_ = resp.Body.Close()

	if strings.Contains(logs.String(), secret) {
		t.Errorf("log contains the bearer token or query:\n%s", logs.String())
	}

	if !strings.Contains(logs.String(), server.URL+"/path") || !strings.Contains(logs.String(), "attempt=3") {
		t.Errorf("log lacks the URL or the attempt number:\n%s", logs.String())
	}
}

func TestParseCABundle(t *testing.T) {
	t.Parallel()

	server, _ := countingTLSServer(t, nil)
	cert := certificatePEM(server.Certificate())

	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}

	keyDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}

	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))

	tests := []struct {
		name      string
		bundle    string
		wantCerts int
		wantErr   string
	}{
		{name: "one certificate", bundle: string(cert), wantCerts: 1},
		{name: "two certificates with comments", bundle: "root\n" + string(cert) + "intermediate\n" + string(cert), wantCerts: 2},
		{name: "empty", bundle: "", wantErr: "contains no PEM certificate"},
		{name: "not PEM", bundle: "hello", wantErr: "contains no PEM certificate"},
		{name: "private key", bundle: keyPEM, wantErr: `type "PRIVATE KEY"`},
		{name: "certificate then private key", bundle: string(cert) + keyPEM, wantErr: `PEM block 2 is of type "PRIVATE KEY"`},
		{name: "broken certificate", bundle: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("nope")})), wantErr: "certificate 1 cannot be parsed"},
		{name: "trailing text", bundle: string(cert) + "-----BEGIN CERT", wantErr: "text after the last PEM certificate"},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			certs, err := cas.ParseCABundle("ca_certificate", []byte(tc.bundle))
			if tc.wantErr == "" {
				if err != nil || len(certs) != tc.wantCerts {
					t.Fatalf("got %d certificates, error %v; want %d, no error", len(certs), err, tc.wantCerts)
				}

				return
			}

			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "ca_certificate: ") {
				t.Fatalf("error %v, want one starting with the field and containing %q", err, tc.wantErr)
			}

			var fieldErr *cas.FieldError
			if !errors.As(err, &fieldErr) {
				t.Errorf("error is %T, want *cas.FieldError", err)
			}

			if strings.Contains(err.Error(), "MII") || strings.Contains(err.Error(), "MIG") {
				t.Errorf("error quotes the input: %v", err)
			}
		})
	}

	if _, err := cas.NewHTTPClient(cas.HTTPOptions{CACertPEM: []byte("not a certificate")}); err == nil {
		t.Error("NewHTTPClient accepted a CA bundle with no certificate")
	}
}

// A config's client is replaced when the config is written. Closing its
// idle connections must reach the pooled transport under the retrying one,
// because otherwise they stay open until the idle timeout.
func TestHTTPClientCloseIdleConnections(t *testing.T) {
	t.Parallel()

	closed := make(chan struct{})
	signalClosed := sync.OnceFunc(func() { close(closed) })

	server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	server.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateClosed {
			signalClosed()
		}
	}
	server.Start()
	t.Cleanup(server.Close)

	client, err := cas.NewHTTPClient(cas.HTTPOptions{})
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}

	resp, err := client.Get(server.URL)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}

	// Reading the body to the end returns the connection to the pool.
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()

	// The transport returns the connection to its pool in the background
	// after the body is closed, so the call is repeated until it closes.
	// The pool's idle timeout is 90 s, so a close within seconds comes from
	// CloseIdleConnections.
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()

	for {
		client.CloseIdleConnections()

		select {
		case <-closed:
			return
		case <-deadline:
			t.Fatal("the idle connection was still open 10 s after CloseIdleConnections")
		case <-tick.C:
		}
	}
}

// TestLoopbackOnly checks the dialer check of plain http on resolved
// addresses, without dialing: a name such as localhost that resolves to
// another host must not get a token in clear text.
func TestLoopbackOnly(t *testing.T) {
	t.Parallel()

	tests := []struct {
		address string
		allowed bool
	}{
		{"127.0.0.1:8200", true},
		{"127.5.6.7:80", true},
		{"[::1]:8200", true},
		{"[::ffff:127.0.0.1]:80", true},
		{"192.0.2.10:80", false},
		{"[2001:db8::1]:80", false},
		{"[::ffff:192.0.2.10]:80", false},
		{"[fe80::1%eth0]:80", false},
		{"without-port", false},
	}

	for _, tt := range tests {
		err := cas.LoopbackOnly("tcp", tt.address, nil)
		if (err == nil) != tt.allowed {
			t.Errorf("LoopbackOnly(%q) = %v, want allowed %t", tt.address, err, tt.allowed)
		}
	}
}
