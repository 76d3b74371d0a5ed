package backend

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

// verifyTokenTTL is the life of the token a live check mints. It is short
// because the token is used once, and a Vault clock more than this plus
// CAS's 60 seconds behind shows up as an expired token.
const verifyTokenTTL = 5 * time.Minute

// withVerifyFields adds the config fields of the live check and the HTTP
// client to fields.
func withVerifyFields(fields map[string]*framework.FieldSchema) map[string]*framework.FieldSchema {
	fields["verify"] = &framework.FieldSchema{
		Type:        framework.TypeBool,
		Default:     false,
		Description: "Before storing, check the credential with CAS. Legacy key: mint a token and call GET .../v1/adminlog/exportlogs, then GET .../v2/users/highrisk, which a super_admin key must reach and a help_desk key must not. OAuth client: request an access token for all of scopes and, when admin_url is set, call the Admin API with it. If the check fails or CAS cannot be reached, the write fails with the reason and storage is left as it was.",
	}
	fields["ca_certificate"] = &framework.FieldSchema{
		Type:        framework.TypeString,
		Description: "PEM bundle of CA certificates to trust, besides the system roots, for HTTPS to adminRestApiUrl (legacy keys) or to issuer_url and admin_url (OAuth clients); for a TLS-inspecting proxy or a private CA. An empty value removes it. Returned by reads.",
	}

	return fields
}

// newHTTPClient returns a client for a config's requests to CAS, trusting
// caPEM besides the system roots.
func (b *backend) newHTTPClient(caPEM string) (*http.Client, error) {
	opts := b.httpOptions
	opts.CACertPEM = []byte(caPEM)
	opts.Logger = b.Logger().Named("http")

	if opts.UserAgent == "" {
		opts.UserAgent = cas.DefaultUserAgent
		if version := b.RunningVersion; version != "" {
			opts.UserAgent += "/" + version
		}
	}

	return cas.NewHTTPClient(opts)
}

// checkKey mints a short-lived token with signer and has CAS check it. The
// high-risk user list, which only Super Administrator keys may read,
// distinguishes the two admin roles: a super_admin key must reach it, and a
// help_desk key that reaches it is a Super Administrator key whose tokens
// carry more power than the roles on the config state.
func (b *backend) checkKey(ctx context.Context, client *http.Client, signer *cas.Signer, cfg *keyConfig) (cas.CheckResult, error) {
	token, err := signer.Mint(b.now(), verifyTokenTTL)
	if err != nil {
		return cas.CheckResult{}, fmt.Errorf("mint token for the check: %w", err)
	}

	result, err := cas.CheckToken(ctx, client, cfg.AdminRestAPIURL, token.Raw, cfg.AdminRole == adminRoleSuperAdmin)
	if err != nil {
		return cas.CheckResult{}, fmt.Errorf("check token against CAS: %w", err)
	}

	if cfg.AdminRole != adminRoleHelpDesk || !result.OK {
		return result, nil
	}

	highRisk, err := cas.CheckHighRisk(ctx, client, cfg.AdminRestAPIURL, token.Raw)
	if err != nil {
		return cas.CheckResult{}, fmt.Errorf("check high-risk list against CAS: %w", err)
	}

	result.Latency += highRisk.Latency

	// Only a passed call proves the role wrong. A 403 is what a Help Desk
	// key gets, and a network failure or 5xx proves nothing either way.
	if highRisk.OK {
		result.OK, result.Kind, result.Status = false, cas.KindWrongAdminRole, highRisk.Status
		result.Message, result.URL = "", highRisk.URL
	} else if highRisk.Kind != cas.KindMissingPermission {
		b.Logger().Debug("high-risk list check of a help_desk key was inconclusive", "access_id", cfg.AccessID,
			"kind", highRisk.Kind, "status", highRisk.Status, "message", highRisk.Message)
	}

	return result, nil
}

// verifyConfigWrite runs the live check that a config write requests with
// verify=true, on the config about to be stored. It returns nil results
// when the write did not request it, and an error response when the check failed.
//
// NOTE: it runs under the write lock, so a slow CAS delays other config
// and role writes by up to the client's timeout and retries.
func (b *backend) verifyConfigWrite(ctx context.Context, req *logical.Request, d *framework.FieldData, name string, cfg *keyConfig) (*cas.CheckResult, *logical.Response, error) {
	if !d.Get("verify").(bool) {
		return nil, nil, nil
	}

	key, err := cas.ParsePrivateKey("private key", cfg.PrivateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("parse key of config %q for the check: %w", name, err)
	}

	client, err := b.newHTTPClient(cfg.CACertificate)
	if err != nil {
		// ca_certificate was checked when it was written, so this is not
		// the caller's mistake.
		return nil, nil, fmt.Errorf("HTTP client for config %q: %w", name, err)
	}
	defer client.CloseIdleConnections()

	result, err := b.checkKey(ctx, client, cas.NewSigner(cfg.AccessID, cfg.AdminRestAPIURL, key), cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("verify config %q: %w", name, err)
	}

	b.logCheck("config", name, cfg, result)

	if !result.OK {
		resp, err := b.badRequest(req, "verify failed, so config %q was not written: %s", name, describeFailure(result, cfg))

		return nil, resp, err
	}

	return &result, nil, nil
}

// addCheckResult reports a passed check in a config write response.
func addCheckResult(resp *logical.Response, result *cas.CheckResult) {
	if result == nil {
		return
	}

	resp.Data["verified"] = true
	resp.Data["verify_latency_ms"] = result.Latency.Milliseconds()
}

func (b *backend) logCheck(kind, name string, cfg *keyConfig, result cas.CheckResult) {
	attrs := []any{kind, name, "access_id", cfg.AccessID, "admin_role", cfg.AdminRole, "latency_ms", result.Latency.Milliseconds()}

	if result.OK {
		b.Logger().Info("CAS accepted the key", attrs...)

		return
	}

	b.Logger().Warn("CAS check failed", append(attrs, "kind", result.Kind, "status", result.Status, "url", result.URL, "message", result.Message)...)
}

// describeFailure explains a failed check: what happened, CAS's message,
// and what to change.
func describeFailure(result cas.CheckResult, cfg *keyConfig) string {
	return fmt.Sprintf("%s (%s). %s", describeOutcome(result, "GET "+result.URL), result.Kind, checkAdvice(result, cfg))
}

// describeOutcome describes CAS's response to request, or how request
// failed when no response came.
func describeOutcome(result cas.CheckResult, request string) string {
	switch {
	case result.Status != 0 && result.Message != "":
		return fmt.Sprintf("CAS answered HTTP %d %q to %s", result.Status, result.Message, request)
	case result.Status != 0:
		return fmt.Sprintf("CAS answered HTTP %d to %s", result.Status, request)
	default:
		return fmt.Sprintf("%s failed: %s", request, result.Message)
	}
}

// checkAdvice returns what to change after a failed check.
func checkAdvice(result cas.CheckResult, cfg *keyConfig) string {
	host := hostOf(result.URL)

	switch result.Kind {
	case cas.KindWrongAudience:
		return fmt.Sprintf("The adminRestApiUrl %q does not match the tenant the key belongs to, or differs from the key file's adminRestApiUrl in a detail such as a trailing / or /v1; pass the key file unchanged as the RSA console downloaded it, or set admin_rest_api_url to the file's adminRestApiUrl byte for byte", cfg.AdminRestAPIURL)
	case cas.KindUnknownAccessID:
		return fmt.Sprintf("CAS does not know access ID %q: the key was deleted in the RSA console or belongs to another tenant; download a current key file", cfg.AccessID)
	case cas.KindBadSignature:
		return fmt.Sprintf("The private key does not belong to access ID %q; pass the accessKey from the same key file as the accessID", cfg.AccessID)
	case cas.KindExpiredToken:
		return fmt.Sprintf("The token was minted just now with a %s life, so the Vault server's clock is probably behind CAS's by more than that; check its time synchronisation", formatDuration(verifyTokenTTL))
	case cas.KindMissingPermission:
		if cfg.AdminRole == adminRoleSuperAdmin && result.HighRisk != nil {
			return "The key was refused the high-risk user list, which only Super Administrator keys may read, so it is probably a Help Desk Administrator key; write it with admin_role=help_desk, or use a Super Administrator key"
		}

		return "The key lacks the permission for this call; check its administrator role in the RSA console"
	case cas.KindWrongAdminRole:
		return "CAS let the key read the high-risk user list, which only Super Administrator keys may read, so it is a Super Administrator key; write it with admin_role=super_admin (roles on the config must then be super_admin too), or use a Help Desk Administrator key"
	case cas.KindRejectedToken:
		return "CAS did not accept the token; check that the credentials are current in the RSA console"
	case cas.KindRateLimited:
		return "CAS is rate limiting this tenant; try again later"
	case cas.KindServerError:
		return "CAS had a server error; try again later"
	case cas.KindDNS:
		return fmt.Sprintf("The host %s cannot be resolved; check the host in adminRestApiUrl and the Vault server's DNS", host)
	case cas.KindTLS:
		return fmt.Sprintf("The TLS connection to %s failed; if a proxy or private CA signs its certificate, set ca_certificate to that CA's PEM certificate, and check the host in adminRestApiUrl", host)
	case cas.KindTimeout:
		return fmt.Sprintf("%s did not answer in time; check the network path, proxies and firewalls from the Vault server to it", host)
	case cas.KindConnection:
		return fmt.Sprintf("No connection to %s; check the host and port in adminRestApiUrl and the network path from the Vault server to it", host)
	default:
		return "Check that adminRestApiUrl points at the CAS Admin API, such as https://<tenant>.access.securid.com/AdminInterface/restapi"
	}
}

func hostOf(rawURL string) string {
	parsed, err := url.Parse(rawURL)
	if err != nil || parsed.Host == "" {
		return "the CAS host"
	}

	return parsed.Host
}

// caCertificateError checks a ca_certificate value, or returns "" when it is
// empty, which removes it.
func caCertificateError(value string) string {
	if strings.TrimSpace(value) == "" {
		return ""
	}

	if _, err := cas.ParseCABundle("ca_certificate", []byte(value)); err != nil {
		return err.Error()
	}

	return ""
}
