package gcs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	gcs "cloud.google.com/go/storage"
	"github.com/stretchr/testify/assert"
	"google.golang.org/api/googleapi"

	"github.com/stowage/storage"
)

func TestKindOf(t *testing.T) {
	cases := []struct {
		err  error
		want error
	}{
		{gcs.ErrBucketNotExist, storage.ErrContainerNotFound},
		{fmt.Errorf("wrapped: %w", gcs.ErrObjectNotExist), storage.ErrObjectNotFound},
		{&googleapi.Error{Code: http.StatusNotFound}, storage.ErrObjectNotFound},
		{&googleapi.Error{Code: http.StatusUnauthorized}, storage.ErrUnauthenticated},
		{&googleapi.Error{Code: http.StatusForbidden}, storage.ErrPermission},
		{&googleapi.Error{Code: http.StatusRequestedRangeNotSatisfiable}, storage.ErrInvalidRange},
		{&googleapi.Error{Code: http.StatusBadRequest, Errors: []googleapi.ErrorItem{{Reason: "invalid", Message: "Invalid bucket name"}}}, storage.ErrInvalidName},
		{errors.New("storage: bad CRC on read: got 1, want 2"), storage.ErrHashMismatch},
		{&googleapi.Error{Code: http.StatusInternalServerError}, nil},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, kindOf(c.err, storage.ErrObjectNotFound), "%v", c.err)
	}
	err := mapErr("GetObject", "b", "o", &googleapi.Error{Code: 403, Message: "denied"}, nil)
	assert.ErrorIs(t, err, storage.ErrPermission)
	var ge *googleapi.Error
	assert.ErrorAs(t, err, &ge, "the SDK's error is still reachable")
	assert.ErrorIs(t, mapErr("x", "b", "", context.Canceled, nil), context.Canceled)
	secret := errors.New(`oauth2: "access_token": "ya29.secret-token"`)
	assert.NotContains(t, mapErr("x", "b", "", secret, nil).Error(), "ya29")
}

func TestNames(t *testing.T) {
	for _, ok := range []string{"abc", "a_b-c.d", "0ab"} {
		assert.NoError(t, checkBucketName(ok), ok)
	}
	for _, bad := range []string{"ab", "Abc", "goog1", "-ab", "a..b", "a b"} {
		assert.ErrorIs(t, checkBucketName(bad), storage.ErrInvalidName, bad)
	}
	for _, bad := range []string{"", ".", "..", "a\nb", "a\rb", "nul\x00", ".well-known/acme-challenge/t", string(make([]byte, 1025))} {
		assert.ErrorIs(t, checkObjectName(bad), storage.ErrInvalidName, "%q", bad)
	}
}
