package cas_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

const (
	testOAuthKeyField   = "private_key"
	testOAuthKeyIDField = "key_id"
	testKeyID           = "6f1e0c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6"
)

// ecKey is the P-256 key shared by the OAuth tests.
var ecKey = sync.OnceValue(func() *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("generate P-256 key: %v", err))
	}

	return key
})

// privateJWK returns key as a private JWK with the kid, or without one when
// kid is "". extra adds or replaces parameters; a nil value removes one.
func privateJWK(t testing.TB, key any, kid string, extra map[string]any) string {
	t.Helper()

	data, err := jose.JSONWebKey{Key: key, KeyID: kid}.MarshalJSON()
	if err != nil {
		t.Fatalf("marshal JWK: %v", err)
	}

	if len(extra) == 0 {
		return string(data)
	}

	var params map[string]any
	if err := json.Unmarshal(data, &params); err != nil {
		t.Fatalf("decode JWK: %v", err)
	}

	for name, value := range extra {
		if value == nil {
			delete(params, name)

			continue
		}

		params[name] = value
	}

	data, err = json.Marshal(params)
	if err != nil {
		t.Fatalf("encode JWK: %v", err)
	}

	return string(data)
}

// assertNoJWKSecrets fails the test if the error message contains a private
// parameter of the JWK, or the first 16 characters of one.
func assertNoJWKSecrets(t testing.TB, err error, jwk string) {
	t.Helper()

	var params map[string]any
	if json.Unmarshal([]byte(jwk), &params) != nil {
		return
	}

	for _, name := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		value, _ := params[name].(string)
		if len(value) < 16 {
			continue
		}

		if strings.Contains(err.Error(), value[:16]) {
			t.Errorf("error message contains JWK parameter %s: %q", name, err.Error())
		}
	}
}

func TestParseOAuthKeyAccepts(t *testing.T) {
	t.Parallel()

	rsaJWK := privateJWK(t, testKey(), testKeyID, nil)

	tests := []struct {
		name      string
		text      string
		keyID     string
		wantType  string
		wantBits  int
		wantCurve string
		public    crypto.PublicKey
	}{
		{"rsa jwk", rsaJWK, "", cas.KeyTypeRSA, 2048, "", &testKey().PublicKey},
		{"rsa jwk with equal key_id", rsaJWK, testKeyID, cas.KeyTypeRSA, 2048, "", &testKey().PublicKey},
		{"rsa jwk with alg and use", privateJWK(t, testKey(), testKeyID, map[string]any{"alg": "RS256", "use": "sig"}), "", cas.KeyTypeRSA, 2048, "", &testKey().PublicKey},
		{"rsa jwk with byte order mark and whitespace", "\uFEFF\n  " + rsaJWK + "\r\n", "", cas.KeyTypeRSA, 2048, "", &testKey().PublicKey},
		{"rsa jwk set with one key", `{"keys":[` + rsaJWK + `]}`, "", cas.KeyTypeRSA, 2048, "", &testKey().PublicKey},
		{"ec jwk", privateJWK(t, ecKey(), testKeyID, nil), "", cas.KeyTypeEC, 256, cas.CurveP256, &ecKey().PublicKey},
		{"ec jwk with alg", privateJWK(t, ecKey(), testKeyID, map[string]any{"alg": "ES256"}), "", cas.KeyTypeEC, 256, cas.CurveP256, &ecKey().PublicKey},
		{"jwk without kid, key_id given", privateJWK(t, ecKey(), "", nil), testKeyID, cas.KeyTypeEC, 256, cas.CurveP256, &ecKey().PublicKey},
		{"pkcs1 pem", pkcs1PEM(testKey()), testKeyID, cas.KeyTypeRSA, 2048, "", &testKey().PublicKey},
		{"pkcs8 rsa pem", pkcs8PEM(t, testKey()), testKeyID, cas.KeyTypeRSA, 2048, "", &testKey().PublicKey},
		{"pkcs8 ec pem", pkcs8PEM(t, ecKey()), testKeyID, cas.KeyTypeEC, 256, cas.CurveP256, &ecKey().PublicKey},
		{"sec1 ec pem", encodePEM("EC PRIVATE KEY", mustMarshalEC(t, ecKey())), testKeyID, cas.KeyTypeEC, 256, cas.CurveP256, &ecKey().PublicKey},
		{"pem with literal backslash-n", strings.ReplaceAll(pkcs8PEM(t, ecKey()), "\n", `\n`), testKeyID, cas.KeyTypeEC, 256, cas.CurveP256, &ecKey().PublicKey},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			key, err := cas.ParseOAuthKey(testOAuthKeyField, tt.text, testOAuthKeyIDField, tt.keyID)
			if err != nil {
				t.Fatalf("ParseOAuthKey: %v", err)
			}

			if key.KeyID != testKeyID {
				t.Errorf("KeyID = %q, want %q", key.KeyID, testKeyID)
			}

			if key.Type != tt.wantType {
				t.Errorf("Type = %q, want %q", key.Type, tt.wantType)
			}

			if key.Bits != tt.wantBits {
				t.Errorf("Bits = %d, want %d", key.Bits, tt.wantBits)
			}

			if key.Curve != tt.wantCurve {
				t.Errorf("Curve = %q, want %q", key.Curve, tt.wantCurve)
			}

			if public, ok := tt.public.(publicKeyEqualer); !ok || !public.Equal(key.Signer.Public()) {
				t.Error("the parsed key's public key differs from the generated one")
			}
		})
	}
}

// publicKeyEqualer is what every crypto/* public key type implements.
type publicKeyEqualer interface{ Equal(x crypto.PublicKey) bool }

func mustMarshalEC(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()

	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("marshal SEC 1 key: %v", err)
	}

	return der
}

func TestParseOAuthKeyAlgorithm(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		key  any
		want string
	}{
		{"rsa", testKey(), "RS256"},
		{"ec", ecKey(), "ES256"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			key, err := cas.ParseOAuthKey(testOAuthKeyField, privateJWK(t, tt.key, testKeyID, nil), testOAuthKeyIDField, "")
			if err != nil {
				t.Fatalf("ParseOAuthKey: %v", err)
			}

			if got := key.Algorithm(); got != tt.want {
				t.Errorf("Algorithm() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOAuthKeyPEMRoundTrip(t *testing.T) {
	t.Parallel()

	for _, source := range []any{testKey(), ecKey()} {
		key, err := cas.ParseOAuthKey(testOAuthKeyField, privateJWK(t, source, testKeyID, nil), testOAuthKeyIDField, "")
		if err != nil {
			t.Fatalf("ParseOAuthKey: %v", err)
		}

		stored, err := key.PEM()
		if err != nil {
			t.Fatalf("PEM: %v", err)
		}

		if !strings.HasPrefix(stored, "-----BEGIN PRIVATE KEY-----") {
			t.Errorf("PEM() starts with %.30q, want a PKCS#8 block", stored)
		}

		again, err := cas.ParseOAuthKey(testOAuthKeyField, stored, testOAuthKeyIDField, key.KeyID)
		if err != nil {
			t.Fatalf("ParseOAuthKey(PEM()): %v", err)
		}

		first, err := key.Fingerprint()
		if err != nil {
			t.Fatalf("Fingerprint: %v", err)
		}

		second, err := again.Fingerprint()
		if err != nil {
			t.Fatalf("Fingerprint: %v", err)
		}

		if first != second || again.Type != key.Type {
			t.Errorf("round trip changed the key: %s %s, then %s %s", key.Type, first, again.Type, second)
		}
	}
}

func TestParseOAuthKeyRejects(t *testing.T) {
	t.Parallel()

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatalf("generate P-384 key: %v", err)
	}

	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generate Ed25519 key: %v", err)
	}

	otherEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate P-256 key: %v", err)
	}

	rsaJWK := privateJWK(t, testKey(), testKeyID, nil)
	ecJWK := privateJWK(t, ecKey(), testKeyID, nil)

	publicRSA := privateJWK(t, &testKey().PublicKey, testKeyID, nil)
	publicEC := privateJWK(t, &ecKey().PublicKey, testKeyID, nil)

	// An EC JWK whose d belongs to another key than its x and y.
	var otherParams map[string]any
	if err := json.Unmarshal([]byte(privateJWK(t, otherEC, testKeyID, nil)), &otherParams); err != nil {
		t.Fatalf("decode JWK: %v", err)
	}

	mismatchedEC := privateJWK(t, ecKey(), testKeyID, map[string]any{"d": otherParams["d"]})

	publicPEM := encodePEM("PUBLIC KEY", mustMarshalPKIX(t, &testKey().PublicKey))

	tests := []struct {
		name      string
		text      string
		keyID     string
		wantField string
		want      string
	}{
		{"empty", "", testKeyID, testOAuthKeyField, "is empty"},
		{"neither json nor pem", "not a key", testKeyID, testOAuthKeyField, "neither a JWK"},
		{"invalid json", `{"kty":"RSA",`, "", testOAuthKeyField, "not valid JSON"},
		{"legacy key file", `{"accessID":"x","accessKey":"y"}`, "", testOAuthKeyField, `"kty"`},
		{"kty not a string", `{"kty":7}`, "", testOAuthKeyField, "JSON type"},
		{"public rsa jwk", publicRSA, "", testOAuthKeyField, "public RSA JWK"},
		{"public ec jwk", publicEC, "", testOAuthKeyField, "public EC JWK"},
		{"p-384 jwk", privateJWK(t, p384, testKeyID, nil), "", testOAuthKeyField, `curve "P-384"`},
		{"ed25519 jwk", privateJWK(t, edKey, testKeyID, nil), "", testOAuthKeyField, "OKP (Ed25519)"},
		{"symmetric jwk", `{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0","kid":"k1"}`, "", testOAuthKeyField, "symmetric"},
		{"unknown kty", `{"kty":"DSA","d":"AA"}`, "", testOAuthKeyField, `kty "DSA"`},
		{"1024-bit rsa jwk", privateJWK(t, smallKey(), testKeyID, nil), "", testOAuthKeyField, "1024-bit"},
		{"rsa jwk without p", privateJWK(t, testKey(), testKeyID, map[string]any{"p": nil}), "", testOAuthKeyField, "missing or malformed"},
		{"rsa jwk with wrong alg", privateJWK(t, testKey(), testKeyID, map[string]any{"alg": "PS256"}), "", testOAuthKeyField, `alg "PS256"`},
		{"ec jwk with rsa alg", privateJWK(t, ecKey(), testKeyID, map[string]any{"alg": "RS256"}), "", testOAuthKeyField, `alg "RS256"`},
		{"encryption jwk", privateJWK(t, testKey(), testKeyID, map[string]any{"use": "enc"}), "", testOAuthKeyField, `use "enc"`},
		{"ec jwk with foreign d", mismatchedEC, "", testOAuthKeyField, "not a consistent EC private key"},
		{"jwk set with two keys", `{"keys":[` + rsaJWK + `,` + ecJWK + `]}`, "", testOAuthKeyField, "2 keys"},
		{"empty jwk set", `{"keys":[]}`, "", testOAuthKeyField, "0 keys"},
		{"kid mismatch", rsaJWK, "another-key", testOAuthKeyIDField, `does not match the kid`},
		{"no kid and no key_id", privateJWK(t, testKey(), "", nil), "", testOAuthKeyIDField, "is missing"},
		{"pem without key_id", pkcs8PEM(t, ecKey()), "", testOAuthKeyIDField, "is missing"},
		{"key_id with space", pkcs8PEM(t, ecKey()), "key 1", testOAuthKeyIDField, "a space"},
		{"key_id with zero-width space", pkcs8PEM(t, ecKey()), "key\u200b1", testOAuthKeyIDField, "U+200B"},
		{"key_id with object replacement", pkcs8PEM(t, ecKey()), "key1\uFFFC", testOAuthKeyIDField, "U+FFFC"},
		{"key_id too long", pkcs8PEM(t, ecKey()), strings.Repeat("k", 257), testOAuthKeyIDField, "257 bytes"},
		{"jwk kid with byte order mark", privateJWK(t, testKey(), "\uFEFFkid", nil), "", testOAuthKeyField + " kid", "U+FEFF"},
		{"p-384 pem", pkcs8PEM(t, p384), testKeyID, testOAuthKeyField, "curve P-384"},
		{"ed25519 pem", pkcs8PEM(t, edKey), testKeyID, testOAuthKeyField, "Ed25519"},
		{"1024-bit pem", pkcs1PEM(smallKey()), testKeyID, testOAuthKeyField, "1024-bit"},
		{"public key pem", publicPEM, testKeyID, testOAuthKeyField, "contains no private key"},
		{"encrypted pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n", testKeyID, testOAuthKeyField, "encrypted"},
		{"truncated pem", strings.SplitAfter(pkcs8PEM(t, ecKey()), "\n")[0] + "MIGH\n", testKeyID, testOAuthKeyField, "no matching -----END"},
		{"garbage der", encodePEM("PRIVATE KEY", []byte("not der at all")), testKeyID, testOAuthKeyField, "could not be decoded"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			key, err := cas.ParseOAuthKey(testOAuthKeyField, tt.text, testOAuthKeyIDField, tt.keyID)
			if err == nil {
				t.Fatalf("ParseOAuthKey accepted the input as a %s key", key.Type)
			}

			fieldErr := assertFieldError(t, err, tt.wantField)

			if !strings.Contains(fieldErr.Reason, tt.want) {
				t.Errorf("reason %q does not contain %q", fieldErr.Reason, tt.want)
			}

			assertNoJWKSecrets(t, err, tt.text)

			if strings.Contains(tt.text, "-----BEGIN") && len(pemBodyLines(tt.text)) > 1 {
				assertNoKeyMaterial(t, err, tt.text)
			}
		})
	}
}

func mustMarshalPKIX(t testing.TB, key any) []byte {
	t.Helper()

	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		t.Fatalf("marshal public key: %v", err)
	}

	return der
}

func TestValidateKeyID(t *testing.T) {
	t.Parallel()

	for _, valid := range []string{testKeyID, "k1", "abc_DEF-123.x"} {
		if err := cas.ValidateKeyID(testOAuthKeyIDField, valid); err != nil {
			t.Errorf("ValidateKeyID(%q) = %v, want nil", valid, err)
		}
	}

	for _, invalid := range []string{"", " k1", "k1\n", "k\x001", "k\u00ad1", "k\ue0001"} {
		if err := cas.ValidateKeyID(testOAuthKeyIDField, invalid); err == nil {
			t.Errorf("ValidateKeyID(%q) = nil, want an error", invalid)
		}
	}
}
