package castest

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxAssertionLifetime is the largest exp - iat of a client assertion that
// the fake accepts.
//
// NOTE: RSA publishes no limit. Public clients mint assertions that live five
// minutes, so the fake allows exactly that.
const MaxAssertionLifetime = 5 * time.Minute

// Errors recorded in Request.Err for a rejected client assertion, one for
// each rule. Each is sent as invalid_client with status 401.
var (
	ErrAssertionMalformed      = errors.New("malformed client assertion")
	ErrAssertionAlgorithm      = errors.New("client assertion alg does not fit the client's key")
	ErrAssertionKeyID          = errors.New("client assertion kid is not the client's key ID")
	ErrAssertionHeaderType     = errors.New("client assertion typ is not JWT")
	ErrAssertionMissingClaim   = errors.New("client assertion lacks a required claim")
	ErrAssertionTimeClaim      = errors.New("client assertion iat, exp or nbf is not an integer JSON number")
	ErrAssertionSignature      = errors.New("invalid client assertion signature")
	ErrAssertionIssuer         = errors.New("client assertion iss is not the client ID")
	ErrAssertionSubject        = errors.New("client assertion sub is not the client ID")
	ErrAssertionAudience       = errors.New("client assertion aud is not the token endpoint")
	ErrAssertionLifetime       = errors.New("client assertion lifetime out of range")
	ErrAssertionExpired        = errors.New("client assertion expired")
	ErrAssertionIssuedInFuture = errors.New("client assertion issued in the future")
	ErrAssertionNotYetValid    = errors.New("client assertion nbf is in the future")
	ErrAssertionReplay         = errors.New("client assertion jti already used")
)

// assertionClaims are the claims of a client assertion after their types are
// checked.
type assertionClaims struct {
	issuer   any
	subject  any
	audience any
	jti      string
	issuedAt time.Time
	expires  time.Time
	// notBefore is zero when the assertion has no nbf.
	notBefore time.Time
}

// verifyAssertion checks a client assertion (RFC 7523 section 3) for client
// against every rule but jti replay, which needs the server's store. It
// checks structure and claim types first and the meaning of the claims only
// after the signature, like the legacy token rules.
func verifyAssertion(assertion string, client OAuthClient, tokenURL string, now time.Time) (assertionClaims, error) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return assertionClaims{}, fmt.Errorf("%w: %d dot-separated parts, expected 3 (a compact JWS)", ErrAssertionMalformed, len(parts))
	}

	headerJSON, err := decodeSegment(parts[0])
	if err != nil {
		return assertionClaims{}, fmt.Errorf("%w: header: %w", ErrAssertionMalformed, err)
	}
	method, err := checkAssertionHeader(headerJSON, client)
	if err != nil {
		return assertionClaims{}, err
	}

	payloadJSON, err := decodeSegment(parts[1])
	if err != nil {
		return assertionClaims{}, fmt.Errorf("%w: payload: %w", ErrAssertionMalformed, err)
	}
	claims, err := parseAssertionClaims(payloadJSON)
	if err != nil {
		return assertionClaims{}, err
	}

	signature, err := decodeSegment(parts[2])
	if err != nil {
		return assertionClaims{}, fmt.Errorf("%w: signature: %w", ErrAssertionMalformed, err)
	}
	// The signature covers the two segments exactly as sent.
	if err := method.Verify(parts[0]+"."+parts[1], signature, client.PublicKey); err != nil {
		return assertionClaims{}, fmt.Errorf("%w: client %s, key ID %s: %w",
			ErrAssertionSignature, quoteText(client.ClientID), quoteText(client.KeyID), err)
	}

	if err := checkClientClaim(ErrAssertionIssuer, "iss", claims.issuer, client.ClientID); err != nil {
		return assertionClaims{}, err
	}
	if err := checkClientClaim(ErrAssertionSubject, "sub", claims.subject, client.ClientID); err != nil {
		return assertionClaims{}, err
	}
	if err := checkAssertionAudience(claims.audience, tokenURL); err != nil {
		return assertionClaims{}, err
	}
	if err := checkAssertionTimes(claims, now); err != nil {
		return assertionClaims{}, err
	}
	return claims, nil
}

// checkAssertionHeader requires alg RS256 for an RSA key and ES256 for an EC
// key, kid equal to the client's key ID, and typ, when present, exactly JWT.
// It returns the signing method that alg names.
//
// NOTE: RFC 7515 treats typ as case-insensitive, but the fake requires the
// spelling every public client sends, as the legacy rules do.
func checkAssertionHeader(headerJSON []byte, client OAuthClient) (jwt.SigningMethod, error) {
	var header map[string]any
	if err := json.Unmarshal(headerJSON, &header); err != nil {
		return nil, fmt.Errorf("%w: header is not a JSON object: %w", ErrAssertionMalformed, err)
	}

	var method jwt.SigningMethod = jwt.SigningMethodRS256
	keyType := "RSA"
	if _, isEC := client.PublicKey.(*ecdsa.PublicKey); isEC {
		method = jwt.SigningMethodES256
		keyType = "EC"
	}
	alg, ok := header["alg"].(string)
	if !ok || alg != method.Alg() {
		return nil, fmt.Errorf("%w: alg is %s, expected %s for the client's %s key",
			ErrAssertionAlgorithm, describeValue(header, "alg"), method.Alg(), keyType)
	}

	kid, ok := header["kid"].(string)
	if !ok || kid != client.KeyID {
		return nil, fmt.Errorf("%w: kid is %s, expected %s", ErrAssertionKeyID, describeValue(header, "kid"), quoteText(client.KeyID))
	}

	if _, present := header["typ"]; present {
		if typ, ok := header["typ"].(string); !ok || typ != "JWT" {
			return nil, fmt.Errorf("%w: typ is %s", ErrAssertionHeaderType, describeValue(header, "typ"))
		}
	}

	// RFC 7515 section 4.1.11 requires rejecting extensions the server does
	// not understand, and the fake understands none.
	if _, present := header["crit"]; present {
		return nil, fmt.Errorf("%w: header has crit, which the server does not support", ErrAssertionMalformed)
	}
	return method, nil
}

// parseAssertionClaims checks that iss, sub, aud, exp, iat and jti are present,
// that the times are integer JSON numbers and that jti is a nonempty string.
// iss, sub and aud are returned undecoded because their checks need the
// client and the server.
func parseAssertionClaims(payloadJSON []byte) (assertionClaims, error) {
	var claims assertionClaims

	// UseNumber keeps the literal text of numbers, so that 1.7e9 or
	// 1700000000.5 can be distinguished from an integer.
	decoder := json.NewDecoder(bytes.NewReader(payloadJSON))
	decoder.UseNumber()
	var payload map[string]any
	if err := decoder.Decode(&payload); err != nil {
		return claims, fmt.Errorf("%w: payload is not a JSON object: %w", ErrAssertionMalformed, err)
	}
	var extra json.RawMessage
	if err := decoder.Decode(&extra); err != io.EOF {
		return claims, fmt.Errorf("%w: data after the payload JSON object", ErrAssertionMalformed)
	}

	for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "jti"} {
		if _, ok := payload[name]; !ok {
			return claims, fmt.Errorf("%w: %s", ErrAssertionMissingClaim, name)
		}
	}
	claims.issuer = payload["iss"]
	claims.subject = payload["sub"]
	claims.audience = payload["aud"]

	jti, ok := payload["jti"].(string)
	if !ok {
		return claims, fmt.Errorf("%w: jti is %s, expected a string", ErrAssertionMalformed, describeValue(payload, "jti"))
	}
	if jti == "" {
		return claims, fmt.Errorf("%w: jti is empty", ErrAssertionMissingClaim)
	}
	claims.jti = jti

	// NOTE: RFC 7519 allows fractional times. The fake requires integers, as
	// the legacy rules do, because every public client sends them.
	var err error
	if claims.issuedAt, err = parseUnixSeconds(payload["iat"]); err != nil {
		return claims, fmt.Errorf("%w: iat: %w", ErrAssertionTimeClaim, err)
	}
	if claims.expires, err = parseUnixSeconds(payload["exp"]); err != nil {
		return claims, fmt.Errorf("%w: exp: %w", ErrAssertionTimeClaim, err)
	}
	if value, present := payload["nbf"]; present {
		if claims.notBefore, err = parseUnixSeconds(value); err != nil {
			return claims, fmt.Errorf("%w: nbf: %w", ErrAssertionTimeClaim, err)
		}
	}
	return claims, nil
}

// checkClientClaim requires iss or sub to be the client ID, byte for byte.
func checkClientClaim(rule error, name string, value any, clientID string) error {
	text, ok := value.(string)
	if !ok {
		return fmt.Errorf("%w: %s is %T, expected the string %s", rule, name, value, quoteText(clientID))
	}
	if text != clientID {
		return fmt.Errorf("%w: %s is %s, expected client_id %s", rule, name, quoteText(text), quoteText(clientID))
	}
	return nil
}

// checkAssertionAudience requires aud to be the token endpoint URL, as one
// string or as an element of an array (RFC 7523 section 3, item 3). The
// comparison is byte for byte: the issuer URL without /token, another host
// name for the same address or a trailing slash is rejected.
func checkAssertionAudience(audience any, tokenURL string) error {
	switch value := audience.(type) {
	case string:
		if value != tokenURL {
			return fmt.Errorf("%w: aud is %s, expected %s", ErrAssertionAudience, quoteText(value), quoteText(tokenURL))
		}
		return nil
	case []any:
		for _, element := range value {
			if element == tokenURL {
				return nil
			}
		}
		return fmt.Errorf("%w: aud is an array of %d values without %s", ErrAssertionAudience, len(value), quoteText(tokenURL))
	default:
		return fmt.Errorf("%w: aud is %T, expected the string %s", ErrAssertionAudience, value, quoteText(tokenURL))
	}
}

// checkAssertionTimes applies the lifetime, expiry, issue-time and not-before
// rules against the server clock.
//
// ClockSkew applies to exp as well as to iat and nbf, as in the legacy rules.
// NOTE: RSA does not say whether CAS allows skew on an assertion's exp.
func checkAssertionTimes(claims assertionClaims, now time.Time) error {
	lifetime := claims.expires.Sub(claims.issuedAt)
	if lifetime > MaxAssertionLifetime {
		return fmt.Errorf("%w: exp - iat is %v, max is %v", ErrAssertionLifetime, lifetime, MaxAssertionLifetime)
	}
	if lifetime < 0 {
		return fmt.Errorf("%w: exp is %v before iat", ErrAssertionLifetime, -lifetime)
	}

	if claims.expires.Before(now.Add(-ClockSkew)) {
		return fmt.Errorf("%w: exp %d is more than %v before server time %d",
			ErrAssertionExpired, claims.expires.Unix(), ClockSkew, now.Unix())
	}
	if claims.issuedAt.After(now.Add(ClockSkew)) {
		return fmt.Errorf("%w: iat %d is more than %v after server time %d",
			ErrAssertionIssuedInFuture, claims.issuedAt.Unix(), ClockSkew, now.Unix())
	}
	if !claims.notBefore.IsZero() && claims.notBefore.After(now.Add(ClockSkew)) {
		return fmt.Errorf("%w: nbf %d is more than %v after server time %d",
			ErrAssertionNotYetValid, claims.notBefore.Unix(), ClockSkew, now.Unix())
	}
	return nil
}
