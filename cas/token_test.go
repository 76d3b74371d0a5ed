package cas_test

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

// testNow is the fixed issue time of every minted token. The fraction of a
// second checks that iat is truncated to whole seconds.
var testNow = time.Date(2025, time.June, 14, 21, 54, 29, 908_000_000, time.UTC)

var tokenIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// splitJWT returns the three base64url segments of a compact JWT.
func splitJWT(t *testing.T, raw string) (header, payload, signature string) {
	t.Helper()

	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d dot-separated segments, want 3: %q", len(parts), raw)
	}

	return parts[0], parts[1], parts[2]
}

func decodeSegment(t *testing.T, segment string) []byte {
	t.Helper()

	decoded, err := base64.RawURLEncoding.DecodeString(segment)
	if err != nil {
		t.Fatalf("segment %q is not unpadded base64url: %v", segment, err)
	}

	return decoded
}

// mintClaims mints a token and returns it with its claims as raw JSON values,
// so that tests can check how each claim is encoded.
func mintClaims(t *testing.T, audience string, ttl time.Duration) (cas.Token, map[string]json.RawMessage) {
	t.Helper()

	token, err := cas.NewSigner(testAccessID, audience, testKey()).Mint(testNow, ttl)
	if err != nil {
		t.Fatalf("Mint() error = %v", err)
	}

	_, payload, _ := splitJWT(t, token.Raw)

	var claims map[string]json.RawMessage
	if err := json.Unmarshal(decodeSegment(t, payload), &claims); err != nil {
		t.Fatalf("payload is not a JSON object: %v", err)
	}

	return token, claims
}

// integerClaim decodes a claim that must be a JSON integer, such as iat or
// exp. A number written with a fraction or an exponent fails the test.
func integerClaim(t *testing.T, claims map[string]json.RawMessage, name string) int64 {
	t.Helper()

	raw, ok := claims[name]
	if !ok {
		t.Fatalf("claim %q is missing", name)
	}

	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.UseNumber()

	var value any
	if err := decoder.Decode(&value); err != nil {
		t.Fatalf("claim %q is not valid JSON: %v", name, err)
	}

	number, ok := value.(json.Number)
	if !ok {
		t.Fatalf("claim %q = %s, want a JSON number", name, raw)
	}

	if strings.ContainsAny(number.String(), ".eE") {
		t.Fatalf("claim %q = %s, want an integer without a fraction or exponent", name, number)
	}

	integer, err := number.Int64()
	if err != nil {
		t.Fatalf("claim %q = %s does not fit in int64: %v", name, number, err)
	}

	return integer
}

// stringClaim decodes a claim that must be a single JSON string.
func stringClaim(t *testing.T, claims map[string]json.RawMessage, name string) string {
	t.Helper()

	raw, ok := claims[name]
	if !ok {
		t.Fatalf("claim %q is missing", name)
	}

	if len(raw) == 0 || raw[0] != '"' {
		t.Fatalf("claim %q = %s, want a single JSON string", name, raw)
	}

	var value string
	if err := json.Unmarshal(raw, &value); err != nil {
		t.Fatalf("claim %q = %s is not a JSON string: %v", name, raw, err)
	}

	return value
}

func TestMintHeader(t *testing.T) {
	t.Parallel()

	token, err := cas.NewSigner(testAccessID, testAdminURL, testKey()).Mint(testNow, 15*time.Minute)
	if err != nil {
		t.Fatalf("Mint() error = %v", err)
	}

	header, _, _ := splitJWT(t, token.Raw)

	var got map[string]any
	if err := json.Unmarshal(decodeSegment(t, header), &got); err != nil {
		t.Fatalf("header is not a JSON object: %v", err)
	}

	want := map[string]any{"alg": "RS256", "typ": "JWT"}
	if !maps.Equal(got, want) {
		t.Errorf("header = %v, want %v", got, want)
	}
}

func TestMintClaims(t *testing.T) {
	t.Parallel()

	const ttl = 15 * time.Minute

	token, claims := mintClaims(t, testAdminURL, ttl)

	wantNames := []string{"aud", "exp", "iat", "jti", "sub"}
	if gotNames := slices.Sorted(maps.Keys(claims)); !slices.Equal(gotNames, wantNames) {
		t.Errorf("claim names = %q, want %q", gotNames, wantNames)
	}

	if sub := stringClaim(t, claims, "sub"); sub != testAccessID {
		t.Errorf("sub = %q, want %q", sub, testAccessID)
	}

	if iat := integerClaim(t, claims, "iat"); iat != testNow.Unix() {
		t.Errorf("iat = %d, want %d", iat, testNow.Unix())
	}

	wantExp := testNow.Unix() + int64(ttl/time.Second)
	if exp := integerClaim(t, claims, "exp"); exp != wantExp {
		t.Errorf("exp = %d, want %d", exp, wantExp)
	}

	jti := stringClaim(t, claims, "jti")
	if !tokenIDPattern.MatchString(jti) {
		t.Errorf("jti = %q, want 32 lowercase hex characters", jti)
	}

	if token.ID != jti {
		t.Errorf("Token.ID = %q, want the jti claim %q", token.ID, jti)
	}

	if token.Subject != testAccessID {
		t.Errorf("Token.Subject = %q, want %q", token.Subject, testAccessID)
	}

	if token.Audience != testAdminURL {
		t.Errorf("Token.Audience = %q, want %q", token.Audience, testAdminURL)
	}

	if wantIssuedAt := time.Unix(testNow.Unix(), 0); !token.IssuedAt.Equal(wantIssuedAt) {
		t.Errorf("Token.IssuedAt = %v, want %v", token.IssuedAt, wantIssuedAt)
	}

	if wantExpiresAt := time.Unix(wantExp, 0); !token.ExpiresAt.Equal(wantExpiresAt) {
		t.Errorf("Token.ExpiresAt = %v, want %v", token.ExpiresAt, wantExpiresAt)
	}
}

func TestMintAudience(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		audience string
	}{
		{name: "console form", audience: "https://tenant.access.securid.com/AdminInterface/restapi"},
		{name: "trailing slash", audience: "https://tenant.access.securid.com/AdminInterface/restapi/"},
		{name: "with v1", audience: "https://tenant.access.securid.com/AdminInterface/restapi/v1"},
		{name: "loopback with port", audience: "http://127.0.0.1:8080/AdminInterface/restapi"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			token, claims := mintClaims(t, tt.audience, 15*time.Minute)

			if aud := stringClaim(t, claims, "aud"); aud != tt.audience {
				t.Errorf("aud = %q, want %q byte for byte", aud, tt.audience)
			}

			if token.Audience != tt.audience {
				t.Errorf("Token.Audience = %q, want %q", token.Audience, tt.audience)
			}
		})
	}
}

func TestMintSignature(t *testing.T) {
	t.Parallel()

	key := testKey()

	token, err := cas.NewSigner(testAccessID, testAdminURL, key).Mint(testNow, 15*time.Minute)
	if err != nil {
		t.Fatalf("Mint() error = %v", err)
	}

	header, payload, signature := splitJWT(t, token.Raw)
	digest := sha256.Sum256([]byte(header + "." + payload))

	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], decodeSegment(t, signature)); err != nil {
		t.Errorf("signature does not verify with the signer's public key: %v", err)
	}

	otherDigest := sha256.Sum256([]byte(header + "." + payload + "x"))
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, otherDigest[:], decodeSegment(t, signature)); err == nil {
		t.Errorf("signature verifies over altered content, want it bound to header.payload")
	}
}

func TestMintUniqueID(t *testing.T) {
	t.Parallel()

	signer := cas.NewSigner(testAccessID, testAdminURL, testKey())

	first, err := signer.Mint(testNow, 15*time.Minute)
	if err != nil {
		t.Fatalf("first Mint() error = %v", err)
	}

	second, err := signer.Mint(testNow, 15*time.Minute)
	if err != nil {
		t.Fatalf("second Mint() error = %v", err)
	}

	if first.ID == second.ID {
		t.Errorf("two tokens minted with the same inputs share jti %q", first.ID)
	}

	if first.Raw == second.Raw {
		t.Errorf("two tokens minted with the same inputs are identical")
	}
}

func TestMintTTL(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		ttl         time.Duration
		wantSeconds int64
	}{
		{name: "one second", ttl: time.Second, wantSeconds: 1},
		{name: "fraction truncated", ttl: 1900 * time.Millisecond, wantSeconds: 1},
		{name: "15 minutes", ttl: 15 * time.Minute, wantSeconds: 900},
		{name: "58 minutes", ttl: 58 * time.Minute, wantSeconds: 3480},
		{name: "MaxTTL", ttl: cas.MaxTTL, wantSeconds: 3540},
		{name: "MaxTTL plus fraction", ttl: cas.MaxTTL + 999*time.Millisecond, wantSeconds: 3540},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			token, claims := mintClaims(t, testAdminURL, tt.ttl)

			iat := integerClaim(t, claims, "iat")
			exp := integerClaim(t, claims, "exp")

			if got := exp - iat; got != tt.wantSeconds {
				t.Errorf("exp - iat = %d, want %d", got, tt.wantSeconds)
			}

			if got := token.ExpiresAt.Sub(token.IssuedAt); got != time.Duration(tt.wantSeconds)*time.Second {
				t.Errorf("Token.ExpiresAt - Token.IssuedAt = %v, want %ds", got, tt.wantSeconds)
			}
		})
	}
}

func TestMintRejectsTTL(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		ttl  time.Duration
	}{
		{name: "zero", ttl: 0},
		{name: "negative", ttl: -time.Minute},
		{name: "below one second", ttl: 999 * time.Millisecond},
		{name: "MaxTTL plus one second", ttl: cas.MaxTTL + time.Second},
		{name: "CAS maximum lifetime", ttl: cas.MaxTokenLifetime},
		{name: "one day", ttl: 24 * time.Hour},
	}

	signer := cas.NewSigner(testAccessID, testAdminURL, testKey())

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			token, err := signer.Mint(testNow, tt.ttl)
			if !errors.Is(err, cas.ErrInvalidTTL) {
				t.Errorf("Mint(ttl %v) error = %v, want ErrInvalidTTL", tt.ttl, err)
			}

			if token.Raw != "" {
				t.Errorf("Mint(ttl %v) returned token %q, want none", tt.ttl, token.Raw)
			}
		})
	}
}
