package cas

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
)

// Key types of OAuth client keys, as the JWK kty parameter names them.
const (
	KeyTypeRSA = "RSA"
	KeyTypeEC  = "EC"
)

// CurveP256 is the only elliptic curve CAS OAuth clients use: ES256 signs
// with P-256 and SHA-256.
const CurveP256 = "P-256"

// maxKeyIDLength bounds key IDs and client IDs. Real ones are UUIDs or
// short thumbprints; the bound only stops a pasted key from being taken for
// an ID.
const maxKeyIDLength = 256

// OAuthKey is the private key of an OAuth Administration API client, ready
// to sign client assertions.
type OAuthKey struct {
	// KeyID is the kid that the assertion header carries. CAS looks the
	// client's public key up by it.
	KeyID string

	// Type is KeyTypeRSA or KeyTypeEC.
	Type string

	// Bits is the RSA modulus size, or the curve size (256) for EC keys.
	Bits int

	// Curve is CurveP256 for EC keys and "" for RSA keys.
	Curve string

	// Signer is an *rsa.PrivateKey or an *ecdsa.PrivateKey on P-256.
	Signer crypto.Signer
}

// Algorithm returns the JWS algorithm the key signs assertions with: RS256
// for RSA keys and ES256 for EC keys.
func (k *OAuthKey) Algorithm() string {
	if k.Type == KeyTypeEC {
		return "ES256"
	}

	return "RS256"
}

// Fingerprint returns the SHA-256 fingerprint of the public key, in the
// form PublicKeyFingerprint uses.
func (k *OAuthKey) Fingerprint() (string, error) {
	return PublicKeyFingerprint(k.Signer.Public())
}

// PEM returns the private key as PKCS#8 PEM, one canonical encoding for
// both key types, for storage.
func (k *OAuthKey) PEM() (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.Signer)
	if err != nil {
		return "", fmt.Errorf("marshal %s private key %s: %w", k.Type, k.KeyID, err)
	}

	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// ParseOAuthKey parses the private key of an OAuth client. text is either a
// private JWK (RSA, or EC on P-256), whose kid becomes the key ID, or a PEM
// private key (PKCS#1, PKCS#8 or SEC 1), for which keyID is required
// because PEM has no place for it. When both a kid and keyID are given they
// must be equal. keyField and keyIDField name the inputs in errors, which
// never contain key material.
func ParseOAuthKey(keyField, text, keyIDField, keyID string) (*OAuthKey, error) {
	if keyID != "" {
		if err := ValidateKeyID(keyIDField, keyID); err != nil {
			return nil, err
		}
	}

	trimmed := strings.TrimSpace(strings.TrimPrefix(text, "\uFEFF"))

	var (
		key *OAuthKey
		err error
	)

	switch {
	case trimmed == "":
		return nil, fieldErrorf(keyField, "is empty; pass the private key file of the OAuth client, for example private_key=@client.jwk")
	case strings.HasPrefix(trimmed, "{"):
		key, err = parseJWK(keyField, []byte(trimmed))
	case strings.Contains(trimmed, "-----BEGIN "):
		key, err = parseOAuthPEM(keyField, trimmed)
	default:
		return nil, fieldErrorf(keyField, "is neither a JWK (a JSON object) nor a PEM private key; pass the private key file of the OAuth client as downloaded")
	}

	if err != nil {
		return nil, err
	}

	switch {
	case key.KeyID == "" && keyID == "":
		return nil, fieldErrorf(keyIDField, "is missing; the key has no kid, so pass the key ID the RSA console shows for the OAuth client")
	case key.KeyID == "":
		key.KeyID = keyID
	case keyID != "" && keyID != key.KeyID:
		return nil, fieldErrorf(keyIDField, "value %q does not match the kid %q of the JWK; CAS finds the key by kid, so leave %s out or correct it", keyID, key.KeyID, keyIDField)
	}

	return key, nil
}

// ValidateKeyID checks a key ID (kid). CAS compares it exactly, so stray
// whitespace or invisible characters from a copy and paste are rejected,
// never trimmed.
func ValidateKeyID(field, value string) error {
	return validateIdentifier(field, value, "the key ID the RSA console shows for the OAuth client", "key ID")
}

// ValidateClientID checks the client ID of an OAuth client by the rules of
// ValidateKeyID.
func ValidateClientID(field, value string) error {
	return validateIdentifier(field, value, "the client ID the RSA console shows for the OAuth client", "client ID")
}

// validateIdentifier checks an identifier that CAS compares exactly. source
// names where the value comes from, and name is used in messages.
func validateIdentifier(field, value, source, name string) error {
	if value == "" {
		return fieldErrorf(field, "is empty; pass %s", source)
	}

	if len(value) > maxKeyIDLength {
		return fieldErrorf(field, "is %d bytes long; a %s has at most %d bytes, so check that a key was not passed as the %s", len(value), name, maxKeyIDLength, name)
	}

	if strings.Contains(value, "PRIVATE KEY") || strings.Contains(value, `"d"`) {
		return fieldErrorf(field, "contains a private key; pass %s here, and the key in its own field", source)
	}

	if !utf8.ValidString(value) {
		return fieldErrorf(field, "is not valid UTF-8; retype the %s", name)
	}

	if i := strings.IndexFunc(value, isHiddenRune); i >= 0 {
		r, _ := utf8.DecodeRuneInString(value[i:])

		return fieldErrorf(field, "value %q contains %s at byte %d; CAS compares the %s exactly, so retype it", value, describeRune(r), i, name)
	}

	return nil
}

// parseOAuthPEM parses a PEM private key of an OAuth client. Its key ID
// comes from elsewhere.
func parseOAuthPEM(field, text string) (*OAuthKey, error) {
	blockType, der, err := decodePEM(field, text, "-----BEGIN PRIVATE KEY-----, -----BEGIN RSA PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY-----")
	if err != nil {
		return nil, err
	}

	var parsed any

	switch blockType {
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(der)
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(der)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(der)
	case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
		return nil, fieldErrorf(field, "is a PEM %q block, which contains no private key; pass the private key of the OAuth client", blockType)
	default:
		return nil, fieldErrorf(field, "has PEM type %q; expected PRIVATE KEY (PKCS#8), RSA PRIVATE KEY (PKCS#1) or EC PRIVATE KEY (SEC 1)", blockType)
	}

	if err != nil {
		return nil, fieldErrorf(field, "could not be decoded as a PEM %q private key; pass the key exactly as downloaded", blockType)
	}

	return newOAuthKey(field, parsed)
}

// newOAuthKey checks a parsed private key against what CAS accepts and
// wraps it. The key ID is left empty.
func newOAuthKey(field string, parsed any) (*OAuthKey, error) {
	switch key := parsed.(type) {
	case *rsa.PrivateKey:
		if bits := key.N.BitLen(); bits < MinKeyBits {
			return nil, fieldErrorf(field, "is a %d-bit RSA key; keys must have at least %d bits, so create a new key for the OAuth client in the RSA console", bits, MinKeyBits)
		}

		if err := key.Validate(); err != nil {
			return nil, fieldErrorf(field, "is not a consistent RSA private key; pass the key exactly as downloaded")
		}

		key.Precompute()

		return &OAuthKey{Type: KeyTypeRSA, Bits: key.N.BitLen(), Signer: key}, nil
	case *ecdsa.PrivateKey:
		if key.Curve != elliptic.P256() {
			return nil, fieldErrorf(field, "is an EC key on curve %s; OAuth clients sign with ES256, which needs curve %s", key.Curve.Params().Name, CurveP256)
		}

		if err := checkECKeyPair(key); err != nil {
			return nil, fieldErrorf(field, "is not a consistent EC private key (its public point does not belong to its private scalar); pass the key exactly as downloaded")
		}

		return &OAuthKey{Type: KeyTypeEC, Bits: key.Curve.Params().BitSize, Curve: CurveP256, Signer: key}, nil
	case ed25519.PrivateKey:
		return nil, fieldErrorf(field, "is an Ed25519 key; OAuth clients use RSA keys (RS256) or EC keys on %s (ES256)", CurveP256)
	default:
		return nil, fieldErrorf(field, "is a %T; OAuth clients use RSA keys (RS256) or EC keys on %s (ES256)", parsed, CurveP256)
	}
}

// checkECKeyPair checks that the public point is the one the private scalar
// yields. A JWK carries both separately, and go-jose does not compare them.
func checkECKeyPair(key *ecdsa.PrivateKey) error {
	private, err := key.ECDH()
	if err != nil {
		return fmt.Errorf("convert private key: %w", err)
	}

	public, err := key.PublicKey.ECDH()
	if err != nil {
		return fmt.Errorf("convert public key: %w", err)
	}

	if !bytes.Equal(private.PublicKey().Bytes(), public.Bytes()) {
		return errors.New("public key does not match private key")
	}

	return nil
}

// jwkHeader holds the JWK parameters read before go-jose parses the key,
// so that common mistakes get a message that names them.
type jwkHeader struct {
	Kty  *string         `json:"kty"`
	Crv  string          `json:"crv"`
	Kid  *string         `json:"kid"`
	Alg  string          `json:"alg"`
	Use  string          `json:"use"`
	D    json.RawMessage `json:"d"`
	Keys json.RawMessage `json:"keys"`
}

// parseJWK parses a private JWK, or a JWK set that holds exactly one.
func parseJWK(field string, data []byte) (*OAuthKey, error) {
	var header jwkHeader
	if err := json.Unmarshal(data, &header); err != nil {
		return nil, jsonFieldError(field, err)
	}

	if header.Keys != nil {
		var set []json.RawMessage
		if err := json.Unmarshal(header.Keys, &set); err != nil {
			return nil, fieldErrorf(field, "has a \"keys\" parameter that is not a JSON array; pass a JWK or a JWK set with one key")
		}

		if len(set) != 1 {
			return nil, fieldErrorf(field, "is a JWK set with %d keys; pass a set with exactly one key, or the key itself", len(set))
		}

		data = set[0]
		header = jwkHeader{}

		if err := json.Unmarshal(data, &header); err != nil {
			return nil, jsonFieldError(field+" key 1", err)
		}
	}

	if err := checkJWKHeader(field, header); err != nil {
		return nil, err
	}

	var jwk jose.JSONWebKey

	// go-jose's errors name parameters, not values, but they are still
	// replaced so the message stays under this package's control.
	if err := jwk.UnmarshalJSON(data); err != nil {
		return nil, fieldErrorf(field, "is not a valid %s private JWK: a parameter is missing or malformed (%s); pass the key file exactly as downloaded",
			*header.Kty, jwkParameters(*header.Kty))
	}

	key, err := newOAuthKey(field, jwk.Key)
	if err != nil {
		return nil, err
	}

	key.KeyID = jwk.KeyID

	return key, nil
}

// checkJWKHeader rejects JWKs that cannot sign a CAS client assertion:
// public keys, other key types and curves, and keys meant for another
// algorithm or for encryption.
func checkJWKHeader(field string, header jwkHeader) error {
	if header.Kty == nil {
		return fieldErrorf(field, "is a JSON object without the JWK parameter \"kty\"; pass the OAuth client's JWK file, not a legacy .key file")
	}

	kty := *header.Kty

	switch kty {
	case KeyTypeRSA:
	case KeyTypeEC:
		if header.Crv != CurveP256 {
			return fieldErrorf(field, "is an EC JWK on curve %q; OAuth clients sign with ES256, which needs crv %q", header.Crv, CurveP256)
		}
	case "oct":
		return fieldErrorf(field, "is a symmetric (oct) JWK; OAuth clients use RSA keys or EC keys on %s", CurveP256)
	case "OKP":
		return fieldErrorf(field, "is an OKP (%s) JWK; OAuth clients use RSA keys or EC keys on %s", header.Crv, CurveP256)
	default:
		return fieldErrorf(field, "has JWK kty %q; OAuth clients use kty RSA or EC", kty)
	}

	if header.D == nil {
		return fieldErrorf(field, "is a public %s JWK (it has no \"d\" parameter); pass the private key the RSA console issued for the client", kty)
	}

	if want := (&OAuthKey{Type: kty}).Algorithm(); header.Alg != "" && header.Alg != want {
		return fieldErrorf(field, "declares alg %q, but a %s key signs CAS client assertions with %s; pass the key as issued for the OAuth client", header.Alg, kty, want)
	}

	if header.Use != "" && header.Use != "sig" {
		return fieldErrorf(field, "declares use %q; the key must be a signing key (use \"sig\")", header.Use)
	}

	if header.Kid != nil {
		if err := ValidateKeyID(field+" kid", *header.Kid); err != nil {
			return err
		}
	}

	return nil
}

// jwkParameters lists the parameters a private JWK of type kty needs.
func jwkParameters(kty string) string {
	if kty == KeyTypeEC {
		return "crv, x, y, d"
	}

	return "n, e, d, p, q"
}

// jsonFieldError reports invalid JSON by position only: the offending
// character could be part of a key.
func jsonFieldError(field string, err error) error {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fieldErrorf(field, "starts like a JWK but is not valid JSON (error at byte %d); pass the key file exactly as downloaded", syntax.Offset)
	}

	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fieldErrorf(field, "has JWK parameter %q of JSON type %s; JWK parameters are strings", typeErr.Field, typeErr.Value)
	}

	return fieldErrorf(field, "starts like a JWK but could not be decoded as JSON; pass the key file exactly as downloaded")
}

// isHiddenRune reports characters that do not show, or show as something
// else, when a value is printed: whitespace, control and format characters
// (such as U+200B and U+FEFF), private-use characters, surrogates, and
// U+FFFC, which copies from RSA's web pages have carried.
func isHiddenRune(r rune) bool {
	return unicode.IsSpace(r) ||
		unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs) ||
		r == '\uFFFC' || r == utf8.RuneError
}

// describeRune names a character for a message, such as "U+200B (format
// character)".
func describeRune(r rune) string {
	var kind string

	switch {
	case r == ' ':
		return "a space"
	case unicode.IsSpace(r):
		kind = "whitespace"
	case unicode.Is(unicode.Cc, r):
		kind = "control character"
	case unicode.Is(unicode.Cf, r):
		kind = "invisible format character"
	case unicode.Is(unicode.Co, r):
		kind = "private-use character"
	case r == '\uFFFC':
		kind = "object replacement character"
	case r == utf8.RuneError:
		kind = "replacement character or invalid UTF-8"
	default:
		kind = "character"
	}

	return fmt.Sprintf("%U (%s)", r, kind)
}
