package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-uuid"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas/castest"
)

// oauthKeygen holds the keygen -oauth flags.
type oauthKeygen struct {
	out      string
	pemOut   string
	keyType  string
	clientID string
	// scopes is comma-separated, as on the command line.
	scopes string
}

// writeOAuthKeyFile generates an OAuth client key and writes its private JWK,
// and the PEM form when asked, then logs the serve flag that registers it.
func writeOAuthKeyFile(opts oauthKeygen, logger hclog.Logger) error {
	if opts.out == "" {
		return errors.New("keygen -oauth needs -out, the path of the JWK file to write")
	}

	clientID := opts.clientID
	if clientID == "" {
		generated, err := uuid.GenerateUUID()
		if err != nil {
			return fmt.Errorf("generate client ID: %w", err)
		}

		clientID = generated
	}

	scopes := splitScopes(opts.scopes)

	keyFile, err := castest.NewOAuthKeyFile(opts.keyType, clientID, scopes...)
	if err != nil {
		return fmt.Errorf("keygen -oauth: %w", err)
	}

	// The files hold a private key, so only their owner may read them.
	if err := os.WriteFile(opts.out, append(keyFile.JWK, '\n'), 0o600); err != nil {
		return fmt.Errorf("write JWK file: %w", err)
	}

	if opts.pemOut != "" {
		if err := os.WriteFile(opts.pemOut, keyFile.PEM, 0o600); err != nil {
			return fmt.Errorf("write PEM file: %w", err)
		}
	}

	logger.Info("wrote demo OAuth client key", "path", opts.out, "pem_path", opts.pemOut, "type", opts.keyType,
		"client_id", clientID, "key_id", keyFile.KeyID, "scopes", strings.Join(scopes, " "),
		"serve_flag", "-oauth-client "+opts.out+"="+clientID+"="+strings.Join(scopes, ","))

	return nil
}

// splitScopes splits a comma-separated scope list. Empty entries are kept, so
// that the scope check reports them instead of hiding a typo.
func splitScopes(list string) []string {
	if list == "" {
		return nil
	}

	return strings.Split(list, ",")
}

// registerOAuthClientFile reads a JWK file and registers its public key as an
// OAuth client, for a spec of the form FILE=CLIENT_ID=SCOPE,SCOPE...
func registerOAuthClientFile(server *castest.Server, spec string, logger hclog.Logger) error {
	path, rest, ok := strings.Cut(spec, "=")
	clientID, scopeList, ok2 := strings.Cut(rest, "=")

	if !ok || !ok2 || path == "" || clientID == "" || scopeList == "" {
		return fmt.Errorf("-oauth-client %q must be JWKFILE=CLIENT_ID=SCOPES, with SCOPES comma-separated", spec)
	}

	data, err := os.ReadFile(path) //nolint:gosec // the operator names the file on the command line
	if err != nil {
		return fmt.Errorf("read JWK file: %w", err)
	}

	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(data); err != nil {
		return fmt.Errorf("parse JWK file %s: %w", path, err)
	}

	if jwk.KeyID == "" {
		return fmt.Errorf("JWK file %s has no kid, which CAS needs to find the key: add one", path)
	}

	// Only the public key of a private JWK is kept.
	public := jwk.Public()
	if !public.Valid() {
		return fmt.Errorf("JWK file %s contains no RSA or EC key", path)
	}

	scopes := splitScopes(scopeList)

	err = server.RegisterOAuthClient(castest.OAuthClient{
		ClientID:  clientID,
		KeyID:     jwk.KeyID,
		PublicKey: public.Key,
		Scopes:    scopes,
	})
	if err != nil {
		return fmt.Errorf("register %s: %w", path, err)
	}

	logger.Info("accepting OAuth client", "file", path, "client_id", clientID, "key_id", jwk.KeyID, "scopes", strings.Join(scopes, " "))

	return nil
}
