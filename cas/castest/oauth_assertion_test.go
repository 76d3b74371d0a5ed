package castest_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas/castest"
)

// tokenRequest is one request to the token endpoint in a rule test.
type tokenRequest struct {
	method        string
	path          string
	contentType   string
	authorization string
	body          string
}

func TestTokenEndpointRules(t *testing.T) {
	t.Parallel()

	type testCase struct {
		name string
		// request builds the request; valid returns a valid one to edit.
		request    func(t *testing.T, f oauthFixture) tokenRequest
		wantStatus int
		// wantCode is the RFC 6749 error code, "" for success.
		wantCode string
		wantErr  error
		// wantInDescription must appear in error_description.
		wantInDescription string
	}

	now := testNow.Unix()
	lifetime := int64(castest.MaxAssertionLifetime / time.Second)
	skew := int64(castest.ClockSkew / time.Second)

	formRequest := func(form url.Values) tokenRequest {
		return tokenRequest{
			method: http.MethodPost, path: castest.TokenPath,
			contentType: "application/x-www-form-urlencoded", body: form.Encode(),
		}
	}
	// rsaAssertion edits the claims and header of a valid RSA client request.
	rsaAssertion := func(changes, headerChanges map[string]any) func(*testing.T, oauthFixture) tokenRequest {
		return func(t *testing.T, f oauthFixture) tokenRequest {
			assertion := mintAssertion(t, f.keys.rsa, f.assertionClaims(f.keys.rsa), changes, headerChanges)
			return formRequest(tokenForm(rsaClientID, assertion, castest.ScopeAuditAdmin))
		}
	}
	ecAssertion := func(changes, headerChanges map[string]any) func(*testing.T, oauthFixture) tokenRequest {
		return func(t *testing.T, f oauthFixture) tokenRequest {
			assertion := mintAssertion(t, f.keys.ec, f.assertionClaims(f.keys.ec), changes, headerChanges)
			return formRequest(tokenForm(ecClientID, assertion, castest.ScopeAuditAdmin))
		}
	}
	// withForm edits the form of a valid RSA client request; a nil value
	// deletes a parameter.
	withForm := func(changes map[string][]string) func(*testing.T, oauthFixture) tokenRequest {
		return func(t *testing.T, f oauthFixture) tokenRequest {
			assertion := mintAssertion(t, f.keys.rsa, f.assertionClaims(f.keys.rsa), nil, nil)
			form := tokenForm(rsaClientID, assertion, castest.ScopeAuditAdmin)
			for name, values := range changes {
				if values == nil {
					form.Del(name)
					continue
				}
				form[name] = values
			}
			return formRequest(form)
		}
	}
	withScope := func(scope string) func(*testing.T, oauthFixture) tokenRequest {
		return withForm(map[string][]string{"scope": {scope}})
	}
	// withRequest edits the HTTP request around a valid form.
	withRequest := func(change func(r *tokenRequest)) func(*testing.T, oauthFixture) tokenRequest {
		return func(t *testing.T, f oauthFixture) tokenRequest {
			r := withForm(nil)(t, f)
			change(&r)
			return r
		}
	}
	// rawRSA signs header and payload JSON as given with the RSA client key.
	rawRSA := func(header string, payload func(f oauthFixture) string) func(*testing.T, oauthFixture) tokenRequest {
		return func(t *testing.T, f oauthFixture) tokenRequest {
			if header == "" {
				header = `{"alg":"RS256","typ":"JWT","kid":"` + f.keys.rsa.KeyID + `"}`
			}
			assertion := signRaw(t, jwt.SigningMethodRS256, f.keys.rsa.Signer, header, payload(f))
			return formRequest(tokenForm(rsaClientID, assertion, castest.ScopeAuditAdmin))
		}
	}
	// rsaPayload returns valid claims JSON with the times written as given.
	rsaPayload := func(iat, exp string) func(f oauthFixture) string {
		return func(f oauthFixture) string {
			audience, _ := json.Marshal(f.server.TokenURL())
			return `{"iss":"` + rsaClientID + `","sub":"` + rsaClientID + `","aud":` + string(audience) +
				`,"iat":` + iat + `,"exp":` + exp + `,"jti":"raw-jti"}`
		}
	}
	// signedWith signs a valid RSA client assertion with another key and
	// method.
	signedWith := func(method jwt.SigningMethod, key func(oauthTestKeys) any, kid func(oauthTestKeys) string, clientID string) func(*testing.T, oauthFixture) tokenRequest {
		return func(t *testing.T, f oauthFixture) tokenRequest {
			file := f.keys.rsa
			if clientID == ecClientID {
				file = f.keys.ec
			}
			claims := f.assertionClaims(file)
			assertion := signToken(t, method, key(f.keys), claims, map[string]any{"kid": kid(f.keys)})
			return formRequest(tokenForm(clientID, assertion, castest.ScopeAuditAdmin))
		}
	}
	rsaKid := func(k oauthTestKeys) string { return k.rsa.KeyID }
	ecKid := func(k oauthTestKeys) string { return k.ec.KeyID }

	cases := []testCase{
		// Accepted requests, including the edges of each rule.
		{name: "RSA client", request: rsaAssertion(nil, nil), wantStatus: http.StatusOK},
		{name: "EC client", request: ecAssertion(nil, nil), wantStatus: http.StatusOK},
		{name: "no typ", request: rsaAssertion(nil, map[string]any{"typ": nil}), wantStatus: http.StatusOK},
		{
			name: "aud array with the token URL",
			request: func(t *testing.T, f oauthFixture) tokenRequest {
				return rsaAssertion(map[string]any{"aud": []string{"https://other.example/", f.server.TokenURL()}}, nil)(t, f)
			},
			wantStatus: http.StatusOK,
		},
		{name: "exp 60s ago", request: rsaAssertion(map[string]any{"iat": now - 60 - lifetime, "exp": now - 60}, nil), wantStatus: http.StatusOK},
		{name: "iat 60s ahead", request: rsaAssertion(map[string]any{"iat": now + 60, "exp": now + 60 + lifetime}, nil), wantStatus: http.StatusOK},
		{name: "nbf now", request: rsaAssertion(map[string]any{"nbf": now}, nil), wantStatus: http.StatusOK},
		{name: "zero lifetime", request: rsaAssertion(map[string]any{"exp": now}, nil), wantStatus: http.StatusOK},
		{name: "repeated scope", request: withScope("rsa.audit.admin rsa.audit.admin"), wantStatus: http.StatusOK},
		{name: "all granted scopes", request: withScope("rsa.user.read rsa.audit.admin"), wantStatus: http.StatusOK},
		{name: "unknown parameter ignored", request: withForm(map[string][]string{"resource": {"https://x.example/"}}), wantStatus: http.StatusOK},
		{
			name:       "form Content-Type with charset",
			request:    withRequest(func(r *tokenRequest) { r.contentType = "application/x-www-form-urlencoded; charset=UTF-8" }),
			wantStatus: http.StatusOK,
		},

		// The request around the assertion.
		{
			name:       "GET",
			request:    withRequest(func(r *tokenRequest) { r.method = http.MethodGet }),
			wantStatus: http.StatusMethodNotAllowed, wantCode: "invalid_request", wantErr: castest.ErrInvalidTokenRequest,
		},
		{
			name:       "JSON body",
			request:    withRequest(func(r *tokenRequest) { r.contentType = "application/json" }),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_request", wantErr: castest.ErrInvalidTokenRequest,
			wantInDescription: "Content-Type",
		},
		{
			name:       "parameters in the query",
			request:    withRequest(func(r *tokenRequest) { r.path += "?scope=rsa.audit.admin" }),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_request", wantErr: castest.ErrInvalidTokenRequest,
		},
		{
			name:       "body over 64 KiB",
			request:    withRequest(func(r *tokenRequest) { r.body += "&pad=" + strings.Repeat("a", 64<<10) }),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_request", wantErr: castest.ErrInvalidTokenRequest,
		},
		{
			name:       "body not form-encoded",
			request:    withRequest(func(r *tokenRequest) { r.body += "&bad=%zz" }),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_request", wantErr: castest.ErrInvalidTokenRequest,
		},
		{
			name:       "client_id twice",
			request:    withForm(map[string][]string{"client_id": {rsaClientID, rsaClientID}}),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_request", wantErr: castest.ErrInvalidTokenRequest,
			wantInDescription: "client_id is sent 2 times",
		},
		{
			name:       "Basic Authorization as well",
			request:    withRequest(func(r *tokenRequest) { r.authorization = "Basic cnNhOnNlY3JldA==" }),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_request", wantErr: castest.ErrInvalidTokenRequest,
		},
		{
			name:       "client_secret as well",
			request:    withForm(map[string][]string{"client_secret": {"secret"}}),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_request", wantErr: castest.ErrInvalidTokenRequest,
		},
		{
			name:       "no grant_type",
			request:    withForm(map[string][]string{"grant_type": nil}),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_request", wantErr: castest.ErrInvalidTokenRequest,
			wantInDescription: "grant_type",
		},
		{
			name:       "password grant",
			request:    withForm(map[string][]string{"grant_type": {"password"}}),
			wantStatus: http.StatusBadRequest, wantCode: "unsupported_grant_type", wantErr: castest.ErrGrantType,
		},
		{
			name:       "no client_id",
			request:    withForm(map[string][]string{"client_id": nil}),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_request", wantErr: castest.ErrInvalidTokenRequest,
			wantInDescription: "client_id",
		},
		{
			name:       "no client_assertion_type",
			request:    withForm(map[string][]string{"client_assertion_type": nil}),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_request", wantErr: castest.ErrInvalidTokenRequest,
			wantInDescription: "client_assertion_type",
		},
		{
			name:       "SAML client_assertion_type",
			request:    withForm(map[string][]string{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:saml2-bearer"}}),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrClientAssertionType,
		},
		{
			name:       "no client_assertion",
			request:    withForm(map[string][]string{"client_assertion": nil}),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_request", wantErr: castest.ErrInvalidTokenRequest,
			wantInDescription: "client_assertion",
		},
		{
			name: "unknown client_id",
			request: func(t *testing.T, f oauthFixture) tokenRequest {
				assertion := mintAssertion(t, f.keys.rsa, f.assertionClaims(f.keys.rsa),
					map[string]any{"iss": "0oa-unknown", "sub": "0oa-unknown"}, nil)
				return formRequest(tokenForm("0oa-unknown", assertion, castest.ScopeAuditAdmin))
			},
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrUnknownClient,
			wantInDescription: "'0oa-unknown'",
		},

		// Structure of the assertion.
		{
			name: "two segments",
			request: func(t *testing.T, f oauthFixture) tokenRequest {
				assertion := mintAssertion(t, f.keys.rsa, f.assertionClaims(f.keys.rsa), nil, nil)
				return formRequest(tokenForm(rsaClientID, assertion[:strings.LastIndex(assertion, ".")], castest.ScopeAuditAdmin))
			},
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionMalformed,
		},
		{
			name:       "header not JSON",
			request:    rawRSA(`alg=RS256`, rsaPayload("1750000000", "1750000300")),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionMalformed,
		},
		{
			name: "payload with trailing brace",
			request: rawRSA("", func(f oauthFixture) string {
				return rsaPayload("1750000000", "1750000300")(f) + "}"
			}),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionMalformed,
		},
		{
			name:       "crit header",
			request:    rsaAssertion(nil, map[string]any{"crit": []string{"exp"}}),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionMalformed,
		},
		{
			name:       "jti number",
			request:    rsaAssertion(map[string]any{"jti": 42}, nil),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionMalformed,
		},

		// Header rules.
		{
			name:       "HS256",
			request:    signedWith(jwt.SigningMethodHS256, func(oauthTestKeys) any { return []byte("a shared secret of 32 bytes!!!!!") }, rsaKid, rsaClientID),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionAlgorithm,
		},
		{
			name:       "alg none",
			request:    signedWith(jwt.SigningMethodNone, func(oauthTestKeys) any { return jwt.UnsafeAllowNoneSignatureType }, rsaKid, rsaClientID),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionAlgorithm,
		},
		{
			name:       "PS256 with the RSA key",
			request:    signedWith(jwt.SigningMethodPS256, func(k oauthTestKeys) any { return k.rsa.Signer }, rsaKid, rsaClientID),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionAlgorithm,
		},
		{
			name:       "RS384 with the RSA key",
			request:    signedWith(jwt.SigningMethodRS384, func(k oauthTestKeys) any { return k.rsa.Signer }, rsaKid, rsaClientID),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionAlgorithm,
		},
		{
			name:       "ES256 for the RSA client",
			request:    signedWith(jwt.SigningMethodES256, func(k oauthTestKeys) any { return k.ec.Signer }, rsaKid, rsaClientID),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionAlgorithm,
		},
		{
			name:       "RS256 for the EC client",
			request:    signedWith(jwt.SigningMethodRS256, func(k oauthTestKeys) any { return k.rsa.Signer }, ecKid, ecClientID),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionAlgorithm,
		},
		{
			name:       "no kid",
			request:    rsaAssertion(nil, map[string]any{"kid": nil}),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionKeyID,
		},
		{
			name:       "kid of the other client",
			request:    signedWith(jwt.SigningMethodRS256, func(k oauthTestKeys) any { return k.rsa.Signer }, ecKid, rsaClientID),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionKeyID,
		},
		{
			name:       "kid number",
			request:    rsaAssertion(nil, map[string]any{"kid": 1}),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionKeyID,
		},
		{
			name:       "typ lower case",
			request:    rsaAssertion(nil, map[string]any{"typ": "jwt"}),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionHeaderType,
		},
		{
			name:       "typ JOSE",
			request:    rsaAssertion(nil, map[string]any{"typ": "JOSE"}),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionHeaderType,
		},

		// Signature.
		{
			name:       "signed by another RSA key",
			request:    signedWith(jwt.SigningMethodRS256, func(k oauthTestKeys) any { return k.otherRSA }, rsaKid, rsaClientID),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionSignature,
		},
		{
			name:       "signed by another EC key",
			request:    signedWith(jwt.SigningMethodES256, func(k oauthTestKeys) any { return k.otherEC }, ecKid, ecClientID),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionSignature,
		},
		{
			name: "payload changed after signing",
			request: func(t *testing.T, f oauthFixture) tokenRequest {
				signed := mintAssertion(t, f.keys.rsa, f.assertionClaims(f.keys.rsa), nil, nil)
				other := mintAssertion(t, f.keys.rsa, f.assertionClaims(f.keys.rsa), nil, nil)
				parts, otherParts := strings.Split(signed, "."), strings.Split(other, ".")
				return formRequest(tokenForm(rsaClientID, parts[0]+"."+otherParts[1]+"."+parts[2], castest.ScopeAuditAdmin))
			},
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionSignature,
		},

		// Required claims.
		{name: "no iss", request: rsaAssertion(map[string]any{"iss": nil}, nil), wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionMissingClaim},
		{name: "no sub", request: rsaAssertion(map[string]any{"sub": nil}, nil), wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionMissingClaim},
		{name: "no aud", request: rsaAssertion(map[string]any{"aud": nil}, nil), wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionMissingClaim},
		{name: "no exp", request: rsaAssertion(map[string]any{"exp": nil}, nil), wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionMissingClaim},
		{name: "no iat", request: rsaAssertion(map[string]any{"iat": nil}, nil), wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionMissingClaim},
		{name: "no jti", request: rsaAssertion(map[string]any{"jti": nil}, nil), wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionMissingClaim},
		{name: "empty jti", request: rsaAssertion(map[string]any{"jti": ""}, nil), wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionMissingClaim},

		// iss and sub.
		{
			name:       "iss of another client",
			request:    rsaAssertion(map[string]any{"iss": ecClientID}, nil),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionIssuer,
		},
		{
			name:       "iss number",
			request:    rsaAssertion(map[string]any{"iss": 7}, nil),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionIssuer,
		},
		{
			name:       "sub of another client",
			request:    rsaAssertion(map[string]any{"sub": ecClientID}, nil),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionSubject,
		},
		{
			name:       "sub differs in case",
			request:    rsaAssertion(map[string]any{"sub": strings.ToUpper(rsaClientID)}, nil),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionSubject,
		},

		// aud.
		{
			name: "aud the issuer URL",
			request: func(t *testing.T, f oauthFixture) tokenRequest {
				return rsaAssertion(map[string]any{"aud": f.server.IssuerURL()}, nil)(t, f)
			},
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionAudience,
		},
		{
			name: "aud with trailing slash",
			request: func(t *testing.T, f oauthFixture) tokenRequest {
				return rsaAssertion(map[string]any{"aud": f.server.TokenURL() + "/"}, nil)(t, f)
			},
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionAudience,
		},
		{
			name: "aud with localhost for 127.0.0.1",
			request: func(t *testing.T, f oauthFixture) tokenRequest {
				return rsaAssertion(map[string]any{"aud": strings.Replace(f.server.TokenURL(), "127.0.0.1", "localhost", 1)}, nil)(t, f)
			},
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionAudience,
		},
		{
			name: "aud the Admin API URL",
			request: func(t *testing.T, f oauthFixture) tokenRequest {
				return rsaAssertion(map[string]any{"aud": f.server.AdminURL()}, nil)(t, f)
			},
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionAudience,
		},
		{
			name: "aud array without the token URL",
			request: func(t *testing.T, f oauthFixture) tokenRequest {
				return rsaAssertion(map[string]any{"aud": []string{f.server.IssuerURL()}}, nil)(t, f)
			},
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionAudience,
		},
		{
			name:       "aud number",
			request:    rsaAssertion(map[string]any{"aud": 1}, nil),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionAudience,
		},

		// Times.
		{
			name:       "exp string",
			request:    rsaAssertion(map[string]any{"exp": "1750000300"}, nil),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionTimeClaim,
		},
		{
			name:       "iat fraction",
			request:    rawRSA("", rsaPayload("1750000000.5", "1750000300")),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionTimeClaim,
		},
		{
			name:       "nbf string",
			request:    rsaAssertion(map[string]any{"nbf": "1750000000"}, nil),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionTimeClaim,
		},
		{
			name:       "exp 61s ago",
			request:    rsaAssertion(map[string]any{"iat": now - skew - 1 - lifetime, "exp": now - skew - 1}, nil),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionExpired,
		},
		{
			name:       "iat 61s ahead",
			request:    rsaAssertion(map[string]any{"iat": now + skew + 1, "exp": now + skew + 1 + lifetime}, nil),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionIssuedInFuture,
		},
		{
			name:       "nbf 61s ahead",
			request:    rsaAssertion(map[string]any{"nbf": now + skew + 1}, nil),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionNotYetValid,
		},
		{
			name:       "lifetime 301s",
			request:    rsaAssertion(map[string]any{"exp": now + lifetime + 1}, nil),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionLifetime,
		},
		{
			name:       "exp before iat",
			request:    rsaAssertion(map[string]any{"exp": now - 1}, nil),
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client", wantErr: castest.ErrAssertionLifetime,
		},

		// Scopes.
		{
			name:       "no scope",
			request:    withForm(map[string][]string{"scope": nil}),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_scope", wantErr: castest.ErrScopeMissing,
		},
		{
			name:       "empty scope",
			request:    withScope(""),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_scope", wantErr: castest.ErrScopeMissing,
		},
		{
			name:       "invisible character",
			request:    withScope("rsa.audit.admin\ufffc"),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_scope", wantErr: castest.ErrScopeSyntax,
			wantInDescription: "'rsa.audit.admin<U+FFFC>'",
		},
		{
			name:       "two spaces",
			request:    withScope("rsa.audit.admin  rsa.user.read"),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_scope", wantErr: castest.ErrScopeSyntax,
			wantInDescription: "empty entry",
		},
		{
			name:       "trailing space",
			request:    withScope("rsa.audit.admin "),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_scope", wantErr: castest.ErrScopeSyntax,
		},
		{
			name:       "comma-separated",
			request:    withScope("rsa.audit.admin,rsa.user.read"),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_scope", wantErr: castest.ErrScopeNotGranted,
		},
		{
			name:       "scope not granted",
			request:    withScope("rsa.audit.admin rsa.user.risky.read"),
			wantStatus: http.StatusBadRequest, wantCode: "invalid_scope", wantErr: castest.ErrScopeNotGranted,
			wantInDescription: "requested rsa.user.risky.read",
		},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newOAuthFixture(t)
			r := tc.request(t, f)
			request, err := http.NewRequest(r.method, f.server.URL+r.path, strings.NewReader(r.body))
			if err != nil {
				t.Fatalf("build request: %v", err)
			}
			request.Header.Set("Content-Type", r.contentType)
			if r.authorization != "" {
				request.Header.Set("Authorization", r.authorization)
			}
			response, err := f.server.Client().Do(request)
			if err != nil {
				t.Fatalf("POST token: %v", err)
			}
			defer response.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(response.Body).Decode(&body); err != nil {
				t.Fatalf("decode body: %v", err)
			}

			if response.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %v", response.StatusCode, tc.wantStatus, body)
			}
			if got := response.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			if got := response.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			record := lastRequest(t, f.server)

			if tc.wantCode == "" {
				if record.Err != nil {
					t.Errorf("Request.Err = %v, want nil", record.Err)
				}
				if body["token_type"] != "Bearer" {
					t.Errorf("token_type = %v, want Bearer", body["token_type"])
				}
				if body["expires_in"] != float64(3600) {
					t.Errorf("expires_in = %v, want 3600", body["expires_in"])
				}
				return
			}

			if body["error"] != tc.wantCode {
				t.Errorf("error = %v, want %s; description %v", body["error"], tc.wantCode, body["error_description"])
			}
			if !errors.Is(record.Err, tc.wantErr) {
				t.Errorf("Request.Err = %v, want %v", record.Err, tc.wantErr)
			}
			description, _ := body["error_description"].(string)
			if description == "" || record.Message != description {
				t.Errorf("error_description = %q, Request.Message = %q; want the same nonempty text", description, record.Message)
			}
			if !strings.Contains(description, tc.wantInDescription) {
				t.Errorf("error_description = %q, want it to contain %q", description, tc.wantInDescription)
			}
			// RFC 6749 section 5.2 allows printable ASCII except '"' and '\'.
			if strings.ContainsFunc(description, func(r rune) bool { return r < 0x20 || r > 0x7e || r == '"' || r == '\\' }) {
				t.Errorf("error_description %q has characters RFC 6749 forbids", description)
			}
			if len(body) != 2 {
				t.Errorf("body = %v, want only error and error_description", body)
			}
			if tc.wantStatus == http.StatusMethodNotAllowed && response.Header.Get("Allow") != http.MethodPost {
				t.Errorf("Allow = %q, want POST", response.Header.Get("Allow"))
			}
		})
	}
}

func TestAssertionReplay(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t)
	claims := f.assertionClaims(f.keys.rsa)
	claims["jti"] = "shared-jti"
	assertion := mintAssertion(t, f.keys.rsa, claims, nil, nil)
	form := tokenForm(rsaClientID, assertion, castest.ScopeAuditAdmin)

	if got := postToken(t, f.server, form); got.status != http.StatusOK {
		t.Fatalf("first use: status %d; body %s", got.status, got.body)
	}
	got := postToken(t, f.server, form)
	var body oauthErrorResponse
	decodeStrict(t, got.body, &body)
	if got.status != http.StatusUnauthorized {
		t.Fatalf("replay: status %d, want 401", got.status)
	}
	if body.Error != "invalid_client" {
		t.Errorf("replay: error %q, want invalid_client", body.Error)
	}
	if err := lastRequest(t, f.server).Err; !errors.Is(err, castest.ErrAssertionReplay) {
		t.Fatalf("replay Err = %v, want ErrAssertionReplay", err)
	}

	// jti values are unique per issuer, so another client may use the same.
	ecClaims := f.assertionClaims(f.keys.ec)
	ecClaims["jti"] = "shared-jti"
	ecAssertion := mintAssertion(t, f.keys.ec, ecClaims, nil, nil)
	if got := postToken(t, f.server, tokenForm(ecClientID, ecAssertion, castest.ScopeAuditAdmin)); got.status != http.StatusOK {
		t.Errorf("same jti from the EC client: status %d; body %s", got.status, got.body)
	}

	// Up to exp + ClockSkew the replay stays rejected.
	f.clock.Advance(castest.MaxAssertionLifetime + castest.ClockSkew)
	postToken(t, f.server, form)
	if err := lastRequest(t, f.server).Err; !errors.Is(err, castest.ErrAssertionReplay) {
		t.Errorf("replay at exp + skew: Err = %v, want ErrAssertionReplay", err)
	}

	// Later the assertion has expired, and the next sweep, at most ten
	// seconds of server time after the last one, drops its jti.
	f.clock.Advance(10 * time.Second)
	postToken(t, f.server, form)
	if err := lastRequest(t, f.server).Err; !errors.Is(err, castest.ErrAssertionExpired) {
		t.Errorf("replay after expiry: Err = %v, want ErrAssertionExpired", err)
	}
	if used := f.server.UsedJTIs(); used != 2 {
		t.Errorf("UsedJTIs() = %d before a sweep, want 2", used)
	}
	f.getToken(t, f.keys.rsa, castest.ScopeAuditAdmin)
	if used := f.server.UsedJTIs(); used != 1 {
		t.Errorf("UsedJTIs() = %d, want 1: only the newest jti", used)
	}
}

func TestReplayStoreStaysBounded(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t)

	// A client minting one assertion a second for ten minutes leaves at most
	// the jti values of the assertions that could still be accepted.
	for range 600 {
		f.getToken(t, f.keys.ec, castest.ScopeAuditAdmin)
		f.clock.Advance(time.Second)
	}
	limit := int((castest.MaxAssertionLifetime+castest.ClockSkew)/time.Second) + 10 // 10 s sweep interval
	if used := f.server.UsedJTIs(); used > limit {
		t.Errorf("UsedJTIs() = %d after 600 requests, want at most %d", used, limit)
	}
}

func TestConcurrentReplayAcceptsOne(t *testing.T) {
	t.Parallel()
	f := newOAuthFixture(t)
	form := tokenForm(ecClientID, mintAssertion(t, f.keys.ec, f.assertionClaims(f.keys.ec), nil, nil), castest.ScopeAuditAdmin)
	const senders = 16

	var wg sync.WaitGroup
	statuses := make(chan int, senders)
	for range senders {
		wg.Go(func() { statuses <- postToken(t, f.server, form).status })
	}
	wg.Wait()
	close(statuses)

	counts := map[int]int{}
	for status := range statuses {
		counts[status]++
	}
	if counts[http.StatusOK] != 1 {
		t.Errorf("%d requests got 200, want 1; statuses %v", counts[http.StatusOK], counts)
	}
	if counts[http.StatusUnauthorized] != senders-1 {
		t.Errorf("%d requests got 401, want %d; statuses %v", counts[http.StatusUnauthorized], senders-1, counts)
	}
	if issued := f.server.Counts().TokensIssued; issued != 1 {
		t.Errorf("TokensIssued = %d, want 1", issued)
	}
}
