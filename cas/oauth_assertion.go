package cas

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AssertionLifetime is exp - iat of a client assertion. Public CAS clients
// use five minutes. NOTE: RSA does not publish its upper limit.
const AssertionLifetime = 5 * time.Minute

// Assertion is a signed client assertion with the values a caller may log.
type Assertion struct {
	// Raw is the compact JWS. It proves the client's identity for five
	// minutes, so it is never logged or put into an error.
	Raw       string
	ID        string // the jti claim
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// assertionClaims are the claims of an RFC 7523 client assertion. Times
// are whole Unix seconds, like the legacy tokens, so no JWT parser meets a
// fraction.
type assertionClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	ID        string `json:"jti"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`
}

// The getters satisfy jwt.Claims; the claims are only signed, never
// validated here.

func (c assertionClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.ExpiresAt, 0)), nil
}

func (c assertionClaims) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.IssuedAt, 0)), nil
}

func (c assertionClaims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }

func (c assertionClaims) GetIssuer() (string, error) { return c.Issuer, nil }

func (c assertionClaims) GetSubject() (string, error) { return c.Subject, nil }

func (c assertionClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings{c.Audience}, nil
}

// SignAssertion signs a client assertion for clientID with key: header alg
// RS256 or ES256 by key type, typ JWT and kid; claims iss = sub = clientID,
// aud = tokenURL, a random jti, iat = now truncated to the second, and exp
// = iat + AssertionLifetime.
func SignAssertion(key *OAuthKey, clientID, tokenURL string, now time.Time) (Assertion, error) {
	jti, err := newTokenID()
	if err != nil {
		return Assertion{}, err
	}

	issuedAt := now.Unix()
	claims := assertionClaims{
		Issuer:    clientID,
		Subject:   clientID,
		Audience:  tokenURL,
		ID:        jti,
		IssuedAt:  issuedAt,
		ExpiresAt: issuedAt + int64(AssertionLifetime/time.Second),
	}

	var method jwt.SigningMethod = jwt.SigningMethodRS256
	if key.Type == KeyTypeEC {
		method = jwt.SigningMethodES256
	}

	token := jwt.NewWithClaims(method, claims)
	token.Header["kid"] = key.KeyID

	raw, err := token.SignedString(key.Signer)
	if err != nil {
		return Assertion{}, fmt.Errorf("sign client assertion for client %s with key %s: %w", clientID, key.KeyID, err)
	}

	return Assertion{
		Raw:       raw,
		ID:        jti,
		IssuedAt:  time.Unix(claims.IssuedAt, 0),
		ExpiresAt: time.Unix(claims.ExpiresAt, 0),
	}, nil
}
