package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestShareOnLocal(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), nil, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"signed URLs false", "cannot sign URLs", "not supported"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err := run(context.Background(), []string{"-method", "DELETE", "-url", "mem://"}, &out); err == nil {
		t.Error("DELETE is not a method to sign")
	}
}
