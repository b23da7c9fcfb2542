package image_test

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
)

func forEachMember(t *testing.T, data []byte, fn func(name string, data []byte)) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		fn(h.Name, b)
	}
}
