package storage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrPreconditionFailed means a conditional write found the object not as
// the condition required: present for IfNotExists, of another ETag for
// IfMatch.
var ErrPreconditionFailed = errors.New("precondition failed")

// Capabilities says what a driver can do beyond the base API.
type Capabilities struct {
	// Copy is server-side copy of an object within the provider (Copier).
	Copy bool
	// SignedURL is making URLs that grant GET or PUT of one object for a
	// while, to clients without credentials (URLSigner, Sign).
	SignedURL bool
	// ConditionalWrite is honouring UploadOptions.IfNotExists and IfMatch.
	ConditionalWrite bool
}

// CapabilityReporter is implemented by drivers whose capabilities are not
// all methods (conditional writes are upload options) or depend on how
// the driver was opened (signing needs a key).
type CapabilityReporter interface {
	Capabilities() Capabilities
}

// CapabilitiesOf reports what d can do beyond the base API: what it says
// if it is a CapabilityReporter, else what its methods show.
func CapabilitiesOf(d Driver) Capabilities {
	if r, ok := d.(CapabilityReporter); ok {
		return r.Capabilities()
	}
	var caps Capabilities
	_, caps.Copy = d.(Copier)
	_, caps.SignedURL = d.(URLSigner)
	return caps
}

// CopyOptions adjust a server-side copy. A nil *CopyOptions keeps the
// source's content type and metadata.
type CopyOptions struct {
	// ContentType and Metadata, when set, replace the source's.
	ContentType string
	Metadata    map[string]string
}

// Copier is implemented by drivers that copy objects without moving the
// bytes through the client.
type Copier interface {
	// CopyObject copies src to the object name in dst, which belongs to
	// the same driver, replacing any object of that name.
	CopyObject(ctx context.Context, src *Object, dst *Container, name string, opts *CopyOptions) (*Object, error)
}

// Copy copies src to the object name of dst on the provider's side. It
// returns ErrNotSupported when the driver cannot, or when src and dst
// belong to different drivers.
func Copy(ctx context.Context, src *Object, dst *Container, name string, opts *CopyOptions) (*Object, error) {
	if err := ValidateObject(src); err != nil {
		return nil, err
	}
	if err := ValidateContainer(dst); err != nil {
		return nil, err
	}
	c, ok := src.Driver().(Copier)
	if !ok {
		return nil, fmt.Errorf("%w: the driver cannot copy on the server", ErrNotSupported)
	}
	if src.Driver() != dst.driver {
		return nil, fmt.Errorf("%w: copy between two drivers: download and upload instead", ErrNotSupported)
	}
	return c.CopyObject(ctx, src, dst, name, opts)
}

// SignedURL is a request a client without credentials may send: the URL,
// the method, and the headers it must carry (Azure wants one on PUT).
type SignedURL struct {
	Method string
	URL    string
	Header http.Header
	// Expires is when the URL stops working.
	Expires time.Time
}

// URLSigner is implemented by drivers that sign URLs.
type URLSigner interface {
	// Sign returns a request with which a plain HTTP client may send
	// method ("GET" or "PUT") for the object o until expiry has passed.
	Sign(ctx context.Context, o *Object, method string, expiry time.Duration) (*SignedURL, error)
}

// Sign returns a signed request granting method ("GET" or "PUT") on o for
// expiry (at most 7 days), or ErrNotSupported when the driver cannot sign.
// Anyone holding the URL has that access until it expires: treat it as a
// secret.
func Sign(ctx context.Context, o *Object, method string, expiry time.Duration) (*SignedURL, error) {
	if err := ValidateObject(o); err != nil {
		return nil, err
	}
	if method != http.MethodGet && method != http.MethodPut {
		return nil, fmt.Errorf("%w: signed URL method %q (GET or PUT)", ErrInvalidArgument, method)
	}
	if expiry <= 0 || expiry > 7*24*time.Hour {
		return nil, fmt.Errorf("%w: signed URL expiry %v (up to 7 days)", ErrInvalidArgument, expiry)
	}
	s, ok := o.Driver().(URLSigner)
	if !ok {
		return nil, fmt.Errorf("%w: the driver cannot sign URLs", ErrNotSupported)
	}
	return s.Sign(ctx, o, method, expiry)
}
