// Package readme checks the repository's README.md: every Go snippet in it
// compiles (and vets) as it is written, imports included, against the
// modules of this repository.
package readme

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var snippet = regexp.MustCompile("(?s)```go\n(.*?)```")

func TestREADMESnippetsCompile(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	require.NoError(t, err)
	blocks := snippet.FindAllSubmatch(readme, -1)
	require.NotEmpty(t, blocks, "the README has no Go snippet")
	for i, b := range blocks {
		src := string(b[1])
		t.Run("snippet"+strconv.Itoa(i+1), func(t *testing.T) {
			require.True(t, strings.HasPrefix(src, "package "), "a README snippet is not a whole file, imports included:\n%s", src)
			// A directory inside this module, so that the snippet's
			// imports resolve as a user's would; "_" keeps it out of ./...
			dir, err := os.MkdirTemp(".", "_snippet")
			require.NoError(t, err)
			t.Cleanup(func() { os.RemoveAll(dir) })
			name := "snippet.go"
			if strings.Contains(src, "func Test") {
				name = "snippet_test.go"
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644))
			out, err := exec.Command("go", "vet", "./"+filepath.Base(dir)).CombinedOutput()
			require.NoError(t, err, "README snippet %d does not compile:\n%s\n%s", i+1, out, src)
		})
	}
}
