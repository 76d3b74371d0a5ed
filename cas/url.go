package cas

import (
	"net"
	"net/url"
	"strings"
	"unicode"
)

// ValidateAdminURL checks an adminRestApiUrl. The string is used byte for
// byte as the JWT audience, so it is checked and never rewritten. It must be
// an absolute https URL with a host; plain http is accepted only for
// loopback hosts. That exception lets tests use a local fake CAS.
func ValidateAdminURL(field, raw string) error {
	if raw == "" {
		return fieldErrorf(field, "is missing; use the adminRestApiUrl from the key file, such as https://<tenant>.access.securid.com/AdminInterface/restapi")
	}

	if strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fieldErrorf(field, "value %q contains whitespace or control characters; CAS compares the audience byte for byte, so remove them", redactUserinfo(raw))
	}

	parsed, err := url.Parse(raw)
	if err != nil || !parsed.IsAbs() || parsed.Hostname() == "" {
		return fieldErrorf(field, "value %q is not an absolute URL; use the adminRestApiUrl from the key file, such as https://<tenant>.access.securid.com/AdminInterface/restapi", redactUserinfo(raw))
	}

	if parsed.User != nil {
		return fieldErrorf(field, "value must not contain user information; use the adminRestApiUrl from the key file")
	}

	if parsed.RawQuery != "" || parsed.Fragment != "" {
		return fieldErrorf(field, "value %q must not have a query or fragment; use the adminRestApiUrl from the key file", raw)
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

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}

	ip := net.ParseIP(host)

	return ip != nil && ip.IsLoopback()
}

// redactUserinfo replaces everything between the scheme and the last "@"
// with "xxxxx", so that errors do not echo a password typed into the URL. It
// works on text that url.Parse rejects, which has no reliable host boundary,
// so it may also hide part of a path that contains "@".
func redactUserinfo(raw string) string {
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		return raw
	}

	start := 0
	if i := strings.Index(raw[:at], "://"); i >= 0 {
		start = i + len("://")
	}

	return raw[:start] + "xxxxx" + raw[at:]
}
