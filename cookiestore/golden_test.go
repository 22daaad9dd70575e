package cookiestore

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite the golden record of the current format (never edit older ones)")

// Cookies written by every released format version must keep loading:
// testdata/records/v<N>.bin holds sampleConversation as format N wrote it
// (for format 1, without the retry record of kind 4 it could not hold).
func TestGoldenRecords(t *testing.T) {
	current := filepath.Join("testdata", "records", fmt.Sprintf("v%d.bin", formatVersion))
	if *updateGolden {
		c, h := sampleConversation()
		require.NoError(t, os.WriteFile(current, encodeRecord(c, h), 0o644))
	}
	files, err := filepath.Glob(filepath.Join("testdata", "records", "v*.bin"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, _ := sampleConversation()
			if filepath.Base(f) == "v1.bin" {
				// Written before the sample's first retry record, of kind 4, existed.
				want.Handled = want.Handled[1:]
			}
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			got, err := decodeRecord(t, data)
			require.NoError(t, err)
			assertSampleDecoded(t, want, got)
		})
	}
}
