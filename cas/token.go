package cas

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// MaxTokenLifetime is the longest exp - iat that CAS accepts.
	MaxTokenLifetime = time.Hour

	// ClockSkew is the clock difference CAS tolerates when it checks iat and
	// exp.
	ClockSkew = 60 * time.Second

	// MaxTTL is the longest token life this package mints. It stays one skew
	// allowance below CAS's limit, so exp is at most an hour after CAS's own
	// clock even when that clock runs up to 60 s behind ours.
	MaxTTL = MaxTokenLifetime - ClockSkew
)

// ErrInvalidTTL is returned by Mint for a TTL that is not positive or is
// longer than MaxTTL.
var ErrInvalidTTL = errors.New("invalid token TTL")

// Signer mints legacy Administration API JWTs for one key.
type Signer struct {
	accessID string
	audience string
	key      *rsa.PrivateKey
	method   *jwt.SigningMethodRSA
}

// NewSigner returns a Signer for the key file's access ID, the
// adminRestApiUrl used as the audience byte for byte, and its private key.
func NewSigner(accessID, audience string, key *rsa.PrivateKey) *Signer {
	return &Signer{accessID: accessID, audience: audience, key: key, method: jwt.SigningMethodRS256}
}

// Token is a minted JWT with the values callers report alongside it.
type Token struct {
	Raw       string
	ID        string // the jti claim
	Subject   string
	Audience  string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// legacyClaims has exactly the claims CAS reads plus jti. Times are whole
// Unix seconds: CAS clients send integers, and sub-second precision would
// make golang-jwt emit fractions.
type legacyClaims struct {
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`
	ID        string `json:"jti"`
}

// GetExpirationTime and the other getters satisfy jwt.Claims; the signer
// never validates, so they only report the values.
func (c legacyClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.ExpiresAt, 0)), nil
}

func (c legacyClaims) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.IssuedAt, 0)), nil
}

func (c legacyClaims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }

func (c legacyClaims) GetIssuer() (string, error) { return "", nil }

func (c legacyClaims) GetSubject() (string, error) { return c.Subject, nil }

func (c legacyClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings{c.Audience}, nil
}

// Mint signs a token issued at now, truncated to the second, that expires
// ttl later. The TTL is rounded down to whole seconds.
func (s *Signer) Mint(now time.Time, ttl time.Duration) (Token, error) {
	ttl = ttl.Truncate(time.Second)
	if ttl <= 0 || ttl > MaxTTL {
		return Token{}, fmt.Errorf("%w: %s is outside 1s..%s", ErrInvalidTTL, ttl, MaxTTL)
	}

	jti, err := newTokenID()
	if err != nil {
		return Token{}, err
	}

	issuedAt := now.Unix()
	claims := legacyClaims{
		Subject:   s.accessID,
		Audience:  s.audience,
		IssuedAt:  issuedAt,
		ExpiresAt: issuedAt + int64(ttl/time.Second),
		ID:        jti,
	}

	// golang-jwt writes the header as {"alg":"RS256","typ":"JWT"}, which is
	// all CAS accepts.
	raw, err := jwt.NewWithClaims(s.method, claims).SignedString(s.key)
	if err != nil {
		return Token{}, fmt.Errorf("sign token for access ID %s: %w", s.accessID, err)
	}

	return Token{
		Raw:       raw,
		ID:        jti,
		Subject:   s.accessID,
		Audience:  s.audience,
		IssuedAt:  time.Unix(claims.IssuedAt, 0),
		ExpiresAt: time.Unix(claims.ExpiresAt, 0),
	}, nil
}

// newTokenID returns 128 random bits as hex, for the jti claim.
func newTokenID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("read random token ID: %w", err)
	}

	return hex.EncodeToString(b[:]), nil
}
