package testserver

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// S3 is a running S3 server: versitygw over a temporary folder.
type S3 struct {
	Endpoint  string // http://127.0.0.1:PORT, or https:// with TLS
	AccessKey string
	SecretKey string
	Region    string
	Dir       string // the folder whose subfolders are the buckets
	CACertPEM []byte // with TLS, the certificate to trust
}

var s3Once, s3TLSOnce once[*S3]

// VersityGW returns the S3 server shared by the test binary, starting it
// on first use. Its binary is $STOWAGE_VERSITYGW, .cache/bin/versitygw or
// versitygw on PATH.
func VersityGW(tb testing.TB) *S3 {
	return s3Once.get(tb, func() (*S3, *process, error) { return startVersityGW(false) })
}

// VersityGWTLS is VersityGW serving HTTPS with a self-signed certificate
// for 127.0.0.1.
func VersityGWTLS(tb testing.TB) *S3 {
	return s3TLSOnce.get(tb, func() (*S3, *process, error) { return startVersityGW(true) })
}

func startVersityGW(useTLS bool) (*S3, *process, error) {
	bin, err := findBinary("STOWAGE_VERSITYGW", "versitygw")
	if err != nil {
		return nil, nil, missing(err)
	}
	dir, err := os.MkdirTemp("", "stowage-versitygw-")
	if err != nil {
		return nil, nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return nil, nil, err
	}
	s := &S3{AccessKey: "stowage-test-access", SecretKey: "stowage-test-secret-key", Region: "us-east-1", Dir: data}
	var tlsArgs []string
	scheme := "http://"
	if useTLS {
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if s.CACertPEM, err = selfSigned(certFile, keyFile); err != nil {
			return nil, nil, err
		}
		tlsArgs = []string{"--cert", certFile, "--key", keyFile}
		scheme = "https://"
	}
	var lastErr error
	for range 3 { // the free port may be taken before the server binds it
		addr, err := freeAddr()
		if err != nil {
			return nil, nil, err
		}
		s.Endpoint = scheme + addr
		args := append([]string{"--port", addr, "--access", s.AccessKey, "--secret", s.SecretKey,
			"--region", s.Region, "--health", "/health", "--quiet"}, tlsArgs...)
		p, err := start(bin, append(args, "posix", data), dir, s.Endpoint+"/health", s.CACertPEM)
		if err == nil {
			return s, p, nil
		}
		lastErr = err
	}
	os.RemoveAll(dir)
	return nil, nil, fmt.Errorf("versitygw: %w", lastErr)
}
