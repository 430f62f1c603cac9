package nodeagent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/cri-client/pkg/logs"
	"k8s.io/utils/ptr"
)

func writeTestLog(t *testing.T, stdout, stderr string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.log")
	l, err := openCRILog(path)
	if err != nil {
		t.Fatal(err)
	}
	tick := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l.now = func() time.Time { tick = tick.Add(time.Second); return tick }
	l.copyStream("stdout", strings.NewReader(stdout))
	l.copyStream("stderr", strings.NewReader(stderr))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func readTestLog(t *testing.T, path string, opts logs.LogOptions) (string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := logs.ReadLogs(context.Background(), path, "", &opts, nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String()
}

func TestCRILogFormatRoundTrip(t *testing.T) {
	path := writeTestLog(t, "one\ntwo\nno newline", "oops\n")
	raw, _ := os.ReadFile(path)
	first := strings.SplitN(string(raw), "\n", 2)[0]
	if first != "2026-01-02T03:04:06.000000000Z stdout F one" {
		t.Errorf("first record = %q", first)
	}
	out, errOut := readTestLog(t, path, logs.LogOptions{})
	if out != "one\ntwo\nno newline\n" || errOut != "oops\n" {
		t.Errorf("stdout %q stderr %q", out, errOut)
	}
	out, _ = readTestLog(t, path, logs.LogOptions{TailLines: ptr.To[int64](2)})
	if out != "no newline\n" {
		t.Errorf("tail 2 stdout = %q", out)
	}
	out, _ = readTestLog(t, path, logs.LogOptions{Timestamp: true, LimitBytes: ptr.To[int64](35)})
	if out != "2026-01-02T03:04:06.000000000Z one\n" {
		t.Errorf("timestamps = %q", out)
	}
	out, _ = readTestLog(t, path, logs.LogOptions{Since: time.Date(2026, 1, 2, 3, 4, 7, 0, time.UTC)})
	if out != "two\nno newline\n" {
		t.Errorf("since = %q", out)
	}
}

func TestCRILogLongLineIsSplitAndJoined(t *testing.T) {
	long := strings.Repeat("x", maxCRILineChunk*2+10)
	path := writeTestLog(t, long+"\n", "")
	raw, _ := os.ReadFile(path)
	if n := strings.Count(string(raw), " stdout P "); n != 2 {
		t.Errorf("partial records = %d, want 2", n)
	}
	out, _ := readTestLog(t, path, logs.LogOptions{})
	if out != long+"\n" {
		t.Errorf("joined line has %d bytes, want %d", len(out), len(long)+1)
	}
}
