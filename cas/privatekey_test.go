package cas_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

// testKeyField is the field name passed to ParsePrivateKey. Errors must name
// it in FieldError.Field.
const testKeyField = "private_key"

// testKey is the 2048-bit RSA key shared by all tests in the package, because
// generating one takes long enough to slow every test down.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	return generateRSAKey(2048)
})

// smallKey is a 1024-bit RSA key, below cas.MinKeyBits.
var smallKey = sync.OnceValue(func() *rsa.PrivateKey {
	return generateRSAKey(1024)
})

func generateRSAKey(bits int) *rsa.PrivateKey {
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(fmt.Sprintf("generate %d-bit RSA key: %v", bits, err))
	}

	return key
}

func encodePEM(blockType string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}))
}

// pkcs1PEM returns the key as "RSA PRIVATE KEY" PEM, the form the RSA
// console writes into the accessKey field.
func pkcs1PEM(key *rsa.PrivateKey) string {
	return encodePEM("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key))
}

// pkcs8DER returns the key as PKCS#8 DER. It accepts RSA, ECDSA and Ed25519
// keys.
func pkcs8DER(t testing.TB, key any) []byte {
	t.Helper()

	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("MarshalPKCS8PrivateKey(%T) failed: %v", key, err)
	}

	return der
}

func pkcs8PEM(t testing.TB, key any) string {
	t.Helper()

	return encodePEM("PRIVATE KEY", pkcs8DER(t, key))
}

// pemBodyLines returns the base64 lines of every PEM block in text, without
// the BEGIN and END lines and without RFC 1421 headers such as Proc-Type.
func pemBodyLines(text string) []string {
	var lines []string

	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "-----") || strings.Contains(line, ":") {
			continue
		}

		lines = append(lines, line)
	}

	return lines
}

// assertNoKeyMaterial fails the test if the error message contains any base64
// line of the PEM text, because errors reach logs and API responses and must
// never carry a private key.
func assertNoKeyMaterial(t testing.TB, err error, pemText string) {
	t.Helper()

	lines := pemBodyLines(pemText)
	if len(lines) == 0 {
		t.Fatalf("PEM text for the leak check has no body lines")
	}

	message := err.Error()

	var leaked []int
	for i, line := range lines {
		if strings.Contains(message, line) {
			leaked = append(leaked, i+1)
		}
	}

	if len(leaked) > 0 {
		t.Errorf("error message contains lines %v of the private key body: %q", leaked, message)
	}
}

// assertFieldError fails the test unless err is a *cas.FieldError for the
// field, and returns it.
func assertFieldError(t testing.TB, err error, field string) *cas.FieldError {
	t.Helper()

	if err == nil {
		t.Fatalf("error = nil, want a *cas.FieldError for field %q", field)
	}

	var fieldErr *cas.FieldError
	if !errors.As(err, &fieldErr) {
		t.Fatalf("error %q has type %T, want *cas.FieldError", err, err)
	}

	if fieldErr.Field != field {
		t.Errorf("FieldError.Field = %q, want %q", fieldErr.Field, field)
	}

	return fieldErr
}

// flattenPEM joins the lines of PEM text with the separator, as when a key is
// pasted into a single-line input.
func flattenPEM(pemText, separator string) string {
	return strings.Join(strings.Split(strings.TrimSpace(pemText), "\n"), separator)
}

func TestParsePrivateKeyAccepts(t *testing.T) {
	t.Parallel()

	key := testKey()
	pkcs1 := pkcs1PEM(key)
	pkcs8 := pkcs8PEM(t, key)

	tests := []struct {
		name string
		text string
	}{
		{name: "PKCS#1", text: pkcs1},
		{name: "PKCS#8", text: pkcs8},
		{name: "CRLF", text: strings.ReplaceAll(pkcs1, "\n", "\r\n")},
		{name: "CR only", text: strings.ReplaceAll(pkcs1, "\n", "\r")},
		{name: "literal backslash-n", text: strings.ReplaceAll(pkcs1, "\n", `\n`)},
		{name: "literal backslash-r-backslash-n", text: strings.ReplaceAll(pkcs1, "\n", `\r\n`)},
		{name: "PKCS#8 literal backslash-n", text: strings.ReplaceAll(pkcs8, "\n", `\n`)},
		{name: "one line with spaces", text: flattenPEM(pkcs1, " ")},
		{name: "one line without separators", text: flattenPEM(pkcs1, "")},
		{name: "PKCS#8 one line with spaces", text: flattenPEM(pkcs8, " ")},
		{name: "surrounding whitespace", text: "\n\t  " + pkcs1 + "  \r\n\n"},
		{name: "PKCS#1 body labeled PRIVATE KEY", text: encodePEM("PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key))},
		{name: "PKCS#8 body labeled RSA PRIVATE KEY", text: encodePEM("RSA PRIVATE KEY", pkcs8DER(t, key))},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := cas.ParsePrivateKey(testKeyField, tt.text)
			if err != nil {
				t.Fatalf("ParsePrivateKey() error = %v", err)
			}

			if got.N.Cmp(key.N) != 0 {
				t.Errorf("ParsePrivateKey() returned a key with a different modulus N")
			}
		})
	}
}

func TestParsePrivateKeyRejects(t *testing.T) {
	t.Parallel()

	key := testKey()
	pkcs1 := pkcs1PEM(key)
	body := strings.Join(pemBodyLines(pkcs1), "\n")

	ecdsaKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate ECDSA key: %v", err)
	}

	ecDER, err := x509.MarshalECPrivateKey(ecdsaKey)
	if err != nil {
		t.Fatalf("MarshalECPrivateKey() failed: %v", err)
	}

	_, ed25519Key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generate Ed25519 key: %v", err)
	}

	// The headers mark the block as encrypted, while the body is left as
	// the plain key so that the leak check has real key lines to look for.
	procTypeEncrypted := "-----BEGIN RSA PRIVATE KEY-----\n" +
		"Proc-Type: 4,ENCRYPTED\n" +
		"DEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n" +
		"\n" +
		body + "\n" +
		"-----END RSA PRIVATE KEY-----\n"

	bodyLines := pemBodyLines(pkcs1)
	garbageBase64 := "-----BEGIN RSA PRIVATE KEY-----\n" +
		strings.Join(bodyLines[:len(bodyLines)/2], "\n") + "\n" +
		"!!!! not base64 !!!!\n" +
		strings.Join(bodyLines[len(bodyLines)/2:], "\n") + "\n" +
		"-----END RSA PRIVATE KEY-----\n"

	// Dropping whole 64-character lines keeps the base64 valid but cuts
	// the DER short.
	truncatedDER := "-----BEGIN RSA PRIVATE KEY-----\n" +
		strings.Join(bodyLines[:len(bodyLines)-4], "\n") + "\n" +
		"-----END RSA PRIVATE KEY-----\n"

	mismatchedTypes := strings.Replace(pkcs1, "END RSA PRIVATE KEY", "END PRIVATE KEY", 1)
	withoutEnd, _, _ := strings.Cut(pkcs1, "-----END")

	tests := []struct {
		name       string
		text       string
		wantReason string
	}{
		{name: "ECDSA PKCS#8", text: pkcs8PEM(t, ecdsaKey), wantReason: "ECDSA (P-256) key, not an RSA key"},
		{name: "EC PRIVATE KEY", text: encodePEM("EC PRIVATE KEY", ecDER), wantReason: "not an RSA key"},
		{name: "Ed25519 PKCS#8", text: pkcs8PEM(t, ed25519Key), wantReason: "Ed25519 key, not an RSA key"},
		{name: "1024-bit RSA", text: pkcs1PEM(smallKey()), wantReason: "1024-bit RSA key"},
		{name: "Proc-Type encrypted", text: procTypeEncrypted, wantReason: "encrypted private key"},
		{name: "ENCRYPTED PRIVATE KEY", text: encodePEM("ENCRYPTED PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key)), wantReason: "encrypted private key"},
		{name: "garbage base64", text: garbageBase64, wantReason: "not valid base64"},
		{name: "truncated DER", text: truncatedDER, wantReason: "could not be decoded"},
		{name: "body without PEM lines", text: body, wantReason: "is not a PEM private key"},
		{name: "empty", text: "", wantReason: "is not a PEM private key"},
		{name: "mismatched BEGIN and END", text: mismatchedTypes, wantReason: `begins as "RSA PRIVATE KEY" but ends as "PRIVATE KEY"`},
		{name: "missing END line", text: withoutEnd, wantReason: "no matching -----END line"},
		{name: "public key", text: encodePEM("PUBLIC KEY", x509.MarshalPKCS1PublicKey(&key.PublicKey)), wantReason: `has PEM type "PUBLIC KEY"`},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := cas.ParsePrivateKey(testKeyField, tt.text)
			if got != nil {
				t.Errorf("ParsePrivateKey() returned a key, want nil")
			}

			fieldErr := assertFieldError(t, err, testKeyField)

			if !strings.Contains(fieldErr.Reason, tt.wantReason) {
				t.Errorf("FieldError.Reason = %q, want it to contain %q", fieldErr.Reason, tt.wantReason)
			}

			if tt.text != "" {
				assertNoKeyMaterial(t, err, tt.text)
			}
		})
	}
}

func TestEncodePrivateKeyRoundTrip(t *testing.T) {
	t.Parallel()

	key := testKey()

	tests := []struct {
		name string
		text string
	}{
		{name: "from PKCS#1", text: pkcs1PEM(key)},
		{name: "from PKCS#8", text: pkcs8PEM(t, key)},
		{name: "from one line", text: flattenPEM(pkcs1PEM(key), " ")},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			parsed, err := cas.ParsePrivateKey(testKeyField, tt.text)
			if err != nil {
				t.Fatalf("ParsePrivateKey(input) error = %v", err)
			}

			encoded := cas.EncodePrivateKey(parsed)

			if !strings.HasPrefix(encoded, "-----BEGIN RSA PRIVATE KEY-----\n") {
				t.Errorf("EncodePrivateKey() does not start with the PKCS#1 BEGIN line: %.40q", encoded)
			}

			if encoded != pkcs1PEM(key) {
				t.Errorf("EncodePrivateKey() differs from the PKCS#1 PEM of the same key")
			}

			reparsed, err := cas.ParsePrivateKey(testKeyField, encoded)
			if err != nil {
				t.Fatalf("ParsePrivateKey(EncodePrivateKey()) error = %v", err)
			}

			if reparsed.N.Cmp(key.N) != 0 {
				t.Errorf("round-tripped key has a different modulus N")
			}

			if reparsed.D.Cmp(key.D) != 0 {
				t.Errorf("round-tripped key has a different private exponent D")
			}
		})
	}
}

var fingerprintPattern = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){31}$`)

func TestPublicKeyFingerprint(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		key  *rsa.PrivateKey
	}{
		{name: "2048-bit", key: testKey()},
		{name: "1024-bit", key: smallKey()},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			der, err := x509.MarshalPKIXPublicKey(&tt.key.PublicKey)
			if err != nil {
				t.Fatalf("MarshalPKIXPublicKey() failed: %v", err)
			}

			sum := sha256.Sum256(der)

			pairs := make([]string, len(sum))
			for i, b := range sum {
				pairs[i] = fmt.Sprintf("%02x", b)
			}

			want := strings.Join(pairs, ":")

			got, err := cas.PublicKeyFingerprint(&tt.key.PublicKey)
			if err != nil {
				t.Fatalf("PublicKeyFingerprint() error = %v", err)
			}

			if got != want {
				t.Errorf("PublicKeyFingerprint() = %q, want %q", got, want)
			}

			if !fingerprintPattern.MatchString(got) {
				t.Errorf("PublicKeyFingerprint() = %q, want 32 colon-separated lowercase hex pairs", got)
			}
		})
	}
}

func TestPublicKeyFingerprintDiffersByKey(t *testing.T) {
	t.Parallel()

	first, err := cas.PublicKeyFingerprint(&testKey().PublicKey)
	if err != nil {
		t.Fatalf("PublicKeyFingerprint(2048-bit key) error = %v", err)
	}

	second, err := cas.PublicKeyFingerprint(&smallKey().PublicKey)
	if err != nil {
		t.Fatalf("PublicKeyFingerprint(1024-bit key) error = %v", err)
	}

	if first == second {
		t.Errorf("two different keys have the same fingerprint %q", first)
	}
}
