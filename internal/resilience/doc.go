// Package resilience holds the tests that put a fault-injecting proxy
// between each cloud driver and its real test server: resets, corrupted
// bytes, busy servers, cancellation.
package resilience
