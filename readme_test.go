package authcapture_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

// The README's state diagram is the one generated from the transition table.
// Run with UPDATE_README=1 to rewrite it.
func TestReadmeStateDiagramIsCurrent(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	require.NoError(t, err)
	readme := string(raw)
	const begin, end = "<!-- state-diagram:begin -->\n", "<!-- state-diagram:end -->"
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	require.True(t, i >= 0 && j > i, "README lacks the state-diagram markers")
	want := "```mermaid\n" + authcapture.MermaidDiagram() + "```\n"
	if os.Getenv("UPDATE_README") != "" {
		readme = readme[:i+len(begin)] + want + readme[j:]
		require.NoError(t, os.WriteFile("README.md", []byte(readme), 0o644))
		return
	}
	assert.Equal(t, want, readme[i+len(begin):j], "the README's diagram is stale: run UPDATE_README=1 go test -run TestReadme .")
}

// Every status appears in the README's provider table. (The errors table
// is checked by TestSentinelTable.)
func TestReadmeTables(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	require.NoError(t, err)
	readme := string(raw)
	for _, s := range []authcapture.Status{
		authcapture.StatusRequiresAuthorization, authcapture.StatusPending, authcapture.StatusDeclined,
		authcapture.StatusCanceled, authcapture.StatusAuthorized, authcapture.StatusPartiallyCaptured,
		authcapture.StatusCaptured, authcapture.StatusVoided, authcapture.StatusExpired,
	} {
		assert.Contains(t, readme, "| `"+string(s)+"` |", "status %s missing from the provider table", s)
	}
}
