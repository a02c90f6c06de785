// Package faultproxy is an HTTP proxy on loopback, put between a driver
// and its real test server, that injects the failures of a bad network or
// a busy server: connections reset after some bytes, stalls, 500/503
// answers, truncated bodies, flipped bytes in requests or responses. Each
// request's fault comes from a Rule, which may follow a schedule or a
// seeded random source.
package faultproxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is what happens to one request. The zero Fault forwards it as it
// is.
type Fault struct {
	// Status, when set, answers with this status and an S3/Azure style
	// error body instead of forwarding.
	Status int
	// Stall waits this long before forwarding (or until the client gives
	// up).
	Stall time.Duration
	// ResetAfter, when positive, closes the connection once this many
	// bytes of the response body were sent.
	ResetAfter int64
	// Truncate, when positive, ends the response body after this many
	// bytes, keeping the headers, and closes the connection.
	Truncate int64
	// FlipResponseAt and FlipRequestAt, when not negative, flip the bits
	// of the body byte at that offset.
	FlipResponseAt int64
	FlipRequestAt  int64
}

// None is the Fault that changes nothing.
var None = Fault{FlipResponseAt: -1, FlipRequestAt: -1}

// Rule picks the fault for the n-th request (from 0).
type Rule func(n int64, r *http.Request) Fault

// Stats counts what went through.
type Stats struct {
	Requests      int64
	ResponseBytes int64 // body bytes sent to the client
	Faults        int64 // requests given a fault
	Resets        int64
}

// Proxy is a running fault proxy.
type Proxy struct {
	URL  string // http://127.0.0.1:PORT
	Host string // 127.0.0.1:PORT

	srv        *http.Server
	rule       atomic.Pointer[Rule]
	n          atomic.Int64
	resetEvery atomic.Int64 // reset whichever response crosses each multiple
	claimed    atomic.Int64 // body bytes counted towards resetEvery
	stats      struct {
		requests, bytes, faults, resets atomic.Int64
	}
}

// Options configure a proxy.
type Options struct {
	// RewriteHost sends the target's host in the Host header instead of
	// the proxy's. Servers that route by host want it (fake-gcs-server);
	// SigV4 signs the Host, so S3 must not have it rewritten.
	RewriteHost bool
}

// Start runs a proxy in front of target ("http://host:port") until Close.
func Start(target string, opts Options) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{URL: "http://" + l.Addr().String(), Host: l.Addr().String()}
	p.SetRule(nil)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			if !opts.RewriteHost {
				pr.Out.Host = pr.In.Host
			}
		},
		Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64},
		// Flush as it goes, so that a reset after N bytes is after N bytes.
		FlushInterval: -1,
		ErrorLog:      nil,
	}
	p.srv = &http.Server{Handler: p.handler(rp), ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(l)
	return p, nil
}

// SetRule sets the rule for the requests that follow; nil forwards all.
func (p *Proxy) SetRule(r Rule) {
	if r == nil {
		r = func(int64, *http.Request) Fault { return None }
	}
	p.rule.Store(&r)
}

// ResetEvery makes the proxy reset the connection of whichever response
// carries the body bytes past each multiple of every, counted over all
// responses: a download in ranges meets resets as a single stream would.
// 0 stops it.
func (p *Proxy) ResetEvery(every int64) { p.resetEvery.Store(every) }

// Stats returns the counts so far.
func (p *Proxy) Stats() Stats {
	return Stats{Requests: p.stats.requests.Load(), ResponseBytes: p.stats.bytes.Load(),
		Faults: p.stats.faults.Load(), Resets: p.stats.resets.Load()}
}

// Close stops the proxy.
func (p *Proxy) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.srv.Shutdown(ctx)
}

func (p *Proxy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := p.n.Add(1) - 1
		p.stats.requests.Add(1)
		f := (*p.rule.Load())(n, r)
		if f != None {
			p.stats.faults.Add(1)
		}
		if f.Stall > 0 {
			select {
			case <-time.After(f.Stall):
			case <-r.Context().Done():
				return
			}
		}
		if f.Status != 0 {
			io.Copy(io.Discard, r.Body)
			code := map[int]string{500: "InternalError", 503: "SlowDown"}[f.Status]
			if code == "" {
				code = "Fault"
			}
			w.Header().Set("Content-Type", "application/xml")
			w.Header().Set("x-ms-error-code", map[int]string{503: "ServerBusy", 500: "InternalError"}[f.Status])
			w.WriteHeader(f.Status)
			fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code><Message>injected by faultproxy</Message></Error>", code)
			return
		}
		if f.FlipRequestAt >= 0 && r.Body != nil {
			r.Body = &flipReader{r: r.Body, at: f.FlipRequestAt}
		}
		fw := &faultWriter{ResponseWriter: w, f: f, p: p}
		next.ServeHTTP(fw, r)
	})
}

// faultWriter applies a fault to the response body as it is written.
type faultWriter struct {
	http.ResponseWriter
	f    Fault
	p    *Proxy
	sent int64
	dead bool
}

func (w *faultWriter) Write(b []byte) (int, error) {
	if w.dead {
		return 0, io.ErrClosedPipe
	}
	limit := int64(-1)
	if w.f.ResetAfter > 0 {
		limit = w.f.ResetAfter
	}
	if w.f.Truncate > 0 && (limit < 0 || w.f.Truncate < limit) {
		limit = w.f.Truncate
	}
	if w.f.FlipResponseAt >= w.sent && w.f.FlipResponseAt < w.sent+int64(len(b)) {
		b = bytes.Clone(b)
		b[w.f.FlipResponseAt-w.sent] ^= 0xff
	}
	if every := w.p.resetEvery.Load(); every > 0 && len(b) > 0 {
		// Each write claims its span of the running count at once, so
		// that of concurrent responses exactly one meets each multiple:
		// reading the count and adding to it after could let two writes
		// pass a multiple with no reset.
		end := w.p.claimed.Add(int64(len(b)))
		start := end - int64(len(b))
		if m := (start/every + 1) * every; m <= end {
			if l := w.sent + m - start; limit < 0 || l < limit {
				limit = max(l, w.sent)
			}
		}
	}
	if limit >= 0 && w.sent+int64(len(b)) >= limit {
		head := b[:limit-w.sent]
		n, _ := w.ResponseWriter.Write(head)
		w.sent += int64(n)
		w.p.stats.bytes.Add(int64(n))
		w.kill()
		return n, io.ErrClosedPipe
	}
	n, err := w.ResponseWriter.Write(b)
	w.sent += int64(n)
	w.p.stats.bytes.Add(int64(n))
	return n, err
}

// kill closes the client's connection where the body stands.
func (w *faultWriter) kill() {
	w.dead = true
	w.p.stats.resets.Add(1)
	rc := http.NewResponseController(w.ResponseWriter)
	_ = rc.Flush()
	if conn, _, err := rc.Hijack(); err == nil {
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, not a clean close
		}
		conn.Close()
	}
}

func (w *faultWriter) Flush() {
	if !w.dead {
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
}

func (w *faultWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// flipReader flips the byte at offset at of what it reads.
type flipReader struct {
	r    io.ReadCloser
	at   int64
	read int64
}

func (f *flipReader) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if f.at >= f.read && f.at < f.read+int64(n) {
		b[f.at-f.read] ^= 0xff
	}
	f.read += int64(n)
	return n, err
}

func (f *flipReader) Close() error { return f.r.Close() }

// ResetEvery returns a rule that resets each response after every bytes
// of body: a download of many times that size meets a reset each time.
func ResetEvery(every int64, match func(*http.Request) bool) Rule {
	return func(n int64, r *http.Request) Fault {
		if match != nil && !match(r) {
			return None
		}
		f := None
		f.ResetAfter = every
		return f
	}
}

// Seeded returns a rule that gives each request a fault drawn from faults
// with probability p, using a source seeded with seed, so a run can be
// repeated.
func Seeded(seed uint64, p float64, faults ...Fault) Rule {
	var mu sync.Mutex
	state := seed
	next := func() uint64 { // splitmix64
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	return func(n int64, r *http.Request) Fault {
		mu.Lock()
		defer mu.Unlock()
		if float64(next()%1_000_000)/1_000_000 >= p || len(faults) == 0 {
			return None
		}
		return faults[next()%uint64(len(faults))]
	}
}
