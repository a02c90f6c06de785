package testserver

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// GCS is a running fake-gcs-server, keeping objects in memory.
type GCS struct {
	URL      string // http://127.0.0.1:PORT
	Endpoint string // the JSON API endpoint: URL + "/storage/v1/"
	Project  string
}

var gcsOnce once[*GCS]

// FakeGCS returns the GCS server shared by the test binary, starting it on
// first use. Its binary is $STOWAGE_FAKE_GCS_SERVER,
// .cache/bin/fake-gcs-server or fake-gcs-server on PATH.
func FakeGCS(tb testing.TB) *GCS {
	return gcsOnce.get(tb, startFakeGCS)
}

func startFakeGCS() (*GCS, *process, error) {
	bin, err := findBinary("STOWAGE_FAKE_GCS_SERVER", "fake-gcs-server")
	if err != nil {
		return nil, nil, missing(err)
	}
	var lastErr error
	for range 3 {
		dir, err := os.MkdirTemp("", "stowage-fake-gcs-")
		if err != nil {
			return nil, nil, err
		}
		addr, err := freeAddr()
		if err != nil {
			return nil, nil, err
		}
		host, port, _ := strings.Cut(addr, ":")
		url := "http://" + addr
		// -public-host must be the address the client uses, or reads 404.
		p, err := start(bin, []string{"-scheme", "http", "-host", host, "-port", port, "-backend", "memory",
			"-public-host", addr, "-external-url", url, "-log-level", "warn", "-filesystem-root", dir},
			dir, url+"/_internal/healthcheck", nil)
		if err == nil {
			return &GCS{URL: url, Endpoint: url + "/storage/v1/", Project: "stowage-test"}, p, nil
		}
		os.RemoveAll(dir)
		lastErr = err
	}
	return nil, nil, fmt.Errorf("fake-gcs-server: %w", lastErr)
}
