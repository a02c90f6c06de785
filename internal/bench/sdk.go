package main

import (
	"bytes"
	"context"
	"io"
	"os"

	gstorage "cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"google.golang.org/api/iterator"
)

// s3SDK is aws-sdk-go-v2 as its documentation recommends: s3.Client calls
// for small objects and listing, the transfer manager for large ones.
type s3SDK struct {
	client *awss3.Client
	tm     *transfermanager.Client
	bucket string
}

func (l s3SDK) put(ctx context.Context, key string, data []byte) error {
	_, err := l.client.PutObject(ctx, &awss3.PutObjectInput{Bucket: &l.bucket, Key: &key, Body: bytes.NewReader(data)})
	return err
}

func (l s3SDK) get(ctx context.Context, key string) error {
	out, err := l.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: &l.bucket, Key: &key})
	if err != nil {
		return err
	}
	defer out.Body.Close()
	_, err = io.Copy(io.Discard, out.Body)
	return err
}

func (l s3SDK) uploadFile(ctx context.Context, key, path string) error {
	return readFile(path, func(f *os.File) error { return l.uploadStream(ctx, key, f) })
}

func (l s3SDK) downloadFile(ctx context.Context, key, path string) error {
	return writeFile(path, func(f *os.File) error {
		_, err := l.tm.DownloadObject(ctx, &transfermanager.DownloadObjectInput{Bucket: &l.bucket, Key: &key, WriterAt: f})
		return err
	})
}

func (l s3SDK) uploadStream(ctx context.Context, key string, r io.Reader) error {
	_, err := l.tm.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: &l.bucket, Key: &key, Body: r})
	return err
}

func (l s3SDK) list(ctx context.Context, prefix string) (int, error) {
	n := 0
	p := awss3.NewListObjectsV2Paginator(l.client, &awss3.ListObjectsV2Input{Bucket: &l.bucket, Prefix: &prefix, MaxKeys: aws.Int32(1000)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return n, err
		}
		n += len(out.Contents)
	}
	return n, nil
}

// gcsSDK is cloud.google.com/go/storage as its documentation shows: a
// Writer and a Reader with io.Copy, the object iterator.
type gcsSDK struct{ b *gstorage.BucketHandle }

func (l gcsSDK) put(ctx context.Context, key string, data []byte) error {
	w := l.b.Object(key).NewWriter(ctx)
	if _, err := w.Write(data); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func (l gcsSDK) get(ctx context.Context, key string) error {
	return drain(l.b.Object(key).NewReader(ctx))
}

func (l gcsSDK) uploadFile(ctx context.Context, key, path string) error {
	return readFile(path, func(f *os.File) error { return l.uploadStream(ctx, key, f) })
}

func (l gcsSDK) downloadFile(ctx context.Context, key, path string) error {
	return writeFile(path, func(f *os.File) error {
		r, err := l.b.Object(key).NewReader(ctx)
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = io.Copy(f, r)
		return err
	})
}

func (l gcsSDK) uploadStream(ctx context.Context, key string, r io.Reader) error {
	w := l.b.Object(key).NewWriter(ctx)
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func (l gcsSDK) list(ctx context.Context, prefix string) (int, error) {
	n := 0
	pager := iterator.NewPager(l.b.Objects(ctx, &gstorage.Query{Prefix: prefix}), 1000, "")
	for {
		var page []*gstorage.ObjectAttrs
		next, err := pager.NextPage(&page)
		if err != nil {
			return n, err
		}
		n += len(page)
		if next == "" {
			return n, nil
		}
	}
}

// azureSDK is azblob as its documentation recommends: UploadBuffer and
// DownloadStream for small blobs, UploadFile, DownloadFile and UploadStream
// for large ones, the blob pager for listing.
type azureSDK struct {
	client    *azblob.Client
	container string
}

func (l azureSDK) put(ctx context.Context, key string, data []byte) error {
	_, err := l.client.UploadBuffer(ctx, l.container, key, data, nil)
	return err
}

func (l azureSDK) get(ctx context.Context, key string) error {
	resp, err := l.client.DownloadStream(ctx, l.container, key, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

func (l azureSDK) uploadFile(ctx context.Context, key, path string) error {
	return readFile(path, func(f *os.File) error {
		_, err := l.client.UploadFile(ctx, l.container, key, f, nil)
		return err
	})
}

func (l azureSDK) downloadFile(ctx context.Context, key, path string) error {
	return writeFile(path, func(f *os.File) error {
		_, err := l.client.DownloadFile(ctx, l.container, key, f, nil)
		return err
	})
}

func (l azureSDK) uploadStream(ctx context.Context, key string, r io.Reader) error {
	_, err := l.client.UploadStream(ctx, l.container, key, r, nil)
	return err
}

func (l azureSDK) list(ctx context.Context, prefix string) (int, error) {
	n := 0
	p := l.client.NewListBlobsFlatPager(l.container, &azblob.ListBlobsFlatOptions{Prefix: &prefix, MaxResults: aws.Int32(1000)})
	for p.More() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, err
		}
		n += len(page.Segment.BlobItems)
	}
	return n, nil
}
