package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stowage/storage/internal/testserver"
)

// run is one timed piece of work.
type run struct {
	wall      time.Duration
	serverCPU time.Duration // CPU the server used meanwhile
	clientCPU time.Duration // CPU this process used meanwhile
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func childCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timed runs fn and measures it.
func timed(srv *testserver.Server, fn func() error) (run, error) {
	var s0 time.Duration
	if srv != nil {
		s0 = srv.CPUTime()
	}
	c0 := selfCPU()
	start := time.Now()
	err := fn()
	r := run{wall: time.Since(start), clientCPU: selfCPU() - c0}
	if srv != nil {
		r.serverCPU = srv.CPUTime() - s0
	}
	return r, err
}

// cores is how many CPUs' worth of time d is over wall.
func cores(d, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return d.Seconds() / wall.Seconds()
}

// figure is one library's result in one case.
type figure struct {
	value     float64 // MB/s, or milliseconds for latencies and listings
	p90       float64 // latencies only
	rssMiB    float64 // streamed uploads only
	serverCPU float64 // cores the server used during the figure's run
	clientCPU float64 // cores the benchmark's process used
}

// throughputCase runs op for every library rounds times, interleaved, and
// keeps each library's best MB/s.
func throughputCase(srv *testserver.Server, libs map[string]lib, size int64, rounds int,
	op func(name string, l lib) error) (map[string]figure, error) {
	best := map[string]figure{}
	for r := range rounds {
		for _, name := range rotate(append(present(libs), libUnverified), r) {
			res, err := timed(srv, func() error { return op(name, libs[name]) })
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			mbs := float64(size) / 1e6 / res.wall.Seconds()
			if mbs > best[name].value {
				best[name] = figure{value: mbs, serverCPU: cores(res.serverCPU, res.wall), clientCPU: cores(res.clientCPU, res.wall)}
			}
		}
	}
	return best, nil
}

// latencyCase runs op n times per library after a warm-up, interleaved,
// and keeps the median and 90th percentile in milliseconds.
func latencyCase(srv *testserver.Server, libs map[string]lib, warmup, n int, op func(name string, l lib) error) (map[string]figure, error) {
	names := present(libs)
	times := map[string][]time.Duration{}
	cpu := map[string]run{}
	for i := range warmup + n {
		for _, name := range rotate(names, i) {
			res, err := timed(srv, func() error { return op(name, libs[name]) })
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if i >= warmup {
				times[name] = append(times[name], res.wall)
				c := cpu[name]
				c.wall += res.wall
				c.serverCPU += res.serverCPU
				c.clientCPU += res.clientCPU
				cpu[name] = c
			}
		}
	}
	out := map[string]figure{}
	for name, ts := range times {
		slices.Sort(ts)
		c := cpu[name]
		out[name] = figure{
			value:     ms(ts[len(ts)/2]),
			p90:       ms(ts[len(ts)*9/10]),
			serverCPU: cores(c.serverCPU, c.wall),
			clientCPU: cores(c.clientCPU, c.wall),
		}
	}
	return out, nil
}

// bestTimeCase runs op rounds times per library and keeps the fastest, in
// milliseconds.
func bestTimeCase(srv *testserver.Server, libs map[string]lib, rounds int, op func(l lib) error) (map[string]figure, error) {
	out := map[string]figure{}
	for r := range rounds {
		for _, name := range rotate(present(libs), r) {
			res, err := timed(srv, func() error { return op(libs[name]) })
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if f, ok := out[name]; !ok || ms(res.wall) < f.value {
				out[name] = figure{value: ms(res.wall), serverCPU: cores(res.serverCPU, res.wall), clientCPU: cores(res.clientCPU, res.wall)}
			}
		}
	}
	return out, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// present returns the libraries the backend has, in the report's order.
func present(libs map[string]lib) []string {
	var names []string
	for _, n := range libNames {
		if libs[n] != nil {
			names = append(names, n)
		}
	}
	return names
}

// rotate starts the order at a different library each round, so that no
// library always runs right after another's writes.
func rotate(names []string, i int) []string {
	k := i % len(names)
	return append(slices.Clone(names[k:]), names[:k]...)
}

// fillList creates n small objects under prefix with 32 writers.
func fillList(ctx context.Context, l lib, prefix string, n int) error {
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	next := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range next {
				if err := l.put(ctx, fmt.Sprintf("%sobj-%05d", prefix, i), []byte("x")); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// bigFile writes size random bytes to a file in dir.
func bigFile(dir string, size int64) (string, error) {
	p := filepath.Join(dir, "src")
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	buf := make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		_, _ = rand.Read(buf)
		if _, err := f.Write(buf[:min(left, int64(len(buf)))]); err != nil {
			f.Close()
			return "", err
		}
	}
	return p, f.Close()
}

// generator yields n bytes of unknown size from a random block, cycled
// with a counter so that no two blocks are equal; it costs a copy.
type generator struct {
	block []byte
	left  int64
	off   int
	count uint64
}

func newGenerator(n int64) *generator {
	g := &generator{block: make([]byte, 1<<20), left: n}
	_, _ = rand.Read(g.block)
	return g
}

func (g *generator) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && g.left > 0 {
		if g.off == len(g.block) {
			g.off = 0
			g.count++
			copy(g.block, strconv.FormatUint(g.count, 10))
		}
		chunk := g.block[g.off:]
		if int64(len(chunk)) > g.left {
			chunk = chunk[:g.left]
		}
		k := copy(p[n:], chunk)
		g.off += k
		g.left -= int64(k)
		n += k
	}
	return n, nil
}

// streamResult is what a child process reports of a streamed upload.
type streamResult struct {
	Seconds   float64
	RSSGrowth int64 // peak RSS during the upload minus RSS before it
	Err       string
}

// childStream is the child process's work: one streamed upload by one
// library, measured from inside a fresh process.
func childStream(ctx context.Context, s spec, libName string, size int64) streamResult {
	libs, closeLibs, err := openLibs(ctx, s)
	if err != nil {
		return streamResult{Err: err.Error()}
	}
	defer closeLibs()
	l := libs[libName]
	g := newGenerator(size)
	// Reset the peak so that it counts from here.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	before := procStatus("VmRSS")
	start := time.Now()
	err = l.uploadStream(ctx, "stream/"+libName, g)
	res := streamResult{Seconds: time.Since(start).Seconds(), RSSGrowth: procStatus("VmHWM") - before}
	if err != nil {
		res.Err = err.Error()
	}
	return res
}

// procStatus reads a memory figure of this process, in bytes.
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// streamCase runs the streamed upload for each library in a fresh
// process, rounds times, keeping the best throughput and the worst RSS.
func streamCase(s spec, srv *testserver.Server, libs map[string]lib, size int64, rounds int, cleanup func(key string) error) (map[string]figure, error) {
	out := map[string]figure{}
	for r := range rounds {
		for _, name := range rotate(present(libs), r) {
			var res streamResult
			var s0 time.Duration
			if srv != nil {
				s0 = srv.CPUTime()
			}
			c0 := childCPU()
			cmd := exec.Command(os.Args[0], "-child", name, "-stream-size", strconv.FormatInt(size, 10))
			cmd.Env = append(os.Environ(), "STOWAGE_BENCH_SPEC="+s.encode())
			cmd.Stderr = os.Stderr
			start := time.Now()
			b, err := cmd.Output()
			wall := time.Since(start)
			if err != nil {
				return nil, fmt.Errorf("%s: child: %w", name, err)
			}
			if err := json.Unmarshal(bytes.TrimSpace(b), &res); err != nil {
				return nil, fmt.Errorf("%s: child said %q: %w", name, b, err)
			}
			if res.Err != "" {
				return nil, fmt.Errorf("%s: %s", name, res.Err)
			}
			var sc time.Duration
			if srv != nil {
				sc = srv.CPUTime() - s0
			}
			f := out[name]
			mbs := float64(size) / 1e6 / res.Seconds
			if mbs > f.value {
				f.value = mbs
				f.serverCPU = cores(sc, wall)
				f.clientCPU = cores(childCPU()-c0, wall)
			}
			f.rssMiB = max(f.rssMiB, float64(res.RSSGrowth)/(1<<20))
			out[name] = f
			if err := cleanup("stream/" + name); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
