package cas

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-retryablehttp"
)

// Defaults of HTTPOptions. With them a request to an unreachable or stalled
// CAS gives up after at most 4 attempts of 10 s and 3 waits of at most 5 s,
// inside Vault's default request timeout of 90 s.
const (
	DefaultHTTPTimeout  = 10 * time.Second
	DefaultRetryMax     = 3
	DefaultRetryWaitMin = 250 * time.Millisecond
	DefaultRetryWaitMax = 5 * time.Second

	// DefaultUserAgent names the plugin in every request to CAS.
	DefaultUserAgent = "vault-plugin-secrets-rsa-cas"
)

// HTTPOptions configure NewHTTPClient. The zero value is usable.
type HTTPOptions struct {
	// CACertPEM holds extra roots to trust, as a PEM bundle of certificates.
	// The system roots stay trusted. Nil means system roots only.
	CACertPEM []byte

	// Timeout bounds each attempt, from dialing to reading the body. 0 means
	// DefaultHTTPTimeout.
	Timeout time.Duration

	// RetryMax is the number of retries after the first attempt. 0 means
	// DefaultRetryMax, and a negative value means no retries.
	RetryMax int

	// RetryWaitMin and RetryWaitMax bound the wait between attempts. A
	// Retry-After header longer than RetryWaitMax is cut to it, so a server
	// cannot stall a Vault request. 0 means the defaults.
	RetryWaitMin time.Duration
	RetryWaitMax time.Duration

	// Logger receives a line for each retry and each attempt that failed
	// for good. Nil discards them.
	Logger hclog.Logger

	// UserAgent is sent when the request sets none. "" means
	// DefaultUserAgent.
	UserAgent string
}

// ParseCABundle parses a PEM bundle of CA certificates. Every PEM block must
// be a certificate, and at least one must be present. Errors name field and
// never quote the input, in case a private key was pasted by mistake.
func ParseCABundle(field string, bundle []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate

	rest := bundle
	for {
		var block *pem.Block

		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}

		if block.Type != "CERTIFICATE" {
			return nil, fieldErrorf(field, "PEM block %d is of type %q; pass only CA certificates (BEGIN CERTIFICATE blocks)", len(certs)+1, block.Type)
		}

		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fieldErrorf(field, "certificate %d cannot be parsed: %v; pass the CA certificates in PEM form", len(certs)+1, err)
		}

		certs = append(certs, cert)
	}

	if len(certs) == 0 {
		return nil, fieldErrorf(field, "contains no PEM certificate; pass the CA certificate that signed CAS's server certificate, in PEM form (-----BEGIN CERTIFICATE-----)")
	}

	if strings.TrimSpace(string(rest)) != "" {
		return nil, fieldErrorf(field, "has text after the last PEM certificate; pass only PEM certificates")
	}

	return certs, nil
}

// NewHTTPClient returns the client for every request to CAS. It is
// go-retryablehttp over a cleanhttp pooled transport: it retries network
// failures, 429 and 5xx with backoff and honours Retry-After up to
// RetryWaitMax. It does not retry other statuses, DNS names that do not
// exist, certificate failures or an attempt that timed out. TLS
// verification is always on, with TLS 1.2 at least. Redirects are not
// followed, so a bearer token never goes to a second URL; the caller sees
// the 3xx.
//
// The client is meant to be kept and shared, since it pools connections.
func NewHTTPClient(opts HTTPOptions) (*http.Client, error) {
	return newHTTPClient(opts, nil)
}

// newHTTPClient builds the client. A non-nil base replaces the network
// transport, which lets tests inject failures without touching the network.
func newHTTPClient(opts HTTPOptions, base http.RoundTripper) (*http.Client, error) {
	opts = withHTTPDefaults(opts)

	if base == nil {
		transport := cleanhttp.DefaultPooledTransport()
		transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}

		if len(opts.CACertPEM) > 0 {
			certs, err := ParseCABundle("ca_certificate", opts.CACertPEM)
			if err != nil {
				return nil, err
			}

			// Without system roots (some minimal images have none) the
			// configured CAs alone are trusted.
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}

			for _, cert := range certs {
				pool.AddCert(cert)
			}

			transport.TLSClientConfig.RootCAs = pool
		}

		// Plain http passes validation only for loopback hosts, but a name
		// such as localhost is resolved like any other, so the dialer
		// checks the address too. A proxy would be another host.
		plain := cleanhttp.DefaultPooledTransport()
		plain.Proxy = nil
		plain.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: loopbackOnly}).DialContext

		base = &schemeTransport{tls: transport, plain: plain}
	}

	attemptClient := &http.Client{
		Transport:     base,
		Timeout:       opts.Timeout,
		CheckRedirect: noRedirects,
	}

	return &http.Client{
		Transport:     &retryTransport{opts: opts, client: attemptClient},
		CheckRedirect: noRedirects,
	}, nil
}

func withHTTPDefaults(opts HTTPOptions) HTTPOptions {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultHTTPTimeout
	}

	switch {
	case opts.RetryMax == 0:
		opts.RetryMax = DefaultRetryMax
	case opts.RetryMax < 0:
		opts.RetryMax = 0
	}

	if opts.RetryWaitMin <= 0 {
		opts.RetryWaitMin = DefaultRetryWaitMin
	}

	if opts.RetryWaitMax <= 0 {
		opts.RetryWaitMax = DefaultRetryWaitMax
	}

	if opts.RetryWaitMax < opts.RetryWaitMin {
		opts.RetryWaitMax = opts.RetryWaitMin
	}

	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}

	if opts.UserAgent == "" {
		opts.UserAgent = DefaultUserAgent
	}

	return opts
}

// errNotLoopback refuses plain http to an address that is not loopback.
var errNotLoopback = errors.New("plain http is sent only to loopback addresses; use an https URL")

// loopbackOnly is the dialer's Control function for plain http. It runs
// after name resolution, on the address about to be connected.
func loopbackOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot read the address %q: %w", errNotLoopback, address, err)
	}

	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: the host resolved to %s", errNotLoopback, host)
	}

	return nil
}

// schemeTransport sends https requests through tls and plain http requests
// through plain, whose dialer reaches only loopback addresses.
type schemeTransport struct {
	tls   *http.Transport
	plain *http.Transport
}

func (t *schemeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.EqualFold(req.URL.Scheme, "http") {
		return t.plain.RoundTrip(req)
	}

	return t.tls.RoundTrip(req)
}

func (t *schemeTransport) CloseIdleConnections() {
	t.tls.CloseIdleConnections()
	t.plain.CloseIdleConnections()
}

func noRedirects(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}

// retryTransport runs each request through a go-retryablehttp client made
// for that request, so the retry hooks can log which attempt failed. The
// shared attempt client keeps the connection pool.
type retryTransport struct {
	opts   HTTPOptions
	client *http.Client
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("User-Agent") == "" {
		// A RoundTripper must not change the caller's request.
		req = req.Clone(req.Context())
		req.Header.Set("User-Agent", t.opts.UserAgent)
	}

	// FromRequest reads the body into memory, so every attempt of a POST
	// sends it again from the start.
	retryable, err := retryablehttp.FromRequest(req)
	if err != nil {
		return nil, fmt.Errorf("prepare %s %s: %w", req.Method, RedactURL(req.URL), err)
	}

	state := &attemptState{opts: t.opts, method: req.Method, url: RedactURL(req.URL)}

	client := &retryablehttp.Client{
		HTTPClient:   t.client,
		RetryMax:     t.opts.RetryMax,
		RetryWaitMin: t.opts.RetryWaitMin,
		RetryWaitMax: t.opts.RetryWaitMax,
		CheckRetry:   state.checkRetry,
		Backoff:      state.backoff,
		ErrorHandler: state.giveUp,
	}

	return client.Do(retryable)
}

// CloseIdleConnections closes the idle connections of the pooled transport.
// http.Client.CloseIdleConnections reaches a transport only through this
// method, so without it the call would do nothing.
func (t *retryTransport) CloseIdleConnections() {
	t.client.CloseIdleConnections()
}

// attemptState follows the attempts of one request for the log.
type attemptState struct {
	opts    HTTPOptions
	method  string
	url     string
	attempt int
	lastErr error
}

// checkRetry retries network failures, 429 and 5xx except 501. It does not
// retry a DNS name that does not exist, a TLS failure or an attempt that
// timed out, because another attempt would fail the same way and only hold
// the Vault request longer.
func (s *attemptState) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	s.attempt++
	s.lastErr = withoutURL(err)

	if ctx.Err() != nil {
		return false, ctx.Err()
	}

	if err != nil {
		return retryableNetworkError(err), err
	}

	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return true, nil
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		return true, nil
	default:
		return false, nil
	}
}

func retryableNetworkError(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return false
	}

	if isTLSError(err) || errors.Is(err, errNotLoopback) {
		return false
	}

	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return false
	}

	return !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// backoff waits for Retry-After when the response has one, else grows
// exponentially from RetryWaitMin. Either way the wait is at most
// RetryWaitMax. It logs the retry, as it runs right before the wait.
func (s *attemptState) backoff(minWait, maxWait time.Duration, attemptNum int, resp *http.Response) time.Duration {
	wait := retryablehttp.DefaultBackoff(minWait, maxWait, attemptNum, nil)

	retryAfter := ""
	if resp != nil {
		retryAfter = resp.Header.Get("Retry-After")
		if d, ok := parseRetryAfter(retryAfter, time.Now()); ok {
			wait = min(d, maxWait)
		}
	}

	attrs := []any{"method", s.method, "url", s.url, "attempt", s.attempt, "wait", wait}
	if resp != nil {
		attrs = append(attrs, "status", resp.StatusCode)
		if retryAfter != "" {
			attrs = append(attrs, "retry_after", retryAfter)
		}
	} else if s.lastErr != nil {
		attrs = append(attrs, "error", s.lastErr)
	}

	s.opts.Logger.Warn("CAS request failed; retrying", attrs...)

	return wait
}

// parseRetryAfter reads a Retry-After value in seconds or as an HTTP date.
// A date in the past means no wait.
func parseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}

	if seconds, err := strconv.ParseInt(value, 10, 64); err == nil {
		if seconds < 0 {
			return 0, false
		}

		// Seconds beyond a day are cut before converting, so a huge value
		// cannot overflow the duration.
		return time.Duration(min(seconds, 86400)) * time.Second, true
	}

	date, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}

	return max(date.Sub(now), 0), true
}

// giveUp runs when retries are exhausted or an error is not retried. A
// final response is handed to the caller as it is, so it can read CAS's
// status and message.
func (s *attemptState) giveUp(resp *http.Response, err error, attempts int) (*http.Response, error) {
	if resp != nil {
		s.opts.Logger.Warn("CAS request failed", "method", s.method, "url", s.url, "attempts", attempts, "status", resp.StatusCode)

		return resp, nil
	}

	err = withoutURL(err)

	s.opts.Logger.Warn("CAS request failed", "method", s.method, "url", s.url, "attempts", attempts, "error", err)

	if attempts > 1 {
		return nil, fmt.Errorf("giving up after %d attempts: %w", attempts, err)
	}

	return nil, err
}

// withoutURL returns the cause inside the *url.Error that http.Client
// wraps errors in, since its text repeats the URL with its query.
func withoutURL(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}

	return err
}

// RedactURL returns u without user information, query or fragment, for logs
// and messages.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}

	redacted := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}

	return redacted.String()
}

// isTLSError reports whether err comes from the TLS handshake or certificate
// verification. net/http reports a plain HTTP server on an https URL only
// in the error text.
func isTLSError(err error) bool {
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return true
	}

	var (
		verifyErr    *tls.CertificateVerificationError
		unknownAuth  x509.UnknownAuthorityError
		hostnameErr  x509.HostnameError
		invalidErr   x509.CertificateInvalidError
		recordErr    tls.RecordHeaderError
		alertErr     tls.AlertError
		echRejection *tls.ECHRejectionError
	)

	return errors.As(err, &verifyErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostnameErr) ||
		errors.As(err, &invalidErr) || errors.As(err, &recordErr) || errors.As(err, &alertErr) ||
		errors.As(err, &echRejection)
}
