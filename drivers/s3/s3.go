// Package s3 is the Stowage driver for Amazon S3 and every store that
// speaks its API, built on aws-sdk-go-v2.
//
// # URLs
//
//	s3://?region=eu-west-1
//	s3://?endpoint=http://127.0.0.1:7070&region=us-east-1&access_key=...&secret_key=...
//
// The settings (for storage.Open or a URL's query) are region, endpoint,
// access_key, secret_key, session_token, ca_file (a PEM bundle of
// certificate authorities to trust), path_style ("true" or "false"),
// part_size (bytes) and concurrency. Prefer the environment or shared
// config for credentials over URLs, which end up in logs.
//
// # Credentials
//
// Unless access_key and secret_key are given, the AWS default chain is
// used: environment variables, the shared config and credentials files,
// SSO, web identity, container and instance roles.
//
// # S3-compatible providers
//
// Each is registered under its own name (and URL scheme) as a preset of
// endpoint and addressing over this same driver:
//
//	minio         endpoint=URL of the server (path-style)
//	ceph          endpoint=URL of the RADOS gateway (path-style)
//	r2            account=Cloudflare account ID; region auto
//	digitalocean  region=nyc3, sfo3, ams3, fra1, sgp1, syd1, ...
//	wasabi        region=us-east-1, eu-central-1, ap-northeast-1, ...
//	b2            region=us-west-004, eu-central-003, ... (Backblaze S3 API)
//	scaleway      region=fr-par, nl-ams, pl-waw
//	ovh           region=gra, sbg, de, uk, bhs, waw, ...
//
// For example storage.OpenURL(ctx, "r2://?account=0123abcd") or
// storage.Open(ctx, "wasabi", storage.Config{"region": "eu-central-1"}).
// An explicit endpoint setting overrides the preset's.
//
// # Transfers
//
// Objects up to the part size (8 MiB unless set) go in one PutObject with
// a Content-MD5; larger ones, and streams that turn out larger, in a
// multipart upload whose parts (each with its Content-MD5, its returned
// ETag checked) are sent concurrently. A stream is cut into parts as it
// arrives, so memory is bounded by part size × (concurrency + 1); a file is
// sent in sections read straight from it. The whole object is then checked
// against the multipart ETag ("md5-of-part-md5s-N"). A failed or cancelled
// multipart upload is aborted, so no object and no parts remain.
//
// Downloads to a file of objects larger than a part fetch ranges
// concurrently into the temporary file, pinned to the object's ETag, and
// check the MD5 when the ETag is one (a single-part upload without KMS or
// customer-key encryption). Object.Hash is that MD5, or empty for a
// multipart object.
//
// # Semantics
//
// S3 deletes a missing object without complaint; this driver checks first
// so that DeleteObject reports ErrObjectNotFound as every driver does. The
// check and the delete are two requests.
//
// # As
//
// Driver.Client returns the *s3.Client for anything this API lacks.
package s3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/transfer"
)

// Name is the driver's registered name.
const Name = "s3"

// Defaults of Options, chosen by measurement against versitygw on
// loopback (see BENCHMARKS.md).
const (
	DefaultPartSize    = 8 << 20
	DefaultConcurrency = 4
)

// Options configure the S3 driver.
type Options struct {
	// Region is the bucket region; "us-east-1" when empty and an Endpoint
	// is set.
	Region string
	// Endpoint is the URL of an S3-compatible server or a custom AWS
	// endpoint; empty for AWS.
	Endpoint string
	// PathStyle addresses buckets as endpoint/bucket instead of
	// bucket.endpoint. Nil means on for a custom Endpoint, off for AWS.
	PathStyle *bool
	// AccessKeyID, SecretAccessKey and SessionToken are static credentials;
	// when empty the AWS default chain is used.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// CACertPEM is a PEM bundle of certificate authorities to trust in
	// addition to the system's, for a server with its own certificate.
	CACertPEM []byte
	// PartSize is the size of multipart upload parts and download ranges;
	// 0 means DefaultPartSize. S3 requires at least 5 MiB.
	PartSize int64
	// Concurrency is how many parts or ranges move at once; 0 means
	// DefaultConcurrency.
	Concurrency int
	// Client, when set, is used as it is and the settings above that make
	// a client are ignored.
	Client *s3.Client
}

// Driver is the S3 driver.
type Driver struct {
	name        string // the registered name it was opened as, for errors
	client      *s3.Client
	region      string
	partSize    int64
	concurrency int
	buffers     *transfer.BufferPool
}

var _ storage.Driver = (*Driver)(nil)

// New returns a driver for the S3 API described by opts.
func New(ctx context.Context, opts Options) (*Driver, error) {
	return newDriver(ctx, Name, opts)
}

func newDriver(ctx context.Context, name string, opts Options) (*Driver, error) {
	if opts.PartSize == 0 {
		opts.PartSize = DefaultPartSize
	}
	if opts.PartSize < 5<<20 || opts.PartSize > 5<<30 {
		return nil, fmt.Errorf("%w: %s: part size %d is outside S3's 5 MiB to 5 GiB", storage.ErrInvalidArgument, name, opts.PartSize)
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Concurrency < 0 {
		return nil, fmt.Errorf("%w: %s: concurrency %d", storage.ErrInvalidArgument, name, opts.Concurrency)
	}
	if opts.Region == "" && opts.Endpoint != "" {
		opts.Region = "us-east-1"
	}
	client := opts.Client
	if client == nil {
		var err error
		if client, err = newClient(ctx, opts); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	region := opts.Region
	if region == "" {
		region = client.Options().Region
	}
	return &Driver{
		name:        name,
		client:      client,
		region:      region,
		partSize:    opts.PartSize,
		concurrency: opts.Concurrency,
		buffers:     transfer.NewBufferPool(opts.PartSize),
	}, nil
}

func newClient(ctx context.Context, opts Options) (*s3.Client, error) {
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		// Keep a connection per concurrent part of a few transfers at once.
		t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, 4*opts.Concurrency)
	})
	if len(opts.CACertPEM) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(opts.CACertPEM) {
			return nil, fmt.Errorf("%w: no certificate in the CA bundle", storage.ErrInvalidArgument)
		}
		httpClient = httpClient.WithTransportOptions(func(t *http.Transport) {
			if t.TLSClientConfig == nil {
				t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			t.TLSClientConfig.RootCAs = pool
		})
	}
	loadOpts := []func(*config.LoadOptions) error{config.WithHTTPClient(httpClient)}
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	if opts.AccessKeyID != "" || opts.SecretAccessKey != "" {
		if opts.AccessKeyID == "" || opts.SecretAccessKey == "" {
			return nil, fmt.Errorf("%w: give both the access key and the secret key", storage.ErrInvalidArgument)
		}
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, opts.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, err
	}
	pathStyle := opts.Endpoint != ""
	if opts.PathStyle != nil {
		pathStyle = *opts.PathStyle
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
		o.UsePathStyle = pathStyle
		// Parts carry a Content-MD5, which every S3-compatible server
		// checks; the SDK's own CRC would hash every byte a second time.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		// Downloads are checked by the driver; do not log per range that
		// the SDK did not.
		o.DisableLogOutputChecksumValidationSkipped = true
	}), nil
}

// Client returns the SDK client the driver uses.
func (d *Driver) Client() *s3.Client { return d.client }

// As sets *target to the driver's *s3.Client and reports true when target
// is a **s3.Client.
func (d *Driver) As(target any) bool {
	if p, ok := target.(**s3.Client); ok {
		*p = d.client
		return true
	}
	return false
}

// Close does nothing: the SDK client holds no resources that need it.
func (d *Driver) Close() error { return nil }

func (d *Driver) opError(op, bucket, key string, kind, cause error) error {
	return storage.NewError(d.name, op, bucket, key, kind, cause)
}

// checkBucketName applies S3's bucket naming rules, so that every
// S3-compatible server refuses the same names.
func checkBucketName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: bucket name %s (3-63 lowercase letters, digits, '-' and '.')", storage.ErrInvalidName, why)
	}
	if len(name) < 3 || len(name) > 63 {
		return bad("must be 3 to 63 characters")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return bad(fmt.Sprintf("has %q", c))
		}
	}
	first, last := name[0], name[len(name)-1]
	if first == '-' || first == '.' || last == '-' || last == '.' {
		return bad("must start and end with a letter or digit")
	}
	if strings.Contains(name, "..") || strings.Contains(name, ".-") || strings.Contains(name, "-.") {
		return bad("has adjacent punctuation")
	}
	if net.ParseIP(name) != nil {
		return bad("looks like an IP address")
	}
	return nil
}

// checkKey applies the limits every S3 server shares: 1 to 1,024 bytes of
// UTF-8. NUL is refused too: servers over a file system cannot store it.
func checkKey(key string) error {
	if key == "" || len(key) > 1024 || !utf8.ValidString(key) || strings.IndexByte(key, 0) >= 0 {
		return fmt.Errorf("%w: object key must be 1-1024 bytes of UTF-8 without NUL", storage.ErrInvalidName)
	}
	return nil
}

func init() {
	storage.Register(Name, func(ctx context.Context, cfg storage.Config) (storage.Driver, error) {
		return openConfig(ctx, Name, cfg, preset{})
	})
	for _, p := range presets {
		storage.Register(p.name, func(ctx context.Context, cfg storage.Config) (storage.Driver, error) {
			return openConfig(ctx, p.name, cfg, p)
		})
	}
}

// openConfig opens a driver from registry settings.
func openConfig(ctx context.Context, name string, cfg storage.Config, p preset) (storage.Driver, error) {
	known := []string{"region", "endpoint", "access_key", "secret_key", "session_token", "ca_file",
		"path_style", "part_size", "concurrency"}
	if p.needsAccount {
		known = append(known, "account")
	}
	if err := cfg.Check(known...); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	opts, err := p.options(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	opts.AccessKeyID, opts.SecretAccessKey, opts.SessionToken = cfg["access_key"], cfg["secret_key"], cfg["session_token"]
	if f := cfg["ca_file"]; f != "" {
		if opts.CACertPEM, err = os.ReadFile(f); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if v := cfg["path_style"]; v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: path_style %q", storage.ErrInvalidArgument, name, v)
		}
		opts.PathStyle = &b
	}
	if err := errors.Join(cfg.Int64("part_size", &opts.PartSize), cfg.Int("concurrency", &opts.Concurrency)); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	d, err := newDriver(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// preset is an S3-compatible provider: how its endpoint follows from the
// settings, and how it addresses buckets.
type preset struct {
	name          string
	defaultRegion string
	needsAccount  bool
	// endpoint returns the provider's endpoint; nil means the user gives
	// it (or, for plain s3, AWS's own).
	endpoint  func(region, account string) string
	pathStyle bool
}

var presets = []preset{
	{name: "minio", defaultRegion: "us-east-1", pathStyle: true},
	{name: "ceph", defaultRegion: "us-east-1", pathStyle: true},
	{name: "r2", defaultRegion: "auto", needsAccount: true,
		endpoint: func(_, account string) string { return "https://" + account + ".r2.cloudflarestorage.com" }},
	{name: "digitalocean", defaultRegion: "nyc3",
		endpoint: func(region, _ string) string { return "https://" + region + ".digitaloceanspaces.com" }},
	{name: "wasabi", defaultRegion: "us-east-1",
		endpoint: func(region, _ string) string { return "https://s3." + region + ".wasabisys.com" }},
	{name: "b2", defaultRegion: "us-west-004",
		endpoint: func(region, _ string) string { return "https://s3." + region + ".backblazeb2.com" }},
	{name: "scaleway", defaultRegion: "fr-par",
		endpoint: func(region, _ string) string { return "https://s3." + region + ".scw.cloud" }},
	{name: "ovh", defaultRegion: "gra",
		endpoint: func(region, _ string) string { return "https://s3." + region + ".io.cloud.ovh.net" }},
}

// options resolves the preset's endpoint and addressing from cfg.
func (p preset) options(cfg storage.Config) (Options, error) {
	opts := Options{Region: cfg["region"], Endpoint: cfg["endpoint"]}
	if p.name == "" {
		return opts, nil
	}
	if opts.Region == "" {
		opts.Region = p.defaultRegion
	}
	if opts.Endpoint == "" {
		if p.endpoint == nil {
			return opts, fmt.Errorf("%w: %s needs the endpoint setting", storage.ErrInvalidArgument, p.name)
		}
		account := cfg["account"]
		if p.needsAccount && account == "" {
			return opts, fmt.Errorf("%w: %s needs the account setting", storage.ErrInvalidArgument, p.name)
		}
		if strings.ContainsAny(opts.Region+account, "/:@?#") {
			return opts, fmt.Errorf("%w: %s: region or account has URL characters", storage.ErrInvalidArgument, p.name)
		}
		opts.Endpoint = p.endpoint(opts.Region, account)
	}
	ps := p.pathStyle
	opts.PathStyle = &ps
	return opts, nil
}
