package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var (
	benchOnce  sync.Once
	benchLayer []byte
)

// syntheticLayer returns a ~110 MB layer shaped like a distribution's:
// 150 directories, 4500 files mostly of a few KiB, 1% of 0.5 to 2.5 MiB,
// symlinks and hardlinks, with data about as compressible as binaries.
func syntheticLayer(tb testing.TB) []byte {
	benchOnce.Do(func() {
		rng := rand.New(rand.NewSource(1))
		words := make([][]byte, 256)
		for i := range words {
			words[i] = make([]byte, 8+rng.Intn(24))
			rng.Read(words[i])
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		mtime := time.Unix(1700000000, 0)
		write := func(h *tar.Header, data []byte) {
			h.ModTime, h.Format = mtime, tar.FormatPAX
			if err := tw.WriteHeader(h); err != nil {
				panic(err)
			}
			if _, err := tw.Write(data); err != nil {
				panic(err)
			}
		}
		data := make([]byte, 0, 4<<20)
		for d := 0; d < 150; d++ {
			dir := fmt.Sprintf("usr/lib/pkg%03d", d)
			write(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755}, nil)
			for f := 0; f < 30; f++ {
				size := 512 + rng.Intn(12<<10)
				if rng.Intn(100) == 0 {
					size = 512<<10 + rng.Intn(2<<20)
				}
				data = data[:0]
				for len(data) < size {
					data = append(data, words[rng.Intn(len(words))]...)
				}
				name := fmt.Sprintf("%s/file%02d.so", dir, f)
				write(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(size)}, data[:size])
				if f%10 == 0 {
					write(&tar.Header{Typeflag: tar.TypeSymlink, Name: name + ".1", Linkname: filepath.Base(name), Mode: 0o777}, nil)
				}
				if f%15 == 0 {
					write(&tar.Header{Typeflag: tar.TypeLink, Name: name + ".hard", Linkname: name}, nil)
				}
			}
		}
		if err := tw.Close(); err != nil {
			panic(err)
		}
		benchLayer = buf.Bytes()
	})
	return benchLayer
}

// benchDir is where the benchmarks write: $ARCHIVE_BENCH_DIR (say a tmpfs,
// to time the code rather than a noisy disk) or a temporary directory.
func benchDir(b *testing.B) string {
	if d := os.Getenv("ARCHIVE_BENCH_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "bench")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}

// benchApply times Apply of blob (compressed when decompress is set) with
// one worker and with the default, as sub-benchmarks.
func benchApply(b *testing.B, blob []byte, decompress bool) {
	for _, workers := range []int{1, 0} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			opts := plain
			opts.Workers = workers
			benchApplyOpts(b, blob, decompress, opts)
		})
	}
}

func benchApplyOpts(b *testing.B, blob []byte, decompress bool, opts ApplyOptions) {
	base := benchDir(b)
	cpu0 := cpuTime()
	defer func() { b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op") }()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := filepath.Join(base, fmt.Sprint(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		var r io.Reader = bytes.NewReader(blob)
		if decompress {
			rc, _, err := Decompress(r)
			if err != nil {
				b.Fatal(err)
			}
			defer rc.Close()
			r = rc
		}
		n, err := Apply(context.Background(), dir, r, opts)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(n)
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
}

// cpuTime returns the CPU time (user and system) of the process so far.
func cpuTime() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkApply applies the ~100 MB synthetic layer, uncompressed.
func BenchmarkApply(b *testing.B) { benchApply(b, syntheticLayer(b), false) }

// BenchmarkApplyGzip decompresses (gzip) and applies it, as a pull does.
func BenchmarkApplyGzip(b *testing.B) {
	var buf bytes.Buffer
	w, _ := Compress(&buf, Gzip)
	w.Write(syntheticLayer(b))
	w.Close()
	b.Logf("layer %d MB, gzip %d MB", len(syntheticLayer(b))>>20, buf.Len()>>20)
	benchApply(b, buf.Bytes(), true)
}

// BenchmarkApplyLayer applies the layer blob $ARCHIVE_BENCH_LAYER (a
// real image's, compressed or not), as a pull does.
func BenchmarkApplyLayer(b *testing.B) {
	p := os.Getenv("ARCHIVE_BENCH_LAYER")
	if p == "" {
		b.Skip("set ARCHIVE_BENCH_LAYER to a layer blob")
	}
	blob, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	benchApply(b, blob, true)
}

// BenchmarkWriteDir archives the applied layer.
func BenchmarkWriteDir(b *testing.B) {
	dir := benchDir(b)
	if _, err := Apply(context.Background(), dir, bytes.NewReader(syntheticLayer(b)), plain); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(syntheticLayer(b))))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := WriteDir(context.Background(), dir, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
