package castest_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas/castest"
)

const (
	helpDeskAccessID   = "3c6f7d0e-8a7b-4f43-9d61-0b3b2f1c9a10"
	superAdminAccessID = "9b1f4a2c-52d3-4e6f-8a7b-1c2d3e4f5a6b"

	exportLogsPath = castest.AdminBasePath + "/v1/adminlog/exportlogs"
	lookupPath     = castest.AdminBasePath + "/v1/users/lookup"
	highRiskPath   = castest.AdminBasePath + "/v2/users/highrisk"
)

// testNow is the fake's clock in every test, so that no result depends on
// wall time.
var testNow = time.Unix(1_750_000_000, 0)

type testKeys struct {
	helpDesk   *rsa.PrivateKey
	superAdmin *rsa.PrivateKey
	// unregistered signs tokens that must fail the signature check.
	unregistered *rsa.PrivateKey
}

// loadTestKeys generates the RSA-2048 keys once for all tests, because key
// generation is the slowest step.
var loadTestKeys = sync.OnceValues(func() (testKeys, error) {
	var keys testKeys
	for _, target := range []**rsa.PrivateKey{&keys.helpDesk, &keys.superAdmin, &keys.unregistered} {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return testKeys{}, err
		}
		*target = key
	}
	return keys, nil
})

// fixture is a started fake with a Help Desk key whose audience is AdminURL
// and a Super Administrator key whose audience is AdminURL with a trailing
// slash, the two adminRestApiUrl forms seen in key files.
type fixture struct {
	server             *castest.Server
	keys               testKeys
	helpDeskAudience   string
	superAdminAudience string
}

func newFixture(t *testing.T, opts ...castest.Option) fixture {
	t.Helper()
	keys, err := loadTestKeys()
	if err != nil {
		t.Fatalf("generate RSA keys: %v", err)
	}

	opts = append([]castest.Option{castest.WithClock(func() time.Time { return testNow })}, opts...)
	server := castest.NewServer(opts...)
	t.Cleanup(server.Close)

	f := fixture{
		server:             server,
		keys:               keys,
		helpDeskAudience:   server.AdminURL(),
		superAdminAudience: server.AdminURL() + "/",
	}
	registrations := []castest.Key{
		{AccessID: helpDeskAccessID, PublicKey: &keys.helpDesk.PublicKey, Audience: f.helpDeskAudience, AdminRole: castest.RoleHelpDesk},
		{AccessID: superAdminAccessID, PublicKey: &keys.superAdmin.PublicKey, Audience: f.superAdminAudience, AdminRole: castest.RoleSuperAdmin},
	}
	for _, k := range registrations {
		if err := server.RegisterKey(k); err != nil {
			t.Fatalf("RegisterKey(%s): %v", k.AccessID, err)
		}
	}
	return f
}

// helpDeskClaims returns valid claims for the Help Desk key: issued now, with
// the maximum lifetime.
func (f fixture) helpDeskClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub": helpDeskAccessID,
		"iat": testNow.Unix(),
		"exp": testNow.Add(time.Hour).Unix(),
		"aud": f.helpDeskAudience,
	}
}

func (f fixture) superAdminClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub": superAdminAccessID,
		"iat": testNow.Unix(),
		"exp": testNow.Add(time.Hour).Unix(),
		"aud": f.superAdminAudience,
	}
}

// helpDeskClaimsWith returns the Help Desk claims with some changed. A nil
// value deletes the claim.
func (f fixture) helpDeskClaimsWith(changes map[string]any) jwt.MapClaims {
	claims := f.helpDeskClaims()
	for name, value := range changes {
		if value == nil {
			delete(claims, name)
			continue
		}
		claims[name] = value
	}
	return claims
}

// signToken mints a token with golang-jwt, which writes the header
// {"alg":<method>,"typ":"JWT"}. headerChanges then edit the header before
// signing, and a nil value deletes a parameter.
func signToken(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims, headerChanges map[string]any) string {
	t.Helper()
	token := jwt.NewWithClaims(method, claims)
	for name, value := range headerChanges {
		if value == nil {
			delete(token.Header, name)
			continue
		}
		token.Header[name] = value
	}
	signed, err := token.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s token: %v", method.Alg(), err)
	}
	return signed
}

func signRS256(t *testing.T, key *rsa.PrivateKey, claims jwt.MapClaims) string {
	t.Helper()
	return signToken(t, jwt.SigningMethodRS256, key, claims, nil)
}

// signRawRS256 signs header and payload JSON exactly as given, for payloads
// that golang-jwt cannot produce from a map, like numbers in exponent form.
func signRawRS256(t *testing.T, key *rsa.PrivateKey, headerJSON, payloadJSON string) string {
	t.Helper()
	signingInput := base64.RawURLEncoding.EncodeToString([]byte(headerJSON)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(payloadJSON))
	digest := sha256.Sum256([]byte(signingInput))
	signature, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatalf("sign raw token: %v", err)
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(signature)
}

// helpDeskPayload returns valid Help Desk claims as JSON with the times
// written as given.
func (f fixture) helpDeskPayload(iat, exp string) string {
	audience, _ := json.Marshal(f.helpDeskAudience)
	return `{"sub":"` + helpDeskAccessID + `","iat":` + iat + `,"exp":` + exp + `,"aud":` + string(audience) + `}`
}

type result struct {
	status      int
	contentType string
	allow       string
	body        []byte
}

// send makes one request to the fake. An empty authorization sends no
// Authorization header.
func send(t *testing.T, server *castest.Server, method, path, authorization, contentType, body string) result {
	t.Helper()
	request, err := http.NewRequest(method, server.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatalf("build request %s %s: %v", method, path, err)
	}
	if authorization != "" {
		request.Header.Set("Authorization", authorization)
	}
	if contentType != "" {
		request.Header.Set("Content-Type", contentType)
	}

	response, err := server.Client().Do(request)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer response.Body.Close()
	responseBody, err := io.ReadAll(response.Body)
	if err != nil {
		t.Fatalf("read body of %s %s: %v", method, path, err)
	}
	return result{
		status:      response.StatusCode,
		contentType: response.Header.Get("Content-Type"),
		allow:       response.Header.Get("Allow"),
		body:        responseBody,
	}
}

// forbiddenBody mirrors CAS's 403 body. Decoding into pointers distinguishes a
// missing field from a zero one.
type forbiddenBody struct {
	Timestamp *int64  `json:"timestamp"`
	Status    *int    `json:"status"`
	Error     *string `json:"error"`
	Message   *string `json:"message"`
	Path      *string `json:"path"`
}

// checkForbidden checks that got is CAS's 403 for path with message.
func checkForbidden(t *testing.T, got result, path, message string) {
	t.Helper()
	if got.status != http.StatusForbidden {
		t.Fatalf("status = %d, want 403; body %s", got.status, got.body)
	}
	if got.contentType != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got.contentType)
	}

	var body forbiddenBody
	decoder := json.NewDecoder(strings.NewReader(string(got.body)))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&body); err != nil {
		t.Fatalf("decode 403 body %s: %v", got.body, err)
	}
	if body.Timestamp == nil || *body.Timestamp != testNow.UnixMilli() {
		t.Errorf("timestamp = %v, want %d; body %s", deref(body.Timestamp), testNow.UnixMilli(), got.body)
	}
	if body.Status == nil || *body.Status != http.StatusForbidden {
		t.Errorf("status field = %v, want 403; body %s", deref(body.Status), got.body)
	}
	if body.Error == nil || *body.Error != "Forbidden" {
		t.Errorf("error = %v, want Forbidden; body %s", deref(body.Error), got.body)
	}
	if body.Message == nil || *body.Message != message {
		t.Errorf("message = %v, want %q; body %s", deref(body.Message), message, got.body)
	}
	if body.Path == nil || *body.Path != path {
		t.Errorf("path = %v, want %q; body %s", deref(body.Path), path, got.body)
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return "<missing>"
	}
	return *p
}

// checkErrorBody checks CAS's {"code","description"} error body.
func checkErrorBody(t *testing.T, got result, status int, code string) {
	t.Helper()
	if got.status != status {
		t.Fatalf("status = %d, want %d; body %s", got.status, status, got.body)
	}
	if got.contentType != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got.contentType)
	}
	var body struct {
		Code        string `json:"code"`
		Description string `json:"description"`
	}
	if err := json.Unmarshal(got.body, &body); err != nil {
		t.Fatalf("decode error body %s: %v", got.body, err)
	}
	if body.Code != code {
		t.Errorf("code = %q, want %q", body.Code, code)
	}
	if body.Description == "" {
		t.Errorf("description is empty; body %s", got.body)
	}
}

// lastRequest returns the latest record of the fake.
func lastRequest(t *testing.T, server *castest.Server) castest.Request {
	t.Helper()
	requests := server.Requests()
	if len(requests) == 0 {
		t.Fatal("Requests() is empty")
	}
	return requests[len(requests)-1]
}

func bearer(token string) string {
	return "Bearer " + token
}

func TestTokenRules(t *testing.T) {
	t.Parallel()

	type testCase struct {
		name string
		// authorization returns the Authorization header, "" for none.
		authorization func(t *testing.T, f fixture) string
		method        string
		path          string
		wantStatus    int
		// wantMessage and wantErr are checked when wantStatus is 403.
		wantMessage string
		wantErr     error
	}

	// helpDeskToken builds a case signed by the Help Desk key on exportlogs.
	helpDeskToken := func(claims func(f fixture) jwt.MapClaims) func(*testing.T, fixture) string {
		return func(t *testing.T, f fixture) string {
			return bearer(signRS256(t, f.keys.helpDesk, claims(f)))
		}
	}
	withClaims := func(changes map[string]any) func(*testing.T, fixture) string {
		return helpDeskToken(func(f fixture) jwt.MapClaims { return f.helpDeskClaimsWith(changes) })
	}
	withHeader := func(method jwt.SigningMethod, key func(f fixture) any, headerChanges map[string]any) func(*testing.T, fixture) string {
		return func(t *testing.T, f fixture) string {
			return bearer(signToken(t, method, key(f), f.helpDeskClaims(), headerChanges))
		}
	}
	helpDeskKey := func(f fixture) any { return f.keys.helpDesk }
	withPayload := func(payload func(f fixture) string) func(*testing.T, fixture) string {
		return func(t *testing.T, f fixture) string {
			return bearer(signRawRS256(t, f.keys.helpDesk, `{"alg":"RS256","typ":"JWT"}`, payload(f)))
		}
	}
	now := testNow.Unix()

	cases := []testCase{
		// Accepted tokens.
		{
			name:          "help desk exportlogs",
			authorization: withClaims(nil),
			path:          exportLogsPath + "?pageSize=1&pageNumber=0",
			wantStatus:    http.StatusOK,
		},
		{
			name:          "help desk lookup",
			authorization: withClaims(nil),
			method:        http.MethodPost,
			path:          lookupPath,
			wantStatus:    http.StatusNotFound,
		},
		{
			name: "super admin highrisk",
			authorization: func(t *testing.T, f fixture) string {
				return bearer(signRS256(t, f.keys.superAdmin, f.superAdminClaims()))
			},
			path:       highRiskPath,
			wantStatus: http.StatusOK,
		},
		{
			name:          "help desk refused highrisk",
			authorization: withClaims(nil),
			path:          highRiskPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageAccessDenied,
			wantErr:       castest.ErrAccessDenied,
		},

		// Clock skew and lifetime edges.
		{
			name:          "exp 60s ago accepted",
			authorization: withClaims(map[string]any{"iat": now - 60 - 3600, "exp": now - 60}),
			path:          exportLogsPath,
			wantStatus:    http.StatusOK,
		},
		{
			name:          "exp 61s ago rejected",
			authorization: withClaims(map[string]any{"iat": now - 61 - 3600, "exp": now - 61}),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageExpired,
			wantErr:       castest.ErrExpired,
		},
		{
			name:          "iat 60s ahead accepted",
			authorization: withClaims(map[string]any{"iat": now + 60, "exp": now + 60 + 3600}),
			path:          exportLogsPath,
			wantStatus:    http.StatusOK,
		},
		{
			name:          "iat 61s ahead rejected",
			authorization: withClaims(map[string]any{"iat": now + 61, "exp": now + 61 + 3600}),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrIssuedInFuture,
		},
		{
			name:          "lifetime 3600s accepted",
			authorization: withClaims(map[string]any{"iat": now, "exp": now + 3600}),
			path:          exportLogsPath,
			wantStatus:    http.StatusOK,
		},
		{
			name:          "lifetime 3601s rejected",
			authorization: withClaims(map[string]any{"iat": now, "exp": now + 3601}),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrLifetime,
		},
		{
			name:          "exp before iat rejected",
			authorization: withClaims(map[string]any{"iat": now, "exp": now - 1}),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrLifetime,
		},
		{
			name:          "long expired",
			authorization: withClaims(map[string]any{"iat": now - 7200, "exp": now - 3600}),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageExpired,
			wantErr:       castest.ErrExpired,
		},

		// Header.
		{
			name: "alg none",
			authorization: withHeader(jwt.SigningMethodNone,
				func(fixture) any { return jwt.UnsafeAllowNoneSignatureType }, nil),
			path:        exportLogsPath,
			wantStatus:  http.StatusForbidden,
			wantMessage: castest.MessageFailedToProcess,
			wantErr:     castest.ErrAlgorithm,
		},
		{
			// The HMAC secret is the public key, the classic confusion of a
			// verifier that trusts the header's alg.
			name: "alg HS256 with public key",
			authorization: withHeader(jwt.SigningMethodHS256, func(f fixture) any {
				return x509.MarshalPKCS1PublicKey(&f.keys.helpDesk.PublicKey)
			}, nil),
			path:        exportLogsPath,
			wantStatus:  http.StatusForbidden,
			wantMessage: castest.MessageFailedToProcess,
			wantErr:     castest.ErrAlgorithm,
		},
		{
			name:          "alg RS512",
			authorization: withHeader(jwt.SigningMethodRS512, helpDeskKey, nil),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrAlgorithm,
		},
		{
			name:          "alg lowercase rs256",
			authorization: withHeader(jwt.SigningMethodRS256, helpDeskKey, map[string]any{"alg": "rs256"}),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrAlgorithm,
		},
		{
			name:          "typ missing",
			authorization: withHeader(jwt.SigningMethodRS256, helpDeskKey, map[string]any{"typ": nil}),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrType,
		},
		{
			name:          "typ lowercase jwt",
			authorization: withHeader(jwt.SigningMethodRS256, helpDeskKey, map[string]any{"typ": "jwt"}),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrType,
		},

		// Claim presence and types.
		{
			name:          "sub missing",
			authorization: withClaims(map[string]any{"sub": nil}),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrMissingClaim,
		},
		{
			name:          "iat missing",
			authorization: withClaims(map[string]any{"iat": nil}),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrMissingClaim,
		},
		{
			name:          "exp missing",
			authorization: withClaims(map[string]any{"exp": nil}),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrMissingClaim,
		},
		{
			name:          "aud missing",
			authorization: withClaims(map[string]any{"aud": nil}),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrMissingClaim,
		},
		{
			name:          "iat as string",
			authorization: withClaims(map[string]any{"iat": "1750000000"}),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrTimeClaim,
		},
		{
			name:          "exp as string",
			authorization: withClaims(map[string]any{"exp": "1750003600"}),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrTimeClaim,
		},
		{
			name:          "iat with fraction",
			authorization: withClaims(map[string]any{"iat": float64(now) + 0.5}),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrTimeClaim,
		},
		{
			name:          "iat as 1750000000.0",
			authorization: withPayload(func(f fixture) string { return f.helpDeskPayload("1750000000.0", "1750003600") }),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrTimeClaim,
		},
		{
			name:          "exp in exponent form",
			authorization: withPayload(func(f fixture) string { return f.helpDeskPayload("1750000000", "1.7500036e9") }),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrTimeClaim,
		},
		{
			name:          "integer payload written by hand",
			authorization: withPayload(func(f fixture) string { return f.helpDeskPayload("1750000000", "1750003600") }),
			path:          exportLogsPath,
			wantStatus:    http.StatusOK,
		},

		// Access ID.
		{
			name:          "sub unknown",
			authorization: withClaims(map[string]any{"sub": "00000000-0000-0000-0000-000000000000"}),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageInvalidAccessID,
			wantErr:       castest.ErrUnknownAccessID,
		},
		{
			name:          "sub not a string",
			authorization: withClaims(map[string]any{"sub": 42}),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageInvalidAccessID,
			wantErr:       castest.ErrUnknownAccessID,
		},
		{
			name: "sub of another key",
			authorization: func(t *testing.T, f fixture) string {
				claims := f.superAdminClaims()
				return bearer(signRS256(t, f.keys.helpDesk, claims))
			},
			path:        exportLogsPath,
			wantStatus:  http.StatusForbidden,
			wantMessage: castest.MessageFailedToProcess,
			wantErr:     castest.ErrSignature,
		},

		// Signature.
		{
			name: "signed by unregistered key",
			authorization: func(t *testing.T, f fixture) string {
				return bearer(signRS256(t, f.keys.unregistered, f.helpDeskClaims()))
			},
			path:        exportLogsPath,
			wantStatus:  http.StatusForbidden,
			wantMessage: castest.MessageFailedToProcess,
			wantErr:     castest.ErrSignature,
		},
		{
			name: "payload changed after signing",
			authorization: func(t *testing.T, f fixture) string {
				signed := signRS256(t, f.keys.helpDesk, f.helpDeskClaims())
				parts := strings.Split(signed, ".")
				changed := f.helpDeskClaimsWith(map[string]any{"exp": now + 1800})
				payload, err := json.Marshal(changed)
				if err != nil {
					t.Fatalf("marshal claims: %v", err)
				}
				parts[1] = base64.RawURLEncoding.EncodeToString(payload)
				return bearer(strings.Join(parts, "."))
			},
			path:        exportLogsPath,
			wantStatus:  http.StatusForbidden,
			wantMessage: castest.MessageFailedToProcess,
			wantErr:     castest.ErrSignature,
		},
		{
			name: "signature empty",
			authorization: func(t *testing.T, f fixture) string {
				signed := signRS256(t, f.keys.helpDesk, f.helpDeskClaims())
				return bearer(signed[:strings.LastIndex(signed, ".")+1])
			},
			path:        exportLogsPath,
			wantStatus:  http.StatusForbidden,
			wantMessage: castest.MessageFailedToProcess,
			wantErr:     castest.ErrSignature,
		},

		// Audience.
		{
			name:          "aud other tenant",
			authorization: withClaims(map[string]any{"aud": "https://other.access.securid.com/AdminInterface/restapi"}),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageInvalidAudience,
			wantErr:       castest.ErrAudience,
		},
		{
			// The Help Desk key is registered without the trailing slash.
			name: "aud with extra trailing slash",
			authorization: helpDeskToken(func(f fixture) jwt.MapClaims {
				return f.helpDeskClaimsWith(map[string]any{"aud": f.helpDeskAudience + "/"})
			}),
			path:        exportLogsPath,
			wantStatus:  http.StatusForbidden,
			wantMessage: castest.MessageInvalidAudience,
			wantErr:     castest.ErrAudience,
		},
		{
			// The Super Administrator key is registered with the trailing slash.
			name: "aud without registered slash",
			authorization: func(t *testing.T, f fixture) string {
				claims := f.superAdminClaims()
				claims["aud"] = strings.TrimSuffix(f.superAdminAudience, "/")
				return bearer(signRS256(t, f.keys.superAdmin, claims))
			},
			path:        highRiskPath,
			wantStatus:  http.StatusForbidden,
			wantMessage: castest.MessageInvalidAudience,
			wantErr:     castest.ErrAudience,
		},
		{
			name: "aud in other case",
			authorization: helpDeskToken(func(f fixture) jwt.MapClaims {
				return f.helpDeskClaimsWith(map[string]any{"aud": strings.ToUpper(f.helpDeskAudience)})
			}),
			path:        exportLogsPath,
			wantStatus:  http.StatusForbidden,
			wantMessage: castest.MessageInvalidAudience,
			wantErr:     castest.ErrAudience,
		},
		{
			name: "aud array with match",
			authorization: helpDeskToken(func(f fixture) jwt.MapClaims {
				return f.helpDeskClaimsWith(map[string]any{"aud": []string{f.helpDeskAudience}})
			}),
			path:        exportLogsPath,
			wantStatus:  http.StatusForbidden,
			wantMessage: castest.MessageInvalidAudience,
			wantErr:     castest.ErrAudience,
		},

		// Missing or malformed token.
		{
			name:          "no Authorization header",
			authorization: func(*testing.T, fixture) string { return "" },
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrMissingToken,
		},
		{
			name:          "Basic scheme",
			authorization: func(*testing.T, fixture) string { return "Basic dXNlcjpwYXNz" },
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrMissingToken,
		},
		{
			name:          "Bearer without token",
			authorization: func(*testing.T, fixture) string { return "Bearer " },
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrMissingToken,
		},
		{
			name: "two segments",
			authorization: func(t *testing.T, f fixture) string {
				signed := signRS256(t, f.keys.helpDesk, f.helpDeskClaims())
				return bearer(signed[:strings.LastIndex(signed, ".")])
			},
			path:        exportLogsPath,
			wantStatus:  http.StatusForbidden,
			wantMessage: castest.MessageFailedToProcess,
			wantErr:     castest.ErrMalformedToken,
		},
		{
			name:          "header not base64url",
			authorization: func(*testing.T, fixture) string { return bearer("not*base64.e30.c2ln") },
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrMalformedToken,
		},
		{
			name: "header base64 padded",
			authorization: func(t *testing.T, f fixture) string {
				signed := signRS256(t, f.keys.helpDesk, f.helpDeskClaims())
				// RFC 7515 segments carry no "=" padding.
				return bearer(strings.Replace(signed, ".", "=.", 1))
			},
			path:        exportLogsPath,
			wantStatus:  http.StatusForbidden,
			wantMessage: castest.MessageFailedToProcess,
			wantErr:     castest.ErrMalformedToken,
		},
		{
			name: "header not JSON",
			authorization: func(t *testing.T, f fixture) string {
				return bearer(signRawRS256(t, f.keys.helpDesk, `alg=RS256`, f.helpDeskPayload("1750000000", "1750003600")))
			},
			path:        exportLogsPath,
			wantStatus:  http.StatusForbidden,
			wantMessage: castest.MessageFailedToProcess,
			wantErr:     castest.ErrMalformedToken,
		},
		{
			name:          "payload not JSON",
			authorization: withPayload(func(fixture) string { return `sub=x` }),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrMalformedToken,
		},
		{
			name:          "payload with trailing brace",
			authorization: withPayload(func(f fixture) string { return f.helpDeskPayload("1750000000", "1750003600") + "}" }),
			path:          exportLogsPath,
			wantStatus:    http.StatusForbidden,
			wantMessage:   castest.MessageFailedToProcess,
			wantErr:       castest.ErrMalformedToken,
		},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)

			method := tc.method
			contentType, body := "", ""
			if method == "" {
				method = http.MethodGet
			}
			if method == http.MethodPost {
				contentType, body = "application/json", `{"email":"nobody@example.com"}`
			}
			got := send(t, f.server, method, tc.path, tc.authorization(t, f), contentType, body)

			requestPath, _, _ := strings.Cut(tc.path, "?")
			record := lastRequest(t, f.server)
			if tc.wantStatus != http.StatusForbidden {
				if got.status != tc.wantStatus {
					t.Fatalf("status = %d, want %d; body %s; recorded error: %v", got.status, tc.wantStatus, got.body, record.Err)
				}
				if counts := f.server.Counts(); counts.Accepted != 1 || counts.Rejected != 0 {
					t.Errorf("Counts() = %+v, want 1 accepted and 0 rejected", counts)
				}
				return
			}

			checkForbidden(t, got, requestPath, tc.wantMessage)
			if !errors.Is(record.Err, tc.wantErr) {
				t.Errorf("recorded Err = %v, want %v", record.Err, tc.wantErr)
			}
			if record.Status != http.StatusForbidden {
				t.Errorf("recorded Status = %d, want 403", record.Status)
			}
			if record.Message != tc.wantMessage {
				t.Errorf("recorded Message = %q, want %q", record.Message, tc.wantMessage)
			}
			if counts := f.server.Counts(); counts.Accepted != 0 || counts.Rejected != 1 {
				t.Errorf("Counts() = %+v, want 0 accepted and 1 rejected", counts)
			}
		})
	}
}

func TestExportLogsBody(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token := signRS256(t, f.keys.helpDesk, f.helpDeskClaims())

	got := send(t, f.server, http.MethodGet, exportLogsPath+"?pageSize=1&pageNumber=0", bearer(token), "", "")

	if got.status != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", got.status, got.body)
	}
	if got.contentType != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got.contentType)
	}
	want := `{"totalPages":0,"currentPage":0,"pageSize":1,"totalElements":0,"elements":[]}`
	if strings.TrimSpace(string(got.body)) != want {
		t.Errorf("body = %s, want %s", got.body, want)
	}
}

func TestExportLogsInvalidPageSize(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token := signRS256(t, f.keys.helpDesk, f.helpDeskClaims())

	got := send(t, f.server, http.MethodGet, exportLogsPath+"?pageSize=one", bearer(token), "", "")

	checkErrorBody(t, got, http.StatusBadRequest, "400 BAD_REQUEST")
}

func TestLookupKnownUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.server.AddUser("User.One@example.com")
	token := signRS256(t, f.keys.helpDesk, f.helpDeskClaims())

	// The lookup is case-insensitive, so a lowercased address finds the user.
	got := send(t, f.server, http.MethodPost, lookupPath, bearer(token), "application/json", `{"email":"user.one@example.com"}`)

	if got.status != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", got.status, got.body)
	}
	var user struct {
		ID           string `json:"id"`
		EmailAddress string `json:"emailAddress"`
		UserStatus   string `json:"userStatus"`
	}
	if err := json.Unmarshal(got.body, &user); err != nil {
		t.Fatalf("decode user %s: %v", got.body, err)
	}
	if user.ID != id {
		t.Errorf("id = %q, want %q from AddUser", user.ID, id)
	}
	if user.EmailAddress != "User.One@example.com" {
		t.Errorf("emailAddress = %q, want the address as added", user.EmailAddress)
	}
	if user.UserStatus != "Enabled" {
		t.Errorf("userStatus = %q, want Enabled", user.UserStatus)
	}
}

func TestLookupUnknownUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token := signRS256(t, f.keys.helpDesk, f.helpDeskClaims())

	got := send(t, f.server, http.MethodPost, lookupPath, bearer(token), "application/json", `{"email":"nobody@example.com"}`)

	checkErrorBody(t, got, http.StatusNotFound, "404 NOT_FOUND")
	record := lastRequest(t, f.server)
	if record.AccessID != helpDeskAccessID {
		t.Errorf("recorded AccessID = %q, want %q", record.AccessID, helpDeskAccessID)
	}
	if counts := f.server.Counts(); counts.Accepted != 1 {
		t.Errorf("Counts().Accepted = %d, want 1 because the token was accepted", counts.Accepted)
	}
}

func TestLookupBadRequests(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
		wantCode    string
	}{
		{name: "no content type", body: `{"email":"a@example.com"}`, wantStatus: http.StatusUnsupportedMediaType, wantCode: "415 UNSUPPORTED_MEDIA_TYPE"},
		{name: "form content type", contentType: "application/x-www-form-urlencoded", body: "email=a@example.com", wantStatus: http.StatusUnsupportedMediaType, wantCode: "415 UNSUPPORTED_MEDIA_TYPE"},
		{name: "body not JSON", contentType: "application/json", body: "email", wantStatus: http.StatusBadRequest, wantCode: "400 BAD_REQUEST"},
		{name: "email missing", contentType: "application/json; charset=utf-8", body: `{}`, wantStatus: http.StatusBadRequest, wantCode: "400 BAD_REQUEST"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			token := signRS256(t, f.keys.helpDesk, f.helpDeskClaims())

			got := send(t, f.server, http.MethodPost, lookupPath, bearer(token), tc.contentType, tc.body)

			checkErrorBody(t, got, tc.wantStatus, tc.wantCode)
		})
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		method     string
		path       string
		withToken  bool
		wantStatus int
		wantCode   string
		wantAllow  string
	}{
		{name: "health check without token", method: http.MethodGet, path: castest.HealthCheckPath, wantStatus: http.StatusOK},
		{name: "health check POST", method: http.MethodPost, path: castest.HealthCheckPath, wantStatus: http.StatusMethodNotAllowed, wantCode: "405 METHOD_NOT_ALLOWED", wantAllow: http.MethodGet},
		{name: "unknown Admin API path", method: http.MethodGet, path: castest.AdminBasePath + "/v1/nothing", withToken: true, wantStatus: http.StatusNotFound, wantCode: "404 NOT_FOUND"},
		{name: "doubled slash", method: http.MethodGet, path: castest.AdminBasePath + "//v1/adminlog/exportlogs", withToken: true, wantStatus: http.StatusNotFound, wantCode: "404 NOT_FOUND"},
		{name: "trailing slash", method: http.MethodGet, path: exportLogsPath + "/", withToken: true, wantStatus: http.StatusNotFound, wantCode: "404 NOT_FOUND"},
		{name: "exportlogs POST", method: http.MethodPost, path: exportLogsPath, withToken: true, wantStatus: http.StatusMethodNotAllowed, wantCode: "405 METHOD_NOT_ALLOWED", wantAllow: http.MethodGet},
		{name: "lookup GET", method: http.MethodGet, path: lookupPath, withToken: true, wantStatus: http.StatusMethodNotAllowed, wantCode: "405 METHOD_NOT_ALLOWED", wantAllow: http.MethodPost},
		{name: "path outside Admin API", method: http.MethodGet, path: "/v1/adminlog/exportlogs", withToken: true, wantStatus: http.StatusNotFound, wantCode: "404 NOT_FOUND"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			authorization := ""
			if tc.withToken {
				authorization = bearer(signRS256(t, f.keys.helpDesk, f.helpDeskClaims()))
			}

			got := send(t, f.server, tc.method, tc.path, authorization, "", "")

			if tc.wantCode == "" {
				if got.status != tc.wantStatus {
					t.Fatalf("status = %d, want %d; body %s", got.status, tc.wantStatus, got.body)
				}
				return
			}
			checkErrorBody(t, got, tc.wantStatus, tc.wantCode)
			if got.allow != tc.wantAllow {
				t.Errorf("Allow = %q, want %q", got.allow, tc.wantAllow)
			}
		})
	}
}

func TestUnknownPathChecksTokenFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	path := castest.AdminBasePath + "/v1/nothing"

	got := send(t, f.server, http.MethodGet, path, "", "", "")

	checkForbidden(t, got, path, castest.MessageFailedToProcess)
}

func TestRemoveKeyRejectsMintedTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token := bearer(signRS256(t, f.keys.helpDesk, f.helpDeskClaims()))

	before := send(t, f.server, http.MethodGet, exportLogsPath, token, "", "")
	if before.status != http.StatusOK {
		t.Fatalf("status before RemoveKey = %d, want 200; body %s", before.status, before.body)
	}
	if !f.server.RemoveKey(helpDeskAccessID) {
		t.Fatal("RemoveKey() = false, want true for a registered key")
	}
	after := send(t, f.server, http.MethodGet, exportLogsPath, token, "", "")

	checkForbidden(t, after, exportLogsPath, castest.MessageInvalidAccessID)
	if f.server.RemoveKey(helpDeskAccessID) {
		t.Error("second RemoveKey() = true, want false")
	}
}

func TestRegisterKeyValidation(t *testing.T) {
	t.Parallel()
	keys, err := loadTestKeys()
	if err != nil {
		t.Fatalf("generate RSA keys: %v", err)
	}
	valid := castest.Key{
		AccessID:  "5e0c1a6b-0d3e-4b8f-9a1c-7e6d5c4b3a29",
		PublicKey: &keys.helpDesk.PublicKey,
		Audience:  "https://tenant.access.securid.com/AdminInterface/restapi",
		AdminRole: castest.RoleHelpDesk,
	}
	cases := []struct {
		name   string
		change func(k *castest.Key)
	}{
		{name: "empty access ID", change: func(k *castest.Key) { k.AccessID = "" }},
		{name: "nil public key", change: func(k *castest.Key) { k.PublicKey = nil }},
		{name: "empty audience", change: func(k *castest.Key) { k.Audience = "" }},
		{name: "unknown role", change: func(k *castest.Key) { k.AdminRole = "auditor" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			server := castest.New()
			k := valid
			tc.change(&k)

			if err := server.RegisterKey(k); err == nil {
				t.Errorf("RegisterKey(%+v) = nil, want an error", k)
			}
		})
	}

	t.Run("duplicate access ID", func(t *testing.T) {
		t.Parallel()
		server := castest.New()
		if err := server.RegisterKey(valid); err != nil {
			t.Fatalf("first RegisterKey: %v", err)
		}
		if err := server.RegisterKey(valid); err == nil {
			t.Error("second RegisterKey = nil, want an error")
		}
	})
}

func TestRequestsRecordDecisions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	good := bearer(signRS256(t, f.keys.helpDesk, f.helpDeskClaims()))
	unknownSub := bearer(signRS256(t, f.keys.helpDesk, f.helpDeskClaimsWith(map[string]any{"sub": "unknown-id"})))

	send(t, f.server, http.MethodGet, exportLogsPath+"?pageSize=1", good, "", "")
	send(t, f.server, http.MethodGet, exportLogsPath, unknownSub, "", "")
	send(t, f.server, http.MethodGet, castest.HealthCheckPath, "", "", "")

	requests := f.server.Requests()
	if len(requests) != 3 {
		t.Fatalf("len(Requests()) = %d, want 3", len(requests))
	}

	accepted := requests[0]
	if accepted.Method != http.MethodGet || accepted.Path != exportLogsPath {
		t.Errorf("first request = %s %s, want GET %s", accepted.Method, accepted.Path, exportLogsPath)
	}
	if accepted.AccessID != helpDeskAccessID || accepted.Status != http.StatusOK || accepted.Err != nil {
		t.Errorf("first request = %+v, want access ID %s, status 200 and no error", accepted, helpDeskAccessID)
	}
	if !accepted.Time.Equal(testNow) {
		t.Errorf("first request Time = %v, want the injected clock %v", accepted.Time, testNow)
	}

	rejected := requests[1]
	if rejected.AccessID != "unknown-id" {
		t.Errorf("rejected AccessID = %q, want the token's sub", rejected.AccessID)
	}
	if rejected.Status != http.StatusForbidden || !errors.Is(rejected.Err, castest.ErrUnknownAccessID) {
		t.Errorf("rejected = %+v, want 403 with ErrUnknownAccessID", rejected)
	}

	health := requests[2]
	if health.Path != castest.HealthCheckPath || health.Status != http.StatusOK || health.AccessID != "" {
		t.Errorf("health check = %+v, want 200 with no access ID", health)
	}

	want := castest.Counts{Total: 3, Accepted: 1, Rejected: 1}
	if counts := f.server.Counts(); counts != want {
		t.Errorf("Counts() = %+v, want %+v", counts, want)
	}
}

func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token := bearer(signRS256(t, f.keys.helpDesk, f.helpDeskClaims()))
	const workers, perWorker = 8, 10

	var wg sync.WaitGroup
	statuses := make(chan int, workers*perWorker)
	for range workers {
		wg.Go(func() {
			for range perWorker {
				request, err := http.NewRequest(http.MethodGet, f.server.URL+exportLogsPath, nil)
				if err != nil {
					t.Errorf("build request: %v", err)
					return
				}
				request.Header.Set("Authorization", token)
				response, err := f.server.Client().Do(request)
				if err != nil {
					t.Errorf("GET exportlogs: %v", err)
					return
				}
				_, _ = io.Copy(io.Discard, response.Body)
				_ = response.Body.Close()
				statuses <- response.StatusCode
			}
		})
	}
	wg.Wait()
	close(statuses)

	for status := range statuses {
		if status != http.StatusOK {
			t.Errorf("status = %d, want 200", status)
		}
	}
	want := castest.Counts{Total: workers * perWorker, Accepted: workers * perWorker}
	if counts := f.server.Counts(); counts != want {
		t.Errorf("Counts() = %+v, want %+v", counts, want)
	}
	if got := len(f.server.Requests()); got != workers*perWorker {
		t.Errorf("len(Requests()) = %d, want %d", got, workers*perWorker)
	}
}

func TestTLSServer(t *testing.T) {
	t.Parallel()
	keys, err := loadTestKeys()
	if err != nil {
		t.Fatalf("generate RSA keys: %v", err)
	}
	server := castest.NewTLSServer(castest.WithClock(func() time.Time { return testNow }))
	t.Cleanup(server.Close)

	if !strings.HasPrefix(server.AdminURL(), "https://127.0.0.1:") {
		t.Errorf("AdminURL() = %q, want https://127.0.0.1:<port>%s", server.AdminURL(), castest.AdminBasePath)
	}
	if server.Certificate() == nil {
		t.Error("Certificate() = nil, want the server's certificate")
	}
	err = server.RegisterKey(castest.Key{
		AccessID:  helpDeskAccessID,
		PublicKey: &keys.helpDesk.PublicKey,
		Audience:  server.AdminURL(),
		AdminRole: castest.RoleHelpDesk,
	})
	if err != nil {
		t.Fatalf("RegisterKey: %v", err)
	}
	token := signRS256(t, keys.helpDesk, jwt.MapClaims{
		"sub": helpDeskAccessID,
		"iat": testNow.Unix(),
		"exp": testNow.Add(58 * time.Minute).Unix(),
		"aud": server.AdminURL(),
	})

	got := send(t, server, http.MethodGet, exportLogsPath, bearer(token), "", "")

	if got.status != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", got.status, got.body)
	}
}

func TestHandlerMountedElsewhere(t *testing.T) {
	t.Parallel()
	fake := castest.New(castest.WithClock(func() time.Time { return testNow }))
	if fake.URL != "" || fake.Certificate() != nil {
		t.Errorf("New() URL = %q, Certificate() = %v, want both empty", fake.URL, fake.Certificate())
	}
	listener := httptest.NewServer(fake.Handler())
	t.Cleanup(listener.Close)

	response, err := listener.Client().Get(listener.URL + castest.HealthCheckPath)
	if err != nil {
		t.Fatalf("GET health check: %v", err)
	}
	response.Body.Close()

	if response.StatusCode != http.StatusOK {
		t.Errorf("status = %d, want 200", response.StatusCode)
	}
	if counts := fake.Counts(); counts.Total != 1 {
		t.Errorf("Counts().Total = %d, want 1", counts.Total)
	}
}
