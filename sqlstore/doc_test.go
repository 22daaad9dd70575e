package sqlstore

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDocDDL checks that the DDL the package documentation prints is the
// DDL Migrate runs.
func TestDocDDL(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	doc := normalize(strings.ReplaceAll(string(src), "//", ""))
	for _, d := range []Dialect{PostgreSQL, MySQL, SQLite} {
		s := buildStatements(d, DefaultTable)
		stmts := append(append([]string{}, s.migrations[1]...), s.schemaCreate)
		for _, q := range stmts {
			assert.Contains(t, doc, normalize(q)+";", "%s DDL missing from the package doc", d)
		}
		assert.Contains(t, doc, normalize("INSERT INTO "+s.schemaTable+" (version) VALUES (1);"))
	}
}

func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }
