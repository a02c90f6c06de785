// Package testserver starts the real servers that driver tests run
// against (versitygw for S3, and later the GCS and Azure emulators) on a
// free loopback port, once per test binary, and stops them at its end.
//
// The servers are installed by scripts/install-test-servers.sh into the
// repository's .cache/bin, or found through an environment variable naming
// the binary, or on PATH. When one is missing the tests that need it are
// skipped, unless STOWAGE_REQUIRE_SERVERS is set (as CI sets it), in which
// case they fail.
package testserver

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Required reports whether a missing server must fail the tests.
func Required() bool { return os.Getenv("STOWAGE_REQUIRE_SERVERS") != "" }

// findBinary looks for a server's binary: the environment variable env,
// then .cache/bin in this directory or any above it, then PATH.
func findBinary(env, name string) (string, error) {
	if p := os.Getenv(env); p != "" {
		return p, nil
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			p := filepath.Join(dir, ".cache", "bin", name)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found: run scripts/install-test-servers.sh or set %s", name, env)
}

// freeAddr returns a loopback address with a port free at the time.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// process is a running server.
type process struct {
	cmd  *exec.Cmd
	dir  string
	done chan struct{}
	err  error // why it exited, once done is closed
	logs *tailBuffer
}

// readyStatus tells whether a health check's status means the server is
// up.
type readyStatus func(code int) bool

func http200(code int) bool { return code == http.StatusOK }

// http403OK takes any answer that the server itself gave: an unsigned
// request to Azurite is refused, but it is answered.
func http403OK(code int) bool { return code == http.StatusOK || code == http.StatusForbidden }

// start runs bin with args and waits until GET healthURL answers as ready
// says (200 when ready is nil), trusting caPEM for HTTPS when given.
func start(bin string, args []string, dir, healthURL string, caPEM []byte, ready ...readyStatus) (*process, error) {
	isReady := readyStatus(http200)
	if len(ready) > 0 {
		isReady = ready[0]
	}
	p := &process{cmd: exec.Command(bin, args...), dir: dir, done: make(chan struct{}), logs: &tailBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: time.Second}
	if caPEM != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited: %v: %s", filepath.Base(bin), p.err, p.logs.String())
		default:
		}
		if resp, err := client.Get(healthURL); err == nil {
			resp.Body.Close()
			if isReady(resp.StatusCode) {
				return p, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop()
	return nil, fmt.Errorf("%s not ready after 30 s: %s", filepath.Base(bin), p.logs.String())
}

func (p *process) stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	os.RemoveAll(p.dir)
}

// tailBuffer keeps the last few KiB a server printed, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 8<<10 {
		t.buf = t.buf[len(t.buf)-8<<10:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

var (
	mu      sync.Mutex
	running []*process
)

// StopAll stops every server this package started. Call it from TestMain
// after m.Run.
func StopAll() {
	mu.Lock()
	defer mu.Unlock()
	for _, p := range running {
		p.stop()
	}
	running = nil
}

// Main runs the tests of a package that uses servers and stops them after.
func Main(m *testing.M) int {
	code := m.Run()
	StopAll()
	return code
}

// once starts a server on first use and remembers the result, so that
// every test of a binary shares one server.
type once[T any] struct {
	o   sync.Once
	v   T
	err error
}

func (o *once[T]) get(tb testing.TB, startFn func() (T, *process, error)) T {
	tb.Helper()
	o.o.Do(func() {
		var p *process
		o.v, p, o.err = startFn()
		if p != nil {
			mu.Lock()
			running = append(running, p)
			mu.Unlock()
		}
	})
	if o.err != nil {
		if Required() || !errors.Is(o.err, errMissing) {
			tb.Fatalf("test server: %v", o.err)
		}
		tb.Skipf("test server: %v", o.err)
	}
	return o.v
}

// errMissing marks a server that is not installed, the one case in which
// a test may skip.
var errMissing = errors.New("not installed")

func missing(err error) error { return fmt.Errorf("%w: %v", errMissing, err) }

// selfSigned writes a certificate and key for 127.0.0.1 and localhost and
// returns the certificate's PEM.
func selfSigned(certFile, keyFile string) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "stowage test server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	return certPEM, nil
}

// Server is a server started by a program rather than a test, such as the
// comparison benchmark; the program stops it.
type Server struct{ p *process }

// Stop stops the server and removes its data.
func (s *Server) Stop() { s.p.stop() }

// CPUTime returns the user and system CPU time the server has used so
// far, read from /proc (zero where there is none).
func (s *Server) CPUTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: utime and stime are the 12th and 13th of them, in
	// clock ticks of 1/100 s on Linux.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func serve[T any](v T, p *process, err error) (T, *Server, error) {
	if err != nil {
		var zero T
		return zero, nil, err
	}
	return v, &Server{p}, nil
}

// StartVersityGW starts an S3 server that the caller stops.
func StartVersityGW() (*S3, *Server, error) { return serve(startVersityGW(false)) }

// StartFakeGCS starts a GCS server that the caller stops.
func StartFakeGCS() (*GCS, *Server, error) { return serve(startFakeGCS()) }

// StartAzurite starts an Azure server that the caller stops.
func StartAzurite() (*Azure, *Server, error) { return serve(startAzurite()) }
