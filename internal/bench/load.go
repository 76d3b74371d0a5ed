package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Target is one kind of request the load generator repeats unchanged.
type Target struct {
	Name   string
	Method string
	URL    string
	Token  string // sent as X-Vault-Token
	Body   []byte // nil for none
}

// Stop decides when a load run ends: after Duration, or once Requests
// requests have been sent. Exactly one of them is set.
type Stop struct {
	Duration time.Duration
	Requests int
}

// Run sends target's request from clients goroutines, each waiting for its
// response before sending the next, until stop. Any status other than HTTP
// 200 ends the run with an error. The client should keep connections alive, so
// the run measures requests rather than TCP handshakes.
func Run(ctx context.Context, client *http.Client, target Target, clients int, stop Stop) (Sample, error) {
	if clients < 1 {
		return Sample{}, fmt.Errorf("clients is %d; use at least 1", clients)
	}

	if (stop.Duration > 0) == (stop.Requests > 0) {
		return Sample{}, fmt.Errorf("set exactly one of duration (%s) and requests (%d)", stop.Duration, stop.Requests)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		issued   atomic.Int64
		mu       sync.Mutex
		sample   Sample
		firstErr error
		wg       sync.WaitGroup
	)

	deadline := time.Time{}
	start := time.Now()

	if stop.Duration > 0 {
		deadline = start.Add(stop.Duration)
	}

	more := func() bool {
		if ctx.Err() != nil {
			return false
		}

		if stop.Requests > 0 {
			return issued.Add(1) <= int64(stop.Requests)
		}

		return time.Now().Before(deadline)
	}

	for range clients {
		wg.Go(func() {
			latencies := make([]time.Duration, 0, 1024)

			var err error

			for more() {
				var latency time.Duration

				latency, err = send(ctx, client, target)
				if err != nil {
					cancel()

					break
				}

				latencies = append(latencies, latency)
			}

			mu.Lock()
			defer mu.Unlock()

			sample.Requests += len(latencies)
			sample.Latencies = append(sample.Latencies, latencies...)

			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}

	wg.Wait()
	sample.Elapsed = time.Since(start)

	if firstErr != nil {
		return sample, firstErr
	}

	return sample, ctx.Err()
}

// send makes one request and returns how long it took until the whole body
// was read.
func send(ctx context.Context, client *http.Client, target Target) (time.Duration, error) {
	var body io.Reader
	if target.Body != nil {
		body = bytes.NewReader(target.Body)
	}

	req, err := http.NewRequestWithContext(ctx, target.Method, target.URL, body)
	if err != nil {
		return 0, fmt.Errorf("%s: build request: %w", target.Name, err)
	}

	req.Header.Set("X-Vault-Token", target.Token)

	if target.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	start := time.Now()

	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", target.Name, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		// Only failed responses are shown, because a successful one contains
		// a token.
		text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))

		return 0, fmt.Errorf("%s: %s %s returned HTTP %d: %s", target.Name, target.Method, target.URL, resp.StatusCode, bytes.TrimSpace(text))
	}

	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, fmt.Errorf("%s: read response: %w", target.Name, err)
	}

	return time.Since(start), nil
}

// NewClient returns an HTTP client that keeps up to conns connections to
// one host alive and never uses a proxy: the generator only talks to the
// loopback server it started.
func NewClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     time.Minute,
		},
	}
}
