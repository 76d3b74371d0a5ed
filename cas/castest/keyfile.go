package castest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/go-uuid"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

// KeyFile is a generated legacy Admin API key with its file in the format
// the RSA console downloads.
type KeyFile struct {
	AccessID   string
	PrivateKey *rsa.PrivateKey
	// JSON is the .key file: one JSON object with accessID, accessKey
	// (PKCS#1 PEM with \n escapes), adminRestApiUrl, customerName and
	// description.
	JSON []byte
}

// NewKeyFile generates an RSA-2048 key with a random access ID and returns
// it as a key file whose adminRestApiUrl is audience.
func NewKeyFile(audience, customerName, description string) (*KeyFile, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate RSA key: %w", err)
	}

	return KeyFileFor(key, audience, customerName, description)
}

// KeyFileFor returns a key file for an existing key with a random access ID.
func KeyFileFor(key *rsa.PrivateKey, audience, customerName, description string) (*KeyFile, error) {
	accessID, err := uuid.GenerateUUID()
	if err != nil {
		return nil, fmt.Errorf("generate access ID: %w", err)
	}

	keyFile := &KeyFile{AccessID: accessID, PrivateKey: key}

	// The console writes the fields in this order, so a struct keeps it.
	data, err := json.Marshal(struct { //nolint:gosec // writing the private key is the point of a key file
		AccessID        string `json:"accessID"`
		AccessKey       string `json:"accessKey"`
		AdminRestAPIURL string `json:"adminRestApiUrl"`
		CustomerName    string `json:"customerName"`
		Description     string `json:"description"`
	}{accessID, keyFile.PEM(), audience, customerName, description})
	if err != nil {
		return nil, fmt.Errorf("encode key file: %w", err)
	}

	keyFile.JSON = data

	return keyFile, nil
}

// Key returns the registration of this key file for a Server.
func (k *KeyFile) Key(audience, adminRole string) Key {
	return Key{AccessID: k.AccessID, PublicKey: &k.PrivateKey.PublicKey, Audience: audience, AdminRole: adminRole}
}

// PEM returns the private key as PKCS#1 PEM text, the accessKey value.
func (k *KeyFile) PEM() string {
	return cas.EncodePrivateKey(k.PrivateKey)
}
