package s3

import (
	"context"
	"errors"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/stowage/storage"
)

// kindOf maps an S3 error to the storage error it stands for, or nil. A
// 404 without a code (the answer to a HEAD) is notFound, which the caller
// picks: a missing bucket or a missing key.
func kindOf(err error, notFound error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchBucket":
			return storage.ErrContainerNotFound
		case "NoSuchKey":
			return storage.ErrObjectNotFound
		case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
			return storage.ErrContainerExists
		case "BucketNotEmpty":
			return storage.ErrContainerNotEmpty
		case "InvalidBucketName", "KeyTooLongError", "InvalidObjectName":
			return storage.ErrInvalidName
		case "InvalidRange":
			return storage.ErrInvalidRange
		case "PreconditionFailed", "ConditionalRequestConflict":
			return storage.ErrPreconditionFailed
		case "BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch", "XAmzContentSHA256Mismatch":
			return storage.ErrHashMismatch
		case "AccessDenied", "AllAccessDisabled", "AccountProblem":
			return storage.ErrPermission
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired":
			return storage.ErrUnauthenticated
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotFound:
			return notFound
		case http.StatusForbidden:
			return storage.ErrPermission
		case http.StatusUnauthorized:
			return storage.ErrUnauthenticated
		case http.StatusRequestedRangeNotSatisfiable:
			return storage.ErrInvalidRange
		case http.StatusPreconditionFailed:
			return storage.ErrPreconditionFailed
		}
	}
	return nil
}

// mapErr wraps an S3 error as the storage error of op. The SDK's messages
// carry the operation, status and request IDs, never the credentials or a
// signature.
func (d *Driver) mapErr(op, bucket, key string, err error, notFound error) error {
	if err == nil {
		return nil
	}
	var se *storage.Error
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return d.opError(op, bucket, key, nil, err)
	}
	return d.opError(op, bucket, key, kindOf(err, notFound), err)
}

// code returns the S3 error code of err, or "".
func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
