package s3

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/http"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stowage/storage"
)

func TestPresetEndpoints(t *testing.T) {
	cases := []struct {
		name     string
		cfg      storage.Config
		endpoint string
		region   string
		path     bool
	}{
		{"minio", storage.Config{"endpoint": "http://minio:9000"}, "http://minio:9000", "us-east-1", true},
		{"ceph", storage.Config{"endpoint": "https://rgw.example", "region": "default"}, "https://rgw.example", "default", true},
		{"r2", storage.Config{"account": "abc123"}, "https://abc123.r2.cloudflarestorage.com", "auto", false},
		{"digitalocean", storage.Config{"region": "fra1"}, "https://fra1.digitaloceanspaces.com", "fra1", false},
		{"digitalocean", storage.Config{}, "https://nyc3.digitaloceanspaces.com", "nyc3", false},
		{"wasabi", storage.Config{"region": "eu-central-1"}, "https://s3.eu-central-1.wasabisys.com", "eu-central-1", false},
		{"b2", storage.Config{"region": "eu-central-003"}, "https://s3.eu-central-003.backblazeb2.com", "eu-central-003", false},
		{"scaleway", storage.Config{"region": "nl-ams"}, "https://s3.nl-ams.scw.cloud", "nl-ams", false},
		{"ovh", storage.Config{"region": "sbg"}, "https://s3.sbg.io.cloud.ovh.net", "sbg", false},
		{"wasabi", storage.Config{"endpoint": "https://custom"}, "https://custom", "us-east-1", false},
	}
	byName := map[string]preset{}
	for _, p := range presets {
		byName[p.name] = p
	}
	for _, c := range cases {
		p, ok := byName[c.name]
		require.True(t, ok, c.name)
		opts, err := p.options(c.cfg)
		require.NoError(t, err, c.name)
		assert.Equal(t, c.endpoint, opts.Endpoint, c.name)
		assert.Equal(t, c.region, opts.Region, c.name)
		assert.Equal(t, c.path, *opts.PathStyle, c.name)
	}
	for _, bad := range []struct {
		name string
		cfg  storage.Config
	}{{"minio", nil}, {"ceph", nil}, {"r2", nil}, {"wasabi", storage.Config{"region": "x/evil.com?"}}} {
		_, err := byName[bad.name].options(bad.cfg)
		assert.ErrorIs(t, err, storage.ErrInvalidArgument, bad.name)
	}
	// Each preset is registered under its name.
	for _, p := range presets {
		assert.Contains(t, storage.Drivers(), p.name)
	}
	// Opening one makes a client for its endpoint without a request.
	d, err := storage.Open(context.Background(), "r2", storage.Config{"account": "abc", "access_key": "k", "secret_key": "s"})
	require.NoError(t, err)
	assert.Equal(t, "https://abc.r2.cloudflarestorage.com", *d.(*Driver).client.Options().BaseEndpoint)
	assert.False(t, d.(*Driver).client.Options().UsePathStyle)
}

func apiErr(code string, status int) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      &smithy.GenericAPIError{Code: code},
	}}
}

func TestKindOf(t *testing.T) {
	cases := []struct {
		err  error
		want error
	}{
		{apiErr("NoSuchBucket", 404), storage.ErrContainerNotFound},
		{apiErr("NoSuchKey", 404), storage.ErrObjectNotFound},
		{apiErr("NotFound", 404), storage.ErrObjectNotFound},
		{apiErr("BucketAlreadyOwnedByYou", 409), storage.ErrContainerExists},
		{apiErr("BucketAlreadyExists", 409), storage.ErrContainerExists},
		{apiErr("BucketNotEmpty", 409), storage.ErrContainerNotEmpty},
		{apiErr("InvalidBucketName", 400), storage.ErrInvalidName},
		{apiErr("InvalidRange", 416), storage.ErrInvalidRange},
		{apiErr("BadDigest", 400), storage.ErrHashMismatch},
		{apiErr("AccessDenied", 403), storage.ErrPermission},
		{apiErr("", 403), storage.ErrPermission},
		{apiErr("SignatureDoesNotMatch", 403), storage.ErrUnauthenticated},
		{apiErr("InvalidAccessKeyId", 403), storage.ErrUnauthenticated},
		{apiErr("", 401), storage.ErrUnauthenticated},
		{apiErr("InternalError", 500), nil},
		{errors.New("dial tcp: refused"), nil},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, kindOf(c.err, storage.ErrObjectNotFound), "%v", c.err)
	}
	d := &Driver{name: "s3"}
	err := d.mapErr("GetObject", "b", "k", apiErr("NoSuchKey", 404), nil)
	assert.ErrorIs(t, err, storage.ErrObjectNotFound)
	var ae smithy.APIError
	assert.ErrorAs(t, err, &ae, "the SDK's error is still reachable")
	assert.ErrorIs(t, d.mapErr("x", "b", "", context.Canceled, nil), context.Canceled)
}

func TestBucketNames(t *testing.T) {
	for _, ok := range []string{"abc", "my-bucket.v2", "a1b", "0-0"} {
		assert.NoError(t, checkBucketName(ok), ok)
	}
	for _, bad := range []string{"", "ab", "Abc", "a_b", "-ab", "ab-", "a..b", "a.-b", "192.168.1.1", "a/b", string(make([]byte, 64))} {
		assert.ErrorIs(t, checkBucketName(bad), storage.ErrInvalidName, bad)
	}
}

func TestCompositeCRC32C(t *testing.T) {
	// The composite is the CRC32C of the parts' big-endian CRC32Cs.
	sums := map[int32][4]byte{1: {0, 0, 0, 1}, 2: {0xff, 0, 0, 0}}
	whole := crc32.Checksum([]byte{0, 0, 0, 1, 0xff, 0, 0, 0}, crc32.MakeTable(crc32.Castagnoli))
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], whole)
	assert.Equal(t, base64.StdEncoding.EncodeToString(b[:])+"-2", compositeCRC32C(sums))
	assert.Equal(t, "", md5FromETag(`"abc-2"`, "", ""))
	assert.Equal(t, "d41d8cd98f00b204e9800998ecf8427e", md5FromETag(`"d41d8cd98f00b204e9800998ecf8427e"`, "AES256", ""))
	assert.Equal(t, "", md5FromETag(`"d41d8cd98f00b204e9800998ecf8427e"`, "aws:kms", ""))
	assert.Equal(t, "", md5FromETag(`"d41d8cd98f00b204e9800998ecf8427e"`, "", "AES256"))
}
