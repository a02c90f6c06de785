package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// kind says how a case's figures read.
type kind int

const (
	latency    kind = iota // median milliseconds per operation, lower is better
	throughput             // MB/s, higher is better
	listing                // milliseconds for the whole listing
	stream                 // MB/s, with the peak RSS growth
)

// row is one case on one backend.
type row struct {
	backend, name string
	kind          kind
	figs          map[string]figure
	vsSDK         float64 // Stowage's speed over the SDK's (>1: faster); 0 if none
	vsGocloud     float64
	target        string
	met           bool
}

// speedup is how many times faster Stowage was than peer.
func speedup(k kind, ours, peer figure) float64 {
	if ours.value == 0 || peer.value == 0 {
		return 0
	}
	if k == throughput || k == stream {
		return ours.value / peer.value
	}
	return peer.value / ours.value
}

func hasServer(backend string) bool { return backend == "s3" || backend == "gcs" || backend == "azure" }

// judge computes a row's ratios and holds them against the targets the
// project set itself.
func judge(backend, name string, k kind, figs map[string]figure) row {
	r := row{backend: backend, name: name, kind: k, figs: figs}
	ours := figs[libStowage]
	if f, ok := figs[libSDK]; ok {
		r.vsSDK = speedup(k, ours, f)
	}
	if f, ok := figs[libGocloud]; ok {
		r.vsGocloud = speedup(k, ours, f)
	}
	machine := 0.9 * float64(runtime.NumCPU())
	switch {
	case k == stream:
		r.target = "RSS growth < 64 MiB"
		r.met = ours.rssMiB < 64
	case k == latency && hasServer(backend):
		r.target = "≥ 0.95× SDK, > 1× gocloud"
		r.met = r.vsSDK >= 0.95 && r.vsGocloud > 1
	case k == latency:
		r.target = "> 1× gocloud"
		r.met = r.vsGocloud > 1
	case k == listing && hasServer(backend):
		r.target = "≥ 0.95× SDK"
		r.met = r.vsSDK >= 0.95
	case k == listing:
		r.target = "≥ 1× gocloud"
		r.met = r.vsGocloud >= 1
	case backend == "local":
		r.target = "≥ 0.9× io.Copy, ≥ 1× gocloud"
		r.met = r.vsSDK >= 0.9 && r.vsGocloud >= 1
	case backend == "memory":
		r.target = "≥ 1× gocloud"
		r.met = r.vsGocloud >= 1
	default:
		need := 1.2
		r.target = "≥ 1.2× faster peer"
		switch {
		case ours.serverCPU >= 0.9:
			need = 1.0
			r.target = fmt.Sprintf("≥ 1× faster peer (server-bound: %.2f cores)", ours.serverCPU)
		case ours.serverCPU+ours.clientCPU >= machine:
			need = 1.0
			r.target = fmt.Sprintf("≥ 1× faster peer (machine-bound: %.2f of %d cores)", ours.serverCPU+ours.clientCPU, runtime.NumCPU())
		}
		r.met = math.Min(r.vsSDK, r.vsGocloud) >= need
	}
	return r
}

func (r row) cell(lib string) string {
	f, ok := r.figs[lib]
	if !ok {
		return "—"
	}
	switch r.kind {
	case latency:
		return fmt.Sprintf("%.3f ms (p90 %.3f)", f.value, f.p90)
	case listing:
		return fmt.Sprintf("%.0f ms", f.value)
	case stream:
		return fmt.Sprintf("%.0f MB/s, RSS +%.0f MiB", f.value, f.rssMiB)
	}
	if u, ok := r.figs[libUnverified]; ok && lib == libStowage {
		return fmt.Sprintf("%.0f MB/s (SkipHashCheck: %.0f)", f.value, u.value)
	}
	return fmt.Sprintf("%.0f MB/s", f.value)
}

func ratio(x float64) string {
	if x == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", x)
}

// cpu lists, per library, the server's and the client's CPU in cores.
func (r row) cpu(client bool) string {
	var parts []string
	for _, lib := range libNames {
		if f, ok := r.figs[lib]; ok {
			v := f.serverCPU
			if client {
				v = f.clientCPU
			}
			parts = append(parts, fmt.Sprintf("%.2f", v))
		}
	}
	return strings.Join(parts, " / ")
}

func (r row) summary() string {
	return fmt.Sprintf("stowage %s; vs sdk %s, vs gocloud %s; %s: %v", r.cell(libStowage), ratio(r.vsSDK), ratio(r.vsGocloud), r.target, r.met)
}

// report is the whole run.
type report struct {
	started time.Time
	sizes   sizes
	quick   bool
	rows    []row
}

const chartPath = "docs/benchmarks.svg"

var backendTitles = map[string]string{
	"memory": "Memory",
	"local":  "Local folder",
	"s3":     "S3 (versitygw)",
	"gcs":    "Google Cloud Storage (fake-gcs-server)",
	"azure":  "Azure Blob Storage (Azurite)",
}

func (rep *report) write(dir string) error {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Benchmarks\n\n")
	w("Written by `go -C internal/bench run .` on %s (took %s); do not edit by hand.\n\n",
		rep.started.UTC().Format("2006-01-02 15:04 MST"), time.Since(rep.started).Round(time.Second))
	if rep.quick {
		w("**Quick run: sizes shrunk to check the command; the figures mean nothing.**\n\n")
	}
	w("- Machine: %s\n", machine())
	w("- Servers, on loopback on the same machine: %s\n", serverVersions(dir))
	w("- Libraries: %s\n\n", libraryVersions())
	w(`Every case runs each library in turn, the order rotating each round, against the same server in the
same run. Ratios are Stowage's speed over the other library's: above 1, Stowage is faster. Transfers
are best of %d; 1 KiB operations are medians of %d after %d of warm-up; listings, in pages of 1,000,
best of %d; each streamed upload (of a size the library cannot know, from a generator) runs in a
fresh process (best of %d, one on GCS) whose peak RSS growth is read from /proc.
Every download, by every library, ends with the file synced to disk, as Stowage's do. Stowage
checks every transfer against the hash the provider keeps (MD5 or CRC32C); the peers' defaults
check less or nothing. Beside each large transfer is Stowage's speed with SkipHashCheck, which
shows what its check costs.
The server's and the benchmark process's CPU, in cores, are shown for each library's run
(Stowage / SDK / gocloud), so that a reader can tell where the server or the machine is the
limit; a 1.2× target for large transfers applies where neither the server (≥ 0.9 cores) nor
the whole machine (≥ 90%% of its cores) is the limit.

![Stowage's speed over each peer's](%s)

`, rep.sizes.rounds, rep.sizes.small, rep.sizes.warmup, rep.sizes.listRs, max(1, rep.sizes.rounds-1), chartPath)
	last := ""
	for _, r := range rep.rows {
		if r.backend != last {
			last = r.backend
			sdk := sdkName(r.backend)
			if sdk == "" {
				sdk = "SDK"
			}
			w("\n## %s\n\n", backendTitles[r.backend])
			w("| Case | Stowage | %s | ratio | gocloud.dev/blob | ratio | server CPU | client CPU | target | |\n", sdk)
			w("|---|---|---|---|---|---|---|---|---|---|\n")
		}
		mark := "met"
		if !r.met {
			mark = "**not met**"
		}
		w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.name, r.cell(libStowage), r.cell(libSDK), ratio(r.vsSDK),
			r.cell(libGocloud), ratio(r.vsGocloud), r.cpu(false), r.cpu(true), r.target, mark)
	}
	w("%s", notes)
	if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(chartPath)), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "BENCHMARKS.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, chartPath), []byte(rep.chart()), 0o644)
}

// chart draws Stowage's speed over each peer's, a pair of bars per row.
func (rep *report) chart() string {
	const (
		labelW = 330
		barW   = 360
		rowH   = 26
		top    = 40
	)
	// Beyond 2.5 the bars are cut (their labels keep the figure), so that
	// the region around 1 stays readable.
	const maxX = 2.5
	x := func(v float64) float64 { return labelW + barW*math.Min(v, maxX)/maxX }
	height := top + rowH*len(rep.rows) + 30
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", labelW+barW+60, height)
	w(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	w(`<text x="8" y="18" font-size="14" font-weight="bold">Stowage's speed over each peer's (above 1: Stowage faster)</text>` + "\n")
	w(`<rect x="%d" y="26" width="10" height="8" fill="#2b6cb0"/><text x="%d" y="34">provider SDK (io.Copy for local)</text>`+"\n", labelW, labelW+14)
	w(`<rect x="%d" y="26" width="10" height="8" fill="#a0aec0"/><text x="%d" y="34">gocloud.dev/blob</text>`+"\n", labelW+220, labelW+234)
	for i, r := range rep.rows {
		y := top + i*rowH
		colour := "black"
		if !r.met {
			colour = "#c05621"
		}
		w(`<text x="8" y="%d" fill="%s">%s · %s</text>`+"\n", y+16, colour, r.backend, xmlEscape(r.name))
		for j, v := range []float64{r.vsSDK, r.vsGocloud} {
			if v == 0 {
				continue
			}
			fill := []string{"#2b6cb0", "#a0aec0"}[j]
			w(`<rect x="%d" y="%d" width="%.1f" height="10" fill="%s"/>`, labelW, y+4+j*11, x(v)-labelW, fill)
			more := ""
			if v > maxX {
				more = " ▸"
			}
			w(`<text x="%.1f" y="%d" font-size="10">%.2f%s</text>`+"\n", x(v)+3, y+13+j*11, v, more)
		}
	}
	for _, v := range []float64{0, 0.5, 1, 1.5, 2, maxX} {
		w(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", x(v), top, x(v), top+rowH*len(rep.rows),
			map[bool]string{true: "#e53e3e", false: "#e2e8f0"}[v == 1])
		w(`<text x="%.1f" y="%d" text-anchor="middle">%g</text>`+"\n", x(v), top+rowH*len(rep.rows)+16, v)
	}
	w("</svg>\n")
	return b.String()
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// machine describes the CPU, memory and kernel.
func machine() string {
	cpu := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
		f.Close()
	}
	mem := ""
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		if sc.Scan() {
			var kb int64
			fmt.Sscanf(strings.TrimPrefix(sc.Text(), "MemTotal:"), "%d", &kb)
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
		}
		f.Close()
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%s, %d CPUs%s, Linux %s, %s/%s, %s", cpu, runtime.NumCPU(), mem,
		strings.TrimSpace(string(kernel)), runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// serverVersions reads what the install script recorded.
func serverVersions(root string) string {
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			return "unknown"
		}
		s := strings.TrimSpace(string(b))
		if i := strings.LastIndex(s, "@"); i >= 0 {
			s = s[i+1:]
		}
		return s
	}
	return fmt.Sprintf("versitygw %s, fake-gcs-server %s, Azurite %s",
		read(".cache/bin/.versitygw.version"), read(".cache/bin/.fake-gcs-server.version"), read(".cache/azurite/.version"))
}

// libraryVersions names the modules this binary was built with.
func libraryVersions() string {
	want := []string{
		"github.com/aws/aws-sdk-go-v2/service/s3",
		"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager",
		"cloud.google.com/go/storage",
		"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob",
		"gocloud.dev",
	}
	parts := []string{"Stowage " + stowageVersion()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range want {
			for _, d := range bi.Deps {
				if d.Path == m {
					parts = append(parts, m+" "+d.Version)
				}
			}
		}
	}
	return strings.Join(parts, ", ")
}

func stowageVersion() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return "(this checkout)"
	}
	return "commit " + strings.TrimSpace(string(out))
}

// notes are what the figures owe to the servers and to what each library
// does; they describe code, not measurements, so they hold from run to run.
const notes = `
## What is compared

- **Durability.** Stowage's local driver syncs the file and then its folder before an upload returns,
  so an upload that returned survives a power cut; gocloud's fileblob syncs neither, and the
  os + io.Copy baseline syncs the file only. Each sync is a trip to the disk, which is most of a
  1 KiB put's time.
- **Hashes.** Stowage's local driver stores an MD5 and a CRC32C of every object it writes; an MD5
  runs at about 650-760 MB/s on one core of this machine, below the disk, so large local uploads
  are bound by it (the SkipHashCheck figure is the same upload without it). Downloads are checked
  against the stored CRC32C, which costs little. Azure keeps only an MD5 for a whole blob: a
  checked Azure download computes one beside the transfer.
- **Test servers.** They share the machine's cores with the client, so a library that needs less
  CPU leaves more to the server. fake-gcs-server keeps objects in memory and, for a resumable upload,
  copies what it holds at each chunk, so its streamed uploads slow as they grow, whichever library
  sends them. Azurite runs on one Node.js thread.
- **Small reads.** On GCS, Stowage, the SDK and gocloud make the same single request through the
  same SDK; their differences are within the noise of one run.
`
