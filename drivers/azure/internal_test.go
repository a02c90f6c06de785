package azure

import (
	"context"
	"errors"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/stretchr/testify/assert"

	"github.com/stowage/storage"
)

func TestKindOf(t *testing.T) {
	cases := []struct {
		code   string
		status int
		want   error
	}{
		{"ContainerNotFound", 404, storage.ErrContainerNotFound},
		{"BlobNotFound", 404, storage.ErrObjectNotFound},
		{"", 404, storage.ErrObjectNotFound},
		{"ContainerAlreadyExists", 409, storage.ErrContainerExists},
		{"InvalidResourceName", 400, storage.ErrInvalidName},
		{"InvalidRange", 416, storage.ErrInvalidRange},
		{"Md5Mismatch", 400, storage.ErrHashMismatch},
		{"AuthenticationFailed", 403, storage.ErrUnauthenticated},
		{"AuthorizationPermissionMismatch", 403, storage.ErrPermission},
		{"AuthorizationFailure", 403, storage.ErrPermission},
		{"", 401, storage.ErrUnauthenticated},
		{"ServerBusy", 503, nil},
	}
	for _, c := range cases {
		err := &azcore.ResponseError{ErrorCode: c.code, StatusCode: c.status}
		assert.Equal(t, c.want, kindOf(err, storage.ErrObjectNotFound), "%s %d", c.code, c.status)
	}
	err := mapErr("GetObject", "c", "b", &azcore.ResponseError{ErrorCode: "BlobNotFound", StatusCode: 404}, nil)
	var re *azcore.ResponseError
	assert.ErrorAs(t, err, &re, "the SDK's error is still reachable")
	assert.ErrorIs(t, mapErr("x", "c", "", context.Canceled, nil), context.Canceled)
}

func TestRedact(t *testing.T) {
	err := errors.New("GET https://a.blob.core.windows.net/c?sv=2021&sig=abc%2Bdef%3D&se=2026 failed; AccountKey=c2VjcmV0;EndpointSuffix=x")
	got := redact(err).Error()
	assert.NotContains(t, got, "abc%2Bdef")
	assert.NotContains(t, got, "c2VjcmV0")
	assert.Contains(t, got, "sig=REDACTED")
	assert.Contains(t, got, "AccountKey=REDACTED")
	assert.ErrorIs(t, redact(err), err)
	plain := errors.New("nothing secret")
	assert.Equal(t, plain, redact(plain))
}

func TestNames(t *testing.T) {
	for _, bad := range []string{"ab", "Abc", "a--b", "-ab", "ab-", "a_b"} {
		assert.ErrorIs(t, checkContainerName(bad), storage.ErrInvalidName, bad)
	}
	assert.NoError(t, checkContainerName("stowage-test-1"))
	for _, bad := range []string{"", "a\\b", "a\x01b", "del\x7f", string(make([]byte, 1025))} {
		assert.ErrorIs(t, checkBlobName(bad), storage.ErrInvalidName, "%q", bad)
	}
	_, err := checkMetadata(map[string]string{"A": "1", "a": "2"})
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	m, err := checkMetadata(map[string]string{"Key_1": "v"})
	assert.NoError(t, err)
	assert.Equal(t, "v", *m["key_1"])
}
