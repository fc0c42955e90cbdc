package authcapture

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Every sentinel declared in errors.go is in the sentinels table (but the
// two no caller of the service receives), under its own name, and in the
// README's errors table on the row of its HTTP status.
func TestSentinelTable(t *testing.T) {
	file, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	// declared maps each sentinel's name to the text it is made with.
	declared := map[string]string{}
	for _, d := range file.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, spec := range g.Specs {
			v := spec.(*ast.ValueSpec)
			for i, n := range v.Names {
				if !strings.HasPrefix(n.Name, "Err") || i >= len(v.Values) {
					continue
				}
				call, ok := v.Values[i].(*ast.CallExpr)
				if !ok || len(call.Args) != 1 {
					continue
				}
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok {
					continue
				}
				text, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				declared[n.Name] = text
			}
		}
	}
	if len(declared) == 0 {
		t.Fatal("found no sentinels in errors.go")
	}
	delete(declared, "ErrProviderDeclined")
	delete(declared, "ErrIdempotencyKeyExists")

	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[int]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		for _, code := range []int{404, 409, 422} {
			if strings.HasPrefix(line, "| "+strconv.Itoa(code)+" |") {
				rows[code] = line
			}
		}
	}
	seen := map[error]bool{}
	for _, s := range sentinels {
		text, ok := declared[s.name]
		switch {
		case !ok:
			t.Errorf("the table names %s, which errors.go does not declare (or no caller receives)", s.name)
		case s.err.Error() != text:
			t.Errorf("the table's %s is another error: %q", s.name, s.err.Error())
		}
		delete(declared, s.name)
		if seen[s.err] {
			t.Errorf("%s is in the table twice", s.name)
		}
		seen[s.err] = true
		if got := HTTPStatus(&Error{Op: "test", Err: s.err}); got != s.status {
			t.Errorf("HTTPStatus(%s) = %d, the table says %d", s.name, got, s.status)
		}
		for code, row := range rows {
			if listed := strings.Contains(row, "`"+s.name+"`"); listed != (code == s.status) {
				t.Errorf("%s belongs in the README's %d row, and only there", s.name, s.status)
			}
		}
	}
	for name := range declared {
		t.Errorf("%s is declared in errors.go but missing from the sentinels table", name)
	}
}
