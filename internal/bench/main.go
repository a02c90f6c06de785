// Command bench compares Stowage with each provider's own SDK and with
// gocloud.dev/blob on every backend, against the project's test servers,
// and writes BENCHMARKS.md and a chart of the ratios. It is a module of
// its own so that the library's users never download what it compares
// against. Run it from the repository's root:
//
//	go -C internal/bench run .
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stowage/storage"
)

// sizes are the cases' sizes; -quick shrinks them to check that the
// command works.
type sizes struct {
	big, stream    int64
	listN          int
	small, warmup  int
	rounds, listRs int
}

var full = sizes{big: 256 << 20, stream: 1 << 30, listN: 10_000, small: 300, warmup: 30, rounds: 3, listRs: 10}

var quick = sizes{big: 16 << 20, stream: 32 << 20, listN: 1_500, small: 10, warmup: 2, rounds: 1, listRs: 1}

func main() {
	backends := flag.String("backends", "memory,local,s3,gcs,azure", "backends to run, comma-separated")
	out := flag.String("out", "../..", "folder to write BENCHMARKS.md and docs/benchmarks.svg into")
	cases := flag.String("cases", "small,upload,download,stream,list", "cases to run, comma-separated")
	isQuick := flag.Bool("quick", false, "small sizes, to check the command works (figures not meaningful)")
	child := flag.String("child", "", "internal: run one streamed upload with this library and print the result")
	streamSize := flag.Int64("stream-size", full.stream, "internal: the child's stream size")
	flag.Parse()
	log.SetFlags(log.Ltime)
	ctx := context.Background()

	if *child != "" {
		var s spec
		if err := json.Unmarshal([]byte(os.Getenv("STOWAGE_BENCH_SPEC")), &s); err != nil {
			log.Fatal(err)
		}
		b, _ := json.Marshal(childStream(ctx, s, *child, *streamSize))
		fmt.Println(string(b))
		return
	}

	sz := full
	if *isQuick {
		sz = quick
	}
	tmp, err := os.MkdirTemp("", "stowage-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	rep := &report{started: time.Now(), sizes: sz, quick: *isQuick}
	for _, b := range strings.Split(*backends, ",") {
		rows, err := runBackend(ctx, b, tmp, sz, strings.Split(*cases, ","))
		if err != nil {
			os.RemoveAll(tmp)
			log.Fatalf("%s: %v", b, err)
		}
		rep.rows = append(rep.rows, rows...)
	}
	if err := rep.write(*out); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s and %s", filepath.Join(*out, "BENCHMARKS.md"), filepath.Join(*out, chartPath))
}

// runBackend starts a backend, runs every case on it and stops it.
func runBackend(ctx context.Context, backend, tmp string, sz sizes, cases []string) ([]row, error) {
	want := func(c string) bool { return slices.Contains(cases, c) }
	log.Printf("%s: starting", backend)
	s, srv, err := startBackend(ctx, backend, tmp)
	if err != nil {
		return nil, err
	}
	if srv != nil {
		defer srv.Stop()
	}
	if s.Dir != "" {
		defer os.RemoveAll(s.Dir)
	}
	libs, closeLibs, err := openLibs(ctx, s)
	if err != nil {
		return nil, err
	}
	defer closeLibs()

	src, err := bigFile(tmp, sz.big)
	if err != nil {
		return nil, err
	}
	// The object the downloads read: written once by Stowage
	// where every library sees the same store, else by each library.
	fixtures := []string{libStowage}
	if !s.shared() {
		fixtures = present(libs)
	}
	for _, name := range fixtures {
		if err := libs[name].uploadFile(ctx, "big", src); err != nil {
			return nil, fmt.Errorf("fixture by %s: %w", name, err)
		}
	}

	var rows []row
	add := func(c string, k kind, figs map[string]figure, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
		rows = append(rows, judge(backend, c, k, figs))
		log.Printf("%s: %s: %s", backend, c, rows[len(rows)-1].summary())
		return nil
	}
	small := make([]byte, 1024)
	copy(small, "stowage benchmark")
	var figs map[string]figure
	if want("small") {
		figs, err = latencyCase(srv, libs, sz.warmup, sz.small, func(name string, l lib) error {
			return l.put(ctx, "small/"+name, small)
		})
		if err := add("1 KiB put", latency, figs, err); err != nil {
			return nil, err
		}
		figs, err = latencyCase(srv, libs, sz.warmup, sz.small, func(name string, l lib) error {
			return l.get(ctx, "small/"+name)
		})
		if err := add("1 KiB get", latency, figs, err); err != nil {
			return nil, err
		}
	}
	mib := sz.big >> 20
	if want("upload") {
		figs, err = throughputCase(srv, libs, sz.big, sz.rounds, func(name string, l lib) error {
			return l.uploadFile(ctx, "up/"+name, src)
		})
		if err := add(fmt.Sprintf("%d MiB upload, from a file", mib), throughput, figs, err); err != nil {
			return nil, err
		}
	}
	if want("download") {
		figs, err = throughputCase(srv, libs, sz.big, sz.rounds, func(name string, l lib) error {
			dst := filepath.Join(tmp, "down-"+name)
			defer os.Remove(dst)
			return l.downloadFile(ctx, "big", dst)
		})
		if err := add(fmt.Sprintf("%d MiB download, to a file", mib), throughput, figs, err); err != nil {
			return nil, err
		}
	}
	// Servers that keep objects in memory slow down with gigabytes: what a
	// case wrote is removed after it.
	remove := func(key string) error {
		if !s.shared() {
			return nil
		}
		err := storage.NewObject(libs[libStowage].(stowageLib).c, key).Delete(ctx)
		if errors.Is(err, storage.ErrObjectNotFound) {
			return nil
		}
		return err
	}
	for _, name := range present(libs) {
		if err := remove("up/" + name); err != nil {
			return nil, err
		}
	}
	// A memory store keeps what it is given in the process: a stream's
	// RSS is its size there, whatever the library.
	if s.Backend != "memory" && want("stream") {
		rounds := max(1, sz.rounds-1)
		if s.Backend == "gcs" {
			rounds = 1 // a minute per library: fake-gcs-server slows as an upload grows
		}
		figs, err = streamCase(s, srv, libs, sz.stream, rounds, remove)
		if err := add("streamed upload of "+sizeName(sz.stream), stream, figs, err); err != nil {
			return nil, err
		}
	}
	if !want("list") {
		return rows, nil
	}
	// The listing's objects come last: some servers slow down when they
	// hold many.
	for _, name := range fixtures {
		if err := fillList(ctx, libs[name], "list/", sz.listN); err != nil {
			return nil, fmt.Errorf("fixture by %s: %w", name, err)
		}
	}
	figs, err = bestTimeCase(srv, libs, sz.listRs, func(l lib) error {
		n, err := l.list(ctx, "list/")
		return checkCount(n, sz.listN, err)
	})
	if err := add(fmt.Sprintf("list %d objects", sz.listN), listing, figs, err); err != nil {
		return nil, err
	}
	return rows, nil
}

func sizeName(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}
