// Command authcapture-migrations prints the SQL of pgstore's migrations for
// a schema, for teams that apply migrations with a tool of their own
// instead of pgstore's Migrate.
//
//	go run github.com/authcapture/authcapture/pgstore/cmd/authcapture-migrations -schema myschema [-version N] [-out DIR] [-record=false]
//
// With -version it prints that migration; with -out it writes each
// migration to DIR/NNN_name.sql; otherwise it prints them all in order.
// Each migration is preceded by the SQL that records it in the schema's
// schema_migrations table, as Migrate does, unless -record=false; run each
// one in a single transaction.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/authcapture/authcapture/pgstore"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run does what the command does with args, and returns its exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("authcapture-migrations", flag.ContinueOnError)
	fs.SetOutput(stderr)
	schema := fs.String("schema", pgstore.DefaultSchema, "the PostgreSQL schema that holds the tables (Options.Schema)")
	version := fs.Int64("version", 0, "print only the migration of this version")
	out := fs.String("out", "", "write each migration to `DIR`/NNN_name.sql instead of printing")
	record := fs.Bool("record", true, "record each migration in schema_migrations, as Migrate does")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "authcapture-migrations: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := write(*schema, *version, *out, *record, stdout); err != nil {
		fmt.Fprintf(stderr, "authcapture-migrations: %v\n", err)
		return 1
	}
	return 0
}

// write prints or writes the migrations the flags select.
func write(schema string, version int64, dir string, record bool, stdout io.Writer) error {
	ms, err := pgstore.Migrations(schema)
	if err != nil {
		return err
	}
	if version != 0 {
		var found []pgstore.Migration
		for _, m := range ms {
			if m.Version == version {
				found = append(found, m)
			}
		}
		if len(found) == 0 {
			return fmt.Errorf("no migration has version %d (the last is %d)", version, ms[len(ms)-1].Version)
		}
		ms = found
	}
	for _, m := range ms {
		text := file(m, schema, record)
		if dir == "" {
			if _, err := io.WriteString(stdout, text); err != nil {
				return err
			}
			continue
		}
		path := filepath.Join(dir, fmt.Sprintf("%03d_%s.sql", m.Version, m.Name))
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(stdout, path)
	}
	return nil
}

// file returns the text written for m: a header, then its record SQL if
// asked for, then the migration.
func file(m pgstore.Migration, schema string, record bool) string {
	if schema == "" {
		schema = pgstore.DefaultSchema
	}
	text := fmt.Sprintf("-- authcapture pgstore migration %03d_%s for schema %s (sha256 %s).\n", m.Version, m.Name, schema, m.Checksum)
	if record {
		text += "-- Creates the schema and schema_migrations if absent and records the migration, as Migrate does.\n" + m.Record + "\n"
	} else {
		text += "-- Not recorded in schema_migrations: do not run pgstore's Migrate on this schema.\n\n"
	}
	return text + m.SQL
}
