// Command rsa-cas-fake runs the fake RSA CAS from cas/castest as a
// standalone server for scripts and demos, and writes demo key files in the
// format the RSA console downloads: legacy .key files and OAuth client JWKs.
//
//	rsa-cas-fake keygen -url http://127.0.0.1:18443/AdminInterface/restapi -out helpdesk.key
//	rsa-cas-fake keygen -oauth -type EC -client-id demo-client -scopes rsa.audit.admin,rsa.user.read -out client.jwk
//	rsa-cas-fake serve -listen 127.0.0.1:18443 -key helpdesk.key=help_desk -oauth-client client.jwk=demo-client=rsa.audit.admin,rsa.user.read
//
// It listens only on loopback addresses: it is a test double, not a service.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas/castest"
)

const usage = `usage:
  rsa-cas-fake keygen -url URL -out FILE [-customer NAME] [-description TEXT]
  rsa-cas-fake keygen -oauth -out FILE [-type RSA|EC] [-client-id ID] [-scopes SCOPE,...] [-pem-out FILE]
  rsa-cas-fake serve [-listen 127.0.0.1:18443] [-key FILE=ROLE ...] [-oauth-client FILE=CLIENT_ID=SCOPE,... ...]

ROLE is help_desk or super_admin. An OAuth client's FILE is its JWK, private
or public, with a kid. serve prints the issuer URL to configure.`

func main() {
	logger := hclog.New(&hclog.LoggerOptions{Name: "rsa-cas-fake", Level: hclog.Info})

	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}

	var err error

	switch os.Args[1] {
	case "keygen":
		err = runKeygen(os.Args[2:], logger)
	case "serve":
		err = runServe(os.Args[2:], logger)
	case "-h", "-help", "--help", "help":
		fmt.Println(usage)

		return
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n%s\n", os.Args[1], usage)
		os.Exit(2)
	}

	// The flag package has already printed the flags for -h.
	if errors.Is(err, flag.ErrHelp) {
		return
	}

	if err != nil {
		logger.Error("failed", "command", os.Args[1], "error", err)
		os.Exit(1)
	}
}

func runKeygen(args []string, logger hclog.Logger) error {
	flags := flag.NewFlagSet("keygen", flag.ContinueOnError)
	audience := flags.String("url", "", "adminRestApiUrl to write into the file (required without -oauth)")
	out := flags.String("out", "", "path of the .key file, or with -oauth the JWK file, to write (required)")
	customer := flags.String("customer", "Demo Tenant", "customerName to write into the file")
	description := flags.String("description", "demo key made by rsa-cas-fake", "description to write into the file")
	oauth := flags.Bool("oauth", false, "write an OAuth client's private JWK instead of a legacy .key file")
	keyType := flags.String("type", castest.KeyTypeRSA, "with -oauth: key type, RSA (2048-bit) or EC (P-256)")
	clientID := flags.String("client-id", "", "with -oauth: the client ID (default: a random UUID)")
	scopes := flags.String("scopes", castest.ScopeAuditAdmin+","+castest.ScopeUserRead, "with -oauth: comma-separated scopes to grant")
	pemOut := flags.String("pem-out", "", "with -oauth: also write the key as PKCS#8 PEM to this path")

	if err := flags.Parse(args); err != nil {
		return fmt.Errorf("parse keygen flags: %w", err)
	}

	if *oauth {
		if *audience != "" {
			return errors.New("keygen -oauth takes no -url: the fake's issuer URL is printed by serve")
		}

		return writeOAuthKeyFile(oauthKeygen{
			out: *out, pemOut: *pemOut, keyType: *keyType, clientID: *clientID, scopes: *scopes,
		}, logger)
	}

	if *audience == "" || *out == "" {
		return errors.New("keygen needs -url and -out")
	}

	keyFile, err := castest.NewKeyFile(*audience, *customer, *description)
	if err != nil {
		return err
	}

	// The file holds a private key, so only its owner may read it.
	if err := os.WriteFile(*out, append(keyFile.JSON, '\n'), 0o600); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}

	logger.Info("wrote demo key file", "path", *out, "access_id", keyFile.AccessID, "admin_rest_api_url", *audience)

	return nil
}

// keyFlags collects repeated -key FILE=ROLE flags.
type keyFlags []string

func (k *keyFlags) String() string { return strings.Join(*k, ",") }

func (k *keyFlags) Set(value string) error {
	*k = append(*k, value)

	return nil
}

func runServe(args []string, logger hclog.Logger) error {
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := flags.String("listen", "127.0.0.1:18443", "loopback address to listen on")

	var keys, oauthClients keyFlags

	flags.Var(&keys, "key", "key file to accept, as FILE=ROLE with ROLE help_desk or super_admin; repeatable")
	flags.Var(&oauthClients, "oauth-client", "OAuth client to accept, as JWKFILE=CLIENT_ID=SCOPE,SCOPE...; repeatable")

	if err := flags.Parse(args); err != nil {
		return fmt.Errorf("parse serve flags: %w", err)
	}

	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("-listen %q is not host:port: %w", *listen, err)
	}

	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-listen %q is not a loopback IP address; the fake listens on 127.0.0.1 or [::1] only", *listen)
	}

	server := castest.New(castest.WithLogger(logger))

	for _, spec := range keys {
		if err := registerKeyFile(server, spec, logger); err != nil {
			return err
		}
	}

	for _, spec := range oauthClients {
		if err := registerOAuthClientFile(server, spec, logger); err != nil {
			return err
		}
	}

	httpServer := &http.Server{
		Addr:              *listen,
		Handler:           server.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	listener, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}

	// Client assertions must name the token URL as their audience, so the
	// server has to know the address it is reached at. Serve has not started,
	// so nothing reads URL yet.
	server.URL = "http://" + listener.Addr().String()

	logger.Info("fake CAS listening", "address", listener.Addr().String(), "admin_url", server.AdminURL(),
		"issuer_url", server.IssuerURL(), "keys", len(keys), "oauth_clients", len(oauthClients))

	served := make(chan error, 1)

	go func() { served <- httpServer.Serve(listener) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	logger.Info("stopping fake CAS", "counts", fmt.Sprintf("%+v", server.Counts()))

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}

	return nil
}

// registerKeyFile reads a key file and registers its public key, with the
// file's adminRestApiUrl as the audience, under the given role.
func registerKeyFile(server *castest.Server, spec string, logger hclog.Logger) error {
	path, role, ok := strings.Cut(spec, "=")
	if !ok || path == "" || (role != castest.RoleHelpDesk && role != castest.RoleSuperAdmin) {
		return fmt.Errorf("-key %q must be FILE=ROLE with ROLE %s or %s", spec, castest.RoleHelpDesk, castest.RoleSuperAdmin)
	}

	data, err := os.ReadFile(path) //nolint:gosec // the operator names the file on the command line
	if err != nil {
		return fmt.Errorf("read key file: %w", err)
	}

	keyFile, err := cas.ParseKeyFile(path, data)
	if err != nil {
		return fmt.Errorf("parse key file: %w", err)
	}

	key, err := cas.ParsePrivateKey(path+" accessKey", keyFile.AccessKey)
	if err != nil {
		return fmt.Errorf("parse key file: %w", err)
	}

	err = server.RegisterKey(castest.Key{
		AccessID:  keyFile.AccessID,
		PublicKey: &key.PublicKey,
		Audience:  keyFile.AdminRestAPIURL,
		AdminRole: role,
	})
	if err != nil {
		return fmt.Errorf("register %s: %w", path, err)
	}

	logger.Info("accepting key", "file", path, "access_id", keyFile.AccessID, "admin_role", role, "audience", keyFile.AdminRestAPIURL)

	return nil
}
