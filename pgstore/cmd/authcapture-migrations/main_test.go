package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authcapture/authcapture/pgstore"
)

func TestOneVersion(t *testing.T) {
	ms, err := pgstore.Migrations("shop")
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-schema", "shop", "-version", "2"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d: %s", code, stderr.String())
	}
	m := ms[1]
	want := "-- authcapture pgstore migration 002_" + m.Name + " for schema shop (sha256 " + m.Checksum + ").\n" +
		"-- Creates the schema and schema_migrations if absent and records the migration, as Migrate does.\n" +
		m.Record + "\n" + m.SQL
	if stdout.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", stdout.String(), want)
	}

	stdout.Reset()
	if code := run([]string{"-schema", "shop", "-version", "2", "-record=false"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d: %s", code, stderr.String())
	}
	if got := stdout.String(); !strings.HasSuffix(got, m.SQL) || strings.Contains(got, "schema_migrations (version, name, checksum)") {
		t.Errorf("output with -record=false:\n%s\nwant the migration alone", got)
	}
}

func TestAllToADirectory(t *testing.T) {
	ms, err := pgstore.Migrations("")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-out", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d: %s", code, stderr.String())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(ms) {
		t.Fatalf("%d files written, want %d", len(entries), len(ms))
	}
	for i, e := range entries {
		body, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(e.Name(), fmt.Sprintf("%03d_", ms[i].Version)) || !strings.HasSuffix(string(body), ms[i].SQL) || !strings.Contains(string(body), ms[i].Record) {
			t.Errorf("%s does not hold migration %d with its record", e.Name(), ms[i].Version)
		}
	}
	if got := strings.Count(stdout.String(), "\n"); got != len(ms) {
		t.Errorf("printed %q, want one path a line", stdout.String())
	}
}

func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{{"-schema", `a"b`}, {"-version", "99"}, {"-nope"}, {"extra"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code == 0 || stderr.Len() == 0 || stdout.Len() != 0 {
			t.Errorf("%q: exit status %d, stderr %q, stdout %q; want a failure with a message", args, code, stderr.String(), stdout.String())
		}
	}
}
