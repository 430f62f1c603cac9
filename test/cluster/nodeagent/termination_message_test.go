package nodeagent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestTerminationMessage(t *testing.T) {
	ctx := context.Background()
	var lines strings.Builder
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&lines, "line %03d\n", i)
	}
	logPath := writeTestLog(t, lines.String(), "")
	dir := t.TempDir()
	msgFile := filepath.Join(dir, "termination-log")
	fallback := &v1.Container{TerminationMessagePolicy: v1.TerminationMessageFallbackToLogsOnError}
	plain := &v1.Container{TerminationMessagePolicy: v1.TerminationMessageReadFile}

	// Empty file, failure, FallbackToLogsOnError: the last 80 lines, capped to 2 KiB.
	os.WriteFile(msgFile, nil, 0o644)
	got := terminationMessage(ctx, fallback, msgFile, logPath, 1, "Error")
	if !strings.HasSuffix(got, "line 100\n") || strings.Contains(got, "line 020\n") || len(got) > maxContainerTerminationMessageLogLength {
		t.Errorf("fallback message (%d bytes) = %q...", len(got), got[:min(40, len(got))])
	}
	want := strings.Join(strings.SplitAfter(lines.String(), "\n")[20:100], "")
	if got != want {
		t.Errorf("fallback message = %q, want the last 80 lines %q", got, want)
	}
	// Success or ReadFile policy: no log fallback.
	if got := terminationMessage(ctx, fallback, msgFile, logPath, 0, "Completed"); got != "" {
		t.Errorf("success message = %q", got)
	}
	if got := terminationMessage(ctx, plain, msgFile, logPath, 1, "Error"); got != "" {
		t.Errorf("ReadFile policy message = %q", got)
	}
	// The file wins, and only its last 4 KiB count.
	os.WriteFile(msgFile, []byte(strings.Repeat("a", 100)+strings.Repeat("b", maxContainerTerminationMessageLength)), 0o644)
	got = terminationMessage(ctx, fallback, msgFile, logPath, 1, "Error")
	if got != strings.Repeat("b", maxContainerTerminationMessageLength) {
		t.Errorf("file message has %d bytes, starts %q", len(got), got[:10])
	}
}

func TestCapTerminationMessages(t *testing.T) {
	pod := &v1.Pod{Spec: v1.PodSpec{InitContainers: []v1.Container{{Name: "i"}}, Containers: []v1.Container{{Name: "a"}, {Name: "b"}}}}
	long := strings.Repeat("m", 5000)
	st := &v1.PodStatus{ContainerStatuses: []v1.ContainerStatus{{State: v1.ContainerState{Terminated: &v1.ContainerStateTerminated{Message: long}}}}}
	capTerminationMessages(pod, st)
	if n := len(st.ContainerStatuses[0].State.Terminated.Message); n != maxPodTerminationMessageLogLength/3 {
		t.Errorf("capped to %d", n)
	}
}
