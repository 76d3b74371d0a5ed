// Package castest provides a fake RSA Cloud Authentication Service (CAS) that
// serves a few Administration API calls, verifies legacy Admin API JWTs, and
// issues OAuth access tokens to registered OAuth Administration API clients.
//
// The fake applies the rules RSA documents. The token must carry an RS256
// signature by a registered key, sub equal to the access ID and aud equal to
// the key file's adminRestApiUrl. Its integer iat and exp must lie at most one
// hour apart, and 60 seconds of clock skew are allowed. Every rejected token
// gets HTTP 403 with the JSON body CAS sends.
//
// OAuth clients get access tokens from TokenPath by the rules in oauth.go and
// oauth_assertion.go, and present them on the same Admin API.
//
// A Server is safe for concurrent use.
package castest

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Paths of the fake. AdminBasePath is the fixed base under which the Admin
// API is served, the path part of the adminRestApiUrl in a key file.
const (
	AdminBasePath   = "/AdminInterface/restapi"
	HealthCheckPath = "/AdminInterface/healthcheck"
)

// Administrator roles that an Admin API key is created with.
const (
	RoleHelpDesk   = "help_desk"
	RoleSuperAdmin = "super_admin"
)

// maxRecords bounds the requests that Requests returns, so that a fake kept
// running by a standalone command does not grow without limit. Counts stays
// exact past it.
const maxRecords = 10_000

// Key is a legacy Admin API key as CAS stores it.
type Key struct {
	// AccessID is the key file's accessID, which the JWT carries as sub.
	AccessID string
	// PublicKey checks the RS256 signature.
	PublicKey *rsa.PublicKey
	// Audience is the key file's adminRestApiUrl. The JWT's aud must equal it
	// byte for byte.
	Audience string
	// AdminRole is RoleHelpDesk or RoleSuperAdmin.
	AdminRole string
}

// Request is the record of one request that the fake served.
type Request struct {
	// Time is the server clock when the request arrived.
	Time   time.Time
	Method string
	Path   string
	// AccessID is the token's sub whenever it could be read, also on
	// rejection, and "" otherwise.
	AccessID string
	// ClientID is the OAuth client: the client_id of a token request, or the
	// client an access token was issued to. It is "" otherwise.
	ClientID string
	// Status is the HTTP status sent.
	Status int
	// Message is the "message" or "description" of an error body, and "" on
	// success.
	Message string
	// Err is nil when the request succeeded. For a 403, a 401, a rejected
	// token request and an injected failure it wraps the Err* value of the
	// rule that failed, so test it with errors.Is. For other errors it
	// repeats Message.
	Err error
}

// Counts tallies the requests served since the server started.
type Counts struct {
	// Total counts every request, including the health check and unknown
	// paths outside the Admin API.
	Total int
	// Accepted counts Admin API requests whose token passed every rule and
	// whose key's role may call the API.
	Accepted int
	// Rejected counts requests that got 403, for a token rule, for the role
	// or for a missing OAuth scope.
	Rejected int
	// Unauthorized counts requests that got 401: an unknown or expired OAuth
	// access token, or a token request whose client was not authenticated.
	Unauthorized int
	// TokenRequests counts every POST to TokenPath, including injected
	// failures.
	TokenRequests int
	// TokensIssued counts the OAuth access tokens issued.
	TokensIssued int
}

// Option configures a Server.
type Option func(*Server)

// WithClock sets the clock that token times and response timestamps are
// checked against. It is called from request goroutines, so it must be safe
// for concurrent use. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithLogger sets the logger for served requests and rejected tokens. Tokens
// are never logged. The default discards everything.
func WithLogger(logger hclog.Logger) Option {
	return func(s *Server) { s.logger = logger }
}

// Server is a fake CAS. URL is set only when it was started by NewServer or
// NewTLSServer.
type Server struct {
	// URL is the base URL of the listener, like http://127.0.0.1:41234, with
	// no trailing slash. A caller that mounts Handler on a listener of its
	// own sets it before serving, because OAuth client assertions must name
	// TokenURL as their audience.
	URL string

	now    func() time.Time
	logger hclog.Logger
	http   *httptest.Server

	mu       sync.Mutex
	keys     map[string]Key
	users    map[string]user
	requests []Request
	counts   Counts
	oauth    oauthState
}

type user struct {
	id    string
	email string
}

// New returns a fake CAS that is not listening. Mount Handler on a listener of
// your own. URL stays empty, so AdminURL returns only AdminBasePath.
func New(opts ...Option) *Server {
	s := &Server{
		now:    time.Now,
		logger: hclog.NewNullLogger(),
		keys:   make(map[string]Key),
		users:  make(map[string]user),
		oauth:  newOAuthState(),
	}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// NewServer starts a fake CAS over plain HTTP on a loopback port. Call Close
// when done.
func NewServer(opts ...Option) *Server {
	s := New(opts...)
	s.http = httptest.NewServer(s.Handler())
	s.URL = s.http.URL
	return s
}

// NewTLSServer starts a fake CAS over HTTPS on a loopback port, with a
// self-signed certificate that Client and Certificate return. Call Close when
// done.
func NewTLSServer(opts ...Option) *Server {
	s := New(opts...)
	s.http = httptest.NewTLSServer(s.Handler())
	s.URL = s.http.URL
	return s
}

// Close shuts the listener down and waits for requests in flight. It does
// nothing for a server made by New.
func (s *Server) Close() {
	if s.http != nil {
		s.http.Close()
	}
}

// AdminURL returns the adminRestApiUrl that a key file for this server would
// carry, URL + AdminBasePath.
func (s *Server) AdminURL() string {
	return s.URL + AdminBasePath
}

// Client returns an HTTP client for the server. For a TLS server it trusts the
// server's certificate. For a server made by New it returns a plain client.
func (s *Server) Client() *http.Client {
	if s.http == nil {
		return &http.Client{}
	}
	return s.http.Client()
}

// Certificate returns the certificate of a TLS server, and nil otherwise.
func (s *Server) Certificate() *x509.Certificate {
	if s.http == nil || s.http.TLS == nil {
		return nil
	}
	return s.http.Certificate()
}

// RegisterKey makes CAS accept tokens signed by k. It returns an error if a
// field is empty, the role is unknown or the access ID is already registered.
func (s *Server) RegisterKey(k Key) error {
	var problems []error
	if k.AccessID == "" {
		problems = append(problems, errors.New("AccessID is empty"))
	}
	if k.PublicKey == nil {
		problems = append(problems, errors.New("PublicKey is nil"))
	}
	if k.Audience == "" {
		problems = append(problems, errors.New("audience is empty"))
	}
	if k.AdminRole != RoleHelpDesk && k.AdminRole != RoleSuperAdmin {
		problems = append(problems, fmt.Errorf("AdminRole %q is neither %q nor %q", k.AdminRole, RoleHelpDesk, RoleSuperAdmin))
	}
	if err := errors.Join(problems...); err != nil {
		return fmt.Errorf("register key %q: %w", k.AccessID, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.keys[k.AccessID]; exists {
		return fmt.Errorf("register key %q: access ID already registered, remove it first", k.AccessID)
	}
	s.keys[k.AccessID] = k
	return nil
}

// RemoveKey deletes a key, as a Super Administrator does in the console. Tokens
// already minted with it are rejected from then on. It reports whether the key
// was registered.
func (s *Server) RemoveKey(accessID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, exists := s.keys[accessID]
	delete(s.keys, accessID)
	return exists
}

// AddUser adds a user whom POST /v1/users/lookup finds by email address, and
// returns the user's ID. Email addresses are compared case-insensitively.
// Adding an address again returns the existing ID.
func (s *Server) AddUser(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lookupKey := strings.ToLower(email)
	if existing, ok := s.users[lookupKey]; ok {
		return existing.id
	}
	added := user{id: fmt.Sprintf("00000000-0000-4000-8000-%012d", len(s.users)+1), email: email}
	s.users[lookupKey] = added
	return added.id
}

// Requests returns a copy of the records of the latest requests, oldest first.
// It holds at most the latest 10,000.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Counts returns the tallies of all requests served.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

func (s *Server) lookupKey(accessID string) (Key, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[accessID]
	return k, ok
}

func (s *Server) lookupUser(email string) (user, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[strings.ToLower(email)]
	return u, ok
}

// record stores a request and logs it. accepted marks an Admin API request
// that passed every token rule and the role check.
func (s *Server) record(req Request, accepted bool) {
	s.mu.Lock()
	s.counts.Total++
	if accepted {
		s.counts.Accepted++
	}
	switch req.Status {
	case http.StatusForbidden:
		s.counts.Rejected++
	case http.StatusUnauthorized:
		s.counts.Unauthorized++
	}
	if len(s.requests) == maxRecords {
		s.requests = append(s.requests[:0], s.requests[1:]...)
	}
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	attrs := []any{"method", req.Method, "path", req.Path, "access_id", req.AccessID, "status", req.Status}
	if req.ClientID != "" {
		attrs = append(attrs, "client_id", req.ClientID)
	}
	if req.Err != nil {
		s.logger.Info("request failed", append(attrs, "message", req.Message, "error", req.Err)...)
		return
	}
	s.logger.Debug("request served", attrs...)
}
