package castest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Paths of the OAuth issuer. CAS serves the issuer on the tenant's auth host
// and the Admin API on its access host. The fake serves both on one listener.
const (
	OAuthBasePath = "/oauth"
	TokenPath     = OAuthBasePath + "/token"
)

// Values of the token request form that the fake accepts.
const (
	GrantTypeClientCredentials = "client_credentials"
	ClientAssertionTypeJWT     = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// Scopes that the Admin API calls of the fake need. RSA's console calls them
// permissions.
const (
	ScopeAuditAdmin    = "rsa.audit.admin"
	ScopeUserRead      = "rsa.user.read"
	ScopeUserRiskyRead = "rsa.user.risky.read"
)

// DefaultAccessTokenLifetime is the expires_in of issued access tokens until
// SetAccessTokenLifetime changes it.
//
// NOTE: RSA lets the console set the lifetime but publishes neither its
// default nor its range. One hour matches the legacy token's maximum.
const DefaultAccessTokenLifetime = time.Hour

// Messages of the Spring-style error body on the Admin API for OAuth access
// tokens.
//
// NOTE: RSA documents none of these texts, so all three are guesses. Clients
// should tell the cases apart by the status and the WWW-Authenticate header.
const (
	MessageInvalidAccessToken = "Invalid access token"
	MessageAccessTokenExpired = "Access token expired" //nolint:gosec // a message, not a credential
	// MessageInsufficientScope starts the message of a 403 for a missing
	// scope, which goes on with ": " and the scope.
	MessageInsufficientScope = "Insufficient scope"
)

// Errors recorded in Request.Err for OAuth requests, one for each rule. The
// client assertion rules are in oauth_assertion.go.
var (
	// ErrInvalidTokenRequest: the token request is not a form-encoded POST
	// with each parameter at most once and the required ones present.
	ErrInvalidTokenRequest = errors.New("invalid token request")
	ErrGrantType           = errors.New("grant_type is not client_credentials")
	ErrClientAssertionType = errors.New("client_assertion_type is not " + ClientAssertionTypeJWT)
	ErrUnknownClient       = errors.New("unknown OAuth client")
	ErrScopeMissing        = errors.New("no scope requested")
	ErrScopeSyntax         = errors.New("scope is not a list of scope tokens separated by single spaces")
	ErrScopeNotGranted     = errors.New("scope not granted to the client")

	ErrUnknownAccessToken = errors.New("unknown access token")
	ErrAccessTokenExpired = errors.New("access token expired")
	ErrInsufficientScope  = errors.New("access token lacks the scope")

	// ErrInjectedFailure marks a response that FailTokenRequests or
	// FailAdminRequests asked for.
	ErrInjectedFailure = errors.New("injected failure")
)

// OAuth error codes of RFC 6749 section 5.2, plus the two of section 4.1.2.1
// that the fake sends for injected failures.
const (
	oauthInvalidRequest       = "invalid_request"
	oauthInvalidClient        = "invalid_client"
	oauthInvalidScope         = "invalid_scope"
	oauthUnsupportedGrantType = "unsupported_grant_type"
	oauthServerError          = "server_error"
	oauthUnavailable          = "temporarily_unavailable"
)

// maxTokenRequestBody bounds the token request form. A client assertion is
// well under 2 KiB.
const maxTokenRequestBody = 64 << 10

// sweepInterval is the server-clock time between two sweeps of used jti
// values and expired access tokens. Sweeping on every request would cost time
// in proportion to the number of tokens stored.
const sweepInterval = 10 * time.Second

// expiredTokenRetention is how long an access token is remembered after it
// expired, so that it gets MessageAccessTokenExpired rather than
// MessageInvalidAccessToken. Both are 401.
const expiredTokenRetention = time.Hour

// OAuthClient is an OAuth Administration API client as CAS stores it.
type OAuthClient struct {
	ClientID string
	// KeyID is the JWK kid. The assertion header must carry it.
	KeyID string
	// PublicKey is an *rsa.PublicKey of at least 2048 bits, or an
	// *ecdsa.PublicKey on P-256.
	PublicKey crypto.PublicKey
	// Scopes are the permissions granted in the console.
	Scopes []string
}

// oauthState is the OAuth part of a Server, guarded by Server.mu.
type oauthState struct {
	clients map[string]OAuthClient
	// tokens maps issued access tokens to what they grant.
	tokens map[string]accessGrant
	// usedJTIs maps client ID and jti, joined by a NUL byte, to the time
	// after which the assertion would be rejected as expired anyway.
	usedJTIs      map[string]time.Time
	nextSweep     time.Time
	tokenLifetime time.Duration
	tokenFault    faultPlan
	adminFault    faultPlan
}

func newOAuthState() oauthState {
	return oauthState{
		clients:       make(map[string]OAuthClient),
		tokens:        make(map[string]accessGrant),
		usedJTIs:      make(map[string]time.Time),
		tokenLifetime: DefaultAccessTokenLifetime,
	}
}

// accessGrant is the client, scopes and expiry of an issued access token.
type accessGrant struct {
	clientID string
	scopes   map[string]bool
	expires  time.Time
}

// faultPlan is a run of injected failures.
type faultPlan struct {
	remaining  int
	status     int
	retryAfter string
}

// IssuerURL returns the issuer URL that the console would show for an OAuth
// client of this server, URL + OAuthBasePath, with no trailing slash.
func (s *Server) IssuerURL() string {
	return s.URL + OAuthBasePath
}

// TokenURL returns the token endpoint, IssuerURL() + "/token". Client
// assertions must carry it as their aud.
func (s *Server) TokenURL() string {
	return s.IssuerURL() + "/token"
}

// RegisterOAuthClient makes the token endpoint accept assertions signed by
// c's key. It returns an error if a field is empty or invalid or the client ID
// is already registered.
func (s *Server) RegisterOAuthClient(c OAuthClient) error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("register OAuth client %q: %w", c.ClientID, err)
	}

	c.Scopes = slices.Clone(c.Scopes)

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.oauth.clients[c.ClientID]; exists {
		return fmt.Errorf("register OAuth client %q: client ID already registered, remove it first", c.ClientID)
	}
	s.oauth.clients[c.ClientID] = c
	return nil
}

// RemoveOAuthClient deletes a client, as a Super Administrator does in the
// console. Access tokens already issued to it are rejected from then on. It
// reports whether the client was registered.
func (s *Server) RemoveOAuthClient(clientID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, exists := s.oauth.clients[clientID]
	delete(s.oauth.clients, clientID)
	maps.DeleteFunc(s.oauth.tokens, func(_ string, grant accessGrant) bool {
		return grant.clientID == clientID
	})
	return exists
}

// SetAccessTokenLifetime sets expires_in of access tokens issued from now on,
// rounded down to whole seconds. Tokens issued earlier keep their expiry. It
// panics if d is under one second, which is a mistake in the calling test.
func (s *Server) SetAccessTokenLifetime(d time.Duration) {
	if d < time.Second {
		panic(fmt.Sprintf("castest: SetAccessTokenLifetime(%v): the lifetime must be at least one second", d))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.tokenLifetime = d.Truncate(time.Second)
}

// FailTokenRequests makes the next n token requests (POSTs to TokenPath)
// respond with status, with Retry-After set to retryAfter when it is not "". The
// body is an RFC 6749 error. A call replaces the failures still pending, and
// n <= 0 cancels them. It panics if status is not in 400-599, which is a
// mistake in the calling test.
func (s *Server) FailTokenRequests(n, status int, retryAfter string) {
	plan := newFaultPlan("FailTokenRequests", n, status, retryAfter)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.tokenFault = plan
}

// FailAdminRequests makes the next n Admin API requests respond with status
// before their token is checked, with Retry-After set to retryAfter when it is not
// "". The body is CAS's {"code","description"} error. It works like
// FailTokenRequests otherwise.
func (s *Server) FailAdminRequests(n, status int, retryAfter string) {
	plan := newFaultPlan("FailAdminRequests", n, status, retryAfter)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.adminFault = plan
}

func newFaultPlan(caller string, n, status int, retryAfter string) faultPlan {
	if n <= 0 {
		return faultPlan{}
	}
	if status < 400 || status > 599 {
		panic(fmt.Sprintf("castest: %s(%d, %d, %q): status must be an HTTP error status, 400-599", caller, n, status, retryAfter))
	}
	return faultPlan{remaining: n, status: status, retryAfter: retryAfter}
}

// take consumes one injected failure, if any is pending. The caller holds
// Server.mu.
func (p *faultPlan) take() (faultPlan, bool) {
	if p.remaining <= 0 {
		return faultPlan{}, false
	}
	p.remaining--
	return *p, true
}

func (p faultPlan) header() http.Header {
	if p.retryAfter == "" {
		return nil
	}
	return http.Header{"Retry-After": {p.retryAfter}}
}

func (p faultPlan) err(caller string) error {
	return fmt.Errorf("%w: responded %d as %s requested, %d more pending", ErrInjectedFailure, p.status, caller, p.remaining)
}

// validate checks a client before it is registered.
func (c OAuthClient) validate() error {
	var problems []error
	if c.ClientID == "" {
		problems = append(problems, errors.New("ClientID is empty"))
	}
	if c.KeyID == "" {
		problems = append(problems, errors.New("KeyID is empty"))
	}

	switch key := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if key == nil || key.N == nil {
			problems = append(problems, errors.New("PublicKey is a nil *rsa.PublicKey"))
		} else if key.N.BitLen() < 2048 {
			problems = append(problems, fmt.Errorf("PublicKey is a %d-bit RSA key, the minimum is 2048", key.N.BitLen()))
		}
	case *ecdsa.PublicKey:
		if key == nil || key.Curve != elliptic.P256() {
			problems = append(problems, errors.New("PublicKey is an EC key that is not on P-256"))
		}
	default:
		problems = append(problems, fmt.Errorf("PublicKey is %T, expected *rsa.PublicKey or *ecdsa.PublicKey", c.PublicKey))
	}

	if err := checkScopeList(c.Scopes); err != nil {
		problems = append(problems, fmt.Errorf("scopes: %w", err))
	}
	return errors.Join(problems...)
}

// checkScopeList requires at least one scope, each a valid scope token.
func checkScopeList(scopes []string) error {
	if len(scopes) == 0 {
		return errors.New("no scopes: a client needs at least one permission")
	}
	for _, scope := range scopes {
		if err := checkScopeToken(scope); err != nil {
			return err
		}
	}
	return nil
}

// checkScopeToken applies the scope-token grammar of RFC 6749 section 3.3:
// printable ASCII except space, '"' and '\'. This also rejects invisible
// characters such as U+FFFC copied from a web page.
func checkScopeToken(scope string) error {
	if scope == "" {
		return errors.New("empty scope")
	}
	for _, r := range scope {
		if r < 0x21 || r > 0x7e || r == '"' || r == '\\' {
			return fmt.Errorf("scope %s contains %s, which a scope may not contain", quoteText(scope), describeRune(r))
		}
	}
	return nil
}

// quoteText puts s in single quotes with every character outside printable
// ASCII, and the quote characters, written as <U+XXXX>, so that invisible
// characters show in messages.
func quoteText(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		if r < 0x20 || r > 0x7e || r == '\'' || r == '"' || r == '\\' {
			b.WriteString(describeRune(r))
			continue
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

func describeRune(r rune) string {
	if r == ' ' {
		return "a space"
	}
	return fmt.Sprintf("<U+%04X>", r)
}

// oauthDescription makes text fit the error_description grammar of RFC 6749
// section 5.2, which allows printable ASCII except '"' and '\'.
func oauthDescription(text string) string {
	var b strings.Builder
	for _, r := range text {
		switch {
		case r == '"':
			b.WriteByte('\'')
		case r < 0x20 || r > 0x7e || r == '\\':
			b.WriteString(describeRune(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// oauthErrorBody is the token endpoint's error body, RFC 6749 section 5.2.
type oauthErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// tokenBody is the token endpoint's success body, RFC 6749 section 5.1.
type tokenBody struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// tokenForm holds the parameters of a token request.
type tokenForm struct {
	clientID      string
	assertionType string
	assertion     string
	scope         string
	scopePresent  bool
}

// serveToken serves POST TokenPath, the client-credentials grant with a
// private_key_jwt client assertion (RFC 7523). It sets the client ID in req.
func (s *Server) serveToken(r *http.Request, req *Request) response {
	if r.Method != http.MethodPost {
		err := fmt.Errorf("%w: method %s, the token endpoint takes POST", ErrInvalidTokenRequest, r.Method)
		resp := oauthError(http.StatusMethodNotAllowed, oauthInvalidRequest, err)
		resp.allow = http.MethodPost
		return resp
	}

	if fault, ok := s.countTokenRequest(); ok {
		resp := oauthError(fault.status, faultOAuthCode(fault.status), fault.err("FailTokenRequests"))
		maps.Copy(resp.header, fault.header())
		return resp
	}

	form, err := readTokenForm(r)
	req.ClientID = form.clientID
	if err != nil {
		return tokenError(err)
	}

	client, ok := s.lookupOAuthClient(form.clientID)
	if !ok {
		return tokenError(fmt.Errorf("%w: client_id %s is not registered", ErrUnknownClient, quoteText(form.clientID)))
	}

	now := s.now()
	claims, err := verifyAssertion(form.assertion, client, s.TokenURL(), now)
	if err != nil {
		return tokenError(err)
	}
	if err := s.useJTI(client.ClientID, claims, now); err != nil {
		return tokenError(err)
	}

	scopes, err := grantedScopes(form, client)
	if err != nil {
		return tokenError(err)
	}

	token, expiresIn := s.issueAccessToken(client.ClientID, scopes, now)
	s.logger.Debug("access token issued", "client_id", client.ClientID, "scope", strings.Join(scopes, " "), "expires_in", expiresIn)
	return response{
		status: http.StatusOK,
		body:   tokenBody{AccessToken: token, TokenType: "Bearer", ExpiresIn: expiresIn},
		header: noStoreHeader(),
	}
}

// countTokenRequest counts a token request and takes an injected failure if
// one is pending.
func (s *Server) countTokenRequest() (faultPlan, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts.TokenRequests++
	return s.oauth.tokenFault.take()
}

// takeAdminFault returns the response of an injected Admin API failure if one
// is pending.
func (s *Server) takeAdminFault() (response, bool) {
	s.mu.Lock()
	fault, ok := s.oauth.adminFault.take()
	s.mu.Unlock()
	if !ok {
		return response{}, false
	}

	resp := errorResponse(fault.status, http.StatusText(fault.status))
	resp.err = fault.err("FailAdminRequests")
	resp.header = fault.header()
	return resp, true
}

// faultOAuthCode picks the RFC 6749 error code for an injected status.
func faultOAuthCode(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return oauthInvalidClient
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return oauthUnavailable
	case status >= 500:
		return oauthServerError
	default:
		return oauthInvalidRequest
	}
}

// readTokenForm reads and checks the token request form. The returned form
// carries the client ID whenever it could be read, also with an error.
//
// RFC 6749 makes a server ignore unknown parameters, so the fake does too.
// Parameters in the URL query are rejected, because credentials in a URL end
// up in logs.
func readTokenForm(r *http.Request) (tokenForm, error) {
	var form tokenForm

	if r.URL.RawQuery != "" {
		return form, fmt.Errorf("%w: the URL has a query, send the parameters in the form body instead", ErrInvalidTokenRequest)
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/x-www-form-urlencoded" {
		return form, fmt.Errorf("%w: Content-Type %s, expected application/x-www-form-urlencoded",
			ErrInvalidTokenRequest, quoteText(r.Header.Get("Content-Type")))
	}

	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxTokenRequestBody))
	if err != nil {
		return form, fmt.Errorf("%w: read the form body: %w", ErrInvalidTokenRequest, err)
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return form, fmt.Errorf("%w: the body is not form-encoded: %w", ErrInvalidTokenRequest, err)
	}

	if clientIDs := values["client_id"]; len(clientIDs) > 0 {
		form.clientID = clientIDs[0]
	}

	// RFC 6749 section 3.2 forbids repeating a parameter.
	for _, name := range slices.Sorted(maps.Keys(values)) {
		if len(values[name]) > 1 {
			return form, fmt.Errorf("%w: parameter %s is sent %d times, send it once", ErrInvalidTokenRequest, name, len(values[name]))
		}
	}

	// RFC 6749 section 2.3 allows one client authentication method per request.
	if r.Header.Get("Authorization") != "" || values.Has("client_secret") {
		return form, fmt.Errorf("%w: the client authenticates with client_assertion, so send no Authorization header and no client_secret",
			ErrInvalidTokenRequest)
	}

	grantType := values.Get("grant_type")
	if grantType == "" {
		return form, fmt.Errorf("%w: grant_type is missing, send %s", ErrInvalidTokenRequest, GrantTypeClientCredentials)
	}
	if grantType != GrantTypeClientCredentials {
		return form, fmt.Errorf("%w: grant_type is %s", ErrGrantType, quoteText(grantType))
	}

	if form.clientID == "" {
		return form, fmt.Errorf("%w: client_id is missing", ErrInvalidTokenRequest)
	}

	form.assertionType = values.Get("client_assertion_type")
	if form.assertionType == "" {
		return form, fmt.Errorf("%w: client_assertion_type is missing, send %s", ErrInvalidTokenRequest, ClientAssertionTypeJWT)
	}
	if form.assertionType != ClientAssertionTypeJWT {
		return form, fmt.Errorf("%w: client_assertion_type is %s", ErrClientAssertionType, quoteText(form.assertionType))
	}

	form.assertion = values.Get("client_assertion")
	if form.assertion == "" {
		return form, fmt.Errorf("%w: client_assertion is missing", ErrInvalidTokenRequest)
	}

	form.scope = values.Get("scope")
	form.scopePresent = values.Has("scope")
	return form, nil
}

// grantedScopes checks the requested scopes against the client's grants and
// returns them without duplicates. A missing scope is an error, which RFC 6749
// section 3.3 allows in place of a default.
//
// NOTE: whether CAS grants a default scope when none is requested is unknown.
func grantedScopes(form tokenForm, client OAuthClient) ([]string, error) {
	if !form.scopePresent || form.scope == "" {
		return nil, fmt.Errorf("%w: send scope with one or more of the client's scopes (%s), separated by spaces",
			ErrScopeMissing, strings.Join(client.Scopes, " "))
	}

	var requested []string
	for _, scope := range strings.Split(form.scope, " ") {
		if scope == "" {
			return nil, fmt.Errorf("%w: scope %s has an empty entry, separate scopes with single spaces and trim the ends",
				ErrScopeSyntax, quoteText(form.scope))
		}
		if err := checkScopeToken(scope); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrScopeSyntax, err)
		}
		if !slices.Contains(requested, scope) {
			requested = append(requested, scope)
		}
	}

	var missing []string
	for _, scope := range requested {
		if !slices.Contains(client.Scopes, scope) {
			missing = append(missing, scope)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: client %s requested %s, which it was not granted (granted: %s)",
			ErrScopeNotGranted, quoteText(client.ClientID), strings.Join(missing, " "), strings.Join(client.Scopes, " "))
	}
	return requested, nil
}

// tokenError returns the RFC 6749 error response for a rejected token request.
// RFC 7521 section 4.2 makes every failed client authentication
// invalid_client, which RFC 6749 section 5.2 sends as 401.
func tokenError(err error) response {
	switch {
	case errors.Is(err, ErrInvalidTokenRequest):
		return oauthError(http.StatusBadRequest, oauthInvalidRequest, err)
	case errors.Is(err, ErrGrantType):
		return oauthError(http.StatusBadRequest, oauthUnsupportedGrantType, err)
	case errors.Is(err, ErrScopeMissing), errors.Is(err, ErrScopeSyntax), errors.Is(err, ErrScopeNotGranted):
		return oauthError(http.StatusBadRequest, oauthInvalidScope, err)
	default:
		return oauthError(http.StatusUnauthorized, oauthInvalidClient, err)
	}
}

func oauthError(status int, code string, err error) response {
	description := oauthDescription(err.Error())
	return response{
		status:  status,
		body:    oauthErrorBody{Error: code, ErrorDescription: description},
		message: description,
		err:     err,
		header:  noStoreHeader(),
	}
}

// noStoreHeader returns the cache headers RFC 6749 section 5.1 requires on
// token responses.
func noStoreHeader() http.Header {
	return http.Header{"Cache-Control": {"no-store"}, "Pragma": {"no-cache"}}
}

func (s *Server) lookupOAuthClient(clientID string) (OAuthClient, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.oauth.clients[clientID]
	return c, ok
}

// useJTI records the assertion's jti for the client, or rejects a replay. An
// entry is kept while the assertion could still pass the expiry rule, so the
// store holds at most the assertions of the last MaxAssertionLifetime plus
// twice ClockSkew.
func (s *Server) useJTI(clientID string, claims assertionClaims, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)

	key := clientID + "\x00" + claims.jti
	if _, used := s.oauth.usedJTIs[key]; used {
		return fmt.Errorf("%w: client %s already sent jti %s; mint a new assertion for every token request",
			ErrAssertionReplay, quoteText(clientID), quoteText(claims.jti))
	}
	s.oauth.usedJTIs[key] = claims.expires.Add(ClockSkew)
	return nil
}

// issueAccessToken stores a new opaque access token and returns it with its
// expires_in.
func (s *Server) issueAccessToken(clientID string, scopes []string, now time.Time) (string, int64) {
	// rand.Text gives 128 random bits in base32, with no dot, so the token
	// cannot be mistaken for a JWT.
	token := rand.Text()

	granted := make(map[string]bool, len(scopes))
	for _, scope := range scopes {
		granted[scope] = true
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	lifetime := s.oauth.tokenLifetime
	s.oauth.tokens[token] = accessGrant{clientID: clientID, scopes: granted, expires: now.Add(lifetime)}
	s.counts.TokensIssued++
	return token, int64(lifetime / time.Second)
}

// sweepLocked drops the jti entries whose assertions have expired and the
// access tokens that expired longer than expiredTokenRetention ago, at most
// once per sweepInterval. The caller holds Server.mu.
func (s *Server) sweepLocked(now time.Time) {
	if now.Before(s.oauth.nextSweep) {
		return
	}
	s.oauth.nextSweep = now.Add(sweepInterval)

	// An assertion whose exp + ClockSkew has passed fails the expiry rule
	// before its jti is looked at, so its entry is no longer needed.
	maps.DeleteFunc(s.oauth.usedJTIs, func(_ string, until time.Time) bool {
		return until.Before(now)
	})
	maps.DeleteFunc(s.oauth.tokens, func(_ string, grant accessGrant) bool {
		return grant.expires.Add(expiredTokenRetention).Before(now)
	})
}

// oauthBearer returns the bearer token of r if it is an OAuth access token:
// one the fake issued, or any token without a dot, which cannot be a JWT.
// Everything else goes to the legacy JWT rules.
func (s *Server) oauthBearer(r *http.Request) (string, bool) {
	token, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found || token == "" {
		return "", false
	}
	if !strings.Contains(token, ".") {
		return token, true
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	_, issued := s.oauth.tokens[token]
	return token, issued
}

// serveOAuthAdminAPI serves an Admin API request that carries an OAuth access
// token. Like the legacy path it checks the token before routing. It sets the
// client ID in req and returns whether the token was accepted.
func (s *Server) serveOAuthAdminAPI(r *http.Request, req *Request, token string) (response, bool) {
	grant, err := s.checkAccessToken(token)
	req.ClientID = grant.clientID
	if err != nil {
		return s.unauthorized(r, err), false
	}

	rt, resp, ok := findRoute(r)
	if !ok {
		return resp, true
	}
	if !grant.scopes[rt.scope] {
		err := fmt.Errorf("%w: client %s has no %s, which %s needs",
			ErrInsufficientScope, quoteText(grant.clientID), rt.scope, r.URL.Path)
		return s.insufficientScope(r, rt.scope, err), false
	}
	return rt.handle(s, r), true
}

// checkAccessToken returns the grant of an issued, unexpired access token.
// An expired token's grant is returned with the error, for the record.
func (s *Server) checkAccessToken(token string) (accessGrant, error) {
	now := s.now()

	s.mu.Lock()
	grant, ok := s.oauth.tokens[token]
	s.mu.Unlock()

	if !ok {
		return accessGrant{}, fmt.Errorf("%w: not issued by this server, expired over %v ago, or its client was removed",
			ErrUnknownAccessToken, expiredTokenRetention)
	}
	if !now.Before(grant.expires) {
		return grant, fmt.Errorf("%w: issued to client %s, expired at %d, server time %d",
			ErrAccessTokenExpired, quoteText(grant.clientID), grant.expires.Unix(), now.Unix())
	}
	return grant, nil
}

// unauthorized returns the 401 for a rejected access token, with the
// WWW-Authenticate header of RFC 6750 section 3.
func (s *Server) unauthorized(r *http.Request, err error) response {
	message := MessageInvalidAccessToken
	if errors.Is(err, ErrAccessTokenExpired) {
		message = MessageAccessTokenExpired
	}

	resp := s.springError(r, http.StatusUnauthorized, message, err)
	resp.header = http.Header{"Www-Authenticate": {
		`Bearer error="invalid_token", error_description=` + strconv.Quote(message),
	}}
	return resp
}

// insufficientScope returns the 403 for an access token without the scope an
// API needs. The message names the scope.
func (s *Server) insufficientScope(r *http.Request, scope string, err error) response {
	resp := s.springError(r, http.StatusForbidden, MessageInsufficientScope+": "+scope, err)
	resp.header = http.Header{"Www-Authenticate": {
		`Bearer error="insufficient_scope", scope=` + strconv.Quote(scope),
	}}
	return resp
}

// springError returns an error in the shape of CAS's 403 body with another
// status.
func (s *Server) springError(r *http.Request, status int, message string, err error) response {
	return response{
		status: status,
		body: forbiddenBody{
			Timestamp: s.now().UnixMilli(),
			Status:    status,
			Error:     http.StatusText(status),
			Message:   message,
			Path:      r.URL.Path,
		},
		message: message,
		err:     err,
	}
}
