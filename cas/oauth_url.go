package cas

import (
	"net/url"
	"strings"
)

// tokenPathSuffix is the path of the token endpoint below the issuer URL.
const tokenPathSuffix = "/token"

// ValidateIssuerURL checks the issuer URL of an OAuth client, such as
// https://<tenant>.auth.securid.com/oauth. It must be an absolute https URL
// with a host and without user information, query or fragment. Plain http
// is accepted only for loopback hosts, so tests can use a local fake CAS.
// The token endpoint URL is rejected, because the engine appends /token
// itself.
func ValidateIssuerURL(field, raw string) error {
	const example = "https://<tenant>.auth.securid.com/oauth"

	if raw == "" {
		return fieldErrorf(field, "is missing; use the issuer URL the RSA console shows for the OAuth client, such as %s", example)
	}

	if i := strings.IndexFunc(raw, isHiddenRune); i >= 0 {
		return fieldErrorf(field, "value %q contains whitespace, control or invisible characters; remove them", redactUserinfo(raw))
	}

	parsed, err := url.Parse(raw)
	if err != nil || !parsed.IsAbs() || parsed.Hostname() == "" {
		return fieldErrorf(field, "value %q is not an absolute URL; use the issuer URL of the OAuth client, such as %s", redactUserinfo(raw), example)
	}

	if parsed.User != nil {
		return fieldErrorf(field, "value must not contain user information; use the issuer URL of the OAuth client, such as %s", example)
	}

	if parsed.RawQuery != "" || parsed.Fragment != "" || strings.HasSuffix(raw, "?") || strings.HasSuffix(raw, "#") {
		return fieldErrorf(field, "value %q must not have a query or fragment; use the issuer URL of the OAuth client, such as %s", raw, example)
	}

	if strings.HasSuffix(strings.TrimRight(parsed.Path, "/"), tokenPathSuffix) {
		return fieldErrorf(field, "value %q is the token endpoint; pass the issuer URL without the trailing %s, because the engine appends it", raw, tokenPathSuffix)
	}

	switch strings.ToLower(parsed.Scheme) {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(parsed.Hostname()) {
			return nil
		}

		return fieldErrorf(field, "value %q uses http; CAS is served over https, and http is accepted only for loopback hosts such as 127.0.0.1", raw)
	default:
		return fieldErrorf(field, "value %q has scheme %q; use an https URL", raw, parsed.Scheme)
	}
}

// TokenEndpoint returns the token endpoint of an issuer: the issuer URL
// without trailing slashes, plus /token. The client assertion's aud claim
// must equal it.
func TokenEndpoint(issuerURL string) string {
	return strings.TrimRight(issuerURL, "/") + tokenPathSuffix
}

// IssuerURLWarning returns a warning when the issuer URL points at the
// tenant's Admin API host (*.access.securid.com) instead of its
// authentication host (*.auth.securid.com), or "" otherwise. CAS rejects
// token requests on the wrong host with HTTP 403.
func IssuerURLWarning(field, issuerURL string) string {
	parsed, err := url.Parse(issuerURL)
	if err != nil {
		return ""
	}

	host := strings.ToLower(parsed.Hostname())
	tenant, ok := strings.CutSuffix(host, ".access.securid.com")

	if !ok {
		return ""
	}

	return field + " host " + host + " is an Admin API host; OAuth issuers are on the authentication host, such as https://" + tenant + ".auth.securid.com/oauth, and CAS answers token requests on the wrong host with HTTP 403"
}
