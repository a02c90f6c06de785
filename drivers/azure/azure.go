// Package azure is the Stowage driver for Azure Blob Storage (block blobs),
// built on github.com/Azure/azure-sdk-for-go/sdk/storage/azblob.
//
// # URLs
//
//	azblob://?account=myaccount
//	azblob://?service_url=http://127.0.0.1:10000/devstoreaccount1&account=devstoreaccount1&account_key=...
//
// The settings (for storage.Open or a URL's query) are account,
// account_key, sas_token, connection_string, service_url, block_size,
// part_size and concurrency. Prefer the environment
// (AZURE_STORAGE_CONNECTION_STRING) or DefaultAzureCredential to secrets
// in URLs, which end up in logs.
//
// # Credentials
//
// In this order: Options.Client; a connection string (the setting, or
// AZURE_STORAGE_CONNECTION_STRING when nothing else is given); an account
// name and key; a SAS token; Options.Credential; else
// azidentity.DefaultAzureCredential (environment, workload identity,
// managed identity, Azure CLI).
//
// # Names and metadata
//
// Container names are 3-63 lowercase letters, digits and single hyphens.
// Blob names are 1-1,024 bytes of UTF-8 without control characters or
// "\" (Azure and Azurite turn it into "/"). Metadata keys must be C#
// identifiers (letters, digits, "_", not starting with a digit): others
// give ErrInvalidArgument before any request. Azure keeps keys
// case-insensitively and hands them back in varying case; this driver
// returns them in lower case.
//
// # Transfers
//
// A file or a stream that fits in one block (8 MiB unless set) goes in
// one Put Blob with a Content-MD5. Larger ones are staged as blocks
// concurrently (each with a transactional MD5; a stream's memory bounded
// by block size × (concurrency + 1), a file's blocks read straight from
// it) and committed with the whole blob's MD5 as its Content-MD5. A
// failed or cancelled upload commits nothing, so no blob appears.
// A download to a file takes one GET up to the part size (16 MiB unless
// set), else ranges fetched concurrently into the temporary file, and
// checks the stored Content-MD5, when there is one, as the bytes land;
// every read goes through the SDK's retry reader so that a dropped
// connection resumes.
//
// # Capabilities
//
// Copy (Copy Blob within the account, waited for), conditional writes
// (If-None-Match and If-Match on Put Blob and Put Block List) and signed
// URLs (a service SAS for one blob, when the driver has the account key;
// a PUT must carry the header the SignedURL lists).
//
// # Semantics
//
// Azure deletes a container that still holds blobs; like Libcloud, this
// driver refuses with ErrContainerNotEmpty instead. It lists one blob
// first and then deletes: two requests, so a blob written between them is
// deleted with the container.
//
// # As
//
// Driver.Client returns the *azblob.Client.
package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/transfer"
)

// Name is the driver's registered name.
const Name = "azure"

// Defaults of Options.
const (
	DefaultBlockSize = 8 << 20
	// DefaultPartSize is small enough that the whole download's MD5,
	// which follows the written prefix, keeps up with four ranges: with
	// 64 MiB ranges most of it was left for the end.
	DefaultPartSize    = 16 << 20
	DefaultConcurrency = 4
)

// Options configure the Azure driver.
type Options struct {
	// ServiceURL is the blob endpoint, such as
	// "https://myaccount.blob.core.windows.net/" (the default for
	// AccountName) or Azurite's "http://127.0.0.1:10000/devstoreaccount1".
	ServiceURL string
	// ConnectionString, when set, gives the endpoint and credentials.
	ConnectionString string
	// AccountName and AccountKey are a shared key.
	AccountName string
	AccountKey  string
	// SASToken is a shared access signature (without the leading "?").
	SASToken string
	// Credential is an Entra ID credential; nil means
	// azidentity.DefaultAzureCredential when nothing else is given.
	Credential azcore.TokenCredential
	// BlockSize is the size of staged blocks; 0 means DefaultBlockSize.
	BlockSize int64
	// PartSize is the size of concurrent download ranges; 0 means
	// DefaultPartSize.
	PartSize int64
	// Concurrency is how many blocks or ranges move at once; 0 means
	// DefaultConcurrency.
	Concurrency int
	// Client, when set, is used as it is.
	Client *azblob.Client
}

// Driver is the Azure Blob Storage driver.
type Driver struct {
	client      *azblob.Client
	blockSize   int64
	partSize    int64
	concurrency int
	buffers     *transfer.BufferPool
	canSign     bool // the client holds an account key
}

var _ storage.Driver = (*Driver)(nil)

// New returns a driver for Azure Blob Storage.
func New(ctx context.Context, opts Options) (*Driver, error) {
	if opts.BlockSize == 0 {
		opts.BlockSize = DefaultBlockSize
	}
	if opts.PartSize == 0 {
		opts.PartSize = DefaultPartSize
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.BlockSize < 64<<10 || opts.BlockSize > 4000<<20 || opts.PartSize < 1<<20 || opts.Concurrency < 0 {
		return nil, fmt.Errorf("%w: azure: block size %d (64 KiB to 4000 MiB), part size %d (at least 1 MiB), concurrency %d",
			storage.ErrInvalidArgument, opts.BlockSize, opts.PartSize, opts.Concurrency)
	}
	client, err := newClient(opts)
	if err != nil {
		return nil, fmt.Errorf("azure: %w", redact(err))
	}
	// Only a shared key signs a SAS here; find out whether the client has
	// one by asking it to sign.
	_, sasErr := client.ServiceClient().NewContainerClient("probe").NewBlobClient("probe").GetSASURL(
		sas.BlobPermissions{Read: true}, time.Now().Add(time.Minute), nil)
	return &Driver{client: client, blockSize: opts.BlockSize, partSize: opts.PartSize,
		concurrency: opts.Concurrency, buffers: transfer.NewBufferPool(opts.BlockSize), canSign: sasErr == nil}, nil
}

func newClient(opts Options) (*azblob.Client, error) {
	if opts.Client != nil {
		return opts.Client, nil
	}
	serviceURL := opts.ServiceURL
	if serviceURL == "" && opts.AccountName != "" {
		serviceURL = "https://" + opts.AccountName + ".blob.core.windows.net/"
	}
	switch {
	case opts.ConnectionString != "":
		return azblob.NewClientFromConnectionString(opts.ConnectionString, nil)
	case opts.AccountKey != "":
		if opts.AccountName == "" {
			return nil, fmt.Errorf("%w: an account key needs the account name", storage.ErrInvalidArgument)
		}
		cred, err := azblob.NewSharedKeyCredential(opts.AccountName, opts.AccountKey)
		if err != nil {
			return nil, fmt.Errorf("%w: the account key is not valid base64", storage.ErrInvalidArgument)
		}
		return azblob.NewClientWithSharedKeyCredential(serviceURL, cred, nil)
	case opts.SASToken != "":
		if serviceURL == "" {
			return nil, fmt.Errorf("%w: a SAS token needs the account name or service URL", storage.ErrInvalidArgument)
		}
		sep := "?"
		if strings.Contains(serviceURL, "?") {
			sep = "&"
		}
		return azblob.NewClientWithNoCredential(serviceURL+sep+strings.TrimPrefix(opts.SASToken, "?"), nil)
	}
	if cs := os.Getenv("AZURE_STORAGE_CONNECTION_STRING"); cs != "" && serviceURL == "" && opts.Credential == nil {
		return azblob.NewClientFromConnectionString(cs, nil)
	}
	if serviceURL == "" {
		return nil, fmt.Errorf("%w: give an account name, a service URL or a connection string", storage.ErrInvalidArgument)
	}
	cred := opts.Credential
	if cred == nil {
		var err error
		if cred, err = azidentity.NewDefaultAzureCredential(nil); err != nil {
			return nil, err
		}
	}
	return azblob.NewClient(serviceURL, cred, nil)
}

func init() {
	storage.Register(Name, func(ctx context.Context, cfg storage.Config) (storage.Driver, error) {
		if err := cfg.Check("account", "account_key", "sas_token", "connection_string", "service_url",
			"block_size", "part_size", "concurrency"); err != nil {
			return nil, fmt.Errorf("azure: %w", err)
		}
		opts := Options{AccountName: cfg["account"], AccountKey: cfg["account_key"], SASToken: cfg["sas_token"],
			ConnectionString: cfg["connection_string"], ServiceURL: cfg["service_url"]}
		if err := errors.Join(cfg.Int64("block_size", &opts.BlockSize), cfg.Int64("part_size", &opts.PartSize),
			cfg.Int("concurrency", &opts.Concurrency)); err != nil {
			return nil, fmt.Errorf("azure: %w", err)
		}
		d, err := New(ctx, opts)
		if err != nil {
			return nil, err
		}
		return d, nil
	}, "azblob")
}

// Client returns the SDK client the driver uses.
func (d *Driver) Client() *azblob.Client { return d.client }

// As sets *target to the driver's *azblob.Client when target is a
// **azblob.Client.
func (d *Driver) As(target any) bool {
	if p, ok := target.(**azblob.Client); ok {
		*p = d.client
		return true
	}
	return false
}

// Close does nothing: the SDK client holds nothing that needs it.
func (d *Driver) Close() error { return nil }

func opError(op, container, name string, kind, cause error) error {
	return storage.NewError(Name, op, container, name, kind, cause)
}

// checkContainerName applies Azure's container naming rules.
func checkContainerName(name string) error {
	bad := fmt.Errorf("%w: container name must be 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit", storage.ErrInvalidName)
	if len(name) < 3 || len(name) > 63 || strings.Contains(name, "--") {
		return bad
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return bad
		}
	}
	if name[0] == '-' || name[len(name)-1] == '-' {
		return bad
	}
	return nil
}

// checkBlobName refuses what Azure or Azurite cannot keep as given.
func checkBlobName(name string) error {
	if name == "" || len(name) > 1024 || !utf8.ValidString(name) || strings.ContainsRune(name, '\\') {
		return fmt.Errorf("%w: blob name must be 1-1024 bytes of UTF-8 without '\\'", storage.ErrInvalidName)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: blob name has control character %U", storage.ErrInvalidName, r)
		}
	}
	return nil
}

// checkMetadata lower-cases keys and refuses those Azure cannot keep. The
// SDK panics while signing a request with a non-ASCII key, so nothing
// reaches it unchecked.
func checkMetadata(m map[string]string) (map[string]*string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]*string, len(m))
	for k, v := range m {
		lk := strings.ToLower(k)
		if !isIdentifier(lk) {
			return nil, fmt.Errorf("%w: metadata key %q: Azure takes C# identifiers (letters, digits, '_', not starting with a digit)", storage.ErrInvalidArgument, k)
		}
		if _, dup := out[lk]; dup {
			return nil, fmt.Errorf("%w: metadata key %q given twice in different cases", storage.ErrInvalidArgument, lk)
		}
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				return nil, fmt.Errorf("%w: metadata value of %q must be printable ASCII", storage.ErrInvalidArgument, k)
			}
		}
		out[lk] = &v
	}
	return out, nil
}

func isIdentifier(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// kindOf maps an Azure error to the storage error it stands for, or nil.
func kindOf(err error, notFound error) error {
	switch {
	case bloberror.HasCode(err, bloberror.ContainerNotFound, bloberror.ContainerBeingDeleted):
		return storage.ErrContainerNotFound
	case bloberror.HasCode(err, bloberror.BlobNotFound):
		return storage.ErrObjectNotFound
	case bloberror.HasCode(err, bloberror.ContainerAlreadyExists):
		return storage.ErrContainerExists
	case bloberror.HasCode(err, bloberror.InvalidResourceName, bloberror.OutOfRangeInput):
		return storage.ErrInvalidName
	case bloberror.HasCode(err, bloberror.InvalidRange):
		return storage.ErrInvalidRange
	case bloberror.HasCode(err, bloberror.ConditionNotMet, bloberror.BlobAlreadyExists, bloberror.TargetConditionNotMet):
		return storage.ErrPreconditionFailed
	case bloberror.HasCode(err, bloberror.MD5Mismatch, bloberror.InvalidMD5):
		return storage.ErrHashMismatch
	case bloberror.HasCode(err, bloberror.AuthenticationFailed, bloberror.NoAuthenticationInformation),
		// Azurite says AuthorizationFailure for a bad signature, where
		// Azure says AuthenticationFailed; its message tells them apart.
		bloberror.HasCode(err, bloberror.AuthorizationFailure) && strings.Contains(err.Error(), "failed to authenticate"):
		return storage.ErrUnauthenticated
	case bloberror.HasCode(err, bloberror.AuthorizationFailure, bloberror.AuthorizationPermissionMismatch,
		bloberror.InsufficientAccountPermissions, bloberror.AuthorizationResourceTypeMismatch):
		return storage.ErrPermission
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		switch re.StatusCode {
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
		}
	}
	return nil
}

// mapErr wraps an Azure error as the storage error of op, with any SAS
// signature or account key removed from its text.
func mapErr(op, container, name string, err error, notFound error) error {
	if err == nil {
		return nil
	}
	var se *storage.Error
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return opError(op, container, name, nil, err)
	}
	return opError(op, container, name, kindOf(err, notFound), redact(err))
}

// secrets matches what must not be printed: a SAS signature, and an
// account key in a connection string.
var secrets = regexp.MustCompile(`(?i)(sig=)[^&\s"']+|(AccountKey=)[^;\s"']+`)

// redact hides secrets in err's text; errors.As still reaches the SDK's
// error, whose own text is the SDK's business.
func redact(err error) error {
	msg := err.Error()
	clean := secrets.ReplaceAllString(msg, "${1}${2}REDACTED")
	if clean == msg {
		return err
	}
	return &redacted{msg: clean, err: err}
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }
