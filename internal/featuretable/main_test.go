package main

import (
	"context"
	"os"
	"testing"
)

// The README's table is what the drivers report today.
func TestREADMEIsCurrent(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := table(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want, err := replace(string(b), tbl)
	if err != nil {
		t.Fatal(err)
	}
	if want != string(b) {
		t.Fatalf("README.md's feature table is stale: run go run ./internal/featuretable\nwant:\n%s", tbl)
	}
}
