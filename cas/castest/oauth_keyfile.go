package castest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"

	"github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/go-uuid"
)

// Key types of NewOAuthKeyFile, the JWK kty values.
const (
	KeyTypeRSA = "RSA"
	KeyTypeEC  = "EC"
)

// OAuthKeyFile is the key material the RSA console hands a Super
// Administrator for an OAuth client: a private JWK with kid, RSA or EC P-256, together with the
// client ID and scopes the console shows beside it.
type OAuthKeyFile struct {
	ClientID string
	KeyID    string
	// Signer is an *rsa.PrivateKey or an *ecdsa.PrivateKey.
	Signer crypto.Signer
	// JWK is the private JWK JSON with kid, as the console gives it.
	JWK []byte
	// PEM is the same private key as PKCS#8 PEM.
	PEM    []byte
	Scopes []string
}

// NewOAuthKeyFile generates a key for an OAuth client with a random key ID.
// keyType is KeyTypeRSA (2048-bit) or KeyTypeEC (P-256). scopes are the
// permissions to grant, at least one.
func NewOAuthKeyFile(keyType, clientID string, scopes ...string) (*OAuthKeyFile, error) {
	// Checking first saves generating a key for a request that fails anyway.
	if err := checkOAuthKeyFileFields(clientID, scopes); err != nil {
		return nil, err
	}

	var signer crypto.Signer
	var err error
	switch keyType {
	case KeyTypeRSA:
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case KeyTypeEC:
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("OAuth key type %s is neither %s nor %s", quoteText(keyType), KeyTypeRSA, KeyTypeEC)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", keyType, err)
	}

	return OAuthKeyFileFor(signer, clientID, scopes...)
}

// OAuthKeyFileFor returns an OAuth key file for an existing key, an
// *rsa.PrivateKey or an *ecdsa.PrivateKey on P-256, with a random key ID.
func OAuthKeyFileFor(signer crypto.Signer, clientID string, scopes ...string) (*OAuthKeyFile, error) {
	if err := checkOAuthKeyFileFields(clientID, scopes); err != nil {
		return nil, err
	}
	switch key := signer.(type) {
	case *rsa.PrivateKey:
		if key.N.BitLen() < 2048 {
			return nil, fmt.Errorf("OAuth client key is a %d-bit RSA key, the minimum is 2048", key.N.BitLen())
		}
	case *ecdsa.PrivateKey:
		if key.Curve != elliptic.P256() {
			return nil, errors.New("OAuth client key is an EC key that is not on P-256")
		}
	default:
		return nil, fmt.Errorf("OAuth client key is %T, expected *rsa.PrivateKey or *ecdsa.PrivateKey", signer)
	}

	keyID, err := uuid.GenerateUUID()
	if err != nil {
		return nil, fmt.Errorf("generate key ID: %w", err)
	}

	jwk, err := jose.JSONWebKey{Key: signer, KeyID: keyID}.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode JWK: %w", err)
	}

	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return nil, fmt.Errorf("encode PKCS#8 key: %w", err)
	}

	return &OAuthKeyFile{
		ClientID: clientID,
		KeyID:    keyID,
		Signer:   signer,
		JWK:      jwk,
		PEM:      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		Scopes:   slices.Clone(scopes),
	}, nil
}

// Client returns the registration of this key file for a Server.
func (f *OAuthKeyFile) Client() OAuthClient {
	return OAuthClient{
		ClientID:  f.ClientID,
		KeyID:     f.KeyID,
		PublicKey: f.Signer.Public(),
		Scopes:    slices.Clone(f.Scopes),
	}
}

func checkOAuthKeyFileFields(clientID string, scopes []string) error {
	if clientID == "" {
		return errors.New("OAuth client ID is empty")
	}
	if err := checkScopeList(scopes); err != nil {
		return fmt.Errorf("OAuth client %s: %w", quoteText(clientID), err)
	}
	return nil
}
