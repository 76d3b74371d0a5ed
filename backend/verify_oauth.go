package backend

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

// oauthCheck is the outcome of a live check of an OAuth client.
type oauthCheck struct {
	result cas.CheckResult

	// adminAPIChecked is false when only the token request was made,
	// because admin_url is unset or no scope allows a cheap Admin API call.
	adminAPIChecked bool

	// hint is the advice for a failed token request, from CAS's error
	// code, or "".
	hint string
}

// checkOAuthClient requests an access token for scopes with key and, when
// cfg has an admin_url and the scopes allow it, calls the Admin API with
// it: GET .../v1/adminlog/exportlogs for rsa.audit.admin, and GET
// .../v2/users/highrisk for rsa.user.risky.read. The token is used once;
// it is neither cached nor returned.
func (b *backend) checkOAuthClient(ctx context.Context, client *http.Client, key *cas.OAuthKey, cfg *keyConfig, scopes []string) (oauthCheck, error) {
	start := time.Now()
	tokenURL := cas.TokenEndpoint(cfg.IssuerURL)

	token, err := cas.RequestAccessToken(ctx, client, cas.TokenRequest{
		IssuerURL: cfg.IssuerURL,
		ClientID:  cfg.ClientID,
		Key:       key,
		Scopes:    scopes,
	}, b.now())
	if err != nil {
		check := oauthCheck{result: cas.TokenRequestResult(ctx, tokenURL, err)}
		check.result.Latency = time.Since(start)

		var tokenErr *cas.TokenError
		if errors.As(err, &tokenErr) {
			check.hint = tokenErr.Hint()
		}

		return check, nil
	}

	audit := slices.Contains(scopes, cas.ScopeAuditAdmin)
	highRisk := slices.Contains(scopes, cas.ScopeUserRiskyRead)

	var result cas.CheckResult

	switch {
	case cfg.AdminURL == "" || (!audit && !highRisk):
		return oauthCheck{result: cas.CheckResult{OK: true, Status: http.StatusOK, URL: tokenURL, Latency: time.Since(start)}}, nil
	case audit:
		result, err = cas.CheckToken(ctx, client, cfg.AdminURL, token.Token, highRisk)
	default:
		result, err = cas.CheckHighRisk(ctx, client, cfg.AdminURL, token.Token)
	}

	if err != nil {
		return oauthCheck{}, fmt.Errorf("check access token against CAS: %w", err)
	}

	result.Latency = time.Since(start)

	return oauthCheck{result: result, adminAPIChecked: true}, nil
}

// verifyOAuthConfigWrite runs the live check that an OAuth config write
// requests with verify=true, for all of the config's scopes. It returns nil
// results when the write did not request it, and an error response when the check
// failed. A check that could not call the Admin API adds a warning to
// prepared. Like verifyConfigWrite it runs under the write lock.
func (b *backend) verifyOAuthConfigWrite(ctx context.Context, req *logical.Request, d *framework.FieldData, name string, prepared *preparedConfig) (*cas.CheckResult, *logical.Response, error) {
	if !d.Get("verify").(bool) {
		return nil, nil, nil
	}

	cfg := prepared.config

	key, err := cas.ParseOAuthKey("private key", cfg.PrivateKey, "key_id", cfg.KeyID)
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

	check, err := b.checkOAuthClient(ctx, client, key, cfg, cfg.Scopes)
	if err != nil {
		return nil, nil, fmt.Errorf("verify config %q: %w", name, err)
	}

	b.logOAuthCheck("config", name, cfg, check)

	if !check.result.OK {
		resp, err := b.badRequest(req, "verify failed, so config %q was not written: %s", name, describeOAuthFailure(check, cfg))

		return nil, resp, err
	}

	if !check.adminAPIChecked {
		prepared.warnings = append(prepared.warnings, adminAPIUncheckedWarning(cfg))
	}

	return &check.result, nil, nil
}

// verifyOAuthRole checks an OAuth role's credential with CAS, for the
// role's scopes, and reports the outcome as pathVerifyRole does.
func (b *backend) verifyOAuthRole(ctx context.Context, roleName string, role *roleEntry, key *cachedKey) (*logical.Response, error) {
	if msg := roleScopesError(roleName, role, key.config); msg != "" {
		return nil, errors.New(msg)
	}

	check, err := b.checkOAuthClient(ctx, key.client, key.oauthKey, key.config, role.Scopes)
	if err != nil {
		return nil, fmt.Errorf("verify role %q: %w", roleName, err)
	}

	b.logOAuthCheck("role", roleName, key.config, check)

	result := check.result
	data := map[string]any{
		"ok":                result.OK,
		"kind":              string(result.Kind),
		"status":            result.Status,
		"message":           result.Message,
		"latency_ms":        result.Latency.Milliseconds(),
		"url":               result.URL,
		"role":              roleName,
		"config":            role.Config,
		"client_id":         key.config.ClientID,
		"scopes":            append([]string{}, role.Scopes...),
		"admin_api_checked": check.adminAPIChecked,
	}

	if !result.OK {
		data["advice"] = oauthCheckAdvice(check, key.config)
	}

	if slices.Contains(role.Scopes, cas.ScopeUserRiskyRead) {
		data["high_risk_reachable"] = check.adminAPIChecked && result.OK
	}

	resp := &logical.Response{Data: data}

	if result.OK && !check.adminAPIChecked {
		resp.AddWarning(adminAPIUncheckedWarning(key.config))
	}

	return resp, nil
}

// adminAPIUncheckedWarning explains why a check stopped after the token
// request.
func adminAPIUncheckedWarning(cfg *keyConfig) string {
	if cfg.AdminURL == "" {
		return "CAS issued an access token, but the Admin API was not called because the config has no admin_url; set it to the tenant's Admin REST API URL to check the token too"
	}

	return fmt.Sprintf("CAS issued an access token, but the Admin API was not called, because none of the scopes allows a cheap check (%s or %s)",
		cas.ScopeAuditAdmin, cas.ScopeUserRiskyRead)
}

func (b *backend) logOAuthCheck(kind, name string, cfg *keyConfig, check oauthCheck) {
	result := check.result
	attrs := []any{kind, name, "client_id", cfg.ClientID, "key_id", cfg.KeyID, "admin_api_checked", check.adminAPIChecked,
		"latency_ms", result.Latency.Milliseconds()}

	if result.OK {
		b.Logger().Info("CAS accepted the OAuth client", attrs...)

		return
	}

	b.Logger().Warn("CAS check of the OAuth client failed", append(attrs, "kind", result.Kind, "status", result.Status, "url", result.URL, "message", result.Message)...)
}

// describeOAuthFailure explains a failed check of an OAuth client: what
// happened, CAS's message, and what to change.
func describeOAuthFailure(check oauthCheck, cfg *keyConfig) string {
	result := check.result

	return fmt.Sprintf("%s (%s). %s", describeOutcome(result, result.URL), result.Kind, oauthCheckAdvice(check, cfg))
}

// oauthCheckAdvice returns what to change after a failed check of an OAuth
// client. The failed URL shows whether the token request or the Admin API
// call failed.
func oauthCheckAdvice(check oauthCheck, cfg *keyConfig) string {
	result := check.result
	host := hostOf(result.URL)
	field := "admin_url"

	if strings.HasPrefix(result.URL, cas.TokenEndpoint(cfg.IssuerURL)) {
		field = "issuer_url"
	}

	switch result.Kind {
	case cas.KindTokenRejected:
		if check.hint != "" {
			return "CAS refused the token request; " + check.hint
		}

		return "CAS refused the token request; check client_id, private_key and key_id against the OAuth client in the RSA console"
	case cas.KindMissingPermission:
		return fmt.Sprintf("The access token lacks the scope for this call; grant %s (or %s for the high-risk user list) to the client in the RSA console and list it in scopes",
			cas.ScopeAuditAdmin, cas.ScopeUserRiskyRead)
	case cas.KindRejectedToken, cas.KindExpiredToken, cas.KindWrongAudience, cas.KindUnknownAccessID, cas.KindBadSignature:
		return "The Admin API did not accept the access token CAS had just issued; check that admin_url belongs to the same tenant as issuer_url"
	case cas.KindRateLimited:
		return "CAS is rate limiting this tenant; try again later"
	case cas.KindServerError:
		return "CAS had a server error; try again later"
	case cas.KindDNS:
		return fmt.Sprintf("The host %s cannot be resolved; check the host in %s and the Vault server's DNS", host, field)
	case cas.KindTLS:
		return fmt.Sprintf("The TLS connection to %s failed; if a proxy or private CA signs its certificate, set ca_certificate to that CA's PEM certificate, and check the host in %s", host, field)
	case cas.KindTimeout:
		return fmt.Sprintf("%s did not answer in time; check the network path, proxies and firewalls from the Vault server to it", host)
	case cas.KindConnection:
		return fmt.Sprintf("No connection to %s; check the host and port in %s and the network path from the Vault server to it", host, field)
	default:
		if field == "issuer_url" {
			return "Check that issuer_url is the OAuth issuer of the tenant, such as https://<tenant>.auth.securid.com/oauth"
		}

		return "Check that admin_url points at the CAS Admin API, such as https://<tenant>.access.securid.com/AdminInterface/restapi"
	}
}
