package transfer_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stowage/storage"
	"github.com/stowage/storage/drivers/transfer"
)

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestFileCommit(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "out")
	f, err := transfer.CreateFile(dest, false)
	require.NoError(t, err)
	_, err = f.Write([]byte("hello"))
	require.NoError(t, err)
	assert.NoFileExists(t, dest, "nothing at the destination before Commit")
	require.NoError(t, f.Commit())
	require.NoError(t, f.Close())
	b, err := os.ReadFile(dest)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(b))
	assert.Equal(t, []string{"out"}, entries(t, dir))
	assert.Error(t, f.Commit(), "a second Commit")
}

func TestFileCloseLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	f, err := transfer.CreateFile(filepath.Join(dir, "out"), false)
	require.NoError(t, err)
	_, _ = f.Write([]byte("partial"))
	require.NoError(t, f.Close())
	assert.Empty(t, entries(t, dir))
}

func TestFileExists(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "out")
	require.NoError(t, os.WriteFile(dest, []byte("mine"), 0o600))
	_, err := transfer.CreateFile(dest, false)
	assert.ErrorIs(t, err, storage.ErrFileExists)

	// Created by someone else while the download ran.
	other := filepath.Join(dir, "other")
	f, err := transfer.CreateFile(other, false)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(other, []byte("theirs"), 0o600))
	_, _ = f.Write([]byte("ours"))
	assert.ErrorIs(t, f.Commit(), storage.ErrFileExists)
	b, _ := os.ReadFile(other)
	assert.Equal(t, "theirs", string(b))
	assert.ElementsMatch(t, []string{"out", "other"}, entries(t, dir))

	f, err = transfer.CreateFile(dest, true)
	require.NoError(t, err)
	_, _ = f.Write([]byte("new"))
	require.NoError(t, f.Commit())
	b, _ = os.ReadFile(dest)
	assert.Equal(t, "new", string(b))

	_, err = transfer.CreateFile(dir, true)
	assert.ErrorIs(t, err, storage.ErrFileExists, "a folder is never replaced")
	_, err = transfer.CreateFile("", true)
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	_, err = transfer.CreateFile(filepath.Join(dir, "missing-folder", "x"), true)
	assert.Error(t, err)
}

func TestFileConcurrentWriteAt(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "out")
	f, err := transfer.CreateFile(dest, false)
	require.NoError(t, err)
	defer f.Close()
	const parts, size = 16, 64 << 10
	require.NoError(t, f.Truncate(parts*size))
	var wg sync.WaitGroup
	for i := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.WriteAt(bytes.Repeat([]byte{byte(i)}, size), int64(i*size))
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	require.NoError(t, f.Commit())
	b, err := os.ReadFile(dest)
	require.NoError(t, err)
	for i := range parts {
		assert.Equal(t, bytes.Repeat([]byte{byte(i)}, size), b[i*size:(i+1)*size])
	}
}

func TestDestinationPath(t *testing.T) {
	sep := string(filepath.Separator)
	p, err := transfer.DestinationPath("/tmp/x", "a/b.txt")
	require.NoError(t, err)
	assert.Equal(t, "/tmp/x", p)
	p, err = transfer.DestinationPath("/tmp/dir"+sep, "a/b.txt")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join("/tmp/dir", "b.txt"), p)
	for _, name := range []string{"..", "a/..", "/"} {
		_, err = transfer.DestinationPath("/tmp/dir"+sep, name)
		assert.ErrorIs(t, err, storage.ErrInvalidArgument, name)
	}
	_, err = transfer.DestinationPath("", "a")
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
}

func TestCopy(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 300_000)
	var out bytes.Buffer
	var last int64
	n, err := transfer.Copy(context.Background(), &out, bytes.NewReader(data), func(d int64) { last = d })
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), n)
	assert.Equal(t, int64(len(data)), last)
	assert.Equal(t, data, out.Bytes())

	// File to file, through the kernel.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "src"), data, 0o600))
	src, err := os.Open(filepath.Join(dir, "src"))
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.Create(filepath.Join(dir, "dst"))
	require.NoError(t, err)
	defer dst.Close()
	n, err = transfer.Copy(context.Background(), dst, src, nil)
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), n)
	b, _ := os.ReadFile(filepath.Join(dir, "dst"))
	assert.Equal(t, data, b)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = transfer.Copy(ctx, io.Discard, bytes.NewReader(data), nil)
	assert.ErrorIs(t, err, context.Canceled)
	_, err = transfer.Copy(context.Background(), io.Discard, iotestErr{}, nil)
	assert.EqualError(t, err, "broken")
}

// The whole-content hash follows the written prefix however the ranges
// land: here the first lands last, and one is cut half way and resumed.
// Chunk sums are computed as the bytes are written, retries included.
func TestRangeDownloadHashesOutOfOrderRanges(t *testing.T) {
	const chunk = 1 << 20
	data := make([]byte, 6*chunk+77)
	for i := range data {
		data[i] = byte(i*13 + i>>9)
	}
	sum := md5.Sum(data)
	others := make(chan struct{}, 6)
	var cutOnce sync.Once
	fetch := func(ctx context.Context, off, n int64, w io.Writer) (int64, error) {
		if off == 0 {
			for range 6 { // every other chunk first
				<-others
			}
		}
		part := data[off : off+n]
		if off == 2*chunk {
			cut := false
			cutOnce.Do(func() { cut = true })
			if cut {
				m, _ := w.Write(part[:n/2])
				return int64(m), io.ErrUnexpectedEOF
			}
		}
		m, err := w.Write(part)
		if off >= chunk { // a chunk after the first, written to its end
			others <- struct{}{}
		}
		return int64(m), err
	}
	crcs := make([]string, 7)
	f, err := transfer.CreateFile(filepath.Join(t.TempDir(), "out"), false)
	require.NoError(t, err)
	defer f.Close()
	err = transfer.RangeDownload{Size: int64(len(data)), Chunk: chunk, Workers: 7, Fetch: fetch,
		Want:      transfer.Want{MD5: hex.EncodeToString(sum[:])},
		ChunkSums: transfer.CRC32C,
		ChunkDone: func(k int64, h *transfer.Hasher) error { crcs[k] = h.CRC32C(); return nil },
	}.Run(context.Background(), f)
	require.NoError(t, err)
	for k := range crcs {
		part := data[k*chunk : min(len(data), (k+1)*chunk)]
		assert.Equal(t, fmt.Sprintf("%08x", crc32.Checksum(part, crc32.MakeTable(crc32.Castagnoli))), crcs[k], "chunk %d", k)
	}
}

func TestCopyHashed(t *testing.T) {
	for _, size := range []int{0, 1, 1 << 20, 1<<20 + 1, 5<<20 + 3} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i * 7 / 5)
		}
		var out bytes.Buffer
		var last int64
		// One byte at a time at the start: short reads must not reorder.
		src := io.MultiReader(io.LimitReader(bytes.NewReader(data), 3), bytes.NewReader(data[min(3, size):]))
		n, h, err := transfer.CopyHashed(context.Background(), &out, src, transfer.MD5|transfer.CRC32C, func(d int64) { last = d })
		require.NoError(t, err)
		assert.Equal(t, int64(size), n)
		assert.Equal(t, int64(size), last)
		assert.True(t, bytes.Equal(data, out.Bytes()), "size %d: content differs", size)
		sum := md5.Sum(data)
		assert.Equal(t, hex.EncodeToString(sum[:]), h.MD5(), "size %d", size)
		assert.Equal(t, fmt.Sprintf("%08x", crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))), h.CRC32C(), "size %d", size)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := transfer.CopyHashed(ctx, io.Discard, strings.NewReader("x"), transfer.MD5, nil)
	assert.ErrorIs(t, err, context.Canceled)
	_, _, err = transfer.CopyHashed(context.Background(), io.Discard, iotestErr{}, transfer.MD5, nil)
	assert.EqualError(t, err, "broken")
	_, _, err = transfer.CopyHashed(context.Background(), failingWriter{}, strings.NewReader("x"), transfer.MD5, nil)
	assert.EqualError(t, err, "disk full")
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("broken") }

func TestVerifyingReader(t *testing.T) {
	data := []byte("some content")
	sum := md5.Sum(data)
	good := hex.EncodeToString(sum[:])
	crc := fmt.Sprintf("%08x", crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	for _, want := range []transfer.Want{{MD5: good}, {CRC32C: crc}, {MD5: good, CRC32C: crc}, {}} {
		b, err := io.ReadAll(transfer.NewVerifyingReader(bytes.NewReader(data), int64(len(data)), want))
		require.NoError(t, err, "%+v", want)
		assert.Equal(t, data, b)
	}
	for _, want := range []transfer.Want{{MD5: strings.Repeat("0", 32)}, {CRC32C: "00000000"}, {MD5: good, CRC32C: "00000000"}} {
		_, err := io.ReadAll(transfer.NewVerifyingReader(bytes.NewReader(data), -1, want))
		assert.ErrorIs(t, err, storage.ErrHashMismatch, "%+v", want)
	}
	_, err := io.ReadAll(transfer.NewVerifyingReader(bytes.NewReader(data[:5]), int64(len(data)), transfer.Want{MD5: good}))
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, err = io.ReadAll(transfer.NewVerifyingReader(bytes.NewReader(data), 3, transfer.Want{}))
	assert.ErrorIs(t, err, storage.ErrHashMismatch)
}

func TestHashingReader(t *testing.T) {
	h := transfer.NewHashingReader(strings.NewReader(""), transfer.MD5|transfer.CRC32C)
	_, _ = io.ReadAll(h)
	assert.Equal(t, "d41d8cd98f00b204e9800998ecf8427e", h.MD5())
	assert.Equal(t, "00000000", h.CRC32C())
	assert.Equal(t, int64(0), h.Len())
	h = transfer.NewHashingReader(strings.NewReader("123456789"), transfer.CRC32C)
	_, _ = io.ReadAll(h)
	assert.Equal(t, "e3069283", h.CRC32C(), "the CRC32C check value")
	assert.Equal(t, "", h.MD5(), "not chosen")
	assert.NoError(t, transfer.CheckMD5("a", ""))
	assert.ErrorIs(t, transfer.CheckMD5("a", "b"), storage.ErrHashMismatch)
}

func TestContentType(t *testing.T) {
	assert.Equal(t, "given/type", transfer.ContentType("x.txt", "given/type"))
	assert.True(t, strings.HasPrefix(transfer.ContentType("dir/x.txt", ""), "text/plain"))
	assert.Equal(t, "image/png", transfer.ContentType("a.png", ""))
	assert.Equal(t, "application/octet-stream", transfer.ContentType("noext", ""))
}

func TestMetadata(t *testing.T) {
	m, err := transfer.Metadata(map[string]string{"Color": "Blue", "x-ID": "1"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"color": "Blue", "x-id": "1"}, m)
	for _, bad := range []map[string]string{{"": "x"}, {"a b": "x"}, {"é": "x"}, {"A": "1", "a": "2"}} {
		_, err := transfer.Metadata(bad)
		assert.ErrorIs(t, err, storage.ErrInvalidArgument, "%v", bad)
	}
	m, err = transfer.Metadata(nil)
	assert.NoError(t, err)
	assert.Nil(t, m)
}

func TestReader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var done int64
	r := transfer.NewReader(ctx, strings.NewReader("abcdef"), nil, 6, func(d, total int64) { done = d })
	buf := make([]byte, 3)
	_, err := r.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, int64(3), done)
	cancel()
	_, err = r.Read(buf)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NoError(t, r.Close())
}

func TestRangeDownload(t *testing.T) {
	data := make([]byte, 10<<20+123)
	for i := range data {
		data[i] = byte(i * 31)
	}
	sum := md5.Sum(data)
	crc := fmt.Sprintf("%08x", crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	fetch := func(corruptAt int64) transfer.FetchRange {
		return func(ctx context.Context, off, n int64, w io.Writer) (int64, error) {
			part := bytes.Clone(data[off : off+n])
			if corruptAt >= off && corruptAt < off+n {
				part[corruptAt-off] ^= 1
			}
			m, err := w.Write(part)
			return int64(m), err
		}
	}
	run := func(d transfer.RangeDownload) (string, error) {
		dir := t.TempDir()
		f, err := transfer.CreateFile(filepath.Join(dir, "out"), false)
		require.NoError(t, err)
		defer f.Close()
		if err := d.Run(context.Background(), f); err != nil {
			return "", err
		}
		require.NoError(t, f.Commit())
		b, err := os.ReadFile(filepath.Join(dir, "out"))
		require.NoError(t, err)
		return md5hex(b), nil
	}
	var last int64
	got, err := run(transfer.RangeDownload{Size: int64(len(data)), Chunk: 1 << 20, Workers: 4, Fetch: fetch(-1),
		Want: transfer.Want{MD5: hex.EncodeToString(sum[:]), CRC32C: crc}, Progress: func(d int64) { last = d }})
	require.NoError(t, err)
	assert.Equal(t, hex.EncodeToString(sum[:]), got)
	assert.Equal(t, int64(len(data)), last)

	_, err = run(transfer.RangeDownload{Size: int64(len(data)), Chunk: 1 << 20, Workers: 4, Fetch: fetch(7 << 20), Want: transfer.Want{CRC32C: crc}})
	assert.ErrorIs(t, err, storage.ErrHashMismatch, "a flipped byte in one range")

	failing := func(ctx context.Context, off, n int64, w io.Writer) (int64, error) {
		if off == 3<<20 {
			return 0, errors.New("range failed")
		}
		return fetch(-1)(ctx, off, n, w)
	}
	_, err = run(transfer.RangeDownload{Size: int64(len(data)), Chunk: 1 << 20, Workers: 3, Fetch: failing, Want: transfer.Want{CRC32C: crc}})
	assert.EqualError(t, err, "range failed")

	short := func(ctx context.Context, off, n int64, w io.Writer) (int64, error) {
		return fetch(-1)(ctx, off, n-1, w)
	}
	_, err = run(transfer.RangeDownload{Size: int64(len(data)), Chunk: 1 << 20, Workers: 2, Fetch: short})
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)

	// Cancelled while ranges wait for their turn to be hashed: no hang.
	ctx, cancel := context.WithCancel(context.Background())
	slow := func(c context.Context, off, n int64, w io.Writer) (int64, error) {
		if off == 0 {
			cancel()
			<-c.Done()
			return 0, c.Err()
		}
		return fetch(-1)(c, off, n, w)
	}
	f, err := transfer.CreateFile(filepath.Join(t.TempDir(), "x"), false)
	require.NoError(t, err)
	defer f.Close()
	err = transfer.RangeDownload{Size: int64(len(data)), Chunk: 1 << 20, Workers: 4, Fetch: slow, Want: transfer.Want{CRC32C: crc}}.Run(ctx, f)
	assert.ErrorIs(t, err, context.Canceled)

	_, err = run(transfer.RangeDownload{Size: 0, Chunk: 1 << 20, Workers: 2, Fetch: fetch(-1)})
	assert.NoError(t, err, "an empty object")
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}
