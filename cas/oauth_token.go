package cas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Values of the client-credentials token request with a JWT client
// assertion (RFC 6749 section 4.4, RFC 7523 section 2.2).
const (
	GrantTypeClientCredentials = "client_credentials"
	ClientAssertionTypeJWT     = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// maxTokenResponseBytes bounds the token endpoint's response body that is
// read. A token response is a few hundred bytes.
const maxTokenResponseBytes = 1 << 20

// maxErrorTextLength bounds how much of CAS's error text goes into a
// message.
const maxErrorTextLength = 300

// TokenRequest names the OAuth client and the scopes to request.
type TokenRequest struct {
	IssuerURL string
	ClientID  string
	Key       *OAuthKey
	Scopes    []string
}

// AccessToken is an access token that CAS issued.
type AccessToken struct {
	// Token is the bearer token. Never log it or put it into an error.
	Token string

	// TokenType is "Bearer".
	TokenType string

	// Scopes are the scopes CAS granted: the response's scope parameter
	// when present, else the requested scopes (RFC 6749 section 5.1).
	Scopes []string

	// RequestedAt is the time the request was sent. ExpiresAt counts from
	// it, so the token expires no later than ExpiresAt by CAS's clock.
	RequestedAt time.Time
	ExpiresIn   time.Duration
	ExpiresAt   time.Time

	// AssertionID is the jti of the client assertion used, for logs.
	AssertionID string
}

// TokenError reports a token request that CAS rejected or failed, or whose
// response the engine could not use. Its message names what CAS rejected
// and what to check. It never contains the client assertion or a token.
type TokenError struct {
	TokenURL   string
	StatusCode int

	// Code is the RFC 6749 error code, such as invalid_client or
	// invalid_scope, or "" when the body carried none.
	Code string

	// Description is CAS's error_description, cut short and stripped of
	// control characters.
	Description string

	// Reason describes a response that was not an RFC 6749 error body,
	// such as a non-JSON body or a success body without access_token.
	Reason string

	// RetryAfter is the Retry-After header of the response, or "".
	RetryAfter string
}

func (e *TokenError) Error() string {
	var b strings.Builder

	switch {
	case e.StatusCode >= 200 && e.StatusCode < 300:
		fmt.Fprintf(&b, "CAS token endpoint %s answered HTTP %d with an unusable response", e.TokenURL, e.StatusCode)
	case e.Rejected():
		fmt.Fprintf(&b, "CAS token endpoint %s rejected the token request with HTTP %d", e.TokenURL, e.StatusCode)
	default:
		fmt.Fprintf(&b, "CAS token endpoint %s failed with HTTP %d", e.TokenURL, e.StatusCode)
	}

	if e.Code != "" {
		fmt.Fprintf(&b, ", error %s", e.Code)
	}

	if e.Description != "" {
		fmt.Fprintf(&b, ": %q", e.Description)
	}

	if e.Reason != "" {
		fmt.Fprintf(&b, " (%s)", e.Reason)
	}

	if e.RetryAfter != "" {
		fmt.Fprintf(&b, "; CAS asked to retry after %s", e.RetryAfter)
	}

	if hint := e.Hint(); hint != "" {
		b.WriteString("; ")
		b.WriteString(hint)
	}

	return b.String()
}

// Rejected reports whether CAS refused the request for a reason that the
// same request cannot overcome: any 4xx status but 408 and 429. Fixing it
// takes a change to the OAuth client, its key or its scopes, in the engine
// or in the RSA console.
func (e *TokenError) Rejected() bool {
	return e.StatusCode >= 400 && e.StatusCode < 500 &&
		e.StatusCode != http.StatusRequestTimeout && e.StatusCode != http.StatusTooManyRequests
}

// Hint returns what to check for the error, or "".
func (e *TokenError) Hint() string {
	switch e.Code {
	case "invalid_client":
		return "check the client ID, the private key and its key ID against the OAuth client in the RSA console, and that the client still exists"
	case "invalid_scope":
		return "request only scopes granted to the OAuth client in the RSA console, or grant the missing scope there"
	case "unauthorized_client":
		return "the OAuth client may not use the client credentials grant; check its settings in the RSA console"
	case "invalid_grant":
		return "CAS rejected the client assertion; check the key ID and that this host's clock is correct"
	case "invalid_request", "unsupported_grant_type":
		return "CAS did not accept the request format; check that the issuer URL is the OAuth issuer of the tenant"
	}

	switch {
	case e.StatusCode == http.StatusForbidden:
		return "check that the issuer URL is on the tenant's authentication host, such as https://<tenant>.auth.securid.com/oauth; the Admin API host answers token requests with 403"
	case e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusMethodNotAllowed:
		return "check the issuer URL; the token endpoint is the issuer URL plus /token"
	case e.StatusCode >= 300 && e.StatusCode < 400:
		return "set the issuer URL to the final location; the engine does not follow redirects, so the client assertion goes only to the token endpoint"
	}

	return ""
}

// Temporary reports whether a later attempt may succeed: HTTP 408, 429 and
// 5xx.
func (e *TokenError) Temporary() bool {
	return e.StatusCode == http.StatusRequestTimeout || e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// tokenResponse holds the fields of a token endpoint response body, success
// or error (RFC 6749 sections 5.1 and 5.2).
type tokenResponse struct {
	AccessToken      string          `json:"access_token"`
	TokenType        string          `json:"token_type"`
	ExpiresIn        json.RawMessage `json:"expires_in"`
	Scope            string          `json:"scope"`
	Error            string          `json:"error"`
	ErrorDescription string          `json:"error_description"`
}

// RequestAccessToken signs a client assertion at now and posts a client
// credentials request for the scopes to the issuer's token endpoint. client
// makes the request and decides about retries; redirects are not followed,
// so the assertion goes only to the token endpoint. A response that is not
// a usable token is returned as a *TokenError.
func RequestAccessToken(ctx context.Context, client *http.Client, req TokenRequest, now time.Time) (*AccessToken, error) {
	if client == nil || req.Key == nil {
		return nil, errors.New("request access token: no HTTP client or no key")
	}

	tokenURL := TokenEndpoint(req.IssuerURL)

	assertion, err := SignAssertion(req.Key, req.ClientID, tokenURL, now)
	if err != nil {
		return nil, err
	}

	form := url.Values{
		"grant_type":            {GrantTypeClientCredentials},
		"client_assertion_type": {ClientAssertionTypeJWT},
		"client_assertion":      {assertion.Raw},
		"client_id":             {req.ClientID},
		"scope":                 {JoinScopes(req.Scopes)},
	}

	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("build token request for %s: %w", tokenURL, err)
	}

	httpReq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	httpReq.Header.Set("Accept", "application/json")

	// A copy of the client, so the caller's keeps its redirect policy.
	noRedirects := *client
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	// NOTE: a retrying client resends these exact bytes, so every attempt
	// carries the same assertion and jti. That is safe when CAS records a
	// jti only for requests it processed, which RSA does not document.
	resp, err := noRedirects.Do(httpReq)
	if err != nil {
		return nil, fmt.Errorf("request access token for client %s from %s: %w", req.ClientID, tokenURL, err)
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("read token response from %s (HTTP %d): %w", tokenURL, resp.StatusCode, err)
	}

	if resp.StatusCode != http.StatusOK {
		return nil, parseTokenError(tokenURL, resp, body, assertion.Raw)
	}

	token, reason := parseTokenSuccess(body, req.Scopes)
	if reason != "" {
		return nil, &TokenError{TokenURL: tokenURL, StatusCode: resp.StatusCode, Reason: reason}
	}

	token.RequestedAt = now
	token.ExpiresAt = now.Add(token.ExpiresIn)
	token.AssertionID = assertion.ID

	return token, nil
}

// parseTokenSuccess reads a 200 response. It returns a reason when the body
// is not a usable token response. Reasons never quote the body, which may
// hold a token.
func parseTokenSuccess(body []byte, requested []string) (*AccessToken, string) {
	var parsed tokenResponse
	if err := json.Unmarshal(body, &parsed); err != nil {
		return nil, "the body is not a JSON token response"
	}

	if parsed.AccessToken == "" {
		return nil, "the body has no access_token"
	}

	if strings.IndexFunc(parsed.AccessToken, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		return nil, "access_token contains characters that cannot be sent in an Authorization header"
	}

	tokenType := parsed.TokenType
	if tokenType == "" {
		// RFC 6749 requires token_type; CAS documents only Bearer tokens.
		tokenType = "Bearer"
	}

	if !strings.EqualFold(tokenType, "Bearer") {
		return nil, fmt.Sprintf("token_type is %q, but the engine hands out only Bearer tokens", cut(tokenType))
	}

	expiresIn, reason := parseExpiresIn(parsed.ExpiresIn)
	if reason != "" {
		return nil, reason
	}

	scopes := requested
	if fields := strings.Fields(parsed.Scope); len(fields) > 0 {
		scopes = fields
	}

	// A token with more scopes than requested would give the role more
	// power than it lists, so it is not handed out. Fewer scopes are fine.
	if extra := MissingScopes(scopes, requested); len(extra) > 0 {
		return nil, fmt.Sprintf("CAS granted scopes %s beyond the requested %s; the engine hands out only tokens limited to a role's scopes, so check the scope settings of the OAuth client in the RSA console",
			sanitizeErrorText(JoinScopes(extra), ""), JoinScopes(requested))
	}

	return &AccessToken{
		Token:     parsed.AccessToken,
		TokenType: "Bearer",
		Scopes:    scopes,
		ExpiresIn: expiresIn,
	}, ""
}

// parseExpiresIn reads expires_in, a number of seconds. Some servers send
// it as a string of digits, which is accepted too.
func parseExpiresIn(raw json.RawMessage) (time.Duration, string) {
	if raw == nil {
		return 0, "the body has no expires_in, so the token's life is unknown"
	}

	text := strings.Trim(string(raw), `"`)

	seconds, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, fmt.Sprintf("expires_in %s is not a number of seconds", cut(string(raw)))
	}

	if seconds < 1 {
		return 0, fmt.Sprintf("expires_in %s is below one second", cut(text))
	}

	// A year is far beyond any access token life; the bound keeps the
	// duration from overflowing.
	if seconds > 365*24*3600 {
		return 0, fmt.Sprintf("expires_in %s is more than a year", cut(text))
	}

	return time.Duration(seconds) * time.Second, ""
}

// parseTokenError builds the TokenError for a non-200 response. assertion
// is removed from any text quoted from the body, in case a server echoes
// the request.
func parseTokenError(tokenURL string, resp *http.Response, body []byte, assertion string) *TokenError {
	tokenErr := &TokenError{
		TokenURL:   tokenURL,
		StatusCode: resp.StatusCode,
		RetryAfter: cut(resp.Header.Get("Retry-After")),
	}

	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		tokenErr.Reason = "redirect to " + cut(resp.Header.Get("Location"))

		return tokenErr
	}

	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))

	var parsed tokenResponse
	if err := json.Unmarshal(body, &parsed); err == nil && parsed.Error != "" {
		tokenErr.Code = sanitizeErrorText(parsed.Error, assertion)
		tokenErr.Description = sanitizeErrorText(parsed.ErrorDescription, assertion)

		return tokenErr
	}

	text := sanitizeErrorText(string(body), assertion)

	switch {
	case text == "":
		tokenErr.Reason = "empty body"
	case mediaType == "application/json":
		tokenErr.Reason = "body without an OAuth error: " + text
	default:
		tokenErr.Reason = fmt.Sprintf("%s body: %s", orUnknown(mediaType), text)
	}

	return tokenErr
}

// sanitizeErrorText prepares text from a response for a message: it removes
// the assertion, replaces control and invisible characters with spaces,
// collapses runs of spaces and cuts the result short.
func sanitizeErrorText(text, assertion string) string {
	if assertion != "" {
		text = strings.ReplaceAll(text, assertion, "<client assertion>")
	}

	text = strings.Map(func(r rune) rune {
		if isHiddenRune(r) || !unicode.IsPrint(r) {
			return ' '
		}

		return r
	}, text)

	return cut(strings.Join(strings.Fields(text), " "))
}

// cut shortens text for a message.
func cut(text string) string {
	if len(text) <= maxErrorTextLength {
		return text
	}

	// Cut at a rune boundary.
	end := maxErrorTextLength
	for end > 0 && !isRuneStart(text[end]) {
		end--
	}

	return text[:end] + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func orUnknown(mediaType string) string {
	if mediaType == "" {
		return "untyped"
	}

	return mediaType
}

// IsTokenRejected reports whether err is a TokenError for a permanent
// rejection by CAS (see TokenError.Rejected).
func IsTokenRejected(err error) bool {
	var tokenErr *TokenError

	return errors.As(err, &tokenErr) && tokenErr.Rejected()
}
