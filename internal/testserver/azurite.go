package testserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Azure is a running Azurite blob service.
type Azure struct {
	ServiceURL string // http://127.0.0.1:PORT/devstoreaccount1
	Account    string
	Key        string
	Dir        string // where Azurite keeps its data
}

// ConnectionString returns the connection string of the server.
func (a *Azure) ConnectionString() string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;",
		a.Account, a.Key, a.ServiceURL)
}

// azuriteKey is the development account key Azurite publishes.
const azuriteKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

var azureOnce once[*Azure]

// Azurite returns the Azure server shared by the test binary, starting it
// on first use. It runs $STOWAGE_AZURITE (the path of Azurite's blob
// main.js), or .cache/azurite/node_modules/azurite/dist/src/blob/main.js,
// with node.
func Azurite(tb testing.TB) *Azure {
	return azureOnce.get(tb, startAzurite)
}

func startAzurite() (*Azure, *process, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, nil, missing(fmt.Errorf("node not on PATH: %w", err))
	}
	mainJS := os.Getenv("STOWAGE_AZURITE")
	if mainJS == "" {
		rel := filepath.Join(".cache", "azurite", "node_modules", "azurite", "dist", "src", "blob", "main.js")
		dir, _ := os.Getwd()
		for dir != "" {
			if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
				mainJS = filepath.Join(dir, rel)
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if mainJS == "" {
		return nil, nil, missing(fmt.Errorf("azurite not found: run scripts/install-test-servers.sh or set STOWAGE_AZURITE"))
	}
	var lastErr error
	for range 3 {
		dir, err := os.MkdirTemp("", "stowage-azurite-")
		if err != nil {
			return nil, nil, err
		}
		addr, err := freeAddr()
		if err != nil {
			return nil, nil, err
		}
		host, port, _ := strings.Cut(addr, ":")
		a := &Azure{ServiceURL: "http://" + addr + "/devstoreaccount1", Account: "devstoreaccount1", Key: azuriteKey, Dir: dir}
		// --skipApiVersionCheck: azblob v1.8.1 and later speak an API
		// version newer than Azurite 3.37.0 knows.
		p, err := start(node, []string{mainJS, "--blobHost", host, "--blobPort", port, "--location", dir,
			"--skipApiVersionCheck", "--disableTelemetry", "--silent", "--loose"},
			dir, a.ServiceURL+"?comp=list", nil, http403OK)
		if err == nil {
			return a, p, nil
		}
		os.RemoveAll(dir)
		lastErr = err
	}
	return nil, nil, fmt.Errorf("azurite: %w", lastErr)
}
