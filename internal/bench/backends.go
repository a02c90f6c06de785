package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	gstorage "cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/blob/s3blob"
	"google.golang.org/api/option"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/azure"
	"github.com/stowage/storage/drivers/gcs"
	"github.com/stowage/storage/drivers/local"
	"github.com/stowage/storage/drivers/memory"
	"github.com/stowage/storage/drivers/s3"
	"github.com/stowage/storage/internal/testserver"
)

// The libraries compared, in the report's order.
const (
	libStowage = "stowage"
	libSDK     = "sdk"
	libGocloud = "gocloud"
	// libUnverified is Stowage with SkipHashCheck, measured beside it in
	// the large transfers to show what verification costs.
	libUnverified = "stowage-unverified"
)

var libNames = []string{libStowage, libSDK, libGocloud}

// spec says where a backend's data lives, so that a child process can
// reach the same server and container.
type spec struct {
	Backend   string
	Container string
	S3        *testserver.S3    `json:",omitempty"`
	GCS       *testserver.GCS   `json:",omitempty"`
	Azure     *testserver.Azure `json:",omitempty"`
	Dir       string            `json:",omitempty"` // the local driver's root
}

// sdkName is what the report calls the provider's own library.
func sdkName(backend string) string {
	switch backend {
	case "s3":
		return "aws-sdk-go-v2"
	case "gcs":
		return "cloud.google.com/go/storage"
	case "azure":
		return "azblob"
	case "local":
		return "os + io.Copy"
	}
	return ""
}

// shared reports whether every library sees the same objects; memory
// stores are private to each library.
func (s spec) shared() bool { return s.Backend != "memory" }

// openLibs opens every library the backend has, on an existing container.
func openLibs(ctx context.Context, s spec) (map[string]lib, func(), error) {
	libs := map[string]lib{}
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	fail := func(err error) (map[string]lib, func(), error) { closeAll(); return nil, nil, err }
	var d storage.Driver
	var err error
	switch s.Backend {
	case "s3":
		d, err = s3.New(ctx, s3.Options{Endpoint: s.S3.Endpoint, Region: s.S3.Region,
			AccessKeyID: s.S3.AccessKey, SecretAccessKey: s.S3.SecretKey})
		if err != nil {
			return fail(err)
		}
		// The SDK client as its documentation makes one, pointed at the
		// server; gocloud is given the same.
		client := awss3.New(awss3.Options{Region: s.S3.Region, BaseEndpoint: aws.String(s.S3.Endpoint), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(s.S3.AccessKey, s.S3.SecretKey, "")})
		libs[libSDK] = s3SDK{client: client, tm: transfermanager.New(client), bucket: s.Container}
		b, err := s3blob.OpenBucket(ctx, client, s.Container, nil)
		if err != nil {
			return fail(err)
		}
		closers = append(closers, func() { b.Close() })
		libs[libGocloud] = gocloudLib{b}
	case "gcs":
		os.Setenv("STORAGE_EMULATOR_HOST", s.GCS.URL)
		gd, err := gcs.New(ctx, gcs.Options{Endpoint: s.GCS.Endpoint, ProjectID: s.GCS.Project})
		if err != nil {
			return fail(err)
		}
		closers = append(closers, func() { gd.Close() })
		d = gd
		client, err := gstorage.NewClient(ctx, option.WithEndpoint(s.GCS.Endpoint), option.WithoutAuthentication())
		if err != nil {
			return fail(err)
		}
		closers = append(closers, func() { client.Close() })
		libs[libSDK] = gcsSDK{client.Bucket(s.Container)}
		b, err := gcsblob.OpenBucket(ctx, nil, s.Container, &gcsblob.Options{Client: client})
		if err != nil {
			return fail(err)
		}
		closers = append(closers, func() { b.Close() })
		libs[libGocloud] = gocloudLib{b}
	case "azure":
		d, err = azure.New(ctx, azure.Options{ServiceURL: s.Azure.ServiceURL, AccountName: s.Azure.Account, AccountKey: s.Azure.Key})
		if err != nil {
			return fail(err)
		}
		cred, err := azblob.NewSharedKeyCredential(s.Azure.Account, s.Azure.Key)
		if err != nil {
			return fail(err)
		}
		client, err := azblob.NewClientWithSharedKeyCredential(s.Azure.ServiceURL, cred, nil)
		if err != nil {
			return fail(err)
		}
		libs[libSDK] = azureSDK{client: client, container: s.Container}
		b, err := azureblob.OpenBucket(ctx, client.ServiceClient().NewContainerClient(s.Container), nil)
		if err != nil {
			return fail(err)
		}
		closers = append(closers, func() { b.Close() })
		libs[libGocloud] = gocloudLib{b}
	case "local":
		ld, err := local.New(local.Options{Root: s.Dir})
		if err != nil {
			return fail(err)
		}
		closers = append(closers, func() { ld.Close() })
		d = ld
		// fileblob opens only an existing folder.
		if _, err := ld.CreateContainer(ctx, s.Container); err != nil && !errors.Is(err, storage.ErrContainerExists) {
			return fail(err)
		}
		libs[libSDK] = osLib{root: s.Dir + "/" + s.Container}
		b, err := fileblob.OpenBucket(s.Dir+"/"+s.Container, nil)
		if err != nil {
			return fail(err)
		}
		closers = append(closers, func() { b.Close() })
		libs[libGocloud] = gocloudLib{b}
	case "memory":
		d = memory.New()
		if _, err := d.CreateContainer(ctx, s.Container); err != nil {
			return fail(err)
		}
		libs[libGocloud] = gocloudLib{memblob.OpenBucket(nil)}
	default:
		return fail(fmt.Errorf("unknown backend %q", s.Backend))
	}
	libs[libStowage] = stowageLib{c: storage.NewContainer(d, s.Container)}
	libs[libUnverified] = stowageLib{c: storage.NewContainer(d, s.Container), unverified: true}
	return libs, closeAll, nil
}

// startBackend starts the backend's server, if it has one, and creates
// the container every library uses.
func startBackend(ctx context.Context, backend, tmp string) (spec, *testserver.Server, error) {
	s := spec{Backend: backend, Container: "bench"}
	var srv *testserver.Server
	var err error
	switch backend {
	case "s3":
		s.S3, srv, err = testserver.StartVersityGW()
	case "gcs":
		s.GCS, srv, err = testserver.StartFakeGCS()
	case "azure":
		s.Azure, srv, err = testserver.StartAzurite()
	case "local":
		s.Dir, err = os.MkdirTemp(tmp, "local-")
	}
	if err != nil || backend == "memory" {
		return s, srv, err
	}
	libs, closeLibs, err := openLibs(ctx, s)
	if err != nil {
		if srv != nil {
			srv.Stop()
		}
		return s, nil, err
	}
	defer closeLibs()
	if _, err := libs[libStowage].(stowageLib).c.Driver().CreateContainer(ctx, s.Container); err != nil && !errors.Is(err, storage.ErrContainerExists) {
		if srv != nil {
			srv.Stop()
		}
		return s, nil, err
	}
	return s, srv, nil
}

func (s spec) encode() string {
	b, _ := json.Marshal(s)
	return string(b)
}
