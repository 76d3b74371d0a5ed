package cas_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

const (
	testClientID = "0b6c1f5e-7a8d-4c2b-9e3f-5d6a7b8c9d0e"
	testTokenURL = "https://acme.auth.securid.com/oauth/token"
)

// parseOAuthKey parses a JWK of source with testKeyID.
func parseOAuthKey(t *testing.T, source any) *cas.OAuthKey {
	t.Helper()

	key, err := cas.ParseOAuthKey(testOAuthKeyField, privateJWK(t, source, testKeyID, nil), testOAuthKeyIDField, "")
	if err != nil {
		t.Fatalf("ParseOAuthKey: %v", err)
	}

	return key
}

// verifyJWS checks the compact JWS signature with pub, without the library
// that signed it: RS256 as PKCS #1 v1.5 over SHA-256, ES256 as the 64-byte
// r || s form of RFC 7518 section 3.4. It returns the header and claims.
func verifyJWS(t *testing.T, raw string, pub crypto.PublicKey) (map[string]json.RawMessage, map[string]json.RawMessage) {
	t.Helper()

	header, payload, signature := splitJWT(t, raw)
	digest := sha256.Sum256([]byte(header + "." + payload))
	sig := decodeSegment(t, signature)

	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			t.Fatalf("RS256 signature does not verify: %v", err)
		}
	case *ecdsa.PublicKey:
		if len(sig) != 64 {
			t.Fatalf("ES256 signature has %d bytes, want 64 (r || s)", len(sig))
		}

		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub, digest[:], r, s) {
			t.Fatal("ES256 signature does not verify")
		}
	default:
		t.Fatalf("unsupported public key %T", pub)
	}

	var headerFields, claims map[string]json.RawMessage
	if err := json.Unmarshal(decodeSegment(t, header), &headerFields); err != nil {
		t.Fatalf("header is not a JSON object: %v", err)
	}

	if err := json.Unmarshal(decodeSegment(t, payload), &claims); err != nil {
		t.Fatalf("payload is not a JSON object: %v", err)
	}

	return headerFields, claims
}

func TestSignAssertion(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		source  any
		public  crypto.PublicKey
		wantAlg string
	}{
		{"rsa", testKey(), &testKey().PublicKey, "RS256"},
		{"ec", ecKey(), &ecKey().PublicKey, "ES256"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			assertion, err := cas.SignAssertion(parseOAuthKey(t, tt.source), testClientID, testTokenURL, testNow)
			if err != nil {
				t.Fatalf("SignAssertion: %v", err)
			}

			header, claims := verifyJWS(t, assertion.Raw, tt.public)

			if len(header) != 3 {
				t.Errorf("header has %d parameters, want alg, typ and kid", len(header))
			}

			wantHeader := map[string]string{"alg": tt.wantAlg, "typ": "JWT", "kid": testKeyID}
			for name, want := range wantHeader {
				if got := stringClaim(t, header, name); got != want {
					t.Errorf("header %s = %q, want %q", name, got, want)
				}
			}

			if len(claims) != 6 {
				t.Errorf("claims = %d, want exactly iss, sub, aud, jti, iat and exp", len(claims))
			}

			wantClaims := map[string]string{"iss": testClientID, "sub": testClientID, "aud": testTokenURL, "jti": assertion.ID}
			for name, want := range wantClaims {
				if got := stringClaim(t, claims, name); got != want {
					t.Errorf("claim %s = %q, want %q", name, got, want)
				}
			}

			if !tokenIDPattern.MatchString(assertion.ID) {
				t.Errorf("jti = %q, want 32 lowercase hex digits", assertion.ID)
			}

			iat := integerClaim(t, claims, "iat")
			exp := integerClaim(t, claims, "exp")

			if iat != testNow.Unix() {
				t.Errorf("iat = %d, want %d (now truncated to the second)", iat, testNow.Unix())
			}

			if exp-iat != int64(5*time.Minute/time.Second) {
				t.Errorf("exp - iat = %d s, want 300", exp-iat)
			}

			if !assertion.ExpiresAt.Equal(time.Unix(exp, 0)) || !assertion.IssuedAt.Equal(time.Unix(iat, 0)) {
				t.Errorf("Assertion times %s..%s differ from the claims", assertion.IssuedAt, assertion.ExpiresAt)
			}
		})
	}
}

func TestSignAssertionUniqueIDs(t *testing.T) {
	t.Parallel()

	key := parseOAuthKey(t, ecKey())
	seen := make(map[string]bool)

	for range 50 {
		assertion, err := cas.SignAssertion(key, testClientID, testTokenURL, testNow)
		if err != nil {
			t.Fatalf("SignAssertion: %v", err)
		}

		if seen[assertion.ID] {
			t.Fatalf("jti %s repeated", assertion.ID)
		}

		seen[assertion.ID] = true
	}
}
