package plugin

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestWatchParentStopsOnNewParent(t *testing.T) {
	t.Parallel()

	var parent atomic.Int64
	parent.Store(4242)

	stopped := make(chan struct{})
	done := make(chan struct{})

	go func() {
		defer close(done)
		watchParent(context.Background(), hclog.NewNullLogger(), time.Millisecond,
			func() int { return int(parent.Load()) }, func() { close(stopped) })
	}()

	// The watcher must keep running while the parent is unchanged.
	select {
	case <-stopped:
		t.Fatal("stop was called while the parent process was unchanged")
	case <-time.After(50 * time.Millisecond):
	}

	parent.Store(1)

	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("stop was not called within 5s after the parent process changed")
	}

	<-done
}

func TestWatchParentReturnsOnCancel(t *testing.T) {
	t.Parallel()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})

	go func() {
		defer close(done)
		watchParent(ctx, hclog.NewNullLogger(), time.Millisecond, func() int { return 4242 },
			func() { t.Error("stop was called although the parent process never changed") })
	}()

	cancel()

	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("watchParent did not return within 5s after its context ended")
	}
}
