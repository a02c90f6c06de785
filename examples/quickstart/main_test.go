package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestQuickstart(t *testing.T) {
	for _, url := range []string{"", "mem://"} {
		var out bytes.Buffer
		if err := run(context.Background(), url, &out); err != nil {
			t.Fatalf("%q: %v\n%s", url, err, out.String())
		}
		for _, want := range []string{"created container", "downloaded", `"line 00500\n"`, "destination file exists", "deleted 7 objects"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%q: output lacks %q:\n%s", url, want, out.String())
			}
		}
	}
}
