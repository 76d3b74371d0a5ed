package cas

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"regexp"
	"strings"
)

// MinKeyBits is the smallest RSA modulus accepted. Keys from the RSA console
// are 2048-bit; smaller keys are too weak to hold admin power.
const MinKeyBits = 2048

// pemBlockPattern finds one PEM block in text whose line breaks may have been
// lost or replaced, so the body is matched loosely and cleaned afterwards.
var pemBlockPattern = regexp.MustCompile(`-----BEGIN ([A-Z0-9 ]+)-----(?s)(.*?)-----END ([A-Z0-9 ]+)-----`)

// ParsePrivateKey parses an RSA private key from PEM text. It accepts
// PKCS#1 ("RSA PRIVATE KEY") and PKCS#8 ("PRIVATE KEY") blocks with real
// line breaks, CRLF, literal backslash-n text, or flattened onto one line,
// because key files reach users in all these forms. It rejects encrypted,
// non-RSA and short keys. Errors name the field and never contain key
// material.
func ParsePrivateKey(field, text string) (*rsa.PrivateKey, error) {
	blockType, der, err := decodePEM(field, text, "-----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----")
	if err != nil {
		return nil, err
	}

	key, err := parseDER(field, blockType, der)
	if err != nil {
		return nil, err
	}

	if bits := key.N.BitLen(); bits < MinKeyBits {
		return nil, fieldErrorf(field, "is a %d-bit RSA key; keys must have at least %d bits, so create a new key in the RSA console", bits, MinKeyBits)
	}

	if err := key.Validate(); err != nil {
		return nil, fieldErrorf(field, "is not a consistent RSA private key; pass the key exactly as downloaded")
	}

	key.Precompute()

	return key, nil
}

// decodePEM finds the one PEM block in text, repairing the line breaks that
// copying often mangles, and returns its type and DER bytes. It rejects
// encrypted keys. expected names the PEM labels the caller accepts, for the
// message when text holds no PEM block at all.
func decodePEM(field, text, expected string) (string, []byte, error) {
	normalized := strings.NewReplacer(`\r\n`, "\n", `\n`, "\n", `\r`, "\n", "\r\n", "\n", "\r", "\n").Replace(text)

	match := pemBlockPattern.FindStringSubmatch(normalized)
	if match == nil && strings.Contains(normalized, "-----BEGIN ") {
		return "", nil, fieldErrorf(field, "has a -----BEGIN line but no matching -----END line, so the key is incomplete; pass the whole key as downloaded")
	}

	if match == nil {
		return "", nil, fieldErrorf(field, "is not a PEM private key; expected text starting with %s", expected)
	}

	blockType, body, endType := match[1], match[2], match[3]

	if blockType != endType {
		return "", nil, fieldErrorf(field, "has a PEM block that begins as %q but ends as %q; pass the key exactly as downloaded", blockType, endType)
	}

	if strings.Contains(body, ":") || blockType == "ENCRYPTED PRIVATE KEY" {
		return "", nil, fieldErrorf(field, "is an encrypted private key; decrypt it first (for example with openssl pkey) and pass the unencrypted PEM")
	}

	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil {
		return "", nil, fieldErrorf(field, "has a PEM body that is not valid base64; pass the key exactly as downloaded")
	}

	return blockType, der, nil
}

// parseDER decodes DER by the PEM block type, falling back to the other
// encoding because keys are sometimes relabeled by hand.
func parseDER(field, blockType string, der []byte) (*rsa.PrivateKey, error) {
	switch blockType {
	case "RSA PRIVATE KEY", "PRIVATE KEY":
	case "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "DSA PRIVATE KEY":
		return nil, fieldErrorf(field, "is a PEM %q block, not an RSA key; CAS Administration API keys are RSA", blockType)
	default:
		return nil, fieldErrorf(field, "has PEM type %q; expected RSA PRIVATE KEY (PKCS#1) or PRIVATE KEY (PKCS#8)", blockType)
	}

	if key, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return key, nil
	}

	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fieldErrorf(field, "could not be decoded as a PKCS#1 or PKCS#8 private key; pass the key exactly as downloaded")
	}

	switch key := parsed.(type) {
	case *rsa.PrivateKey:
		return key, nil
	case *ecdsa.PrivateKey:
		return nil, fieldErrorf(field, "is an ECDSA (%s) key, not an RSA key; CAS Administration API keys are RSA", key.Curve.Params().Name)
	case ed25519.PrivateKey:
		return nil, fieldErrorf(field, "is an Ed25519 key, not an RSA key; CAS Administration API keys are RSA")
	default:
		return nil, fieldErrorf(field, "is a %T, not an RSA key; CAS Administration API keys are RSA", parsed)
	}
}

// EncodePrivateKey returns the key as PKCS#1 PEM, the form the RSA console
// writes, so stored keys have one canonical encoding.
func EncodePrivateKey(key *rsa.PrivateKey) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}

// PublicKeyFingerprint returns the SHA-256 digest of an RSA or ECDSA public key's
// SubjectPublicKeyInfo DER, as lowercase hex pairs separated by colons. It
// matches `openssl pkey -pubout -outform DER | openssl dgst -sha256 -c`.
func PublicKeyFingerprint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("marshal public key: %w", err)
	}

	sum := sha256.Sum256(der)
	hexSum := hex.EncodeToString(sum[:])

	pairs := make([]string, 0, len(sum))
	for i := 0; i < len(hexSum); i += 2 {
		pairs = append(pairs, hexSum[i:i+2])
	}

	return strings.Join(pairs, ":"), nil
}
