//go:build !unix

package cputime

import "time"

// processTime reports that this platform gives no process CPU time here.
func processTime() (time.Duration, bool) {
	return 0, false
}
