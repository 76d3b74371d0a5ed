package cas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
)

// Admin API calls used by the live check. exportlogs with a one-entry page
// is what RSA's Splunk add-on uses to validate an account, and either admin
// role may call it. Only a Super Administrator key may read the high-risk
// user list.
const (
	CheckPath         = "/v1/adminlog/exportlogs?pageSize=1&pageNumber=0"
	HighRiskCheckPath = "/v2/users/highrisk?pageSize=1&pageNumber=0"
)

// FailureKind names why a live check failed. It is "" when the check passed.
type FailureKind string

// The kinds a check can report.
const (
	KindNone               FailureKind = ""
	KindWrongAudience      FailureKind = "wrong_audience"
	KindUnknownAccessID    FailureKind = "unknown_access_id"
	KindExpiredToken       FailureKind = "expired_token"
	KindBadSignature       FailureKind = "bad_signature"
	KindMissingPermission  FailureKind = "missing_permission"
	KindRejectedToken      FailureKind = "rejected_token"
	KindRateLimited        FailureKind = "rate_limited"
	KindServerError        FailureKind = "server_error"
	KindDNS                FailureKind = "dns"
	KindTLS                FailureKind = "tls"
	KindTimeout            FailureKind = "timeout"
	KindConnection         FailureKind = "connection"
	KindUnexpectedResponse FailureKind = "unexpected_response"

	// KindWrongAdminRole is not a CAS response. Callers report it when a key
	// stored as Help Desk Administrator may read the high-risk user list,
	// so it is a Super Administrator key.
	KindWrongAdminRole FailureKind = "wrong_admin_role"
)

// CheckResult is the outcome of a live check.
type CheckResult struct {
	OK   bool
	Kind FailureKind

	// Status is the HTTP status of the call the result describes, 0 when
	// no response came.
	Status int

	// Message is CAS's message, or the network error. It never contains the
	// bearer token.
	Message string

	// Latency is the time the whole check took, retries included.
	Latency time.Duration

	// URL is the endpoint the result describes, without its query.
	URL string

	// HighRisk is the result of the high-risk user list call that a Super
	// Administrator check makes after the first call passed, else nil.
	// When it failed, the fields above repeat its outcome.
	HighRisk *CheckResult
}

// maxErrorBody bounds how much of a response the check reads. CAS's
// responses to these calls are a few hundred bytes.
const maxErrorBody = 64 << 10

// maxMessageLength bounds the message a check reports, so a proxy's HTML
// error page does not flood a Vault response.
const maxMessageLength = 300

// versionSegment matches an API version path segment such as v1 or v2.
var versionSegment = regexp.MustCompile(`^v[0-9]+$`)

// AdminEndpoint joins an adminRestApiUrl and an API path such as
// "/v1/adminlog/exportlogs" into one URL. The adminRestApiUrl may end with
// or without a slash and with or without "/v1": key files and RSA's
// documents show all these forms. A query in apiPath is kept.
func AdminEndpoint(adminURL, apiPath string) (string, error) {
	const field = "adminRestApiUrl"

	if err := ValidateAdminURL(field, adminURL); err != nil {
		return "", err
	}

	base, err := url.Parse(adminURL)
	if err != nil {
		return "", fieldErrorf(field, "value %q is not a URL: %v", adminURL, err)
	}

	basePath := strings.TrimSuffix(base.EscapedPath(), "/")
	basePath = strings.TrimSuffix(basePath, "/v1")

	for segment := range strings.SplitSeq(strings.TrimPrefix(basePath, "/"), "/") {
		switch {
		case basePath == "":
			// A host without a path joins to the API paths at its root.
		case segment == "" || segment == "." || segment == "..":
			return "", fieldErrorf(field, "value %q has an empty, \".\" or \"..\" path segment; use the adminRestApiUrl from the key file, such as https://<tenant>.access.securid.com/AdminInterface/restapi", adminURL)
		case versionSegment.MatchString(segment):
			return "", fieldErrorf(field, "value %q contains the API path segment %q; use the base URL ending in /AdminInterface/restapi, without an API path", adminURL, segment)
		}
	}

	api, err := url.Parse(apiPath)
	if err != nil || api.IsAbs() || api.Host != "" || !strings.HasPrefix(api.Path, "/") {
		return "", fmt.Errorf("API path %q must be a path starting with /", apiPath)
	}

	joined := *base
	joined.RawPath = ""
	joined.Path = ""
	joined.RawQuery = ""

	// Joining escaped paths keeps any escapes in the adminRestApiUrl as
	// they were written.
	full, err := url.Parse(joined.String() + basePath + api.EscapedPath())
	if err != nil {
		return "", fmt.Errorf("join %q and %q: %w", adminURL, apiPath, err)
	}

	full.RawQuery = api.RawQuery

	return full.String(), nil
}

// CheckToken calls the Admin API with bearer to prove that CAS accepts it:
// GET CheckPath, and for a Super Administrator also GET HighRiskCheckPath.
// It classifies a refusal by CAS's status and message and a network failure
// by its cause. The returned error is only for arguments that keep the
// check from running; a failed check is a result with OK false.
func CheckToken(ctx context.Context, client *http.Client, adminURL, bearer string, superAdmin bool) (CheckResult, error) {
	if client == nil {
		return CheckResult{}, errors.New("check token: no HTTP client")
	}

	if bearer == "" {
		return CheckResult{}, errors.New("check token: empty bearer token")
	}

	endpoint, err := AdminEndpoint(adminURL, CheckPath)
	if err != nil {
		return CheckResult{}, err
	}

	highRiskEndpoint, err := AdminEndpoint(adminURL, HighRiskCheckPath)
	if err != nil {
		return CheckResult{}, err
	}

	start := time.Now()

	result := callAdminAPI(ctx, client, endpoint, bearer, false)

	if result.OK && superAdmin {
		highRiskStart := time.Now()
		highRisk := callAdminAPI(ctx, client, highRiskEndpoint, bearer, true)
		highRisk.Latency = time.Since(highRiskStart)
		result.HighRisk = &highRisk

		if !highRisk.OK {
			result.OK, result.Kind, result.Status = false, highRisk.Kind, highRisk.Status
			result.Message, result.URL = highRisk.Message, highRisk.URL
		}
	}

	result.Latency = time.Since(start)

	return result, nil
}

// CheckHighRisk calls GET HighRiskCheckPath with bearer and classifies the
// outcome like CheckToken. A Help Desk Administrator key gets 403 there, so
// a passed call shows a Super Administrator key.
func CheckHighRisk(ctx context.Context, client *http.Client, adminURL, bearer string) (CheckResult, error) {
	if client == nil {
		return CheckResult{}, errors.New("check high-risk list: no HTTP client")
	}

	if bearer == "" {
		return CheckResult{}, errors.New("check high-risk list: empty bearer token")
	}

	endpoint, err := AdminEndpoint(adminURL, HighRiskCheckPath)
	if err != nil {
		return CheckResult{}, err
	}

	start := time.Now()
	result := callAdminAPI(ctx, client, endpoint, bearer, true)
	result.Latency = time.Since(start)

	return result, nil
}

// callAdminAPI makes one GET and classifies its outcome. Only a JSON response
// counts as success, so a proxy or portal that returns 200 with HTML does
// not pass. For the high-risk list, whose shape is not published, any JSON
// value passes.
func callAdminAPI(ctx context.Context, client *http.Client, endpoint, bearer string, anyJSON bool) CheckResult {
	parsed, err := url.Parse(endpoint)
	if err != nil {
		return CheckResult{Kind: KindUnexpectedResponse, Message: err.Error()}
	}

	result := CheckResult{URL: RedactURL(parsed)}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		result.Kind, result.Message = KindUnexpectedResponse, err.Error()

		return result
	}

	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Accept", "application/json")

	resp, err := client.Do(req)
	if err != nil {
		result.Kind = classifyNetworkError(ctx, err)
		result.Message = scrub(networkMessage(err), bearer)

		return result
	}

	defer func() { _ = resp.Body.Close() }()

	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	result.Status = resp.StatusCode

	if readErr != nil {
		result.Kind = classifyNetworkError(ctx, readErr)
		result.Message = scrub("reading the response: "+networkMessage(readErr), bearer)

		return result
	}

	message, isJSON, isObject := responseMessage(body)
	result.Message = scrub(message, bearer)

	if result.Message == "" && !isJSON {
		result.Message = describeBody(resp, body)
	}

	result.Kind = classifyStatus(resp.StatusCode, message)

	if result.Kind == KindNone {
		if isObject || (anyJSON && isJSON) {
			result.OK = true
			result.Message = ""

			return result
		}

		result.Kind = KindUnexpectedResponse
		result.Message = "answered " + describeBody(resp, body) + " instead of a JSON object; check that the URL points at the CAS Admin API"
	}

	return result
}

// classifyStatus maps an HTTP status and CAS's message to a kind. 2xx is
// KindNone.
func classifyStatus(status int, message string) FailureKind {
	lower := strings.ToLower(message)

	switch {
	case status >= 200 && status < 300:
		return KindNone
	case status == http.StatusUnauthorized:
		// OAuth access tokens get 401 when CAS does not know them or they
		// expired.
		if strings.Contains(lower, "expired") {
			return KindExpiredToken
		}

		return KindRejectedToken
	case status == http.StatusForbidden:
		return classifyForbidden(lower)
	case status == http.StatusTooManyRequests:
		return KindRateLimited
	case status >= 500:
		return KindServerError
	default:
		return KindUnexpectedResponse
	}
}

// classifyForbidden maps the message of a 403, in lower case. RSA documents
// the first four texts for legacy JWTs. "Server failed to process provided
// access token" covers a malformed token too, but this engine only sends
// well-formed ones, so a wrong signature is the likely cause.
func classifyForbidden(lower string) FailureKind {
	switch {
	case strings.Contains(lower, "audience"):
		return KindWrongAudience
	case strings.Contains(lower, "access id"):
		return KindUnknownAccessID
	case strings.Contains(lower, "expired"):
		return KindExpiredToken
	case strings.Contains(lower, "failed to process"):
		return KindBadSignature
	case strings.Contains(lower, "denied"), strings.Contains(lower, "scope"), strings.Contains(lower, "permission"):
		return KindMissingPermission
	default:
		return KindUnexpectedResponse
	}
}

// responseMessage returns the message of a CAS response: "message" of a 403
// body, "description" of other errors, "error_description" or "error" of an
// OAuth error. It also reports whether the body is JSON and whether it is a
// JSON object.
func responseMessage(body []byte) (string, bool, bool) {
	var value any
	if err := json.Unmarshal(body, &value); err != nil {
		return "", false, false
	}

	object, ok := value.(map[string]any)
	if !ok {
		return "", true, false
	}

	for _, name := range []string{"message", "description", "error_description", "error"} {
		if text, ok := object[name].(string); ok && text != "" {
			return text, true, true
		}
	}

	return "", true, true
}

// describeBody names a body that is not CAS's JSON by its status and media
// type, without quoting it.
func describeBody(resp *http.Response, body []byte) string {
	mediaType, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mediaType == "" {
		mediaType = "unknown type"
	}

	return fmt.Sprintf("HTTP %d with a %d-byte %s body", resp.StatusCode, len(body), mediaType)
}

// classifyNetworkError maps a failed request to a kind.
func classifyNetworkError(ctx context.Context, err error) FailureKind {
	var (
		dnsErr *net.DNSError
		netErr net.Error
	)

	switch {
	case errors.As(err, &dnsErr):
		return KindDNS
	case isTLSError(err):
		return KindTLS
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return KindTimeout
	default:
		return KindConnection
	}
}

// networkMessage returns the cause of a failed request without the
// *url.Error wrapper, which repeats the method and the whole URL.
func networkMessage(err error) string {
	var urlErr *url.Error
	if !errors.As(err, &urlErr) {
		return err.Error()
	}

	// Text around the wrapper, such as "giving up after 4 attempts", stays.
	return strings.Replace(err.Error(), urlErr.Error(), networkMessage(urlErr.Err), 1)
}

// scrub removes the bearer token should CAS or a proxy echo it, drops
// control characters and bounds the length.
func scrub(message, bearer string) string {
	if bearer != "" {
		message = strings.ReplaceAll(message, bearer, "[token]")
	}

	message = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}

		return r
	}, message)
	message = strings.TrimSpace(message)

	if runes := []rune(message); len(runes) > maxMessageLength {
		message = string(runes[:maxMessageLength]) + "..."
	}

	return message
}
