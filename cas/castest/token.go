package castest

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Token rules of the legacy Administration API JWT. CAS documents the one-hour
// maximum lifetime and the 60 seconds of clock skew.
const (
	// MaxTokenLifetime is the largest exp - iat that CAS accepts.
	MaxTokenLifetime = time.Hour
	// ClockSkew is how far exp may lie in the past and iat in the future.
	ClockSkew = 60 * time.Second
)

// Messages that CAS puts in the "message" field of a 403 body. RSA documents
// the first three texts, and clients distinguish failures by them.
const (
	MessageInvalidAccessID = "Invalid Access Id"
	MessageInvalidAudience = "Invalid audience"
	MessageExpired         = "Expired Access Token is not allowed"
	MessageFailedToProcess = "Server failed to process provided access token"
	// NOTE: the real message for a valid Help Desk key calling a Super
	// Administrator API is unknown, so this text is a guess.
	MessageAccessDenied = "Access is denied"
)

// Errors recorded in Request.Err, one for each rule a request can break. Each
// recorded error wraps exactly one of these, so test with errors.Is.
var (
	ErrMissingToken    = errors.New("missing bearer token")
	ErrMalformedToken  = errors.New("malformed token")
	ErrAlgorithm       = errors.New("header alg is not RS256")
	ErrType            = errors.New("header typ is not JWT")
	ErrMissingClaim    = errors.New("missing claim")
	ErrTimeClaim       = errors.New("iat or exp is not an integer JSON number")
	ErrUnknownAccessID = errors.New("unknown access ID")
	ErrSignature       = errors.New("invalid RS256 signature")
	ErrAudience        = errors.New("invalid audience")
	ErrLifetime        = errors.New("token lifetime out of range")
	ErrExpired         = errors.New("token expired")
	ErrIssuedInFuture  = errors.New("token issued in the future")
	ErrAccessDenied    = errors.New("admin role not allowed")
)

// messageFor returns the 403 message that CAS sends for a rule error.
//
// NOTE: RSA documents no message for a wrong alg or typ, a missing or
// mistyped claim, a lifetime over one hour or a future iat. The fake sends
// MessageFailedToProcess for these, which is the message CAS uses for tokens
// it cannot process.
func messageFor(err error) string {
	switch {
	case errors.Is(err, ErrUnknownAccessID):
		return MessageInvalidAccessID
	case errors.Is(err, ErrAudience):
		return MessageInvalidAudience
	case errors.Is(err, ErrExpired):
		return MessageExpired
	case errors.Is(err, ErrAccessDenied):
		return MessageAccessDenied
	default:
		return MessageFailedToProcess
	}
}

// tokenClaims are the four claims CAS requires, after their types are checked.
type tokenClaims struct {
	subject  string
	issuedAt time.Time
	expires  time.Time
}

// verifyRequestToken checks the bearer token of r against every rule and
// returns the registered key it was signed with. The returned access ID is the
// token's sub whenever it could be read, so that a rejection can be recorded
// against it. Otherwise it is "".
func (s *Server) verifyRequestToken(r *http.Request) (Key, string, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return Key{}, "", fmt.Errorf("%w: no Authorization header", ErrMissingToken)
	}

	// NOTE: the scheme must be exactly "Bearer" followed by one space. RFC 9110
	// makes schemes case-insensitive, but every RSA sample sends "Bearer" and
	// whether CAS accepts other spellings is unknown.
	token, found := strings.CutPrefix(header, "Bearer ")
	if !found || token == "" {
		return Key{}, "", fmt.Errorf("%w: Authorization header is not \"Bearer <token>\"", ErrMissingToken)
	}

	return s.verifyToken(token)
}

// verifyToken checks a compact JWS against the rules of the legacy Admin API
// JWT. It checks the structure and the claim types first, because the key to
// check the signature with is found through the unverified sub. The meaning of
// aud, iat and exp is checked only after the signature.
func (s *Server) verifyToken(token string) (Key, string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Key{}, "", fmt.Errorf("%w: %d dot-separated parts, expected 3", ErrMalformedToken, len(parts))
	}

	headerJSON, err := decodeSegment(parts[0])
	if err != nil {
		return Key{}, "", fmt.Errorf("%w: header: %w", ErrMalformedToken, err)
	}
	if err := checkHeader(headerJSON); err != nil {
		return Key{}, "", err
	}

	payloadJSON, err := decodeSegment(parts[1])
	if err != nil {
		return Key{}, "", fmt.Errorf("%w: payload: %w", ErrMalformedToken, err)
	}
	claims, audience, err := parseClaims(payloadJSON)
	if err != nil {
		return Key{}, claims.subject, err
	}
	accessID := claims.subject

	key, ok := s.lookupKey(accessID)
	if !ok {
		return Key{}, accessID, fmt.Errorf("%w: sub %q is not registered", ErrUnknownAccessID, accessID)
	}

	signature, err := decodeSegment(parts[2])
	if err != nil {
		return Key{}, accessID, fmt.Errorf("%w: signature: %w", ErrMalformedToken, err)
	}
	// The signature covers the two segments exactly as sent, not a re-encoding.
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key.PublicKey, crypto.SHA256, digest[:], signature); err != nil {
		return Key{}, accessID, fmt.Errorf("%w: access ID %q: %w", ErrSignature, accessID, err)
	}

	if err := checkAudience(audience, key.Audience); err != nil {
		return Key{}, accessID, err
	}
	if err := s.checkTimes(claims); err != nil {
		return Key{}, accessID, err
	}
	return key, accessID, nil
}

// decodeSegment decodes one base64url segment of a compact JWS. RFC 7515
// forbids padding. The strict decoder also rejects nonzero trailing bits, and
// line breaks are rejected here because Go's base64 decoders skip them.
func decodeSegment(segment string) ([]byte, error) {
	if strings.ContainsAny(segment, "\r\n") {
		return nil, errors.New("line break in base64url segment")
	}
	decoded, err := base64.RawURLEncoding.Strict().DecodeString(segment)
	if err != nil {
		return nil, fmt.Errorf("invalid base64url: %w", err)
	}
	return decoded, nil
}

// checkHeader requires alg to be exactly RS256 and typ exactly JWT, the header
// CAS documents. Other header parameters are ignored.
func checkHeader(headerJSON []byte) error {
	var header map[string]any
	if err := json.Unmarshal(headerJSON, &header); err != nil {
		return fmt.Errorf("%w: header is not a JSON object: %w", ErrMalformedToken, err)
	}

	alg, ok := header["alg"].(string)
	if !ok || alg != "RS256" {
		return fmt.Errorf("%w: alg is %s", ErrAlgorithm, describeValue(header, "alg"))
	}
	typ, ok := header["typ"].(string)
	if !ok || typ != "JWT" {
		return fmt.Errorf("%w: typ is %s", ErrType, describeValue(header, "typ"))
	}
	return nil
}

// parseClaims checks that sub, iat, exp and aud are present and that sub is a
// string and iat and exp are integer JSON numbers. It returns aud undecoded
// because its check needs the registered key. The subject is set in the
// returned claims as soon as it is known, even when an error is returned.
func parseClaims(payloadJSON []byte) (tokenClaims, any, error) {
	var claims tokenClaims

	// UseNumber keeps the literal text of numbers, so that 1.7e9 or 1700000000.5
	// can be distinguished from an integer.
	decoder := json.NewDecoder(bytes.NewReader(payloadJSON))
	decoder.UseNumber()
	var payload map[string]any
	if err := decoder.Decode(&payload); err != nil {
		return claims, nil, fmt.Errorf("%w: payload is not a JSON object: %w", ErrMalformedToken, err)
	}
	var extra json.RawMessage
	if err := decoder.Decode(&extra); err != io.EOF {
		return claims, nil, fmt.Errorf("%w: data after the payload JSON object", ErrMalformedToken)
	}

	for _, name := range []string{"sub", "iat", "exp", "aud"} {
		if _, ok := payload[name]; !ok {
			return claims, nil, fmt.Errorf("%w: %s", ErrMissingClaim, name)
		}
	}

	// A sub that is not a string cannot name an access ID, so CAS's "Access
	// Id" message fits it best.
	subject, ok := payload["sub"].(string)
	if !ok {
		return claims, nil, fmt.Errorf("%w: sub is %s, expected a string", ErrUnknownAccessID, describeValue(payload, "sub"))
	}
	claims.subject = subject

	issuedAt, err := parseUnixSeconds(payload["iat"])
	if err != nil {
		return claims, nil, fmt.Errorf("%w: iat: %w", ErrTimeClaim, err)
	}
	expires, err := parseUnixSeconds(payload["exp"])
	if err != nil {
		return claims, nil, fmt.Errorf("%w: exp: %w", ErrTimeClaim, err)
	}
	claims.issuedAt = issuedAt
	claims.expires = expires

	return claims, payload["aud"], nil
}

// parseUnixSeconds converts a claim decoded with UseNumber to a time. Only a
// JSON number without fraction or exponent that fits int64 is accepted, which
// base-10 ParseInt enforces on the number's literal text. The strings RSA's
// sample prints are rejected because working clients send numbers.
func parseUnixSeconds(value any) (time.Time, error) {
	number, ok := value.(json.Number)
	if !ok {
		return time.Time{}, fmt.Errorf("got %T, expected an integer number", value)
	}
	seconds, err := strconv.ParseInt(number.String(), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s is not an integer that fits int64: %w", number, err)
	}
	return time.Unix(seconds, 0), nil
}

// checkAudience requires aud to be one string equal to the registered audience
// byte for byte, with no normalization of case or a trailing slash.
//
// NOTE: an array aud is rejected, even one whose only element matches.
// RFC 7519 allows arrays, but no source shows CAS accepting one and the key
// file's adminRestApiUrl is a single string.
func checkAudience(audience any, registered string) error {
	switch value := audience.(type) {
	case string:
		if value != registered {
			return fmt.Errorf("%w: aud %q, expected %q", ErrAudience, value, registered)
		}
		return nil
	case []any:
		return fmt.Errorf("%w: aud is an array of %d values, expected the string %q", ErrAudience, len(value), registered)
	default:
		return fmt.Errorf("%w: aud is %T, expected the string %q", ErrAudience, value, registered)
	}
}

// checkTimes applies the lifetime, expiry and issue-time rules against the
// server clock. Times are compared exactly, not rounded to seconds.
func (s *Server) checkTimes(claims tokenClaims) error {
	lifetime := claims.expires.Sub(claims.issuedAt)
	if lifetime > MaxTokenLifetime {
		return fmt.Errorf("%w: exp - iat is %v, max is %v", ErrLifetime, lifetime, MaxTokenLifetime)
	}
	// NOTE: CAS's response to exp before iat is unknown. The fake rejects it,
	// because no correct client mints such a token.
	if lifetime < 0 {
		return fmt.Errorf("%w: exp is %v before iat", ErrLifetime, -lifetime)
	}

	now := s.now()
	if claims.expires.Before(now.Add(-ClockSkew)) {
		return fmt.Errorf("%w: exp %d is more than %v before server time %d",
			ErrExpired, claims.expires.Unix(), ClockSkew, now.Unix())
	}
	if claims.issuedAt.After(now.Add(ClockSkew)) {
		return fmt.Errorf("%w: iat %d is more than %v after server time %d",
			ErrIssuedInFuture, claims.issuedAt.Unix(), ClockSkew, now.Unix())
	}
	return nil
}

// describeValue formats a decoded JSON member for an error message.
func describeValue(object map[string]any, name string) string {
	value, ok := object[name]
	if !ok {
		return "missing"
	}
	if text, ok := value.(string); ok {
		return strconv.Quote(text)
	}
	return fmt.Sprintf("%T %v", value, value)
}
