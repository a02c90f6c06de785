// Package gcs is the Stowage driver for Google Cloud Storage, built on
// cloud.google.com/go/storage.
//
// # URLs
//
//	gs://?project=my-project
//	gs://?project=p&endpoint=http://127.0.0.1:4443/storage/v1/
//
// The settings (for storage.Open or a URL's query) are project (needed to
// list and create buckets), credentials_file (a JSON key), endpoint,
// chunk_size (bytes), part_size (bytes) and concurrency.
//
// # Credentials
//
// Application Default Credentials unless a JSON key is given (Options
// CredentialsJSON or CredentialsFile). With STORAGE_EMULATOR_HOST set, as
// the SDK honours it, no credentials are used.
//
// # Transfers
//
// A stream or file that fits in one chunk (16 MiB unless set) is sent in
// one request, with its MD5 and CRC32C so that GCS rejects a corrupted
// upload; a larger one goes through a resumable upload whose chunk buffer
// bounds memory (about twice the chunk size), with the whole object's
// CRC32C sent at the end. After the upload the CRC32C (and the MD5 when it
// was computed) that GCS stored are compared with the ones sent. A failed
// or cancelled upload is never finalized, so no object appears.
//
// Downloads to a file of objects larger than a part (64 MiB unless set)
// fetch ranges concurrently into the temporary file, each pinned to the
// object's generation, and check the whole file's CRC32C. Whole-object
// streams are checked against the CRC32C too.
//
// # Capabilities
//
// Copy (the rewrite API), V4 signed URLs (with a service account key:
// the credentials', or Options.SignerEmail and SignerKey) and conditional
// writes. An object's ETag is its generation, which conditional writes
// compare.
//
// # Quirks
//
// fake-gcs-server, the test server, answers 412 where GCS answers 409 when
// deleting a non-empty bucket; both mean ErrContainerNotEmpty. It also
// accepts names GCS forbids, so this driver checks GCS's rules itself.
//
// # As
//
// Driver.Client returns the *storage.Client.
package gcs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"unicode/utf8"

	gcs "cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/stowage/storage"
)

// Name is the driver's registered name.
const Name = "gcs"

// Defaults of Options.
const (
	DefaultChunkSize   = 16 << 20
	DefaultPartSize    = 64 << 20
	DefaultConcurrency = 4
)

// Options configure the GCS driver.
type Options struct {
	// ProjectID is the project whose buckets are listed and created.
	ProjectID string
	// CredentialsJSON or CredentialsFile is a service account's JSON key;
	// when both are empty Application Default Credentials are used.
	CredentialsJSON []byte
	CredentialsFile string
	// Endpoint is a custom JSON API endpoint, such as an emulator's
	// "http://127.0.0.1:4443/storage/v1/". It implies no authentication.
	Endpoint string
	// ChunkSize is the resumable upload chunk; 0 means DefaultChunkSize.
	ChunkSize int
	// PartSize is the size of concurrent download ranges; 0 means
	// DefaultPartSize.
	PartSize int64
	// Concurrency is how many ranges download at once; 0 means
	// DefaultConcurrency.
	Concurrency int
	// SignerEmail and SignerKey (a PEM private key) sign URLs, when the
	// credentials do not hold a service account key.
	SignerEmail string
	SignerKey   []byte
	// Client, when set, is used as it is.
	Client *gcs.Client
}

// Driver is the GCS driver.
type Driver struct {
	client      *gcs.Client
	project     string
	chunkSize   int
	partSize    int64
	concurrency int
	ownClient   bool
	signerEmail string
	signerKey   []byte
	endpoint    *url.URL
}

var _ storage.Driver = (*Driver)(nil)

// New returns a driver for Google Cloud Storage.
func New(ctx context.Context, opts Options) (*Driver, error) {
	if opts.ChunkSize == 0 {
		opts.ChunkSize = DefaultChunkSize
	}
	if opts.PartSize == 0 {
		opts.PartSize = DefaultPartSize
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.ChunkSize < 256<<10 || opts.PartSize < 1<<20 || opts.Concurrency < 0 {
		return nil, fmt.Errorf("%w: gcs: chunk size %d (at least 256 KiB), part size %d (at least 1 MiB), concurrency %d",
			storage.ErrInvalidArgument, opts.ChunkSize, opts.PartSize, opts.Concurrency)
	}
	d := &Driver{client: opts.Client, project: opts.ProjectID, chunkSize: opts.ChunkSize,
		partSize: opts.PartSize, concurrency: opts.Concurrency,
		signerEmail: opts.SignerEmail, signerKey: opts.SignerKey, endpoint: parseEndpoint(opts.Endpoint)}
	if host := os.Getenv("STORAGE_EMULATOR_HOST"); d.endpoint == nil && host != "" {
		d.endpoint = parseEndpoint("http://" + strings.TrimPrefix(host, "http://"))
	}
	if d.client != nil {
		return d, nil
	}
	var copts []option.ClientOption
	switch {
	case opts.Endpoint != "":
		copts = append(copts, option.WithEndpoint(opts.Endpoint), option.WithoutAuthentication())
	case len(opts.CredentialsJSON) > 0:
		copts = append(copts, option.WithAuthCredentialsJSON(option.ServiceAccount, opts.CredentialsJSON))
	case opts.CredentialsFile != "":
		key, err := os.ReadFile(opts.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("gcs: %w", err)
		}
		copts = append(copts, option.WithAuthCredentialsJSON(option.ServiceAccount, key))
	}
	client, err := gcs.NewClient(ctx, copts...)
	if err != nil {
		return nil, fmt.Errorf("gcs: %w", redact(err))
	}
	d.client, d.ownClient = client, true
	return d, nil
}

func init() {
	storage.Register(Name, func(ctx context.Context, cfg storage.Config) (storage.Driver, error) {
		if err := cfg.Check("project", "credentials_file", "endpoint", "chunk_size", "part_size", "concurrency"); err != nil {
			return nil, fmt.Errorf("gcs: %w", err)
		}
		opts := Options{ProjectID: cfg["project"], CredentialsFile: cfg["credentials_file"], Endpoint: cfg["endpoint"]}
		if err := errors.Join(cfg.Int("chunk_size", &opts.ChunkSize), cfg.Int("concurrency", &opts.Concurrency),
			cfg.Int64("part_size", &opts.PartSize)); err != nil {
			return nil, fmt.Errorf("gcs: %w", err)
		}
		d, err := New(ctx, opts)
		if err != nil {
			return nil, err
		}
		return d, nil
	}, "gs")
}

// Client returns the SDK client the driver uses.
func (d *Driver) Client() *gcs.Client { return d.client }

// As sets *target to the driver's *storage.Client when target is a
// **storage.Client.
func (d *Driver) As(target any) bool {
	if p, ok := target.(**gcs.Client); ok {
		*p = d.client
		return true
	}
	return false
}

// Close closes the SDK client if the driver made it.
func (d *Driver) Close() error {
	if d.ownClient {
		return d.client.Close()
	}
	return nil
}

func opError(op, bucket, name string, kind, cause error) error {
	return storage.NewError(Name, op, bucket, name, kind, cause)
}

// checkBucketName applies GCS's bucket naming rules: 3-63 characters (up
// to 222 with dots) of lowercase letters, digits, '-', '_' and '.',
// starting and ending with a letter or digit, not "goog"-prefixed.
func checkBucketName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: bucket name %s", storage.ErrInvalidName, why)
	}
	limit := 63
	if strings.Contains(name, ".") {
		limit = 222
	}
	if len(name) < 3 || len(name) > limit {
		return bad("must be 3 to 63 characters (222 with dots)")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return bad(fmt.Sprintf("has %q (lowercase letters, digits, '-', '_', '.')", c))
		}
	}
	if !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return bad("must start and end with a letter or digit")
	}
	if strings.HasPrefix(name, "goog") || strings.Contains(name, "..") {
		return bad("is reserved or has '..'")
	}
	for seg := range strings.SplitSeq(name, ".") {
		if len(seg) > 63 {
			return bad("has a dot-separated part over 63 characters")
		}
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// checkObjectName applies GCS's object naming rules: 1-1,024 bytes of
// UTF-8, no CR or LF, not "." or "..", not starting with
// ".well-known/acme-challenge/". NUL is refused as on every driver.
func checkObjectName(name string) error {
	if name == "" || len(name) > 1024 || !utf8.ValidString(name) || strings.ContainsAny(name, "\r\n\x00") ||
		name == "." || name == ".." || strings.HasPrefix(name, ".well-known/acme-challenge/") {
		return fmt.Errorf("%w: object name must be 1-1024 bytes of UTF-8 without CR, LF or NUL, and not '.' or '..'", storage.ErrInvalidName)
	}
	return nil
}

// kindOf maps a GCS error to the storage error it stands for, or nil.
// notFound is what a bare 404 means for the call.
func kindOf(err error, notFound error) error {
	switch {
	case errors.Is(err, gcs.ErrBucketNotExist):
		return storage.ErrContainerNotFound
	case errors.Is(err, gcs.ErrObjectNotExist):
		return storage.ErrObjectNotFound
	case strings.Contains(err.Error(), "bad CRC on read"):
		return storage.ErrHashMismatch
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		switch ge.Code {
		case http.StatusNotFound:
			return notFound
		case http.StatusUnauthorized:
			return storage.ErrUnauthenticated
		case http.StatusForbidden:
			return storage.ErrPermission
		case http.StatusRequestedRangeNotSatisfiable:
			return storage.ErrInvalidRange
		case http.StatusPreconditionFailed:
			return storage.ErrPreconditionFailed
		case http.StatusBadRequest:
			for _, e := range ge.Errors {
				if e.Reason == "invalid" && strings.Contains(strings.ToLower(e.Message), "name") {
					return storage.ErrInvalidName
				}
			}
		}
	}
	return nil
}

// mapErr wraps a GCS error as the storage error of op.
func mapErr(op, bucket, name string, err error, notFound error) error {
	if err == nil {
		return nil
	}
	var se *storage.Error
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return opError(op, bucket, name, nil, err)
	}
	return opError(op, bucket, name, kindOf(err, notFound), redact(err))
}

// redact removes access tokens from an error's text, keeping the error
// for errors.As. The SDK's errors carry none today; this keeps it so.
func redact(err error) error {
	msg := err.Error()
	if !strings.Contains(msg, "access_token") && !strings.Contains(msg, "Bearer ") && !strings.Contains(msg, "private_key") {
		return err
	}
	return &redacted{err: err}
}

type redacted struct{ err error }

func (r *redacted) Error() string { return "gcs: error text withheld: it held a credential" }
func (r *redacted) Unwrap() error { return r.err }
