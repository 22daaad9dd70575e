package sqlstore

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadmeDDL checks that the DDL README.md prints is the DDL Migrate
// runs.
func TestReadmeDDL(t *testing.T) {
	src, err := os.ReadFile("README.md")
	require.NoError(t, err)
	readme := normalize(string(src))
	for _, d := range []Dialect{PostgreSQL, MySQL, SQLite} {
		stmts := append(ddl(d, DefaultTable), fmt.Sprintf("INSERT INTO %s (version) VALUES (%d)", d.quote(DefaultTable+"_schema"), SchemaVersion))
		for _, stmt := range stmts {
			assert.True(t, strings.Contains(readme, normalize(stmt)+";"), "%s DDL missing from README.md:\n%s;", d, stmt)
		}
	}
}

func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }
